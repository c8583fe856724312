"""``jax.random`` draws made over a flat shape and reshaped: the same values, a cheaper program.

With JAX's default threefry (``jax_threefry_partitionable``) a draw of shape ``(a, b, c)``
numbers its elements by one iota per axis combined in 64-bit arithmetic, and XLA's CPU compiler
spends about 0.5 s more on a rank-3 or rank-4 draw than on the same draw over ``(a*b*c,)``
(jax 0.9.2, 2-core CPU: 1.7 s against 0.25 s for ``bits`` of shape ``(40, 20, 84, 64)``; a
default ``verify`` compiles hundreds of draws). The element numbering is the row-major flat index
either way (``jax._src.prng.iota_2x32_shape``; the original threefry also draws flat and
reshapes), so ``bits(key, shape) == jax.random.bits(key, shape)`` element for element, and
likewise every draw that is an elementwise function of the bits (``uniform``, ``normal``,
``bernoulli``); ``tests/test_draws.py`` checks this under both threefry settings. Nothing else
changes: same keys, same streams, same ledger.

Signatures are ``jax.random``'s (``out_sharding`` aside); array ``p`` / ``minval`` / ``maxval``
are broadcast to ``shape`` first, as ``jax.random`` does.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np


def _flat(shape) -> tuple[tuple[int, ...], tuple[int, ...]]:
    shape = tuple(int(s) for s in shape)
    return shape, (math.prod(shape),)


def _flat_param(value, shape):
    # A scalar stays a scalar (jax.random's own dtype rules apply to it); an array is broadcast
    # to the draw's shape and flattened with it.
    return value if jnp.ndim(value) == 0 else jnp.broadcast_to(value, shape).reshape(-1)


def bits(key, shape=(), dtype=None) -> jax.Array:
    """``jax.random.bits(key, shape, dtype)``."""
    shape, flat = _flat(shape)
    return jax.random.bits(key, flat, dtype).reshape(shape)


def uniform(key, shape=(), dtype=None, minval=0.0, maxval=1.0) -> jax.Array:
    """``jax.random.uniform(key, shape, dtype, minval, maxval)``."""
    shape, flat = _flat(shape)
    return jax.random.uniform(key, flat, dtype, _flat_param(minval, shape), _flat_param(maxval, shape)).reshape(shape)


def normal(key, shape=(), dtype=None) -> jax.Array:
    """``jax.random.normal(key, shape, dtype)`` (real dtypes)."""
    shape, flat = _flat(shape)
    return jax.random.normal(key, flat, dtype).reshape(shape)


def bernoulli(key, p=0.5, shape=None) -> jax.Array:
    """``jax.random.bernoulli(key, p, shape)`` (``shape`` None: the shape of ``p``)."""
    shape, flat = _flat(jnp.shape(p) if shape is None else shape)
    return jax.random.bernoulli(key, _flat_param(p, shape), flat).reshape(shape)


def take_keys(keys, rows) -> jax.Array:
    """``keys[rows]`` for an array of typed keys, gathered on the host: the same keys, without
    the gather program (and index-normalising ops) that indexing a device array op by op
    compiles for every new shape.

    >>> keys = jax.random.split(jax.random.key(0), 4)
    >>> bool((jax.random.key_data(take_keys(keys, [3, 0])) == jax.random.key_data(keys[jnp.array([3, 0])])).all())
    True
    """
    data = np.asarray(jax.random.key_data(keys))[np.asarray(rows)]
    return jax.random.wrap_key_data(data, impl=jax.random.key_impl(keys))


__all__ = ["bernoulli", "bits", "normal", "take_keys", "uniform"]
