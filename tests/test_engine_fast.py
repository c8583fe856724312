"""Fast paths of the training engine (sim.train, sim.objectives, sim.masks) against the slow ones.

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
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sim
from sim.masks import bernoulli_mask, dyadic_bits, exact_mask
from sim.mixing import mixing_matrix
from sim.objectives import init_linear_params, linear_objective
from sim.topology import make_topology
from sim.train import (
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
