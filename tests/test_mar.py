"""MAR (Section 5): A-MMD (Eq. 6) against plain-Python values, its null mean, invariances and
stop-gradient; the gamma schedule (Eq. 7); the MAR loss on sim.models.shallow's MAE; bad input.

Statistical rules (fixed seeds, so each verdict is reproducible; the false-alarm rate of a
|z| < 4 rule under its null is about 6e-5):
- unbiasedness of the ``paper`` U-statistic at a fixed bandwidth: over R independent pairs of
  same-distribution batches, |mean| / se < 4;
- the ``reference-code`` normalisation has null mean exactly 2/(B-1): |mean - 2/(B-1)| / se < 4;
- a bandwidth computed from z itself breaks unbiasedness: mean / se > 4 at B = 4 (measured
  bias about 0.009, se 0.0011 at R = 5000).
"""

import functools
import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sim.models.mar import (
    METRICS,
    VARIANTS,
    MARLoss,
    a_mmd,
    alignment,
    cosine_alignment,
    gamma_schedule,
    global_embeddings,
    kernel_bandwidth,
    mar_weight,
)
from sim.models.shallow import MODELS, ShallowConfig, ShallowLoss, init_params

KEY = jax.random.key(0)
strict = functools.partial(jax.numpy_dtype_promotion, "strict")


# ----------------------------------------------------------------------------- plain-Python references

def _dist(u, v):
    return math.sqrt(sum((a - b) ** 2 for a, b in zip(u, v)))


def _reference_mmd(z, zb, variant, sigma):
    """Eq. 6 by loops over rows, for lists of tuples."""
    B = len(z)
    if variant == "reference-code":
        k = lambda u, v: math.exp(-_dist(u, v) ** 2 / (2 * sigma**2))  # noqa: E731
    else:
        k = lambda u, v: math.exp(-_dist(u, v) / (2 * sigma**2))  # noqa: E731
    pairs = [(a, b) for a in range(B) for b in range(B) if variant != "paper" or a != b]
    within = sum(k(z[a], z[b]) + k(zb[a], zb[b]) for a, b in pairs)
    within /= B * B if variant == "biased" else B * (B - 1)
    cross = sum(k(z[a], zb[b]) for a in range(B) for b in range(B)) / B**2
    return within - 2 * cross


Z3 = [(0.0, 1.0), (2.0, -1.0), (0.5, 0.5)]
ZB3 = [(1.0, 1.0), (-1.0, 0.0), (0.0, 3.0)]
Z2 = [(0.0,), (1.0,)]
ZB2 = [(2.0,), (0.5,)]


def _mean_offdiag(z):
    d = [_dist(z[a], z[b]) for a in range(len(z)) for b in range(len(z)) if a != b]
    return sum(d) / len(d)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("z, zb", [(Z2, ZB2), (Z3, ZB3)], ids=["B2c1", "B3c2"])
def test_a_mmd_matches_plain_python(variant, z, zb):
    sigma = _mean_offdiag(z)
    with strict():
        got = a_mmd(jnp.array(z), jnp.array(zb), variant=variant)
        fixed = a_mmd(jnp.array(z), jnp.array(zb), variant=variant, bandwidth="fixed", sigma=0.7)
    assert float(got) == pytest.approx(_reference_mmd(z, zb, variant, sigma), rel=1e-12)
    assert float(fixed) == pytest.approx(_reference_mmd(z, zb, variant, 0.7), rel=1e-12)


def test_a_mmd_b2_by_hand():
    # z = (0, 1), zb = (2, 0.5): sigma = 1, so k = exp(-|u - v| / 2) (paper variant).
    e = math.exp
    within = (2 * e(-0.5) + 2 * e(-1.5 / 2)) / 2
    cross = (e(-1.0) + e(-0.25) + e(-0.5) + e(-0.25)) / 4
    assert float(a_mmd(jnp.array(Z2), jnp.array(ZB2))) == pytest.approx(within - 2 * cross, rel=1e-12)


