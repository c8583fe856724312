"""dssl-bounds: evaluate the paper's bounds, compare them with simulations, write the ledger."""

import os

# JAX's CPU eigh runs on OpenBLAS; its threads oversubscribe small machines (batched 256x256
# eigendecompositions measured 12-62 s with default threads vs 0.4-1.7 s with one). Only a
# default: a user's setting wins, and it has no effect if numpy was imported first.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import jax  # noqa: E402

# Bounds and representabilities are compared at the 1e-6 scale (r_k close to 1 for large d),
# which float32 eigen-solvers cannot resolve: the application layer runs in float64.
jax.config.update("jax_enable_x64", True)

from bounds.records import ALPHA, Record  # noqa: E402

__all__ = ["ALPHA", "Record"]
