"""sim core, data model (SPEC 1.2): configuration, sampling, second moments.

Statistical rule for Monte-Carlo checks: every entry within 5 standard errors (CLT, standard
errors estimated per stratum from the same draw), fixed keys. Per entry the false-alarm rate
of a correct implementation is ~6e-7.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sim import DataConfig, expected_second_moment, sample_clients, sample_labelled, second_moment

Z = 5.0


# ---------------------------------------------------------------- configuration


def test_theorem_scalings_fill_none_fields():
    cfg = DataConfig(d=100)
    assert cfg.N == max(2, round(100 ** (1 / 20))) == 2
    assert (cfg.n, cfg.n_rare, cfg.n_total) == (100, 10, 110)
    assert cfg.tau == pytest.approx(100 ** 0.2) and cfg.mu == pytest.approx(100 ** -0.2)
    assert cfg.rare_class == (2, 0)
    assert all(v.startswith("scaling") for v in cfg.scalings().values())
    assert set(cfg.scalings()) == {"N", "n", "n_rare", "tau", "mu", "rare_class"}


def test_scalings_report_hand_set_values_and_survive_replace():
    cfg = DataConfig(d=64, N=4, tau=1.5)
    report = cfg.scalings()
    assert report["N"] == report["tau"] == "by hand"
    assert report["mu"].startswith("scaling") and report["n"].startswith("scaling")
    # rare_class default follows the hand-set N, so it still counts as the scaling's rule.
    assert cfg.rare_class == (2, 4, 6, 0) and report["rare_class"].startswith("scaling")
    moved = dataclasses.replace(cfg, d=128)
    assert moved.scalings()["n"] == "by hand"  # n = 64 kept, scaling would give 128
    assert moved.scalings()["tau"] == "by hand"


def test_default_n_is_rounded_up_to_even():
    assert DataConfig(d=65).n == 66
    assert DataConfig(d=16).n_rare == 4 and DataConfig(d=17).n_rare == 5


def test_config_is_hashable_and_compares_by_value():
    assert DataConfig(d=32) == DataConfig(d=32, N=2, rare_class=[2, 0])
    assert hash(DataConfig(d=32)) == hash(DataConfig(d=32, N=2))


@pytest.mark.parametrize(
    "kwargs, field, value, words",
    [
        (dict(d=0), "d", "0", ">= 1"),
        (dict(d=8.5), "d", "8.5", "integer"),
        (dict(d=float("inf")), "d", "inf", "finite"),
        (dict(d=16, N=1), "N", "1", ">= 2"),
        (dict(d=16, N=9), "N", "9", "2N <= d"),
        (dict(d=3), "N", "2", "2N <= d"),
        (dict(d=16, n=0), "n", "0", ">= 2"),
        (dict(d=16, n=7), "n", "7", "even"),
        (dict(d=16, n_rare=-1), "n_rare", "-1", ">= 0"),
        (dict(d=16, tau=0.0), "tau", "0.0", "> 0"),
        (dict(d=16, tau=float("nan")), "tau", "nan", "finite"),
        (dict(d=16, mu=-1.0), "mu", "-1.0", "> 0"),
        (dict(d=16, mu=float("inf")), "mu", "inf", "finite"),
        (dict(d=16, rare_class=(2,)), "rare_class", "(2,)", "length N = 2"),
        (dict(d=16, rare_class=(1, 0)), "rare_class[0]", "1", "own classes"),
        (dict(d=16, rare_class=(2, 3)), "rare_class[1]", "3", "own classes"),
        (dict(d=16, rare_class=(4, 0)), "rare_class[0]", "4", "0 <= h < 2N"),
        (dict(d=16, rare_class=(-1, 0)), "rare_class[0]", "-1", "0 <= h < 2N"),
    ],
)
def test_config_rejects_out_of_range_values(kwargs, field, value, words):
    with pytest.raises(ValueError) as err:
        DataConfig(**kwargs)
    assert f"DataConfig.{field} = {value} " in str(err.value)
    assert words in str(err.value)


# ---------------------------------------------------------------- sampling structure


def test_samples_follow_the_class_formulas_exactly_when_noise_is_tiny():
    cfg = DataConfig(d=10, N=3, n=400, n_rare=5, tau=2.0, mu=1e-12, rare_class=(5, 0, 1))
    x, y = sample_clients(cfg, key=jax.random.key(0))
    x, y = np.asarray(x), np.asarray(y)
    assert x.shape == (3, 405, 10) and y.shape == (3, 405) and y.dtype == np.int32
    for i in range(cfg.N):
        main, rare = x[i, : cfg.n], x[i, cfg.n :]
        np.testing.assert_array_equal(y[i], [2 * i] * 200 + [2 * i + 1] * 200 + [cfg.rare_class[i]] * 5)
        np.testing.assert_allclose(main[:, i], [1.0] * 200 + [-1.0] * 200, atol=1e-9)
        others = [k for k in range(cfg.N) if k != i]
        q = -main[:, others] / cfg.tau  # each entry is q_k in {0, 1}
        np.testing.assert_allclose(q, np.round(q), atol=1e-9)
        assert set(np.round(q).ravel()) == {0.0, 1.0}
        # q_k ~ Bernoulli(1/2): the mean over 800 draws within 5 standard errors of 1/2.
        assert abs(np.round(q).mean() - 0.5) < Z * 0.5 / math.sqrt(q.size)
        np.testing.assert_allclose(main[:, cfg.N :], 0.0, atol=1e-9)
        np.testing.assert_allclose(rare, np.eye(10)[[cfg.rare_class[i]] * 5], atol=1e-9)


def test_noise_is_standard_normal_times_mu():
    cfg = DataConfig(d=40, N=2, n=200, n_rare=200, mu=0.5)
    x, _ = sample_clients(cfg, key=jax.random.key(1))
    noise = (np.asarray(x)[:, :, 2 * cfg.N :] / cfg.mu).ravel()  # beyond 2N: noise only (h < 2N)
    assert abs(noise.mean()) < Z / math.sqrt(noise.size)
    assert abs(noise.var() - 1) < Z * math.sqrt(2 / noise.size)


def test_clients_and_keys_are_independent_draws():
    cfg = DataConfig(d=16)
    a, _ = sample_clients(cfg, key=jax.random.key(0))
    b, _ = sample_clients(cfg, key=jax.random.key(1))
    assert not np.allclose(a, b)
    assert not np.allclose(a[0, :, 5:], a[1, :, 5:])
    again, _ = sample_clients(cfg, key=jax.random.key(0))
    np.testing.assert_array_equal(a, again)


def test_sample_labelled_uses_the_owner_clients_main_formula():
    cfg = DataConfig(d=8, N=3, tau=3.0, mu=1e-12)
    x = np.asarray(sample_labelled(cfg, jnp.array([0, 1, 2, 3, 4, 5]), key=jax.random.key(2)))
    np.testing.assert_allclose(x[np.arange(6), [0, 0, 1, 1, 2, 2]], [1, -1, 1, -1, 1, -1], atol=1e-9)


def test_sample_labelled_rejects_labels_outside_the_classes():
    with pytest.raises(ValueError, match=r"labels: \[4\].*\[0, 2N\) = \[0, 4\)"):
        sample_labelled(DataConfig(d=8), jnp.array([0, 4]), key=jax.random.key(0))
    with pytest.raises(ValueError, match="1-D integer"):
        sample_labelled(DataConfig(d=8), jnp.array([0.0]), key=jax.random.key(0))


# ---------------------------------------------------------------- second moments


def test_second_moment_is_the_mean_outer_product():
    x = jax.random.normal(jax.random.key(3), (2, 5, 3))
    expected = np.einsum("cnj,cnk->cjk", x, x) / 5
    np.testing.assert_allclose(second_moment(x), expected, rtol=1e-12)
    np.testing.assert_allclose(second_moment(x[0]), expected[0], rtol=1e-12)


def test_paper_facts_on_main_samples_against_hand_numbers():
    """E[x_k^2] = tau^2/2 + mu^2 (paper: tau^2) and E[x_k x_l] = tau^2/4 (paper: 0), k != l in [N]\\{i}."""
    cfg = DataConfig(d=6, N=3, n=20000, n_rare=0, tau=2.0, mu=0.5)
    x, _ = sample_clients(cfg, key=jax.random.key(4))
    main = np.asarray(x[0])  # client 0: K = {1, 2}
    tau, mu = cfg.tau, cfg.mu
    for values, target in [
        (main[:, 1] ** 2, tau**2 / 2 + mu**2),
        (main[:, 2] ** 2, tau**2 / 2 + mu**2),
        (main[:, 1] * main[:, 2], tau**2 / 4),
        (main[:, 0] ** 2, 1 + mu**2),
        (main[:, 0] * main[:, 1], 0.0),
    ]:
        se = values.std() / math.sqrt(values.size)
        assert abs(values.mean() - target) < Z * se
    E = np.asarray(expected_second_moment(cfg, 0))
    assert E[1, 1] == pytest.approx(tau**2 / 2 + mu**2) and E[1, 2] == pytest.approx(tau**2 / 4)
    assert E[0, 0] == pytest.approx(1 + mu**2) and E[0, 1] == 0.0 and E[5, 5] == pytest.approx(mu**2)


@pytest.mark.parametrize("client", [0, 1, 2])
def test_empirical_second_moment_matches_expected_within_five_standard_errors(client):
    cfg = DataConfig(d=8, N=3, n=6000, n_rare=1500, tau=1.7, mu=0.6, rare_class=(3, 0, 1))
    x, y = sample_clients(cfg, key=jax.random.key(10 + client))
    x, y = np.asarray(x[client]), np.asarray(y[client])
    prods = x[:, :, None] * x[:, None, :]
    # Stratified CLT: the three label groups have fixed sizes.
    var = sum(prods[y == g].var(axis=0) * (y == g).sum() for g in np.unique(y))
    se = np.sqrt(var) / cfg.n_total
    S = np.asarray(second_moment(x))
    E = np.asarray(expected_second_moment(cfg, client))
    assert np.all(np.abs(S - E) <= Z * se)
    np.testing.assert_allclose(E, E.T)


def test_expected_second_moment_vmaps_over_clients():
    cfg = DataConfig(d=12, N=3)
    stacked = jax.jit(jax.vmap(lambda i: expected_second_moment(cfg, i)))(jnp.arange(3))
    for i in range(3):
        np.testing.assert_allclose(stacked[i], expected_second_moment(cfg, i))
    # rare_class = (2, 4, 0): client 1's rare coordinate 4 lies outside [N]; client 0's (2) inside K.
    w_main, w_rare = cfg.n / cfg.n_total, cfg.n_rare / cfg.n_total
    assert stacked[1, 4, 4] == pytest.approx(cfg.mu**2 + w_rare)
    assert stacked[0, 2, 2] == pytest.approx(cfg.mu**2 + w_main * cfg.tau**2 / 2 + w_rare)
    assert stacked[2, 0, 0] == pytest.approx(cfg.mu**2 + w_main * cfg.tau**2 / 2 + w_rare)
