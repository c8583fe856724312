"""The distributed training engine (sim.engine.train) and the linear losses (sim.linear.losses).

Closed-form checks (float64, fixed keys, stated tolerances):
- FedAvg with E local full-batch GD steps on quadratic client losses converges to
  ``[Σ π_k M_k]^{-1} Σ π_k M_k w_k*``, ``M_k = I - (I - η A_k)^E`` (uniform and data-size π,
  clients of unequal size through the padding mask); tolerance 1e-9 after 400 rounds (the
  iteration contracts at rate ≤ 0.9 per round here).
- D-PSGD on the complete graph with uniform mixing is full-participation FedAvg (SGD), step for
  step: 1e-12.
- Gradient descent on the expected linear losses reaches the closed-form stationary row space
  (`sim.encoder_subspace`): projector distance < 1e-6 after the stated number of steps, on a
  problem whose eigengap at ``c`` is asserted first (so the check is not vacuous).
- The minibatch losses are unbiased: their gradient averaged over 4000 noise/mask draws equals
  the moment-form gradient within 5 + sqrt(2 log #entries) Monte-Carlo standard errors.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sim
from sim.engine.mixing import mixing_matrix
from sim.linear.losses import alignment_matrix_loss, encoder_row_space, init_linear_params, linear_objective
from sim.engine.topology import make_topology
from sim.engine.train import (
    ClientData,
    DivergenceError,
    TrainConfig,
    fedavg_program,
    program_cache_sizes,
    train_decl,
    train_fedavg,
    train_local,
)


def quadratic_loss(w, batch_x, batch_mask, key):
    """½ mean_j (a_jᵀ w - b_j)² over real rows; a row is [a, b]."""
    del key
    weights = batch_mask.astype(batch_x.dtype) / jnp.sum(batch_mask.astype(batch_x.dtype))
    resid = batch_x[:, :-1] @ w - batch_x[:, -1]
    return 0.5 * jnp.sum(weights * resid**2)


def _quadratic_clients(n_clients=4, dim=3, sizes=(8, 5, 12, 3), scale=1.0):
    rng = np.random.default_rng(0)
    rows = []
    for i, n_i in enumerate(sizes[:n_clients]):
        a = rng.normal(size=(n_i, dim)) * (1 + i) ** 0.5 * scale
        b = a @ rng.normal(size=dim) + rng.normal(size=n_i)
        rows.append(np.concatenate([a, b[:, None]], axis=1))
    return ClientData.from_list(rows), rows


@pytest.mark.parametrize("weights", ["uniform", "data-size"])
@pytest.mark.parametrize("local_steps", [1, 5])
def test_fedavg_fixed_point_matches_closed_form(weights, local_steps):
    data, rows = _quadratic_clients()
    eta = 0.05
    cfg = TrainConfig(rounds=400, local_steps=local_steps, batch_size=None, learning_rate=eta, weights=weights)
    result = train_fedavg(jnp.zeros(3), quadratic_loss, data, cfg, key=jax.random.key(0))
    sizes = np.array([r.shape[0] for r in rows], float)
    pi = sizes / sizes.sum() if weights == "data-size" else np.full(len(rows), 1 / len(rows))
    lhs, rhs = np.zeros((3, 3)), np.zeros(3)
    for p_k, r in zip(pi, rows):
        A = r[:, :-1].T @ r[:, :-1] / r.shape[0]
        w_star = np.linalg.solve(A, r[:, :-1].T @ r[:, -1] / r.shape[0])
        M = np.eye(3) - np.linalg.matrix_power(np.eye(3) - eta * A, local_steps)
        lhs += p_k * M
        rhs += p_k * M @ w_star
    expected = np.linalg.solve(lhs, rhs)
    np.testing.assert_allclose(np.asarray(result.global_params), expected, atol=1e-9)
    if local_steps > 1:  # client drift: the fixed point is not the global minimiser
        global_min = np.linalg.solve(sum(p * r[:, :-1].T @ r[:, :-1] / r.shape[0] for p, r in zip(pi, rows)),
                                     sum(p * r[:, :-1].T @ r[:, -1] / r.shape[0] for p, r in zip(pi, rows)))
        assert np.max(np.abs(expected - global_min)) > 1e-4


def test_decl_complete_uniform_equals_fedavg():
    x, _ = sim.sample_clients(sim.DataConfig(d=16, N=4), key=jax.random.key(0))
    data = ClientData.from_arrays(x)
    loss = linear_objective("cl-similar")
    params = init_linear_params("cl-similar", 16, 8, key=jax.random.key(1))
    cfg = TrainConfig(rounds=4, local_steps=3, batch_size=5, learning_rate=0.02)
    fed = train_fedavg(params, loss, data, cfg, key=jax.random.key(2))
    dec = train_decl(params, loss, data, mixing_matrix(make_topology("complete", 4), "uniform"), cfg,
                     key=jax.random.key(2))
    np.testing.assert_allclose(dec.global_params["encoder"], fed.global_params["encoder"], atol=1e-12)
    np.testing.assert_allclose(dec.losses, fed.losses, atol=1e-12)


def test_partial_participation_and_no_recompile():
    data, _ = _quadratic_clients()
    cfg = TrainConfig(rounds=6, local_steps=2, batch_size=4, learning_rate=0.01, clients_per_round=2)
    first = train_fedavg(jnp.zeros(3), quadratic_loss, data, cfg, key=jax.random.key(0))
    sizes = program_cache_sizes()
    again = train_fedavg(jnp.zeros(3), quadratic_loss, data, cfg, key=jax.random.key(0))
    other = train_fedavg(jnp.ones(3), quadratic_loss, ClientData(data.x * 2, data.mask), cfg, key=jax.random.key(5))
    assert program_cache_sizes() == sizes  # new data, keys and init reuse the compiled program
    part = np.asarray(first.participation)
    assert part.shape == (6, 4) and np.all(part.sum(axis=1) == 2)
    assert np.all(np.isnan(np.asarray(first.losses)[~part])) and np.all(np.isfinite(np.asarray(first.losses)[part]))
    np.testing.assert_array_equal(first.losses, again.losses)
    assert not np.array_equal(np.asarray(other.participation), part)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"rounds": 0}, "rounds"),
        ({"local_steps": 0}, "local_steps"),
        ({"batch_size": 0}, "batch_size"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"learning_rate": -1e-3}, "learning_rate"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"optimizer": "lion"}, "optimizer"),
        ({"weights": "loss"}, "weights"),
        ({"clients_per_round": 0}, "clients_per_round"),
    ],
)
def test_config_validation(kwargs, match):
    base = dict(rounds=1, local_steps=1, batch_size=2, learning_rate=0.1)
    with pytest.raises(ValueError, match=match):
        TrainConfig(**{**base, **kwargs})


def test_run_validation():
    data, _ = _quadratic_clients()
    cfg = TrainConfig(rounds=1, local_steps=1, batch_size=2, learning_rate=0.1, clients_per_round=5)
    with pytest.raises(ValueError, match=r"clients_per_round=5 must be in \[1, N=4\]"):
        train_fedavg(jnp.zeros(3), quadratic_loss, data, cfg, key=jax.random.key(0))
    with pytest.raises(ValueError, match="FedAvg only"):
        train_decl(jnp.zeros(3), quadratic_loss, data, np.eye(4), cfg, key=jax.random.key(0))
    cfg = TrainConfig(rounds=1, local_steps=1, batch_size=2, learning_rate=0.1)
    with pytest.raises(ValueError, match="row-stochastic"):
        train_decl(jnp.zeros(3), quadratic_loss, data, np.full((4, 4), 0.3), cfg, key=jax.random.key(0))
    with pytest.raises(ValueError, match="no real sample"):
        ClientData(data.x, data.mask.at[1].set(False))


def test_divergence_names_round_and_client():
    data, _ = _quadratic_clients(scale=1.0)
    x = data.x.at[2].multiply(30.0)  # client 2's curvature is ~900x larger: it blows up first
    data = ClientData(x, data.mask)
    cfg = TrainConfig(rounds=60, local_steps=3, batch_size=None, learning_rate=0.05)
    raw = jax.jit(fedavg_program, static_argnames=("loss_fn", "cfg"))(
        jnp.zeros(3), data.x, data.mask, jax.random.key(0), loss_fn=quadratic_loss, cfg=cfg)
    bad = np.argwhere(~np.isfinite(np.asarray(raw.losses)))
    assert bad.size, "the setup must diverge for this test to mean anything"
    with pytest.raises(DivergenceError, match=rf"round {bad[0][0]} .*client {bad[0][1]}") as err:
        train_fedavg(jnp.zeros(3), quadratic_loss, data, cfg, key=jax.random.key(0))
    assert (err.value.round, err.value.client) == (bad[0][0], bad[0][1]) and err.value.client == 2


def _expected_moments(N=4, d=12):
    cfg = sim.DataConfig(d=d, N=N)
    return jnp.stack([sim.expected_second_moment(cfg, i) for i in range(N)])


def test_fedavg_gradient_training_reaches_closed_form_subspace():
    """E = 1 full-batch FedAvg is GD on the mean objective: row(W) -> top-c eigenspace of mean X."""
    S = _expected_moments()
    c = 4  # the 4 class coordinates; the next eigenvalue is asserted well below
    lam = np.linalg.eigvalsh(np.asarray(S.mean(0)))[::-1]
    assert lam[c - 1] - lam[c] > 0.2
    data = ClientData.from_arrays(S)
    params = init_linear_params("cl-similar", 12, c, key=jax.random.key(0))
    cfg = TrainConfig(rounds=600, local_steps=1, batch_size=None, learning_rate=0.1)
    result = train_fedavg(params, linear_objective("cl-similar", form="moment"), data, cfg, key=jax.random.key(1))
    V = sim.encoder_subspace(S.mean(0), "cl-similar", c)
    assert float(sim.subspace_distance(encoder_row_space(result.global_params), V)) < 1e-6


@pytest.mark.parametrize("objective", ["mim-alignment", "cl-dissimilar", "mim-reconstruction"])
def test_local_gradient_training_reaches_closed_form_subspace(objective):
    d, c, p = 6, 2, 0.5
    rng = np.random.default_rng(1)
    Q = np.linalg.qr(rng.normal(size=(d, d)))[0]
    S = jnp.asarray(Q @ np.diag([6.0, 4.0, 1.0, 0.6, 0.4, 0.3]) @ Q.T)[None]  # one client, clear gaps
    H = np.eye(d) + 0.1 * rng.normal(size=(d, d))
    if objective != "mim-reconstruction":
        lam = np.linalg.eigvalsh(np.asarray(sim.client_matrix(S[0], objective, p=p, H=H)))[::-1]
        assert lam[c - 1] - lam[c] > 0.1
    loss = linear_objective(objective, p=p, H=H, form="moment")
    params = init_linear_params(objective, d, c, key=jax.random.key(0), scale=0.3)
    cfg = TrainConfig(rounds=100, local_steps=30, batch_size=None, learning_rate=0.05)
    result = train_local(params, loss, ClientData.from_arrays(S), cfg, key=jax.random.key(1))
    trained = jax.tree_util.tree_map(lambda leaf: leaf[0], result.client_params)
    V = sim.encoder_subspace(S[0], objective, c, p=p, H=jnp.asarray(H))
    assert float(sim.subspace_distance(encoder_row_space(trained), V)) < 1e-6


@pytest.mark.parametrize("objective", ["mim-surrogate", "mim-alignment", "mim-reconstruction", "cl-similar", "cl-dissimilar"])
def test_minibatch_losses_are_unbiased(objective):
    d, c, p, n, draws = 6, 3, 0.6, 10, 4000
    x = jax.random.normal(jax.random.key(0), (n, d)) + 1.0
    mask = jnp.arange(n) < 8  # two padded rows must be ignored
    H = jnp.asarray(np.eye(d) + 0.2 * np.random.default_rng(0).normal(size=(d, d)))
    params = init_linear_params(objective, d, c, key=jax.random.key(1), scale=0.5)
    S = sim.second_moment(x[:8])
    moment = jax.grad(linear_objective(objective, p=p, H=H, form="moment"))(params, S, jnp.ones(d, bool), None)
    batch = linear_objective(objective, p=p, H=H)
    grads = jax.vmap(lambda k: jax.grad(batch)(params, x, mask, k))(jax.random.split(jax.random.key(2), draws))
    for name in params:
        g, m = np.asarray(grads[name]), np.asarray(moment[name])
        if objective == "mim-surrogate":  # deterministic
            np.testing.assert_allclose(g[0], m, atol=1e-12)
            continue
        se = g.std(axis=0) / math.sqrt(draws) + 1e-12
        z = np.abs(g.mean(axis=0) - m) / se
        assert z.max() < 5 + math.sqrt(2 * math.log(z.size)), (name, z.max())


def test_alignment_matrix_loss_matches_moment_form():
    S = _expected_moments(N=3, d=8)[0]
    params = init_linear_params("mim-alignment", 8, 3, key=jax.random.key(0))
    X = sim.client_matrix(S, "mim-alignment", p=0.75)
    a = alignment_matrix_loss(params, X, jnp.ones(8, bool), None)
    b = linear_objective("mim-alignment", p=0.75, form="moment")(params, S, jnp.ones(8, bool), None)
    assert float(a) == pytest.approx(float(b), abs=1e-12)
    assert linear_objective("mim-alignment", p=0.75) == linear_objective("mim-alignment", p=0.75)
    assert hash(linear_objective("cl-dissimilar", H=np.eye(3))) == hash(linear_objective("cl-dissimilar", H=np.eye(3)))
    with pytest.raises(ValueError, match="mask ratio"):
        linear_objective("mim-alignment")
