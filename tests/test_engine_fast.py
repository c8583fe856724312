"""Fast paths of the training engine (sim.engine.train, sim.linear.losses, sim.data.masks) against the slow ones.

- Rounds are not compiled in: the public wrappers run any round count with one program per
  (loss, config without rounds, shapes), and give the all-rounds ``lax.scan`` program's result
  (1e-12; the rounds cross a chunk boundary).
- Chunked clients (``client_chunk``, ``lax.map`` with ``batch_size``) give the one-``vmap``
  result (1e-12), FedAvg and DecL.
- A client count the device count does not divide is padded (copies with aggregation weight 0,
  identity mixing rows) and still sharded; the result equals the unpadded program's (1e-12).
- float32 parameters and data train in float32 with x64 on: the optimised program holds no
  float64 value.
- The packed-bit MIM masks (``exact_mask``, dyadic ``p``) give unbiased minibatch gradients —
  the rule of ``tests/test_train.py``: mean of 4000 draws within ``5 + sqrt(2 log #entries)``
  Monte-Carlo standard errors of the moment-form gradient; and the fast and stock samplers
  draw the same law: a two-sample z-test on the keep rate over 2^20 entries (|z| < 5).
- The sort-free minibatch sampler returns exactly ``lax.top_k``'s indices (order and ties
  included), the repeat-based mask unpacking exactly the reshape-based one, and the written-out
  gradient of Eq. 4's data term the autodiff gradient of the plain expression (1e-12, float64).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sim
from sim.data.masks import bernoulli_mask, dyadic_bits, exact_mask
from sim.linear.losses import masked_alignment
from sim.engine.mixing import mixing_matrix
from sim.linear.losses import init_linear_params, linear_objective
from sim.engine.topology import make_topology
from sim.engine.train import (
    ROUND_CHUNK,
    ClientData,
    TrainConfig,
    decl_program,
    fedavg_program,
    program_cache_sizes,
    train_decl,
    train_fedavg,
    train_local,
)
from sim.engine.train import _top_indices

LOSS = linear_objective("mim-alignment", p=0.75)


def _clients(n=4, d=8, n_i=12, dtype=jnp.float64):
    x = jax.random.normal(jax.random.key(0), (n, n_i, d), dtype) * (1 + jnp.arange(d, dtype=dtype))[None, None, :]
    return ClientData(x, jnp.ones((n, n_i), bool))


def _params(d=8, c=2, dtype=jnp.float64):
    return jax.tree_util.tree_map(lambda a: a.astype(dtype), init_linear_params("mim-alignment", d, c, key=jax.random.key(1)))


def _close(a, b, atol=1e-12):
    for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), atol=atol)


def test_round_count_is_not_compiled_in_and_matches_the_scan_program():
    data, params = _clients(), _params()
    rounds = ROUND_CHUNK + 3  # crosses a chunk boundary, and ends inside a chunk
    cfg = TrainConfig(rounds=rounds, local_steps=3, batch_size=5, learning_rate=0.02)
    fast = train_fedavg(params, LOSS, data, cfg, key=jax.random.key(2))
    sizes = program_cache_sizes()
    short = train_fedavg(params, LOSS, data, TrainConfig(rounds=2, local_steps=3, batch_size=5, learning_rate=0.02),
                         key=jax.random.key(2))
    assert program_cache_sizes() == sizes  # another round count: same program
    slow = jax.jit(fedavg_program, static_argnames=("loss_fn", "cfg"))(params, data.x, data.mask, jax.random.key(2),
                                                                       loss_fn=LOSS, cfg=cfg)
    _close(fast, slow)
    np.testing.assert_allclose(np.asarray(short.losses), np.asarray(slow.losses)[:2], atol=1e-12)

    W = jnp.asarray(mixing_matrix(make_topology("ring", 4), "uniform").weights)
    dec = train_decl(params, LOSS, data, W, cfg, key=jax.random.key(3))
    ref = jax.jit(decl_program, static_argnames=("loss_fn", "cfg", "push_sum"))(
        params, data.x, data.mask, W, jax.random.key(3), loss_fn=LOSS, cfg=cfg)
    _close(dec, ref)


@pytest.mark.parametrize("algorithm", ["fedavg", "decl", "local"])
def test_chunked_clients_equal_one_vmap(algorithm):
    data, params = _clients(n=5), _params()
    W = jnp.asarray(mixing_matrix(make_topology("ring", 5), "uniform").weights)

    def run(chunk):
        cfg = TrainConfig(rounds=3, local_steps=2, batch_size=4, learning_rate=0.02, client_chunk=chunk)
        if algorithm == "fedavg":
            return train_fedavg(params, LOSS, data, cfg, key=jax.random.key(4))
        if algorithm == "decl":
            return train_decl(params, LOSS, data, W, cfg, key=jax.random.key(4))
        return train_local(params, LOSS, data, cfg, key=jax.random.key(4))

    _close(run(2), run(None))  # chunks of 2, 2 and a remainder of 1 (or 2 + 2 + 2 padded)


@pytest.mark.skipif(jax.device_count() < 2, reason="needs 2 devices (conftest sets jax_num_cpu_devices=2)")
@pytest.mark.parametrize("algorithm", ["fedavg", "decl"])
def test_odd_client_count_is_padded_sharded_and_exact(algorithm):
    data, params = _clients(n=3), _params()
    cfg = TrainConfig(rounds=3, local_steps=2, batch_size=4, learning_rate=0.02, weights="data-size")
    W = jnp.asarray(mixing_matrix(make_topology("ring", 3), "metropolis-hastings").weights)
    if algorithm == "fedavg":
        fast = train_fedavg(params, LOSS, data, cfg, key=jax.random.key(5))
        slow = jax.jit(fedavg_program, static_argnames=("loss_fn", "cfg"))(
            params, data.x, data.mask, jax.random.key(5), loss_fn=LOSS, cfg=cfg)
    else:
        fast = train_decl(params, LOSS, data, W, cfg, key=jax.random.key(5))
        slow = jax.jit(decl_program, static_argnames=("loss_fn", "cfg", "push_sum"))(
            params, data.x, data.mask, W, jax.random.key(5), loss_fn=LOSS, cfg=cfg)
    assert fast.losses.shape == (3, 3) and fast.client_params["encoder"].shape[0] == 3
    _close(fast, slow)


def test_float32_training_stays_float32_under_x64():
    assert jax.config.jax_enable_x64  # the toolkit's setting (conftest)
    data, params = _clients(dtype=jnp.float32), _params(dtype=jnp.float32)
    cfg = TrainConfig(rounds=2, local_steps=2, batch_size=4, learning_rate=0.02, weights="data-size")
    for objective, p in (("mim-alignment", 0.3), ("cl-similar", None)):  # stock-Bernoulli fallback, Gaussian views
        text = jax.jit(fedavg_program, static_argnames=("loss_fn", "cfg")).lower(
            params, data.x, data.mask, jax.random.key(0), loss_fn=linear_objective(objective, p=p), cfg=cfg
        ).compile().as_text()  # optimised HLO: scalar float64 literals of jax.random are folded away
        assert "f64" not in text, objective
    out = train_fedavg(params, LOSS, data, cfg, key=jax.random.key(0))  # strict promotion: no silent mix
    assert out.global_params["encoder"].dtype == jnp.float32 and out.losses.dtype == jnp.float32
    W = jnp.asarray(mixing_matrix(make_topology("ring", 4), "uniform").weights)
    assert train_decl(params, LOSS, data, W, cfg, key=jax.random.key(0)).global_params["encoder"].dtype == jnp.float32


def test_rbg_keys_are_refused_by_the_engine():
    with pytest.raises(ValueError, match="rbg"):
        train_fedavg(_params(), LOSS, _clients(), TrainConfig(rounds=1, local_steps=1, batch_size=2, learning_rate=0.1),
                     key=jax.random.key(0, impl="rbg"))


def test_packed_masks_are_the_stock_bernoulli_law():
    assert dyadic_bits(0.75) == 2 and dyadic_bits(0.6) is None
    shape, p = (2048, 512), 0.75
    fast = np.asarray(exact_mask(jax.random.key(7), p, shape))
    np.testing.assert_array_equal(fast, np.asarray(bernoulli_mask(jax.random.key(7), p, shape, bits=2)))
    stock = np.asarray(jax.random.bernoulli(jax.random.key(8), 1 - p, shape))
    n = fast.size
    pooled = (fast.sum() + stock.sum()) / (2 * n)
    z = (fast.mean() - stock.mean()) / math.sqrt(2 * pooled * (1 - pooled) / n)
    assert abs(z) < 5, z
    rare = np.asarray(exact_mask(jax.random.key(9), 0.6, shape))  # non-dyadic: stock sampler
    assert abs(rare.mean() - 0.4) < 5 * math.sqrt(0.24 / n)


@pytest.mark.parametrize("objective", ["mim-alignment", "mim-reconstruction"])
def test_packed_mask_gradients_are_unbiased(objective):
    d, c, p, n, draws = 6, 3, 0.75, 10, 4000
    x = jax.random.normal(jax.random.key(0), (n, d)) + 1.0
    mask = jnp.arange(n) < 8
    params = init_linear_params(objective, d, c, key=jax.random.key(1), scale=0.5)
    moment = jax.grad(linear_objective(objective, p=p, form="moment"))(params, sim.second_moment(x[:8]),
                                                                       jnp.ones(d, bool), None)
    batch = linear_objective(objective, p=p)
    grads = jax.vmap(lambda k: jax.grad(batch)(params, x, mask, k))(jax.random.split(jax.random.key(2), draws))
    for name in params:
        g, m = np.asarray(grads[name]), np.asarray(moment[name])
        z = np.abs(g.mean(axis=0) - m) / (g.std(axis=0) / math.sqrt(draws) + 1e-12)
        assert z.max() < 5 + math.sqrt(2 * math.log(z.size)), (name, z.max())


def test_client_chunk_is_validated():
    with pytest.raises(ValueError, match="client_chunk"):
        TrainConfig(rounds=1, local_steps=1, batch_size=2, learning_rate=0.1, client_chunk=0)


def _ranks(n, seed, *, padded=0, ties=0):
    r = np.asarray(jax.random.bits(jax.random.key(seed), (n,), jnp.uint32) >> 1).astype(np.int32)
    rng = np.random.default_rng(seed)
    for i in rng.choice(n, ties, replace=False):  # copy the rank of the current k-th largest row
        r[i] = np.sort(r)[-8]
    r[rng.choice(n, padded, replace=False)] = -1
    return r


@pytest.mark.parametrize("n, k, padded, ties", [(256, 64, 0, 0), (40, 8, 0, 3), (40, 8, 35, 0), (40, 20, 30, 2),
                                                (9, 8, 0, 1), (64, 1, 60, 0)])
def test_sort_free_sampler_is_top_k(n, k, padded, ties):
    rows = np.stack([_ranks(n, seed, padded=padded, ties=ties) for seed in range(6)])
    if ties:
        rows[0, :4] = rows[0, 4]  # a run of equal ranks: top_k keeps the lowest indices first
    fast = jax.jit(jax.vmap(lambda r: _top_indices(r, k)))(jnp.asarray(rows))
    slow = jax.vmap(lambda r: jax.lax.top_k(r, k)[1])(jnp.asarray(rows))
    np.testing.assert_array_equal(np.asarray(fast), np.asarray(slow))


def _reshape_unpacked(key, threshold, shape, bits):
    # The reference unpacking: split each word into its chunks along a new axis, then flatten.
    rows, last = shape[:-1], shape[-1]
    per_word = 32 // bits
    words = jax.random.bits(key, rows + (math.ceil(last / per_word),), jnp.uint32)
    shifts = jnp.asarray((np.arange(per_word, dtype=np.uint32) * np.uint32(bits)).reshape((1,) * words.ndim + (per_word,)))
    chunks = ((words[..., None] >> shifts) & jnp.uint32(2**bits - 1)).reshape(rows + (-1,))[..., :last]
    return chunks >= threshold


@pytest.mark.parametrize("bits, shape", [(2, (5, 128)), (2, (3, 4, 37)), (1, (7, 33)), (8, (2, 9)), (16, (6, 3))])
def test_mask_unpacking_matches_the_reshape_form(bits, shape):
    key = jax.random.key(11)
    k = 2 ** (bits - 1) + 1 if bits > 1 else 1
    p = k / 2**bits
    np.testing.assert_array_equal(np.asarray(bernoulli_mask(key, p, shape, bits=bits)),
                                  np.asarray(_reshape_unpacked(key, np.uint32(k), shape, bits)))


def test_masked_alignment_gradient_is_the_autodiff_gradient():
    kW, kx, km, kw = jax.random.split(jax.random.key(12), 4)
    W, x = jax.random.normal(kW, (3, 10)), jax.random.normal(kx, (7, 10))
    visible, w = jax.random.bernoulli(km, 0.25, (7, 10)), jax.random.uniform(kw, (7,))

    def plain(W, x, w):
        u = jnp.where(visible, x, 0.0)
        return -jnp.sum(w * jnp.sum((u @ W.T) * ((x - u) @ W.T), axis=1))

    fast = jax.value_and_grad(lambda W, x, w: masked_alignment(W, x, visible, w), argnums=(0, 1, 2))(W, x, w)
    slow = jax.value_and_grad(plain, argnums=(0, 1, 2))(W, x, w)
    _close(fast, slow)
    assert np.abs(np.asarray(slow[1][0])).max() > 0.1  # the comparison is not between zeros
