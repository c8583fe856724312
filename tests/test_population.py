"""Population limits (SPEC Readings 6, `population`) derived with sympy, checked numerically.

Three checks, one rule each:
* exact identity: the sympy ``r_k`` on the class block equals the numeric pipeline
  (`expected_second_moment` -> `client_matrix` -> `encoder_subspace` -> `representability`)
  within 1e-8 (float64 eigen-solver rounding), N in {2, 3, 4, 6}, every client (the default
  ``rare_class`` puts some rare coordinates on class coordinates, which the sympy derivation
  claims does not matter), local and FL; and the number of positive eigenvalues (Assumption
  A.5) equals the numeric count.
* finite n (the exact sampler at n = d^2): a deterministic Davis–Kahan bound. For nested
  sample eigenspaces top-lo ⊆ top-c ⊆ top-hi whose population counterparts give the same
  ``r_k`` on the block, ``r_hat_k >= r_k - sin_lo`` and ``r_hat_k <= r_k + sin_hi`` (``|e_k^T
  (P_hat - P) e_k| <= ||P_hat - P|| = ||sin Theta||``), with ``||sin Theta|| <= ||E V|| / delta``
  (``E = X_hat - X``, ``delta`` the separation of the population eigenvalues of ``V`` from the
  sample ones outside, both computed from the draw). Holds for every draw: false-alarm rate 0
  for a correct limit; the test also asserts that the bound is below 0.25, so a wrong limit
  (e.g. 1 instead of 1/3) would be caught.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

from sim import DataConfig, client_matrix, encoder_subspace, expected_second_moment, mask_moments, representability
from sim.linear.suffstats import sample_second_moments
from theory.population import READINGS, SCOPES, SYMBOLS, population_entries, population_limit

P_MASK = 0.75
D = 28  # one d for every N keeps the number of compiled programs small


def _block(cfg: DataConfig, scope: str, client: int) -> np.ndarray:
    return np.array([k for k in range(cfg.N) if scope == "fl" or k != client])


def _matrix(S, reading):
    """The matrix whose positive (Eq. 3: nonzero) eigenvalues A.5 counts."""
    if reading == "mim-reconstruction":
        uu, vu, _ = mask_moments(S, P_MASK)
        return vu @ jnp.linalg.solve(uu, vu.T)
    return client_matrix(S, reading, p=P_MASK)


def _population_matrices(cfg: DataConfig, scope: str):
    S = jnp.stack([expected_second_moment(cfg, i) for i in range(cfg.N)])
    return [(i, S[i]) for i in range(cfg.N)] if scope == "local" else [(None, jnp.mean(S, axis=0))]


def test_entries_match_spec_facts():
    E, (tau, mu, w, rho) = population_entries(), sp.symbols("tau mu w rho", positive=True)
    assert sp.simplify(E["class_diag"] - (w * (tau**2 / 2 + mu**2) + rho * mu**2)) == 0
    assert sp.simplify(E["class_off"] - w * tau**2 / 4) == 0
    assert all(E[k] == 0 for k in ("own_class", "class_noise", "own_noise", "noise_off", "rare_class", "rare_noise"))


@pytest.mark.parametrize("N", [2, 3, 4, 6])
@pytest.mark.parametrize("reading", READINGS)
def test_limit_matches_numeric_population(reading, N):
    cfg = DataConfig(d=D, N=N, n=64, n_rare=8)
    c = 2 * N
    for scope in SCOPES:
        lim = population_limit(reading, scope, N=N)
        for client, S in _population_matrices(cfg, scope):
            block = _block(cfg, scope, 0 if client is None else client)
            lam = np.linalg.eigvalsh(np.asarray(_matrix(S, reading)))
            positive = int(np.sum(lam > 1e-9 * np.max(np.abs(lam), initial=1.0)))
            assert positive == lim.positive_eigenvalues.subs(SYMBOLS["d"], D), (reading, scope, client, lam)
            assert bool(lim.a5.subs({SYMBOLS["c"]: c, SYMBOLS["d"]: D})) == (positive >= c)
            if lim.r_top_c is sp.nan:
                # No unique top-c eigenspace on the block: the derivation says W = 0 (A.5 fails).
                assert positive == 0 and lim.r_minimiser == 0
                continue
            r = np.asarray(representability(encoder_subspace(S, reading, c, p=P_MASK)))
            np.testing.assert_allclose(r[block], float(lim.r_top_c), atol=1e-8, err_msg=f"{reading} {scope} {client}")


def test_symbolic_limits():
    """The general-N expressions, and their agreement with the integer-N evaluations."""
    N_ = SYMBOLS["N"]
    assert population_limit("mim-alignment", "local").r_minimiser == sp.Piecewise((1 / (N_ - 1), N_ >= 3), (0, True))
    assert population_limit("mim-alignment", "fl").r_minimiser == sp.Piecewise((1 / N_, N_ >= 3), (0, True))
    for reading in ("cl-similar", "mim-surrogate"):
        for scope in SCOPES:
            assert population_limit(reading, scope).r_minimiser == 1
            assert population_limit(reading, scope).positive_eigenvalues == SYMBOLS["d"]
    for reading in READINGS:
        for scope in SCOPES:
            general = population_limit(reading, scope)
            for N in (2, 3, 5):
                assert general.r_minimiser.subs(N_, N) == population_limit(reading, scope, N=N).r_minimiser
    # Assumption A.5 at c = 2N: Eq. 4's exact matrix has one positive eigenvalue (none at N = 2),
    # Eq. 3's regression matrix N - 1 locally, so both fail A.5 at every N.
    for reading in ("mim-alignment", "mim-reconstruction"):
        for N in (2, 3, 4, 6):
            assert not population_limit(reading, "local", N=N).a5.subs(SYMBOLS["c"], 2 * N)


def _top(X, k, diagonal):
    if diagonal:  # the surrogate's encoder: top-k diagonal entries (coordinate axes)
        V = np.zeros((X.shape[0], k))
        V[np.argsort(-np.diag(X), kind="stable")[:k], np.arange(k)] = 1
        return V
    return np.linalg.eigh(X)[1][:, ::-1][:, :k]


SLACKS = []  # (reading, scope, client, min r_c, max r_c, slack below, slack above): for the report


def _sin_theta(lam, vecs, lam_hat, E, k):
    """Davis–Kahan bound on ``||sin Theta||`` between the population and sample top-``k`` spaces.

    Two valid forms (residual of the population space or of its complement over the
    separation from the other side's spectrum); the smaller is kept.
    """
    if k == len(lam):
        return 0.0
    bounds = [np.inf]
    if lam[k - 1] > lam_hat[k]:
        bounds.append(np.linalg.norm(E @ vecs[:, :k], 2) / (lam[k - 1] - lam_hat[k]))
    if lam_hat[k - 1] > lam[k]:
        bounds.append(np.linalg.norm(E @ vecs[:, k:], 2) / (lam_hat[k - 1] - lam[k]))
    return min(bounds)


def _nested(lam, vecs, lam_hat, E, block, r_pop, ks):
    """Among widths ``ks`` whose population top space gives ``r_pop`` on the block, the tightest bound."""
    return min(
        (_sin_theta(lam, vecs, lam_hat, E, k), k)
        for k in ks
        if np.allclose(np.sum(vecs[:, :k] ** 2, axis=1)[block], r_pop, atol=1e-8)
    )


def _spectrum(X, diagonal):
    if diagonal:
        order = np.argsort(-np.diag(X), kind="stable")
        return np.diag(X)[order], np.eye(X.shape[0])[:, order]
    lam, vecs = np.linalg.eigh(X)
    return lam[::-1], vecs[:, ::-1]


@pytest.mark.parametrize("reading", ["mim-alignment", "cl-similar", "mim-surrogate"])
def test_exact_sampler_at_n_d_squared(reading):
    """N = 4, d = 64, n = d^2: r_hat within the Davis–Kahan bound of the population limit.

    Eq. 3 is left out: its encoder is not an eigenspace of a perturbed matrix, and SPEC
    Readings 6 notes it needs n >> p^2 tau^4 d before the population limit shows.
    """
    cfg = dataclasses.replace(DataConfig(d=64, N=4, n_rare=8), n=64**2)
    c, diagonal = 2 * cfg.N, reading == "mim-surrogate"
    S_hat = sample_second_moments(cfg, key=jax.random.key(7))
    S_pop = jnp.stack([expected_second_moment(cfg, i) for i in range(cfg.N)])
    for scope in SCOPES:
        r_pop = float(population_limit(reading, scope, N=cfg.N).r_top_c)
        pairs = [(i, S_hat[i], S_pop[i]) for i in range(cfg.N)] if scope == "local" else \
            [(0, S_hat.mean(0), S_pop.mean(0))]
        for client, Sh, Sp in pairs:
            block = _block(cfg, scope, client)
            X, Xh = np.asarray(client_matrix(Sp, reading, p=P_MASK)), np.asarray(client_matrix(Sh, reading, p=P_MASK))
            lam, vecs = _spectrum(X, diagonal)
            lam_hat = _spectrum(Xh, diagonal)[0]
            slack_lo, lo = _nested(lam, vecs, lam_hat, Xh - X, block, r_pop, range(1, c + 1))
            slack_hi, hi = _nested(lam, vecs, lam_hat, Xh - X, block, r_pop, range(c, cfg.d + 1))
            assert max(slack_lo, slack_hi) < 0.25, (reading, scope, client, slack_lo, slack_hi)
            r_lo = np.sum(_top(Xh, lo, diagonal) ** 2, axis=1)[block]
            r_hi = np.sum(_top(Xh, hi, diagonal) ** 2, axis=1)[block]
            r_c = np.asarray(representability(encoder_subspace(Sh, reading, c, p=P_MASK)))[block]
            assert np.all(r_lo <= r_c + 1e-9) and np.all(r_c <= r_hi + 1e-9)
            assert np.all(r_lo >= r_pop - slack_lo - 1e-9) and np.all(r_hi <= r_pop + slack_hi + 1e-9), (
                reading, scope, client, r_c, r_pop, slack_lo, slack_hi)
            SLACKS.append((reading, scope, client, float(r_c.min()), float(r_c.max()), slack_lo, slack_hi))


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(reading="mim", scope="local"), "reading"),
        (dict(reading="cl-dissimilar", scope="local"), "reading"),
        (dict(reading="cl-similar", scope="decl"), "scope"),
        (dict(reading="cl-similar", scope="local", N=1), "N = 1"),
        (dict(reading="cl-similar", scope="local", N=2.5), "N = 2.5"),
        (dict(reading="cl-similar", scope="local", N=True), "N = True"),
    ],
)
def test_bad_input_raises_naming_the_field(kwargs, words):
    reading, scope = kwargs.pop("reading"), kwargs.pop("scope")
    with pytest.raises(ValueError, match=words):
        population_limit(reading, scope, **kwargs)


@pytest.mark.parametrize("N", [2, 3, 4])
def test_population_assumption_reason_follows_N(N):
    """The vacuity reason names the population minimiser's rank at this N, from the sympy count
    of positive eigenvalues (checked against the numeric count above): W = 0 only at N = 2; at
    N >= 3 Eq. 4's local minimiser has rank 1 and Eq. 3's rank N - 1 (SPEC Readings 6)."""
    from bounds.producers.linear import population_assumption

    c = N + 1  # more than either rank: A.5 fails at every N, so the reason is given
    for objective, rank in (("mim-alignment", 0 if N == 2 else 1), ("mim-reconstruction", 0 if N == 2 else N - 1)):
        hyps, why, note = population_assumption(objective, "local", N, c, D)
        assert hyps == {"A.5 (population)": False}
        assert f"at N = {N}" in why and f"rank {rank}" in why and f"{rank} positive eigenvalue" in why
        assert ("W = 0" in why) == (N == 2), why
        assert f"N = {N}" in note
    hyps, why, _ = population_assumption("mim-reconstruction", "local", N, 1, D)
    assert hyps == {"A.5 (population)": N >= 3}  # rank N - 1 >= c = 1 from N = 3 on
