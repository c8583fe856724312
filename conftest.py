"""Test configuration: make numerical mistakes loud and exercise multi-device code on a CPU.

Set before any JAX computation: float64 (bounds are compared at 1e-6 scale), implicit rank
promotion raises (a silent broadcast is the most common shape bug), and two CPU devices so the
sharded client axis is exercised without an accelerator.
"""

import os

# Before numpy/jax load OpenBLAS: its threads oversubscribe 2 cores (see bounds/__init__.py).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
try:
    jax.config.update("jax_num_cpu_devices", 2)
except (AttributeError, RuntimeError):  # older jax, or backend already initialised
    pass

import matplotlib

matplotlib.use("Agg")
