"""MIM masks (Eqs. 3-4) drawn cheaply on device, and per-client random streams.

The mask ``m ∈ {0,1}^d`` of Eq. 3 / Eq. 4 has entries 0 (hidden) with probability ``p``, the
mask ratio, so ``m_k ~ Bernoulli(1 - p)``. ``jax.random.bernoulli`` spends one uniform float per
entry — 32 random bits, 64 under float64 — and a float comparison. A Bernoulli with a
probability on a ``2^-bits`` grid needs only ``bits`` random bits: `bernoulli_mask` draws packed
``uint32`` words and compares ``bits``-wide chunks to an integer threshold, 4 entries per word
at the default ``bits = 8`` (8x fewer random bits than float64 uniforms).

Quantisation: ``p`` is rounded to the nearest multiple of ``2^-bits`` (`quantised_mask_ratio`);
every ``p = k / 2^bits`` is exact, in particular ``p = 1/2`` and ``p = 3/4`` (the paper's MAE
setting) for every ``bits >= 2``. The mask-averaged moments (``E[m_k (1 - m_k)] = 0``,
``E[(1 - m_k) m_l] = p(1-p)``) then hold with the quantised ``p``.

Streams: client ``i``'s key in round ``t`` is a function of ``(key, t, i)`` only (`client_key`,
`client_keys`), so its masks do not depend on how many clients there are or how they are
batched, vmapped or sharded — with the default threefry keys. Under ``vmap`` JAX's batching rule
for ``rng_bit_generator`` (the ``"rbg"`` / ``"unsafe_rbg"`` key implementations) draws one
batch of bits from a single key of the batch instead of one stream per key, so an rbg client's
masks would depend on its batch; `client_keys` refuses rbg keys for that reason.

Public surface: `bernoulli_mask`, `exact_mask` (the engine's MIM masks: exact for every ``p``),
`dyadic_bits`, `quantised_mask_ratio`, `client_key`, `client_keys`, `check_stream_key`, `MASK_BITS`,
`MASK_RATIO`.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from sim.data import draws

#: The paper's mask ratio ``p`` (Section 4's experiments, MAE's ``3/4``): the default of every
#: configuration's ``mask_ratio`` field (the studies, the two-layer models, `bounds.Suite`).
MASK_RATIO = 0.75
MASK_BITS = 8  # default resolution: p on a 1/256 grid, 4 mask entries per 32-bit word
_ALLOWED_BITS = (1, 2, 4, 8, 16)


def _check_bits(bits) -> int:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or bits not in _ALLOWED_BITS:
        raise ValueError(f"bits = {bits!r}: need one of {_ALLOWED_BITS} (a divisor of 32 below 32)")
    return int(bits)


def _check_ratio(p) -> None:
    if not isinstance(p, jax.core.Tracer):
        value = np.asarray(p, dtype=float)
        if value.ndim != 0 or not 0 <= float(value) <= 1:
            raise ValueError(f"p = {p!r} is out of range: the mask ratio p must be a scalar in [0, 1]")


def quantised_mask_ratio(p: float, *, bits: int = MASK_BITS) -> float:
    """The mask ratio `bernoulli_mask` actually uses: ``round(p * 2^bits) / 2^bits``.

    >>> quantised_mask_ratio(0.75), quantised_mask_ratio(0.3)
    (0.75, 0.30078125)
    """
    bits = _check_bits(bits)
    _check_ratio(p)
    return round(float(p) * 2**bits) / 2**bits


def _threshold(p, bits: int) -> jax.Array:
    # A chunk c is uniform on {0, ..., 2^bits - 1}; "visible" iff c >= k, probability 1 - k / 2^bits.
    return jnp.round(jnp.asarray(p) * 2**bits).astype(jnp.uint32)


def bernoulli_mask(key: jax.Array, p, shape: tuple[int, ...], *, bits: int = MASK_BITS) -> jax.Array:
    """MIM mask ``m`` of ``shape``, boolean, ``True`` = visible with probability ``1 - p_q``.

    ``p_q = quantised_mask_ratio(p, bits=bits)`` (exact for ``p = k / 2^bits``); ``p`` may be traced
    (then it is quantised on device), ``shape`` and ``bits`` are static. Chunks are packed along
    the last axis: ``ceil(shape[-1] * bits / 32)`` random words per row. Entries are independent
    (distinct bits of a threefry stream). Jit-, vmap- (over keys) and grad-safe (no gradient
    flows through a mask).

    >>> m = bernoulli_mask(jax.random.key(0), 0.75, (2, 8))
    >>> m.shape, m.dtype
    ((2, 8), dtype('bool'))
    """
    bits = _check_bits(bits)
    _check_ratio(p)
    shape = tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"shape = {shape}: need non-negative sizes")
    return _bernoulli_mask(key, jnp.asarray(p), shape=shape, bits=bits)


def dyadic_bits(p: float) -> int | None:
    """The fewest mask bits (of 1, 2, 4, 8, 16) that represent ``p`` exactly, or None.

    With these bits `bernoulli_mask` draws exactly ``Bernoulli(1 - p)`` entries (no quantisation)
    and packs ``32 / bits`` of them per random word: 16 per word for ``p = 3/4`` (2 bits).

    >>> dyadic_bits(0.75), dyadic_bits(0.5), dyadic_bits(0.3)
    (2, 1, None)
    """
    _check_ratio(p)
    for bits in _ALLOWED_BITS:
        if float(p) * 2**bits == round(float(p) * 2**bits):
            return bits
    return None


def exact_mask(key: jax.Array, p: float, shape: tuple[int, ...]) -> jax.Array:
    """MIM mask with entries visible with probability exactly ``1 - p`` (``p`` a Python float).

    Dyadic ``p`` (`dyadic_bits` not None, e.g. the paper's ``p = 0.75``) takes the packed-bit
    path with the fewest bits and a threshold fixed at trace time; any other ``p`` falls back to
    ``jax.random.bernoulli`` with float32 uniforms (probability resolved to 2^-24, far finer than
    the 2^-bits grid of `bernoulli_mask`). Both paths draw from ``key`` alone (threefry), so a
    client's mask does not depend on how clients are batched.
    Traceable inside jit/vmap/grad (``shape`` static).
    """
    _check_ratio(p)
    bits = dyadic_bits(p)
    shape = tuple(int(s) for s in shape)
    if bits is None:
        return draws.bernoulli(key, jnp.float32(1 - float(p)), shape)
    return _packed(key, np.uint32(round(float(p) * 2**bits)), shape, bits)


@functools.partial(jax.jit, static_argnames=("shape", "bits"))
def _bernoulli_mask(key, p, *, shape, bits):
    return _packed(key, _threshold(p, bits), shape, bits)


def _packed(key, threshold, shape, bits):
    rows, last = (shape[:-1], shape[-1]) if shape else ((), 1)
    per_word = 32 // bits
    n_words = math.ceil(last / per_word)
    words = draws.bits(key, rows + (n_words,), jnp.uint32)
    # Entry k of a row is chunk k % per_word of word k // per_word. Repeating each word along the
    # last axis and shifting by a constant row of offsets keeps the unpacking one flat elementwise
    # loop on XLA:CPU; the equivalent (words[..., None] >> shifts).reshape(...) form compiles to a
    # loop several times slower (measured: 40 ms against 6 ms per W1 round of masks).
    shifts = np.tile(np.arange(per_word, dtype=np.uint32) * np.uint32(bits), n_words)[:last]
    shifts = shifts.reshape((1,) * len(rows) + (last,))
    chunks = (jnp.repeat(words, per_word, axis=-1)[..., :last] >> jnp.asarray(shifts)) & jnp.uint32(2**bits - 1)
    return (chunks >= threshold).reshape(shape)


def check_stream_key(key: jax.Array) -> None:
    """Refuse keys whose per-client streams would depend on batching (``rbg``, ``unsafe_rbg``)."""
    impl = str(jax.random.key_impl(key))
    if "rbg" in impl:
        raise ValueError(
            f"key implementation {impl!r}: under vmap, rng_bit_generator's batching rule draws one "
            "batch of bits from a single key, so a client's stream would depend on how clients are "
            "batched; use the default threefry2x32 keys (jax.random.key(seed))"
        )


def client_key(key: jax.Array, round, client) -> jax.Array:
    """Client ``client``'s key in round ``round``: ``fold_in(split(fold_in(key, round))[1], client)``.

    The same derivation as the engine's local-training keys (`sim.engine.train`), so the engine can
    draw masks from it without changing which randomness a client gets. ``round`` and ``client``
    may be traced.
    """
    check_stream_key(key)
    return jax.random.fold_in(jax.random.split(jax.random.fold_in(key, round))[1], client)


def client_keys(key: jax.Array, round, n_clients: int) -> jax.Array:
    """Keys ``(n_clients,)`` of clients ``0 .. n_clients - 1`` in ``round`` (each one `client_key`).

    Client ``i``'s key depends on ``(key, round, i)`` only: not on ``n_clients``, nor on which
    clients are drawn together.

    >>> ks = client_keys(jax.random.key(0), 0, 4)
    >>> bool(jnp.all(jax.random.key_data(ks[2]) == jax.random.key_data(client_key(jax.random.key(0), 0, 2))))
    True
    """
    if isinstance(n_clients, bool) or not isinstance(n_clients, (int, np.integer)) or n_clients < 1:
        raise ValueError(f"n_clients = {n_clients!r}: need an integer >= 1")
    check_stream_key(key)
    base = jax.random.split(jax.random.fold_in(key, round))[1]
    return jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(int(n_clients), dtype=jnp.uint32))


__all__ = [
    "MASK_BITS", "bernoulli_mask", "check_stream_key", "client_key", "client_keys", "dyadic_bits", "exact_mask",
    "quantised_mask_ratio",
]
