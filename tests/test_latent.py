"""The SPEC 6 latent data model: validation, the embedding, exact moments, and the property the
downstream experiments need — masked coordinates are predictable from visible ones (unlike in
the paper's model), and a trained MAE beats its untrained encoder.

Rules (fixed seeds): Monte-Carlo moments within 5 standard errors entry-wise; masked R^2 of the
latent model > 0.5 and of the paper's model < 0.01 (the finite-sample bias of R^2 under no
dependence is about |visible| / n = 8 / 20000); trained-vs-untrained probe: exact one-sided
sign test over 6 seeds, all 6 positive (p = 1/64).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from sim.data.config import DataConfig
from sim.data.latent import DATA_MODELS, LatentConfig, LatentModel, make_latent_model, masked_r2, population_moments, sample
from sim.data.partition import global_sample
from sim.models.probe import linear_probe
from sim.models.shallow import ShallowConfig, ShallowLoss, encode, init_params

KEY = jax.random.key(0)
# The paper's sampler and optax's Adam mix integer and float operands, which strict dtype
# promotion rejects; the properties tested here concern the data and the trained encoder, so
# those calls (only) run under standard promotion. Everything of sim.data.latent runs strict.
standard = functools.partial(jax.numpy_dtype_promotion, "standard")
CFG = LatentConfig(d=32, k=4, n_classes=8)
MASK_RATIO = 0.75


N_SAMPLE = 20000


@functools.cache
def _latent_draw():
    """The default model at seed 0 and one large uniform-label sample of it (shared by the
    moment, R^2 and probe tests so the sampler compiles once)."""
    model = make_latent_model(CFG, key=KEY)
    labels = jnp.arange(N_SAMPLE) % CFG.n_classes
    return model, labels, sample(model, labels, key=jax.random.key(2))


@pytest.mark.parametrize("field, kwargs", [
    ("d", dict(d=0, k=1, n_classes=2)),
    ("d", dict(d=True, k=1, n_classes=2)),
    ("d", dict(d=8.5, k=1, n_classes=2)),
    ("d", dict(d=8.0, k=1, n_classes=2)),
    ("k", dict(d=8, k=9, n_classes=2)),
    ("k", dict(d=8, k=0, n_classes=2)),
    ("n_classes", dict(d=8, k=2, n_classes=1)),
    ("noise", dict(d=8, k=2, n_classes=2, noise=-0.1)),
    ("noise", dict(d=8, k=2, n_classes=2, noise=float("nan"))),
    ("separation", dict(d=8, k=2, n_classes=2, separation=0.0)),
    ("latent_std", dict(d=8, k=2, n_classes=2, latent_std=float("inf"))),
])
def test_config_rejects_bad_fields(field, kwargs):
    with pytest.raises(ValueError, match=rf"^LatentConfig\.{field} = "):
        LatentConfig(**kwargs)


def test_config_accepts_numpy_integers_and_is_hashable():
    cfg = LatentConfig(d=np.int64(8), k=np.int32(2), n_classes=np.uint8(3), noise=np.float64(0.1))
    assert (cfg.d, cfg.k, cfg.n_classes) == (8, 2, 3) and type(cfg.d) is int
    assert hash(cfg) == hash(LatentConfig(d=8, k=2, n_classes=3, noise=0.1))


def test_embedding_is_orthonormal_and_drawn_from_the_key():
    model = make_latent_model(CFG, key=KEY)
    U = model.embedding
    assert U.shape == (32, 4) and model.means.shape == (8, 4)
    np.testing.assert_allclose(U.T @ U, np.eye(4), atol=1e-12)
    again = make_latent_model(CFG, key=KEY)
    np.testing.assert_array_equal(again.embedding, U)
    other = make_latent_model(CFG, key=jax.random.key(1))
    assert float(jnp.abs(other.embedding - U).max()) > 0.1
    # A pytree with the config static: jitted and vmapped functions take it as an argument.
    leaves, treedef = jax.tree_util.tree_flatten(model)
    assert len(leaves) == 2 and isinstance(jax.tree_util.tree_unflatten(treedef, leaves), LatentModel)


def test_sample_matches_the_exact_moments():
    model, _, x = _latent_draw()  # uniform labels, as population_moments assumes
    x, n = np.asarray(x), N_SAMPLE
    mean, cov = (np.asarray(a) for a in population_moments(model))
    se_mean = np.sqrt(np.diag(cov) / n)
    assert np.all(np.abs(x.mean(axis=0) - mean) < 5 * se_mean)
    # se of a sample covariance entry ~ sqrt((S_ii S_jj + S_ij^2) / n) (Gaussian approximation,
    # conservative enough for this mixture at 5 se).
    se_cov = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)
    assert np.all(np.abs(np.cov(x.T) - cov) < 5 * se_cov)
    # Exact moments under a client's skewed label proportions use only its classes.
    w = jnp.zeros(8).at[jnp.array([0, 1])].set(1.0)
    local_mean, _ = population_moments(model, class_weights=w)
    np.testing.assert_allclose(local_mean, model.embedding @ (model.means[0] + model.means[1]) / 2, atol=1e-12)


def test_sample_rejects_bad_labels_and_both_data_models_share_one_shape():
    model = make_latent_model(CFG, key=KEY)
    with pytest.raises(ValueError, match="out of range"):
        sample(model, jnp.array([0, 8]), key=KEY)
    with pytest.raises(ValueError, match="1-D integer"):
        sample(model, jnp.array([0.0, 1.0]), key=KEY)
    labels = jnp.array([0, 3, 1])
    assert DATA_MODELS["latent"](model, labels, key=KEY).shape == (3, 32)
    with standard():
        assert DATA_MODELS["paper"](DataConfig(d=32, N=2), labels, key=KEY).shape == (3, 32)


def test_masked_r2_by_hand():
    r = 0.6
    cov = jnp.array([[1.0, r, 0.0], [r, 1.0, 0.0], [0.0, 0.0, 2.0]])
    # visible {0}: hidden {1, 2}, explained r^2 of coordinate 1's unit variance, none of 2's.
    assert float(masked_r2(cov, jnp.array([1, 0, 0]))) == pytest.approx(r**2 / 3.0, rel=1e-12)
    assert float(masked_r2(cov, jnp.array([0, 0, 1]))) == pytest.approx(0.0, abs=1e-15)
    assert masked_r2(cov, jnp.ones((4, 2, 3), bool).at[..., 1].set(False)).shape == (4, 2)


def _masks(d, count, key):
    return jax.random.bernoulli(key, 1.0 - MASK_RATIO, (count, d))


def test_masked_coordinates_predictable_in_the_latent_model_not_in_the_papers():
    masks = _masks(32, 64, jax.random.key(3))
    model, _, x_latent = _latent_draw()
    _, cov = population_moments(model)
    latent_r2 = float(masked_r2(cov, masks).mean())
    x_latent = np.asarray(x_latent)
    sample_r2 = float(masked_r2(jnp.asarray(np.cov(x_latent.T)), masks).mean())
    paper = {}
    for N in (2, 4):
        with standard():
            x, _ = global_sample(DataConfig(d=32, N=N), N_SAMPLE, key=jax.random.key(5))
        paper[N] = float(masked_r2(jnp.asarray(np.cov(np.asarray(x).T)), masks).mean())
    assert latent_r2 > 0.5 and abs(sample_r2 - latent_r2) < 0.02, (latent_r2, sample_r2)
    assert max(paper.values()) < 0.01, paper


def test_linear_probe_on_raw_inputs_is_well_above_chance():
    _, labels, x = _latent_draw()
    half = N_SAMPLE // 2
    accuracy = float(linear_probe(x[:half], labels[:half], x[half:], labels[half:], n_classes=CFG.n_classes,
                                  method="ridge"))
    assert accuracy > 3 / CFG.n_classes, accuracy  # chance 1/8


SEEDS = 6


@functools.partial(jax.jit, static_argnums=0)
def _train_mae_and_featurise(scfg, key):
    """One seed: draw a latent model and one client's data, train the MAE 300 Adam steps (full
    batch), return probe features of the trained and the untrained encoder."""
    k_model, k_x, k_init, k_steps, k_probe = jax.random.split(key, 5)
    model = make_latent_model(CFG, key=k_model)
    labels = jnp.arange(512) % CFG.n_classes
    x = sample(model, labels, key=k_x)
    loss = ShallowLoss(scfg)
    opt = optax.adam(0.01)
    p0 = init_params(scfg, key=k_init)

    def step(carry, k):
        p, s = carry
        grads = jax.grad(loss)(p, x, jnp.ones(512, bool), k)
        updates, s = opt.update(grads, s, p)
        return (optax.apply_updates(p, updates), s), None

    (p, _), _ = jax.lax.scan(step, (p0, opt.init(p0)), jax.random.split(k_steps, 300))
    probe_labels = jnp.arange(1000) % CFG.n_classes
    x_train, x_test = (sample(model, probe_labels, key=k) for k in jax.random.split(k_probe))
    feats = [[encode(scfg, e, xs) for xs in (x_train, x_test)] for e in (p["encoder"], p0["encoder"])]
    return jnp.stack([jnp.stack(f) for f in feats]), probe_labels


def test_trained_linear_mae_probes_above_its_untrained_encoder():
    scfg = ShallowConfig(d=CFG.d, c=CFG.k, model="linear", loss="mae", mask_ratio=MASK_RATIO)
    # One compiled program, looped over seeds (a vmap over seeds compiles several times slower).
    with standard():
        runs = [_train_mae_and_featurise(scfg, k) for k in jax.random.split(KEY, SEEDS)]
    # feats: (trained/untrained, seed, train/test, n, c) -> one probe call for all 2 x SEEDS encoders
    feats = jnp.swapaxes(jnp.stack([f for f, _ in runs]), 0, 1)
    labels = jnp.broadcast_to(runs[0][1], (2, SEEDS) + runs[0][1].shape)
    acc = np.asarray(linear_probe(feats[:, :, 0], labels, feats[:, :, 1], labels, n_classes=CFG.n_classes,
                                  method="ridge"))
    trained, untrained = acc
    assert np.all(trained > untrained), acc  # sign test, p = 2^-6
