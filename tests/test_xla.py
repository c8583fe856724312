"""`sim.engine.xla.jit`: per-program XLA options, applied where XLA accepts them, same results."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sim.engine import xla


def _program(x, *, k):
    # Fusions around a LAPACK call and a random draw: what the loop emitters are used for.
    w = jnp.linalg.eigh(x @ x.T + jnp.eye(x.shape[0]))[1][:, -k:]
    noise = jax.random.normal(jax.random.key(3), x.shape)
    return jnp.sum(jnp.tanh(w.T @ (x + noise)) ** 2, axis=0)


def test_same_results_as_plain_jit():
    x = jax.random.normal(jax.random.key(0), (12, 7))
    fast = functools.partial(xla.jit, static_argnames="k")(_program)
    np.testing.assert_allclose(fast(x, k=3), jax.jit(_program, static_argnames="k")(x, k=3), rtol=1e-12, atol=1e-12)
    assert fast._cache_size() == 1 and fast.__name__ == "_program"
    fast(x + 1, k=3)
    assert fast._cache_size() == 1  # a new value does not recompile


def test_unknown_option_falls_back():
    options = (("xla_cpu_no_such_option_for_this_test", True),)
    assert not xla.accepted(options)
    f = xla.jit(lambda x: 2 * x, options=options)
    assert float(f(jnp.float32(1.5))) == 3.0
    assert f.lower(jnp.float32(0)).compile() is not None


@pytest.mark.parametrize("options", [{"use_fusion": False}, ((1, True),)])
def test_bad_option_names(options):
    with pytest.raises(ValueError, match="options"):
        xla.jit(lambda x: x, options=options)


def test_compiler_options_not_twice():
    with pytest.raises(ValueError, match="compiler_options"):
        xla.jit(lambda x: x, compiler_options={"xla_backend_optimization_level": 0})
