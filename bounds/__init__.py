"""dssl-bounds: evaluate the paper's bounds, compare them with simulations, write the ledger."""

import jax

# Bounds and representabilities are compared at the 1e-6 scale (r_k close to 1 for large d),
# which float32 eigen-solvers cannot resolve: the application layer runs in float64.
jax.config.update("jax_enable_x64", True)

from bounds.records import ALPHA, Record  # noqa: E402

__all__ = ["ALPHA", "Record"]
