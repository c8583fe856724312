"""The data side of the simulations: the paper's non-IID data model (Section 3.2) and its
configuration, the latent model with shared structure (downstream experiments), partitioners
(label, quantity and feature skew), masks, and the explicit-key draws every sampler goes through."""
