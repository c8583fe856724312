"""Test configuration: make numerical mistakes loud and exercise multi-device code on a CPU.

Set before any JAX computation: float64 (bounds are compared at the 1e-6 scale), implicit rank
promotion and implicit dtype promotion raise (a silent broadcast or a silent float32/float64
mix are the commonest numerical bugs), warnings are errors (pyproject), and two CPU devices so
the sharded client axis is exercised without an accelerator — asserted, so a failure to set
them cannot silently skip the sharding tests.
"""

import os

# Before numpy/jax load OpenBLAS: its threads oversubscribe 2 cores (as the CLI does).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_num_cpu_devices", 2)

import matplotlib  # noqa: E402

matplotlib.use("Agg")

# On an accelerator host (benchmarks/gpu_check.sh) the default backend has its own device count;
# the two-device assertion guards the CPU run that CI does.
if jax.default_backend() == "cpu":
    assert jax.device_count() == 2, f"tests need 2 CPU devices, got {jax.devices()}"
