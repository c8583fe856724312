"""The installed JAX is one the toolkit supports (pyproject.toml's pins, checked at run time)."""

import jaxlib

from bounds.cli import jaxlib_warning


def test_installed_jaxlib_is_not_a_deadlocking_release():
    # jaxlib 0.10.x / 0.11.0 can hang `verify` (batched LAPACK calls waiting on each other in
    # XLA's intra-op pool): pyproject.toml excludes them, so an install that resolves one is broken.
    assert jaxlib_warning(jaxlib.__version__) is None, jaxlib_warning(jaxlib.__version__)
