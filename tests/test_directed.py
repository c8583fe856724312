"""Directed topologies and the contraction factor.

- Ying et al.'s (2021) static exponential graph with uniform weights ``1/(τ+1)``: the quantity
  they call ρ is ``‖W - 11ᵀ/N‖_2`` (W is circulant, hence normal, so it is also the
  second-largest eigenvalue modulus); their value ``1 - 2/(1 + ceil(log2 N))`` for even N is
  measured at N = 8, 10, 12, 16, 32 to 1e-12 (0.5, 0.6, 0.6, 0.6, 0.6667).
- Push-sum on a directed graph that is not regular (so uniform in-weights are not doubly
  stochastic) drives every client to the plain mean of the starting models (1e-10 after 200
  rounds), which a row-stochastic rule does not.
- ``Mixing.contraction`` of data-size weights exceeds 1 and is attained: the top singular
  vector of ``(I - J) W (I - J)`` grows in consensus distance by exactly that factor (1e-12).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sim.engine.mixing import consensus_distance, mixing_matrix
from sim.engine.topology import directed_exponential, from_adjacency, make_topology
from sim.engine.train import ClientData, TrainConfig, train_decl


@pytest.mark.parametrize("n", [8, 10, 12, 16, 32])
def test_directed_exponential_rho(n):
    mix = mixing_matrix(directed_exponential(n), "uniform")
    tau = math.ceil(math.log2(n))
    assert mix.doubly_stochastic and np.allclose(mix.weights[mix.weights > 0], 1 / (tau + 1))
    rho = np.linalg.norm(mix.weights - np.full((n, n), 1 / n), 2)
    assert rho == pytest.approx(1 - 2 / (1 + tau), abs=1e-12)
    assert mix.slem == pytest.approx(rho, abs=1e-12)


def _lopsided(n=5):
    """A directed ring plus chords into client 0: strongly connected, not regular."""
    adj = np.zeros((n, n), dtype=bool)
    adj[(np.arange(n) + 1) % n, np.arange(n)] = True  # i hears i - 1
    adj[0, 2:] = True
    return from_adjacency(adj, directed=True)


def _still(params, x, mask, key):
    return 0.0 * jnp.sum(params["theta"] ** 2)


def test_push_sum_on_a_directed_graph_reaches_the_plain_mean():
    top = _lopsided()
    assert top.directed and not np.array_equal(top.neighbourhood_sizes, top.out_neighbourhood_sizes)
    theta0 = jax.random.normal(jax.random.key(0), (5, 2))
    data = ClientData(jnp.zeros((5, 1, 2)), jnp.ones((5, 1), bool))
    cfg = TrainConfig(rounds=200, local_steps=1, batch_size=None, learning_rate=0.1)
    mean = np.mean(np.asarray(theta0), axis=0)
    pushed = train_decl({"theta": theta0}, _still, data, mixing_matrix(top, "push-sum"), cfg,
                        key=jax.random.key(1), per_client=True)
    np.testing.assert_allclose(np.asarray(pushed.client_params["theta"]), np.broadcast_to(mean, (5, 2)), atol=1e-10)
    row = train_decl({"theta": theta0}, _still, data, mixing_matrix(top, "uniform"), cfg, key=jax.random.key(1),
                     per_client=True)
    assert float(consensus_distance(row.client_params)) < 1e-10  # consensus, but on a weighted mean
    assert np.abs(np.asarray(row.client_params["theta"])[0] - mean).max() > 1e-3


def test_directed_graphs_are_validated():
    adj = np.zeros((4, 4), dtype=bool)
    adj[0, 1] = adj[1, 0] = adj[2, 3] = adj[3, 2] = adj[2, 1] = True  # {0, 1} -> {2, 3} only one way
    with pytest.raises(ValueError, match="strongly connected"):
        from_adjacency(adj, directed=True)
    with pytest.raises(ValueError, match="directed=True"):
        from_adjacency(adj)
    with pytest.raises(ValueError, match="metropolis-hastings"):
        mixing_matrix(directed_exponential(8), "metropolis-hastings")
    with pytest.raises(ValueError, match="n_clients"):
        directed_exponential(1)


def test_contraction_can_exceed_one_and_is_attained():
    top = make_topology("ring", 6)
    mix = mixing_matrix(top, "data-size", data_sizes=[1, 50, 1, 50, 1, 50])
    assert mix.contraction > 1 > mix.slem
    n = 6
    proj = np.eye(n) - 1 / n
    _, _, vt = np.linalg.svd(proj @ mix.weights @ proj)
    theta = vt[0][:, None]
    ratio = float(consensus_distance(mix.weights @ theta) / consensus_distance(theta))
    assert ratio == pytest.approx(mix.contraction, rel=1e-12)
