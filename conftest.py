"""Test configuration: make numerical mistakes loud and exercise multi-device code on a CPU.

Set before any JAX computation: float64 (bounds are compared at the 1e-6 scale), implicit rank
promotion and implicit dtype promotion raise (a silent broadcast or a silent float32/float64
mix are the commonest numerical bugs), warnings are errors (pyproject), and two CPU devices so
the sharded client axis is exercised without an accelerator — asserted, so a failure to set
them cannot silently skip the sharding tests.
"""

import os

import pytest

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


@pytest.hookimpl(trylast=True)  # after the tmp_path plugin has made the run's base folder
def pytest_configure(config):
    """One persistent compilation cache for every xdist worker of this run, in pytest's own
    (rotated) temporary folder: the smoke-suite programs that several test files build are
    compiled once, not once per file and worker. The CLI finds it through ``XDG_CACHE_HOME``
    (`bounds.running.cli.cache_dir`); a cached program is the same program, so no result changes."""
    base = config._tmp_path_factory.getbasetemp()
    shared = base.parent if hasattr(config, "workerinput") else base
    os.environ["XDG_CACHE_HOME"] = str(shared / "xdg-cache")
    from bounds.running.cli import cache_dir  # the folder the CLI derives from XDG_CACHE_HOME

    jax.config.update("jax_compilation_cache_dir", str(cache_dir()))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_enable_compilation_cache", True)