def test_bandwidth_rules_by_hand():
    z = jnp.array([[0.0], [1.0], [3.0]])  # off-diagonal distances 1, 3, 2 (each twice)
    with strict():
        assert float(kernel_bandwidth(z, kind="mean")) == pytest.approx(2.0)
        assert float(kernel_bandwidth(z, kind="median")) == pytest.approx(2.0)
        assert float(kernel_bandwidth(z, kind="mean-all")) == pytest.approx(12.0 / 9.0)  # reference code: zeros count
        assert float(kernel_bandwidth(z, kind="fixed", sigma=0.3)) == pytest.approx(0.3)
    skewed = jnp.array([[0.0], [1.0], [10.0]])  # distances 1, 10, 9
    assert float(kernel_bandwidth(skewed, kind="median")) == pytest.approx(9.0)
    assert float(kernel_bandwidth(skewed, kind="mean")) == pytest.approx(20.0 / 3.0)
    # Padded rows do not enter the bandwidth.
    padded = jnp.array([[0.0], [1.0], [3.0], [100.0]])
    assert float(kernel_bandwidth(padded, mask=jnp.array([True, True, True, False]))) == pytest.approx(2.0)
    # All embeddings equal: a floored, finite bandwidth instead of 0 / 0.
    assert 0 < float(kernel_bandwidth(jnp.zeros((3, 2)))) < 1e-6


def test_metric_dispatch_and_cosine_by_hand():
    z, zb = jnp.array(Z3), jnp.array(ZB3)
    with strict():
        assert float(alignment(z, zb, metric="a-mmd-mean")) == float(a_mmd(z, zb))
        assert float(alignment(z, zb, metric="a-mmd-median")) == float(a_mmd(z, zb, bandwidth="median"))
        assert float(alignment(z, zb, metric="mmd-sigma1", variant="biased")) == float(
            a_mmd(z, zb, variant="biased", bandwidth="fixed", sigma=1.0))
        cos = float(alignment(z, zb, metric="cosine"))
    expected = 1 - sum(sum(a * b for a, b in zip(u, v)) / (_dist(u, (0, 0)) * _dist(v, (0, 0)))
                       for u, v in zip(Z3, ZB3)) / 3
    assert cos == pytest.approx(expected, rel=1e-12)
    # Padded rows (of either set) drop out of the cosine mean.
    mask = jnp.array([True, True, False])
    assert float(cosine_alignment(z, zb, mask_bar=mask)) == pytest.approx(
        float(cosine_alignment(z[:2], zb[:2])), rel=1e-12)


@pytest.mark.parametrize("variant", VARIANTS)
def test_padding_rows_do_not_count(variant):
    k1, k2 = jax.random.split(KEY)
    z, zb = jax.random.normal(k1, (5, 3)), jax.random.normal(k2, (5, 3))
    mask = jnp.array([True, False, True, True, False])
    mask_bar = jnp.array([False, True, True, True, False])
    got = a_mmd(z, zb, variant=variant, mask=mask, mask_bar=mask_bar)
    want = a_mmd(z[mask], zb[mask_bar], variant=variant)
    assert float(got) == pytest.approx(float(want), rel=1e-12)


def _null_pairs(R, B, c=2, seed=1):
    k1, k2 = jax.random.split(jax.random.key(seed))
    return jax.random.normal(k1, (R, B, c)), jax.random.normal(k2, (R, B, c))


def _mean_se(values):
    values = np.asarray(values)
    return values.mean(), values.std(ddof=1) / math.sqrt(values.size)


def test_paper_a_mmd_is_unbiased_at_a_fixed_bandwidth():
    z, zb = _null_pairs(5000, 4)
    values = jax.vmap(functools.partial(a_mmd, bandwidth="fixed", sigma=1.0))(z, zb)
    mean, se = _mean_se(values)
    assert abs(mean) / se < 4, (mean, se)


def test_reference_code_normalisation_has_null_mean_two_over_b_minus_1():
    B = 4
    z, zb = _null_pairs(5000, B)
    values = jax.vmap(functools.partial(a_mmd, variant="reference-code", bandwidth="fixed", sigma=1.0))(z, zb)
    mean, se = _mean_se(values)
    assert abs(mean - 2 / (B - 1)) / se < 4, (mean, se)


def test_data_driven_bandwidth_biases_the_u_statistic():
    # sigma from z correlates with z's own pairwise distances, so the within-z kernels are not
    # exchangeable with the cross kernels: the paper's estimator is not mean-zero at small B.
    z, zb = _null_pairs(5000, 4)
    mean, se = _mean_se(jax.vmap(a_mmd)(z, zb))
    assert mean / se > 4, (mean, se)


# Linear, not combinatorial: every variant at the paper's bandwidth, every bandwidth at the paper's variant.
VARIANT_AND_BANDWIDTH = [(v, "mean") for v in VARIANTS] + [("paper", b) for b in ("median", "mean-all")]
VARIANT_AND_METRIC = [(v, "a-mmd-mean") for v in VARIANTS] + [("paper", m) for m in METRICS if m != "a-mmd-mean"]


