"""Topologies (sim.engine.topology) and mixing rules (sim.engine.mixing).

Claims checked: every family is connected with |A_i| >= 2 and hits the requested |Ā| exactly
where it can (else the nearest realisable value, reported); bad input raises ValueError; every
rule is row-stochastic (push-sum column-stochastic) with support on A_i; one mixing step
shrinks the consensus distance by at most ‖(I-J)W(I-J)‖_2, which equals σ_2(W) for doubly
stochastic W and is attained (so the factor is exact, not just an upper bound); the Eq. 1
weights are 1/N on regular graphs.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sim.engine.mixing import (
    MIXING_RULES,
    Mixing,
    consensus_distance,
    custom_mixing,
    eq1_weights,
    mix,
    mixing_matrix,
)
from sim.engine.topology import FAMILIES, from_adjacency, make_topology


@pytest.mark.parametrize(
    "family, n, target, realised",
    [
        ("complete", 20, 20, 20.0),
        ("ring", 20, 5, 5.0),
        ("ring", 20, 4, 3.0),  # between realisable 3 and 5: nearest, ties to the smaller
        ("regular", 20, 3, 3.0),
        ("regular", 20, 10, 10.0),
        ("erdos-renyi", 20, 5, 5.0),
        ("reference", 20, 3, 3.0),
        ("reference", 20, 10, 10.0),
        ("reference", 7, 3.5, 25 / 7),  # N(|Ā|-1) odd: edge count rounds, realised value reported
        ("torus", 16, None, 5.0),
        ("exponential", 16, None, 8.0),  # ±1, ±2, ±4 and 8 (= -8 mod 16)
    ],
)
def test_family_hits_target(family, n, target, realised):
    top = make_topology(family, n, avg_connectivity=target, key=jax.random.key(3))
    assert top.n_clients == n
    assert top.to_networkx().number_of_nodes() == n
    assert np.all(top.neighbourhood_sizes >= 2)
    assert top.avg_connectivity == pytest.approx(realised, abs=1e-12)
    assert top.target == (None if target is None else float(target))
    if family in ("complete", "ring", "regular", "torus", "exponential"):
        assert top.is_regular


def test_general_topology_is_irregular_and_seeded():
    a = make_topology("general", 20, avg_connectivity=5, key=jax.random.key(0))
    b = make_topology("general", 20, avg_connectivity=5, key=jax.random.key(0))
    c = make_topology("general", 20, avg_connectivity=5, key=jax.random.key(1))
    assert not a.is_regular
    assert np.array_equal(a.adjacency, b.adjacency)
    assert not np.array_equal(a.adjacency, c.adjacency)


@pytest.mark.parametrize(
    "family, n, target, match",
    [
        ("complete", 10, 5, "unreachable"),
        ("torus", 16, 3, "unreachable"),
        ("torus", 7, None, "torus"),
        ("regular", 10, 11, "unreachable"),
        ("reference", 10, 1.5, "unreachable"),
        ("ring", 10, 2, "unreachable"),
        ("hypercube", 10, None, "family"),
        ("regular", 1, None, "n_clients"),
    ],
)
def test_unreachable_targets_raise(family, n, target, match):
    with pytest.raises(ValueError, match=match):
        make_topology(family, n, avg_connectivity=target, key=0)


def test_bad_graphs_raise():
    disconnected = np.zeros((4, 4), bool)
    disconnected[0, 1] = disconnected[1, 0] = disconnected[2, 3] = disconnected[3, 2] = True
    with pytest.raises(ValueError, match="disconnected"):
        from_adjacency(disconnected)
    isolated = disconnected.copy()
    isolated[2, 3] = isolated[3, 2] = False
    with pytest.raises(ValueError, match=r"\|A_i\| >= 2"):
        from_adjacency(isolated)
    with pytest.raises(ValueError, match="symmetric"):
        from_adjacency(np.triu(np.ones((3, 3), bool), 1))


@pytest.mark.parametrize("rule", MIXING_RULES)
def test_rules_are_stochastic_on_neighbourhoods(rule):
    top = make_topology("general", 12, avg_connectivity=4, key=7)
    mixing = mixing_matrix(top, rule, data_sizes=np.arange(1, 13))
    w = mixing.weights
    axis = 0 if rule == "push-sum" else 1
    np.testing.assert_allclose(w.sum(axis=axis), 1.0, atol=1e-12)
    assert np.all(w[~top.closed_adjacency] == 0) and np.all(w[top.closed_adjacency] > 0)
    assert 0 < mixing.spectral_gap <= 1
    if rule == "metropolis-hastings":
        assert mixing.doubly_stochastic and np.allclose(w, w.T)


def test_complete_uniform_mixes_in_one_step():
    mixing = mixing_matrix(make_topology("complete", 6), "uniform")
    assert mixing.spectral_gap == pytest.approx(1.0) and mixing.contraction == pytest.approx(0.0, abs=1e-12)


def test_custom_mixing_validation():
    top = make_topology("ring", 5)
    good = mixing_matrix(top, "uniform").weights
    assert custom_mixing(good, top).rule == "custom"
    with pytest.raises(ValueError, match="row-stochastic"):
        custom_mixing(good * 0.9, top)
    bad_support = np.full((5, 5), 0.2)
    with pytest.raises(ValueError, match="not in A_0"):
        custom_mixing(bad_support, top)
    with pytest.raises(ValueError, match="non-negative"):
        custom_mixing(np.eye(5) * 2 - np.roll(np.eye(5), 1, axis=1), top)
    with pytest.raises(ValueError, match="data_sizes"):
        mixing_matrix(top, "data-size")


@pytest.mark.parametrize("rule, family", [("metropolis-hastings", "general"), ("uniform", "regular"),
                                          ("degree-normalised", "general"), ("data-size", "general")])
def test_consensus_contraction(rule, family):
    """‖(I-J) W Θ‖ <= ‖(I-J)W(I-J)‖_2 ‖(I-J)Θ‖ for random Θ, with equality at the top singular
    vector; for doubly stochastic W the factor is σ_2(W)."""
    top = make_topology(family, 10, avg_connectivity=5, key=11)
    mixing = mixing_matrix(top, rule, data_sizes=np.arange(1, 11))
    W = jnp.asarray(mixing.weights)
    thetas = jax.random.normal(jax.random.key(0), (50, 10, 3))
    before = jax.vmap(consensus_distance)(thetas)
    after = jax.vmap(lambda t: consensus_distance(mix(W, t)))(thetas)
    assert np.all(np.asarray(after) <= mixing.contraction * np.asarray(before) + 1e-12)
    proj = np.eye(10) - 1 / 10
    u = np.linalg.svd(proj @ mixing.weights @ proj)[2][0]  # the worst-case direction
    ratio = float(consensus_distance(mix(W, jnp.asarray(u)[:, None])) / consensus_distance(jnp.asarray(u)[:, None]))
    assert ratio == pytest.approx(mixing.contraction, rel=1e-10)
    if mixing.doubly_stochastic:
        assert mixing.contraction == pytest.approx(mixing.second_singular_value, rel=1e-10)


@pytest.mark.parametrize("a", [3, 5, 10])
def test_eq1_weights_regular_are_uniform(a):
    regular = mixing_matrix(make_topology("regular", 20, avg_connectivity=a, key=a), "uniform")
    np.testing.assert_allclose(eq1_weights(jnp.asarray(regular.weights)), 1 / 20, atol=1e-15)
    general = mixing_matrix(make_topology("general", 20, avg_connectivity=a, key=a), "uniform")
    pi = np.asarray(eq1_weights(jnp.asarray(general.weights)))
    assert pi.sum() == pytest.approx(1.0) and np.max(np.abs(pi - 1 / 20)) > 1e-3


def test_mixing_object_validates():
    with pytest.raises(ValueError, match="square"):
        Mixing(np.ones((2, 3)) / 3)
    assert set(FAMILIES) >= {"complete", "ring", "regular", "erdos-renyi", "torus", "exponential", "reference"}
