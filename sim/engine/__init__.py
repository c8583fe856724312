"""The training engine: FL (FedAvg) and DecL (D-PSGD) under ``lax.scan``, mixing rules,
topologies, sharding of the client and seed axes, and XLA options."""