@pytest.mark.parametrize("variant, bandwidth", VARIANT_AND_BANDWIDTH)
def test_a_mmd_is_invariant_to_row_permutations(variant, bandwidth):
    k1, k2, k3, k4 = jax.random.split(KEY, 4)
    z, zb = jax.random.normal(k1, (6, 3)), jax.random.normal(k2, (6, 3))
    p, q = jax.random.permutation(k3, 6), jax.random.permutation(k4, 6)
    f = functools.partial(a_mmd, variant=variant, bandwidth=bandwidth)
    assert float(f(z[p], zb[q])) == pytest.approx(float(f(z, zb)), rel=1e-10, abs=1e-14)


def test_scale_dependence_of_the_kernels():
    # Reference code: squared distance over sigma^2 with sigma a mean distance -> scale-free.
    # Paper as printed: |u - v| / (2 sigma^2) scales as 1/scale.
    k1, k2 = jax.random.split(KEY)
    z, zb = jax.random.normal(k1, (6, 3)), jax.random.normal(k2, (6, 3))
    ref = functools.partial(a_mmd, variant="reference-code")
    assert float(ref(10.0 * z, 10.0 * zb)) == pytest.approx(float(ref(z, zb)), rel=1e-10)
    assert abs(float(a_mmd(10.0 * z, 10.0 * zb)) - float(a_mmd(z, zb))) > 1e-3


@pytest.mark.parametrize("variant, metric", VARIANT_AND_METRIC)
def test_no_gradient_into_z_bar_and_finite_gradient_into_z(metric, variant):
    k1, k2 = jax.random.split(KEY)
    z, zb = jax.random.normal(k1, (5, 3)), jax.random.normal(k2, (5, 3))
    z = z.at[1].set(z[0])  # two equal local embeddings: the unsquared distance is not smooth there
    zb = zb.at[2].set(z[3])  # and a global embedding equal to a local one
    f = functools.partial(alignment, metric=metric, variant=variant)
    with strict():
        g_bar = jax.grad(f, argnums=1)(z, zb)
        g = jax.grad(f)(z, zb)
    np.testing.assert_array_equal(g_bar, 0.0)
    assert np.all(np.isfinite(g)) and float(jnp.abs(g).sum()) > 0


def test_jit_vmap_and_no_recompile():
    f = jax.jit(a_mmd, static_argnames=("variant", "bandwidth"))
    k1, k2 = jax.random.split(KEY)
    z, zb = jax.random.normal(k1, (3, 4, 2)), jax.random.normal(k2, (3, 4, 2))
    batched = jax.vmap(functools.partial(f, variant="paper", bandwidth="median"))(z, zb)
    eager = [float(a_mmd(z[i], zb[i], bandwidth="median")) for i in range(3)]
    np.testing.assert_allclose(batched, eager, rtol=1e-12)
    f(z[0], zb[0], sigma=1.0, bandwidth="fixed")
    size = f._cache_size()
    f(z[1], zb[1], sigma=2.0, bandwidth="fixed")  # new values, same shapes: no new program
    assert f._cache_size() == size


# ----------------------------------------------------------------------------- gamma schedule (Eq. 7)

def test_gamma_schedule_endpoints_monotone_and_formula():
    omega = jnp.arange(0, 31)
    with strict():
        g = np.asarray(gamma_schedule(omega, Omega=20))
    assert g[0] == pytest.approx(0.1) and np.allclose(g[20:], 0.001)
    assert np.all(np.diff(g) <= 1e-15)
    t = 7 / 20
    assert g[7] == pytest.approx(0.001 + 0.099 * 0.5 * (1 + math.cos(math.pi * t)), rel=1e-12)
    g2 = gamma_schedule(jnp.array([0.0, 5.0]), Omega=5.0, gamma_max=1.0, gamma_min=0.5)
    np.testing.assert_allclose(g2, [1.0, 0.5])
    jitted = jax.jit(lambda w: gamma_schedule(w, Omega=20))
    np.testing.assert_allclose(jitted(omega), g, rtol=1e-12)


def test_constant_schedule_and_round_zero_rule():
    np.testing.assert_allclose(gamma_schedule(jnp.arange(5), Omega=3, kind="constant", gamma=0.01), 0.01)
    assert float(mar_weight(0, 0, Omega=10)) == 0.0
    assert float(mar_weight(0, 4, Omega=10, kind="constant", gamma=1.0)) == 0.0
    assert float(mar_weight(1, 0, Omega=10)) == pytest.approx(0.1)
    traced = jax.jit(lambda t, w: mar_weight(t, w, Omega=10))
    np.testing.assert_allclose(traced(jnp.array(0), jnp.arange(3)), 0.0)
    np.testing.assert_allclose(traced(jnp.array(3), jnp.arange(3)), gamma_schedule(jnp.arange(3), Omega=10))


