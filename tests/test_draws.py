"""`sim.data.draws` gives exactly jax.random's values (it only changes the shape the draw is made in)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sim.data import draws

SHAPES = [(), (3, 5), (2, 1, 3, 5)]


def _pairs(shape):
    p = jnp.linspace(0.05, 0.95, max(1, int(np.prod(shape)))).reshape(shape)
    return [
        (lambda k: draws.bits(k, shape), lambda k: jax.random.bits(k, shape)),
        (lambda k: draws.bits(k, shape, jnp.uint8), lambda k: jax.random.bits(k, shape, jnp.uint8)),
        (lambda k: draws.normal(k, shape), lambda k: jax.random.normal(k, shape)),
        (lambda k: draws.normal(k, shape, jnp.float32), lambda k: jax.random.normal(k, shape, jnp.float32)),
        (lambda k: draws.uniform(k, shape, minval=-2.0, maxval=3.0),
         lambda k: jax.random.uniform(k, shape, minval=-2.0, maxval=3.0)),
        (lambda k: draws.uniform(k, shape, jnp.float32, minval=p.astype(jnp.float32), maxval=2.0),
         lambda k: jax.random.uniform(k, shape, jnp.float32, minval=p.astype(jnp.float32), maxval=2.0)),
        (lambda k: draws.bernoulli(k, 0.3, shape), lambda k: jax.random.bernoulli(k, 0.3, shape)),
        (lambda k: draws.bernoulli(k, p), lambda k: jax.random.bernoulli(k, p)),
    ]


@pytest.mark.parametrize("partitionable", [True, False])
def test_same_values_as_jax_random(partitionable):
    # Every pair and shape in one program per side (jit, vmapped over keys, as the simulations
    # call them): a program per draw would cost a compile each.
    keys = jax.random.split(jax.random.key(3), 3)
    pairs = [pair for shape in SHAPES for pair in _pairs(shape)]
    with jax.threefry_partitionable(partitionable):
        ours = jax.jit(lambda ks: [jax.vmap(f)(ks) for f, _ in pairs])(keys)
        theirs = jax.jit(lambda ks: [jax.vmap(g)(ks) for _, g in pairs])(keys)
    shapes = [shape for shape in SHAPES for _ in _pairs(shape)]
    for a, b, shape in zip(ours, theirs, shapes):
        assert a.shape == b.shape == (3, *shape) and a.dtype == b.dtype
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("impl", ["threefry2x32", "rbg"])
def test_take_keys_is_indexing(impl):
    # Same keys as device-side indexing (repeats and any order), the key implementation kept.
    keys = jax.random.split(jax.random.key(3, impl=impl), 5)
    rows = np.array([4, 0, 0, 2])
    taken = draws.take_keys(keys, rows)
    assert jax.random.key_impl(taken) == jax.random.key_impl(keys)
    np.testing.assert_array_equal(jax.random.key_data(taken), jax.random.key_data(keys[jnp.asarray(rows)]))
    np.testing.assert_array_equal(jax.random.normal(taken[1], (3,)), jax.random.normal(keys[0], (3,)))
