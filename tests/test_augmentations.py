"""Augmentations as values, InfoNCE variants and the linear encoder's bias (sim.models.shallow),
checked on DirectCLR's toy task (Jing et al. 2022, ``toy_task/case_1.py``): data
``x ~ N(0, I_16)`` (10,000 samples), a linear encoder with bias ``16 -> 16``, views
``x + s (0, ..., 0, ξ_9, ..., ξ_16)`` (the built-in noise augmentation with the per-coordinate
scale ``(0,)*8 + (1,)*8``), InfoNCE on dot products at ``T = 0.1``, one-sided (their
cross-entropy), SGD on batches of 128.

Measured: the spectrum of the embeddings' covariance on 1,000 fresh inputs
(``sim.models.diagnostics.embedding_spectrum``) after 2,000 steps at learning rate 0.01 (their
10,000 steps at 0.001 take 30 s here; the same product of steps and rate shows the same
split). A direction counts as collapsed when its eigenvalue is below a tenth of the largest.
Rule: noise ``s = 1.5`` (above the data's unit std on the last 8 coordinates) collapses exactly
8 of 16 directions, ``s = 0.01`` none (their Figure 3 / Theorem 1: a direction collapses where
the augmentation's variance exceeds the data's).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sim.engine.train import ClientData, TrainConfig, train_local
from sim.models.diagnostics import embedding_spectrum
from sim.models.shallow import ShallowConfig, ShallowLoss, augment, encode, info_nce, init_params


def _directclr(noise):
    return ShallowConfig(d=16, c=16, model="linear", loss="infonce", augmentation="noise", aug_strength=noise,
                         aug_scale=(0.0,) * 8 + (1.0,) * 8, temperature=0.1, infonce_similarity="dot",
                         infonce_two_sided=False, bias=True)


@pytest.mark.parametrize("noise, collapsed", [(1.5, 8), (0.01, 0)])
def test_directclr_collapse_count(noise, collapsed):
    cfg = _directclr(noise)
    data = ClientData(jax.random.normal(jax.random.key(0), (1, 10000, 16)), jnp.ones((1, 10000), bool))
    run = train_local(init_params(cfg, key=jax.random.key(1)), ShallowLoss(cfg), data,
                      TrainConfig(rounds=20, local_steps=100, batch_size=128, learning_rate=0.01), key=jax.random.key(2))
    encoder = jax.tree_util.tree_map(lambda a: a[0], run.client_params["encoder"])
    spectrum = np.asarray(embedding_spectrum(encode(cfg, encoder, jax.random.normal(jax.random.key(3), (1000, 16)))))
    assert int(np.sum(spectrum < 0.1 * spectrum[0])) == collapsed


def test_per_coordinate_scale_and_noise_factor():
    x = jnp.zeros((20000, 3))
    v1, _ = augment(x, "noise", 2.0, key=jax.random.key(0), scale=jnp.array([0.0, 1.0, 0.5]))
    std = np.asarray(jnp.std(v1, axis=0))
    assert std[0] == 0.0 and std[1] == pytest.approx(2.0, rel=0.03) and std[2] == pytest.approx(1.0, rel=0.03)
    L = np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    v1, _ = augment(x, "noise", 1.0, key=jax.random.key(1), factor=L)
    np.testing.assert_allclose(np.cov(np.asarray(v1).T), L @ L.T, atol=0.05)  # 20,000 draws: se ~0.01
    m1, _ = augment(jnp.ones((20000, 2)), "mask", 0.5, key=jax.random.key(2), scale=jnp.array([0.2, 1.0]))
    np.testing.assert_allclose(1 - np.asarray(jnp.mean(m1, axis=0)), [0.1, 0.5], atol=0.015)


def test_info_nce_variants_by_hand():
    z1 = jnp.array([[1.0, 0.0], [0.0, 2.0]])
    z2 = jnp.array([[2.0, 0.0], [1.0, 1.0]])
    mask = jnp.array([True, True])
    logits = np.asarray(z1 @ z2.T) / 0.5
    rows = -(np.diag(logits) - np.log(np.exp(logits).sum(1)))
    cols = -(np.diag(logits) - np.log(np.exp(logits).sum(0)))
    assert float(info_nce(z1, z2, 0.5, mask, similarity="dot", two_sided=False)) == pytest.approx(rows.mean())
    assert float(info_nce(z1, z2, 0.5, mask, similarity="dot")) == pytest.approx(0.5 * (rows + cols).mean())


def test_bias_and_bad_fields():
    cfg = ShallowConfig(d=4, c=2, model="linear", loss="infonce", bias=True)
    params = init_params(cfg, key=jax.random.key(0))
    params["encoder"]["b"] = jnp.array([1.0, -1.0])
    np.testing.assert_allclose(np.asarray(encode(cfg, params["encoder"], jnp.zeros((1, 4)))), [[1.0, -1.0]])
    with pytest.raises(ValueError, match="aug_scale"):
        ShallowConfig(d=4, c=2, aug_scale=(1.0, 1.0))
    with pytest.raises(ValueError, match="aug_scale"):
        ShallowConfig(d=2, c=2, augmentation="mask", aug_strength=0.5, aug_scale=(1.0, 2.0))
    with pytest.raises(ValueError, match="infonce_similarity"):
        ShallowConfig(d=2, c=2, infonce_similarity="l2")
    with pytest.raises(ValueError, match="noise_factor"):
        ShallowLoss(ShallowConfig(d=2, c=2, loss="infonce"), noise_factor=np.eye(3))