# ----------------------------------------------------------------------------- MAR loss

@pytest.mark.parametrize("model", MODELS)
def test_mar_loss_reduces_to_the_mae_loss_and_aligns_the_returned_embeddings(model):
    cfg = ShallowConfig(d=6, c=3, model=model, loss="mae", hidden=8)
    k1, k2, k3, k4 = jax.random.split(KEY, 4)
    params = init_params(cfg, key=k1)
    x = jax.random.normal(k2, (5, 6))
    mask = jnp.array([True, True, True, True, False])
    z_bar = jax.random.normal(k4, (5, 3))
    mar = MARLoss(cfg)

    @jax.jit
    def everything(params, z_bar):
        loss = functools.partial(mar, x=x, mask=mask, key=k3)
        z = mar.embeddings(params, x, mask, k3)
        return (loss(params, z_bar=z_bar, gamma=0.0), loss(params, z_bar=z_bar, gamma=0.1),
                ShallowLoss(cfg)(params, x, mask, k3), a_mmd(z, z_bar, mask=mask), z,
                jax.grad(lambda zb: loss(params, z_bar=zb, gamma=0.1))(z_bar),
                jax.grad(lambda p: loss(p, z_bar=z_bar, gamma=0.1))(params))

    with strict():
        at_zero, at_gamma, mae, align, z, g_bar, grads = everything(params, z_bar)
    assert float(at_zero) == float(mae)
    assert float(at_gamma) == pytest.approx(float(at_zero) + 0.1 * float(align), rel=1e-12)
    assert z.shape == (5, 3)
    np.testing.assert_array_equal(g_bar, 0.0)
    assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(grads))
    assert hash(mar) == hash(MARLoss(cfg)) and mar == MARLoss(cfg) and mar != MARLoss(cfg, metric="cosine")


def test_global_embeddings_by_hand():
    z = jnp.array([[[1.0], [2.0]], [[3.0], [4.0]], [[5.0], [6.0]]])  # K=3 clients, B=2, c=1
    mask = jnp.array([[True, True], [True, False], [False, False]])
    zb, real = global_embeddings(z, mask, jnp.array([1.0, 3.0, 1.0]))
    np.testing.assert_allclose(zb[:, 0], [(1 + 9) / 4, 2.0])
    np.testing.assert_array_equal(real, [True, True])
    mixing = jnp.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])  # second row: only an all-padding client
    zb, real = global_embeddings(z, mask, mixing)
    assert zb.shape == (2, 2, 1)
    np.testing.assert_allclose(zb[0, :, 0], [2.0, 2.0])
    np.testing.assert_array_equal(real, [[True, True], [False, False]])


def test_fedmar_round_wires_into_a_scan_over_rounds_with_vmapped_clients():
    """A minimal FedMAR engine (full participation, SGD): per round, clients start from the
    global model, run E steps on L_MAR with the broadcast z_bar and their own gamma, and the
    server averages parameters and embeddings. Checks the loss objects compose with scan/vmap."""
    from sim.engine.train import TrainConfig, local_training, optimizer

    cfg = ShallowConfig(d=6, c=2, model="linear", loss="mae")
    tcfg = TrainConfig(rounds=2, local_steps=1, batch_size=None, learning_rate=0.05)
    mar = MARLoss(cfg)
    K, n, B = 2, 4, 4
    x = jax.random.normal(KEY, (K, n, 6))
    mask = jnp.ones((K, n), bool)
    opt = optimizer(tcfg)

    def client(p, xi, mi, k, z_bar, gamma):
        loss_fn = functools.partial(mar, z_bar=z_bar, gamma=gamma)
        p, _, loss = local_training(p, opt.init(p), xi, mi, k, loss_fn=loss_fn, cfg=tcfg)
        z = mar.embeddings(p, xi[:B], mi[:B], k)
        return p, z, loss

    def round_fn(carry, t):
        params, z_bar, omega = carry
        gamma = mar_weight(t, omega, Omega=tcfg.rounds)
        keys = jax.random.split(jax.random.fold_in(KEY, t), K)
        new, z, losses = jax.vmap(client, (None, 0, 0, 0, None, 0))(params, x, mask, keys, z_bar, gamma)
        params = jax.tree_util.tree_map(lambda leaf: jnp.mean(leaf, axis=0), new)
        z_bar, _ = global_embeddings(z, mask[:, :B], jnp.ones(K))
        return (params, z_bar, omega + 1), (losses, gamma)

    init = (init_params(cfg, key=jax.random.key(1)), jnp.zeros((B, 2)), jnp.zeros(K))
    (params, z_bar, _), (losses, gammas) = jax.lax.scan(round_fn, init, jnp.arange(tcfg.rounds))
    assert np.all(np.isfinite(losses)) and z_bar.shape == (B, 2)
    np.testing.assert_allclose(gammas[0], 0.0)
    assert np.all(np.asarray(gammas[1]) > 0)


