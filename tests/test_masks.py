"""Packed-bit MIM masks and per-client streams (sim.data.masks).

Statistical rule: an empirical rate over n independent entries is accepted when it lies within
Z = 5 binomial standard deviations of the exact (quantised) probability — a two-sided false-alarm
rate of 5.7e-7 per check. Keys are fixed, so the suite is deterministic.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sim.data.masks import MASK_BITS, bernoulli_mask, client_key, client_keys, quantised_mask_ratio
from sim.data.masks import _threshold

Z = 5.0


def _within_binomial(hits, n, prob):
    return abs(hits / n - prob) <= Z * np.sqrt(prob * (1 - prob) / n)


def test_vmapped_client_masks_equal_masks_drawn_alone():
    key, rnd, shape = jax.random.key(0), 3, (8, 130)
    keys = client_keys(key, rnd, 8)
    draw = lambda k: bernoulli_mask(k, 0.75, shape)  # noqa: E731
    together = jax.jit(jax.vmap(draw))(keys)
    chunk = jax.vmap(draw)(keys[2:6])  # a different batching of the same clients
    for i in range(8):
        alone = draw(client_key(key, rnd, i))
        np.testing.assert_array_equal(np.asarray(together[i]), np.asarray(alone))
        if 2 <= i < 6:
            np.testing.assert_array_equal(np.asarray(chunk[i - 2]), np.asarray(alone))
    # A client's key does not depend on how many clients there are.
    np.testing.assert_array_equal(np.asarray(jax.random.key_data(client_keys(key, rnd, 5))),
                                  np.asarray(jax.random.key_data(keys[:5])))


def test_rbg_keys_depend_on_batching_and_are_refused():
    # The hazard client_keys guards against: under vmap, rng_bit_generator's batching rule draws
    # one batch from a single key, so client 1's vmapped bits are not its own stream.
    base = jax.random.key(0, impl="rbg")
    keys = jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(4, dtype=jnp.uint32))
    vmapped = jax.vmap(lambda k: jax.random.bits(k, (16,), jnp.uint32))(keys)
    alone = [jax.random.bits(keys[i], (16,), jnp.uint32) for i in range(4)]
    assert not np.array_equal(np.asarray(vmapped[1]), np.asarray(alone[1]))
    with pytest.raises(ValueError, match="rbg"):
        client_keys(base, 0, 4)
    with pytest.raises(ValueError, match="rbg"):
        client_key(base, 0, 1)


@pytest.mark.parametrize("p, bits", [(0.5, 8), (0.75, 8), (0.75, 2), (0.3, 8), (0.9, 16)])
def test_keep_rate_and_pairs_match_binomial(p, bits):
    n_rows, d = 2048, 512  # 2^20 entries
    m = np.asarray(bernoulli_mask(jax.random.key(1), p, (n_rows, d), bits=bits))
    keep = 1 - quantised_mask_ratio(p, bits=bits)
    assert _within_binomial(m.sum(), m.size, keep)
    # Neighbours share a 32-bit word: their joint frequency catches unpacking bugs (correlation).
    both = (m[:, 0::2] & m[:, 1::2]).sum()
    assert _within_binomial(both, m.size // 2, keep**2)
    # Every chunk position inside a word has the same rate.
    per_word = 32 // bits
    for j in range(per_word):
        col = m[:, j::per_word]
        assert _within_binomial(col.sum(), col.size, keep)


@pytest.mark.parametrize("p", [0.5, 0.75])
@pytest.mark.parametrize("bits", [2, 4, MASK_BITS, 16])
def test_quantisation_is_exact(p, bits):
    assert quantised_mask_ratio(p, bits=bits) == p
    # Exhaustively over the 2^bits equally likely chunk values: exactly (1 - p) 2^bits are kept.
    chunks = np.arange(2**bits, dtype=np.uint32)
    kept = int(np.sum(chunks >= np.asarray(_threshold(p, bits))))
    assert kept == round((1 - p) * 2**bits)


def test_extreme_ratios_and_shapes():
    key = jax.random.key(2)
    assert not bool(jnp.any(bernoulli_mask(key, 1.0, (4, 33))))
    assert bool(jnp.all(bernoulli_mask(key, 0.0, (4, 33))))
    cases = [((), 8), ((3, 5, 9), 8), ((4, 33), 1), ((4, 33), 16)]
    for shape, bits in cases:
        m = bernoulli_mask(key, 0.5, shape, bits=bits)
        assert m.shape == shape and m.dtype == jnp.bool_


def test_jit_does_not_recompile_across_keys_or_ratios():
    draw = jax.jit(lambda k, p: bernoulli_mask(k, p, (64, 128)))
    draw(jax.random.key(0), jnp.float64(0.75))
    size = draw._cache_size()
    for seed, p in ((1, 0.75), (2, 0.5), (3, 0.25)):
        jax.block_until_ready(draw(jax.random.key(seed), jnp.float64(p)))
    assert draw._cache_size() == size == 1


@pytest.mark.parametrize("bad", [dict(p=1.5), dict(p=-0.1), dict(bits=3), dict(bits=32)])
def test_rejects_bad_arguments(bad):
    args = dict(p=0.75, bits=8) | bad
    with pytest.raises(ValueError):
        bernoulli_mask(jax.random.key(0), args["p"], (2, 4), bits=args["bits"])
