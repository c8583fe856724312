"""Exact second-moment sampler (SPEC 1.2, Readings 6): same law as drawing the samples.

Statistical rule (moment tests): for each entry type ``T`` of ``S`` (own-own, own-class,
class-class diagonal and off-diagonal, class-noise, noise diagonal and off-diagonal, rare
diagonal, rare-noise) and each replicate, ``m1 = mean_{(a,b) in T} S_ab`` and
``m2 = mean_{(a,b) in T} (S_ab - E S_ab)^2`` (pooled over clients). The replicate statistics
are iid across replicates, so the exact sampler and direct sampling (`sample_clients` then
`second_moment`) are compared by a two-sample z-test per statistic, two-sided, Bonferroni over
all statistics of a configuration at family-wise alpha = 1e-3 (fixed seeds). Power: the test
asserts that the smallest relative deviation of every ``E[m2]`` (the variance of ``S`` entries)
detectable with probability 0.9 is at most 10% — the replicate count is large enough for
that, measured from the data, not assumed.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from sim import DataConfig, sample_clients, second_moment
from sim.linear.suffstats import _sample_second_moments, population_second_moments, sample_second_moments

ALPHA = 1e-3
POWER_Z = stats.norm.ppf(0.9)


def _entry_types(cfg: DataConfig) -> dict[str, np.ndarray]:
    """Boolean masks ``(N, d, d)`` (upper triangle incl. diagonal) per entry type."""
    N, d = cfg.N, cfg.d
    masks = {}
    a, b = np.meshgrid(np.arange(d), np.arange(d), indexing="ij")
    upper = a <= b
    for name in ("own-own", "own-class", "class-diag", "class-off", "class-noise",
                 "noise-diag", "noise-off", "rare-diag", "rare-noise"):
        masks[name] = np.zeros((N, d, d), bool)
    for i in range(N):
        h = cfg.rare_class[i]
        kind = np.full(d, "noise", dtype=object)
        kind[:N] = "class"
        kind[i] = "own"
        kind[h] = "rare"
        ka, kb = kind[a], kind[b]
        diag = a == b
        pair = lambda x, y: ((ka == x) & (kb == y)) | ((ka == y) & (kb == x))  # noqa: E731
        masks["own-own"][i] = pair("own", "own")
        masks["own-class"][i] = pair("own", "class")
        masks["class-diag"][i] = pair("class", "class") & diag
        masks["class-off"][i] = pair("class", "class") & ~diag
        masks["class-noise"][i] = pair("class", "noise")
        masks["noise-diag"][i] = pair("noise", "noise") & diag
        masks["noise-off"][i] = pair("noise", "noise") & ~diag
        masks["rare-diag"][i] = pair("rare", "rare")
        masks["rare-noise"][i] = pair("rare", "noise")
    return {k: v & upper[None] for k, v in masks.items() if (v & upper[None]).any()}


def _replicate_stats(cfg, draw, seed, replicates):
    """``(replicates, 2 * types)`` array of ``(m1, m2)`` per entry type.

    ``lax.map`` rather than ``vmap``: the per-replicate program compiles several times faster
    on CPU, and compilation, not sampling, dominates here.
    """
    types = _entry_types(cfg)
    weights = jnp.asarray(np.stack([m / m.sum() for m in types.values()]))  # (T, N, d, d)
    mean = population_second_moments(cfg)

    def one(key):
        S = draw(key)
        return jnp.concatenate([jnp.einsum("tcab,cab->t", weights, S),
                                jnp.einsum("tcab,cab->t", weights, (S - mean) ** 2)])

    keys = jax.random.split(jax.random.key(seed), replicates)
    return list(types), np.asarray(jax.jit(lambda ks: jax.lax.map(one, ks))(keys))


CONFIGS = {
    # Halving-tree counts (2^(N-1) = 8 <= n/2); singular Wishart (n_total - m = 13 < d);
    # rare_class = (2, 4, 6, 0): the rare coordinate is another client's class coordinate for
    # clients 0 and 3, a noise coordinate for 1 and 2.
    "tree-singular": DataConfig(d=16, N=4, n=16, n_rare=2),
    # 2^(N-1) > n/2: q's drawn directly; n_total = 3 < m = 5, so R is rank-deficient and the
    # Wishart part has 0 degrees of freedom.
    "direct-q-deficient": DataConfig(d=8, N=4, n=2, n_rare=1),
}
REPLICATES = 8000


@pytest.mark.parametrize("name", list(CONFIGS))
def test_moments_match_direct_sampling(name):
    """Exact sampler vs `sample_clients` + `second_moment`: per-type z-tests, Bonferroni, power >= 0.9 at 10%."""
    cfg, R = CONFIGS[name], REPLICATES
    types, A = _replicate_stats(cfg, lambda k: sample_second_moments(cfg, key=k), 1, R)
    # The reference sampler is the yardstick here, not the code under test: trace it under
    # standard promotion so the comparison does not depend on its dtype hygiene.
    with jax.numpy_dtype_promotion("standard"):
        _, B = _replicate_stats(cfg, lambda k: second_moment(sample_clients(cfg, key=k)[0]), 2, R)
    se = np.sqrt(A.var(0, ddof=1) / R + B.var(0, ddof=1) / R)
    z = (A.mean(0) - B.mean(0)) / se
    z_crit = stats.norm.ppf(1 - ALPHA / (2 * z.size))
    labels = [f"mean {t}" for t in types] + [f"var {t}" for t in types]
    table = ", ".join(f"{lab}: z={v:+.2f}" for lab, v in zip(labels, z))
    assert np.all(np.abs(z) < z_crit), f"{name} (z_crit {z_crit:.2f}): {table}"
    n_types = len(types)
    detectable = (z_crit + POWER_Z) * se[n_types:] / B.mean(0)[n_types:]
    assert np.all(detectable <= 0.10), f"{name}: detectable relative variance deviation {detectable}"


def test_large_n_mean_jit_once_strict():
    """At n = d^2 = 1024 (halving tree with large counts): the mean of 400 draws matches
    `population_second_moments` entrywise within the Bonferroni z-bound (family-wise alpha =
    1e-3 over the N d (d+1) / 2 entries); the draws are one compiled program (no recompile for
    a new key), under strict dtype promotion, in float64, symmetric."""
    cfg = dataclasses.replace(DataConfig(d=32, N=3), n=32**2)
    R = 400
    keys = jax.random.split(jax.random.key(3), R)
    with jax.numpy_dtype_promotion("strict"):
        first = sample_second_moments(cfg, key=keys[0])
        size = _sample_second_moments._cache_size()
        S = np.stack([first] + [sample_second_moments(cfg, key=k) for k in keys[1:]])
        assert _sample_second_moments._cache_size() == size
        E = np.asarray(population_second_moments(cfg))
    assert first.dtype == jnp.float64 and S.shape == (R, 3, 32, 32)
    np.testing.assert_allclose(S, np.swapaxes(S, -1, -2), atol=1e-12)
    iu = np.triu_indices(cfg.d)
    S, E = S[:, :, iu[0], iu[1]], E[:, iu[0], iu[1]]
    z = (S.mean(0) - E) / (S.std(0, ddof=1) / np.sqrt(R))
    z_crit = stats.norm.ppf(1 - ALPHA / (2 * z.size))
    assert np.max(np.abs(z)) < z_crit, f"max |z| = {np.max(np.abs(z)):.2f} >= {z_crit:.2f}"


def test_population_matches_spec_facts():
    """SPEC 1.2 facts: E[x_k^2] = tau^2/2 + mu^2, E[x_k x_l] = tau^2/4 (main samples, k, l in [N] \\ {i})."""
    cfg = DataConfig(d=16, N=4, n=16, n_rare=0, tau=2.0, mu=0.5, rare_class=(2, 4, 6, 0))
    E = np.asarray(population_second_moments(cfg))
    assert E.shape == (4, 16, 16)
    assert E[0, 1, 1] == pytest.approx(2.0**2 / 2 + 0.5**2)
    assert E[0, 1, 2] == pytest.approx(2.0**2 / 4)
    assert E[0, 0, 1] == 0 and E[0, 0, 0] == pytest.approx(1 + 0.5**2)


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: sample_second_moments("cfg", key=jax.random.key(0)), "cfg"),
        (lambda: population_second_moments(None), "cfg"),
        (lambda: sample_second_moments(DataConfig(d=8), key=jax.random.split(jax.random.key(0), 2)), "key"),
        (lambda: sample_second_moments(DataConfig(d=8), key=jnp.zeros(3, jnp.uint32)), "key"),
        (lambda: sample_second_moments(dataclasses.replace(DataConfig(d=8), n=0), key=jax.random.key(0)),
         "DataConfig.n"),
        (lambda: sample_second_moments(dataclasses.replace(DataConfig(d=8), n_rare=-1), key=jax.random.key(0)),
         "DataConfig.n_rare"),
    ],
)
def test_bad_input_raises_naming_the_field(call, words):
    with pytest.raises(ValueError, match=words):
        call()


def test_popcount_binomial_has_the_binomial_law():
    """`_binomial_half` (the halving tree's Binomial(c, 1/2) by popcount): support [0, c] always;
    for c = 7 a chi-square goodness-of-fit test against the Binomial(7, 1/2) pmf; for counts on
    both sides of a 32-bit word boundary the mean and variance against c/2 and c/4 by z-tests.
    Bonferroni over all tests at family-wise alpha = 1e-3, fixed seed."""
    from sim.linear.suffstats import _binomial_half

    counts = jnp.asarray([0.0, 1.0, 7.0, 31.0, 32.0, 33.0, 64.0, 1000.0])
    R = 20_000
    keys = jax.random.split(jax.random.key(11), R)
    draws = np.asarray(jax.jit(jax.vmap(lambda k: _binomial_half(k, counts, 1000, jnp.float64)))(keys))
    c = np.asarray(counts)
    assert np.all(draws >= 0) and np.all(draws <= c) and np.all(draws == np.round(draws))
    tests = 1 + 2 * (len(c) - 1)
    level = ALPHA / tests
    seven = draws[:, 2].astype(int)
    observed = np.bincount(seven, minlength=8)
    assert stats.chisquare(observed, R * stats.binom.pmf(np.arange(8), 7, 0.5)).pvalue > level
    for j in range(1, len(c)):
        x = draws[:, j]
        z_mean = (x.mean() - c[j] / 2) / np.sqrt(c[j] / 4 / R)
        # Var(sample variance) = (mu4 - var^2 (R-3)/(R-1)) / R; for Binomial(c, 1/2),
        # mu4 = 3 var^2 - var / 2 = var^2 (3 - 2/c).
        var = c[j] / 4
        mu4 = var**2 * (3 - 2 / c[j])
        z_var = (x.var(ddof=1) - var) / np.sqrt((mu4 - var**2 * (R - 3) / (R - 1)) / R)
        assert abs(z_mean) < stats.norm.isf(level / 2) and abs(z_var) < stats.norm.isf(level / 2), (c[j], z_mean, z_var)