# ----------------------------------------------------------------------------- bad input

Z, ZB = jnp.array(Z3), jnp.array(ZB3)
BAD = [
    ("gamma", lambda: MARLoss(ShallowConfig(d=4, c=2, model="linear"))(
        init_params(ShallowConfig(d=4, c=2, model="linear"), key=KEY), jnp.ones((3, 4)), jnp.ones(3, bool), KEY,
        z_bar=jnp.ones((3, 2)), gamma=-0.1)),
    ("gamma", lambda: gamma_schedule(1, Omega=5, kind="constant", gamma=-1.0)),
    ("gamma", lambda: gamma_schedule(1, Omega=5, kind="constant", gamma=float("nan"))),
    ("gamma", lambda: gamma_schedule(1, Omega=5, kind="constant")),
    ("gamma_max", lambda: gamma_schedule(1, Omega=5, gamma_max=float("inf"))),
    ("gamma_min", lambda: gamma_schedule(1, Omega=5, gamma_min=-0.01)),
    ("gamma_min", lambda: gamma_schedule(1, Omega=5, gamma_max=0.01, gamma_min=0.1)),
    ("sigma", lambda: a_mmd(Z, ZB, bandwidth="fixed", sigma=0.0)),
    ("sigma", lambda: a_mmd(Z, ZB, bandwidth="fixed", sigma=-1.0)),
    ("sigma", lambda: a_mmd(Z, ZB, bandwidth="fixed")),
    ("sigma", lambda: a_mmd(Z, ZB, bandwidth="mean", sigma=1.0)),
    ("B", lambda: a_mmd(Z[:1], ZB[:1])),
    ("B", lambda: a_mmd(Z[:1], ZB[:1], variant="reference-code")),
    ("z_bar.shape", lambda: a_mmd(Z, ZB[:2])),
    ("z_bar.shape", lambda: cosine_alignment(Z, ZB[:, :1])),
    ("z.shape", lambda: a_mmd(Z[0], ZB[0])),
    ("mask.shape", lambda: a_mmd(Z, ZB, mask=jnp.ones(2, bool))),
    ("variant", lambda: a_mmd(Z, ZB, variant="unbiased")),
    ("bandwidth", lambda: a_mmd(Z, ZB, bandwidth="max")),
    ("metric", lambda: alignment(Z, ZB, metric="mmd")),
    ("metric", lambda: MARLoss(ShallowConfig(d=4, c=2), metric="l2")),
    ("variant", lambda: MARLoss(ShallowConfig(d=4, c=2), variant="x")),
    ("cfg.loss", lambda: MARLoss(ShallowConfig(d=4, c=2, loss="simsiam"))),
    ("kind", lambda: gamma_schedule(1, Omega=5, kind="linear")),
    ("omega", lambda: gamma_schedule(-1, Omega=5)),
    ("omega", lambda: gamma_schedule(jnp.array([0, -2]), Omega=5)),
    ("Omega", lambda: gamma_schedule(1, Omega=0)),
    ("Omega", lambda: gamma_schedule(1, Omega=-3.0)),
    ("round", lambda: mar_weight(-1, 0, Omega=5)),
]


@pytest.mark.parametrize("field, call", BAD, ids=[f"{i}-{f}" for i, (f, _) in enumerate(BAD)])
def test_bad_input_names_the_field(field, call):
    with pytest.raises(ValueError, match=rf"^{re.escape(field)} = "):
        call()


def test_shape_checks_still_run_under_tracing():
    with pytest.raises(ValueError, match="z_bar.shape"):
        jax.jit(lambda a, b: a_mmd(a, b))(Z, ZB[:2])
    # value checks are skipped on tracers: a traced sigma is accepted
    assert np.isfinite(float(jax.jit(lambda s: a_mmd(Z, ZB, bandwidth="fixed", sigma=s))(2.0)))
