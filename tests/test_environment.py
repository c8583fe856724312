"""The installed JAX is one the toolkit supports (pyproject.toml's pins, checked at run time)."""

import jaxlib

from bounds.running.cli import jaxlib_warning


def test_installed_jaxlib_is_not_a_deadlocking_release():
    # jaxlib 0.10.x / 0.11.0 can hang `verify` (batched LAPACK calls waiting on each other in
    # XLA's intra-op pool): pyproject.toml excludes them, so an install that resolves one is broken.
    assert jaxlib_warning(jaxlib.__version__) is None, jaxlib_warning(jaxlib.__version__)


def test_no_compiled_path_calls_the_divide_and_conquer_svd():
    # jaxlib 0.9.2's gesdd kernel waits on XLA's intra-op pool and hangs a compiled loop on one
    # core (sim.linear.solvers.thin_svd). Every SVD the simulations compile must be the gesvd one.
    import jax
    import jax.numpy as jnp

    from sim.linear.losses import encoder_row_space
    from sim.models.shallow import ShallowConfig, init_params, input_subspace
    from sim.linear.topc import top_eigenspace_matvec

    X = jnp.diag(jnp.arange(1.0, 13.0))
    cfg = ShallowConfig(d=12, c=3, model="two-layer", hidden=16)
    params = init_params(cfg, key=jax.random.key(0))
    programs = {
        "encoder_row_space": jax.jit(jax.vmap(encoder_row_space)).lower(jnp.ones((2, 3, 12))),
        "input_subspace": jax.jit(lambda p: input_subspace(cfg, p)).lower(params["encoder"]),
        "top_eigenspace_matvec": jax.jit(lambda k: top_eigenspace_matvec(lambda W: X @ W, 12, 2, key=k).vectors)
        .lower(jax.random.key(0)),
    }
    for name, lowered in programs.items():
        text = lowered.as_text()
        assert "gesvd" in text, f"{name}: expected an SVD in the program"
        assert "gesdd" not in text, f"{name} compiles the divide-and-conquer SVD (lapack_*gesdd)"
