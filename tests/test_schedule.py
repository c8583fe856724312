"""Time-varying mixing (``MixingSchedule``), per-client initial parameters and the metric hook of
the DecL engine, against the same matrices applied by hand.

- One-peer exponential graph (Ying et al. 2021): the product ``W_{τ-1} ... W_0`` of one period
  (``τ = ceil(log2 N)``) equals ``11ᵀ/N`` to 1e-15 at N = 8 and 16; at N = 12 its largest
  entrywise error ``max_ij |(Π W_t - 11ᵀ/N)_ij|`` is exactly ``1/24 = 0.0417`` (the quantity
  that gives the quoted 0.0417; its spectral norm is 0.2091, its Frobenius norm 0.3536).
- With zero gradients a scheduled run is the product of its matrices (periodic and key-driven
  order; an odd client count exercises the device padding), and its metric hook records the
  consensus distance of that product after every round (1e-12).
- A schedule whose matrices are all one ``W`` gives the static ``W`` run (1e-12), training
  included; per-client starting models equal to the broadcast one give the broadcast run.
- Compile counts: a scheduled run compiles one round program; other round counts, keys and
  matrices of the same shape reuse it (``program_cache_sizes``).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sim.engine.mixing import (
    MixingSchedule,
    consensus_distance,
    mixing_matrix,
    mixing_schedule,
    one_peer_exponential,
    random_matching,
)
from sim.engine.topology import make_topology
from sim.engine.train import ClientData, TrainConfig, program_cache_sizes, train_decl
from sim.linear.losses import init_linear_params, linear_objective


def _still(params, x, mask, key):
    """A loss with zero gradient: training leaves the models alone, only mixing moves them."""
    return 0.0 * jnp.sum(params["theta"] ** 2)


def _data(n, d=3):
    return ClientData(jnp.zeros((n, 2, d)), jnp.ones((n, 2), bool))


def _by_hand(theta0, stack, indices):
    out, theta = [], theta0
    for i in indices:
        theta = stack[i] @ theta
        out.append(theta)
    return out


@pytest.mark.parametrize("n, expected", [(8, 0.0), (16, 0.0), (12, 1 / 24)])
def test_one_peer_exponential_period_product(n, expected):
    sched = one_peer_exponential(n)
    assert sched.period == math.ceil(math.log2(n))
    product = np.eye(n)
    for w in sched.weights:
        product = w @ product
    err = np.abs(product - np.full((n, n), 1.0 / n)).max()
    assert err == pytest.approx(expected, abs=1e-15)
    assert sched.period_contraction == pytest.approx(np.linalg.norm(product - 1.0 / n, 2), abs=1e-12)
    if expected == 0.0:
        assert sched.consensus_rate == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("order", ["periodic", "random"])
def test_schedule_equals_its_matrices_by_hand_with_the_metric_hook(order):
    n, rounds, key = 7, 11, jax.random.key(3)
    sched = random_matching(n, 4, key=jax.random.key(9), order=order)
    theta0 = jax.random.normal(jax.random.key(1), (n, 3))
    cfg = TrainConfig(rounds=rounds, local_steps=1, batch_size=None, learning_rate=0.1)
    run = train_decl({"theta": theta0}, _still, _data(n), sched, cfg, key=key, metric=consensus_distance,
                     per_client=True)
    if order == "periodic":
        indices = [t % sched.period for t in range(rounds)]
    else:  # the round's first split key, as the engine documents
        indices = [int(jax.random.randint(jax.random.split(jax.random.fold_in(key, t))[0], (), 0, sched.period))
                   for t in range(rounds)]
        assert len(set(indices)) > 1
    hand = _by_hand(np.asarray(theta0), sched.weights, indices)
    np.testing.assert_allclose(np.asarray(run.client_params["theta"]), hand[-1], atol=1e-12)
    np.testing.assert_allclose(np.asarray(run.metrics),
                               [float(consensus_distance({"theta": h})) for h in hand], atol=1e-12)


def test_constant_schedule_equals_the_static_run_and_per_client_broadcast():
    n, d, c = 4, 6, 2
    loss = linear_objective("mim-alignment", p=0.75)
    x = jax.random.normal(jax.random.key(0), (n, 10, d))
    data = ClientData(x, jnp.ones((n, 10), bool))
    params = init_linear_params("mim-alignment", d, c, key=jax.random.key(1))
    cfg = TrainConfig(rounds=5, local_steps=2, batch_size=4, learning_rate=0.05)
    mix = mixing_matrix(make_topology("ring", n), "uniform")
    static = train_decl(params, loss, data, mix, cfg, key=jax.random.key(2))
    sched = train_decl(params, loss, data, mixing_schedule([mix, mix, mix]), cfg, key=jax.random.key(2))
    stacked = jax.tree_util.tree_map(lambda p: jnp.broadcast_to(p, (n,) + p.shape), params)
    per_client = train_decl(stacked, loss, data, mix, cfg, key=jax.random.key(2), per_client=True)
    for other in (sched, per_client):
        for a, b in zip(jax.tree_util.tree_leaves(static), jax.tree_util.tree_leaves(other)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-12)


def test_scheduled_runs_compile_one_round_program():
    n = 8
    cfg = lambda rounds: TrainConfig(rounds=rounds, local_steps=1, batch_size=None, learning_rate=0.1)  # noqa: E731
    theta = {"theta": jax.random.normal(jax.random.key(0), (n, 3))}
    train_decl(theta, _still, _data(n), one_peer_exponential(n), cfg(5), key=jax.random.key(0), per_client=True)
    sizes = program_cache_sizes()
    train_decl(theta, _still, _data(n), one_peer_exponential(n), cfg(40), key=jax.random.key(1), per_client=True)
    train_decl(theta, _still, _data(n), random_matching(n, 3, key=jax.random.key(2)), cfg(7), key=jax.random.key(1),
               per_client=True)
    assert program_cache_sizes() == sizes


def test_bad_schedules_and_per_client_shapes_are_refused():
    with pytest.raises(ValueError, match="MixingSchedule.order"):
        MixingSchedule(one_peer_exponential(4).weights, order="cyclic")
    with pytest.raises(ValueError, match=r"weights\[0\].*row-stochastic"):
        MixingSchedule(np.full((1, 3, 3), 0.5))
    with pytest.raises(ValueError, match="MixingSchedule.weights"):
        MixingSchedule(np.eye(3))
    with pytest.raises(ValueError, match="period_contraction"):
        random_matching(4, 2, key=jax.random.key(0), order="random").period_contraction
    cfg = TrainConfig(rounds=1, local_steps=1, batch_size=None, learning_rate=0.1)
    with pytest.raises(ValueError, match="per_client"):
        train_decl({"theta": jnp.zeros((3, 3))}, _still, _data(4), np.eye(4), cfg, key=jax.random.key(0),
                   per_client=True)
