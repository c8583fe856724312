"""Shallow MIM/CL losses against hand-computed values on tiny inputs, and model plumbing."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sim.models.shallow import (
    LOSSES,
    MODELS,
    ShallowConfig,
    ShallowLoss,
    augment,
    client_distances,
    encode,
    info_nce,
    init_params,
    input_subspace,
    layerwise_distance,
    negative_cosine,
    reconstruction_loss,
    simsiam_loss,
)

KEY = jax.random.key(0)


def test_reconstruction_loss_by_hand():
    x = jnp.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [9.0, 9.0, 9.0]])
    x_hat = jnp.array([[0.0, 2.0, 1.0], [4.0, 0.0, 6.0], [0.0, 0.0, 0.0]])
    visible = jnp.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]])
    mask = jnp.array([True, True, False])  # the third sample is padding
    # hidden coordinates of real samples: (0,0) err 1, (0,2) err 4, (1,1) err 25, (1,2) err 0
    assert float(reconstruction_loss(x_hat, x, visible, mask)) == pytest.approx((1 + 4 + 25 + 0) / 4)


def test_negative_cosine_and_simsiam_by_hand():
    assert float(negative_cosine(jnp.array([1.0, 0.0]), jnp.array([1.0, 1.0]))) == pytest.approx(-1 / math.sqrt(2))
    p1, p2 = jnp.array([[1.0, 0.0]]), jnp.array([[0.0, 1.0]])
    z1, z2 = jnp.array([[1.0, 1.0]]), jnp.array([[0.0, 2.0]])
    # 1/2 D(p1, z2) + 1/2 D(p2, z1) = 1/2 * 0 + 1/2 * (-1/sqrt 2)
    value = simsiam_loss(p1, p2, z1, z2, jnp.array([True]))
    assert float(value) == pytest.approx(-0.5 / math.sqrt(2))


def test_simsiam_stops_the_gradient_of_the_targets():
    p1, p2, z1, z2 = (jax.random.normal(k, (4, 3)) for k in jax.random.split(KEY, 4))
    grads = jax.grad(simsiam_loss, argnums=(2, 3))(p1, p2, z1, z2, jnp.ones(4, bool))
    for g in grads:
        np.testing.assert_array_equal(g, 0.0)
    assert float(jnp.abs(jax.grad(simsiam_loss)(p1, p2, z1, z2, jnp.ones(4, bool))).sum()) > 0


def test_info_nce_by_hand_and_padding():
    z = jnp.array([[1.0, 0.0], [0.0, 1.0]])
    T = 0.5
    # cos = identity; each row: -log(e^{1/T} / (e^{1/T} + e^0))
    expected = math.log(1 + math.exp(-1 / T))
    assert float(info_nce(z, z, T, jnp.array([True, True]))) == pytest.approx(expected)
    padded = jnp.concatenate([z, jnp.array([[1.0, 0.0]])])  # a copy of sample 0, masked out
    value, grad = jax.value_and_grad(info_nce)(padded, padded, T, jnp.array([True, True, False]))
    assert float(value) == pytest.approx(expected)
    assert bool(jnp.all(jnp.isfinite(grad)))


def _identity_params(cfg):
    params = init_params(cfg, key=KEY)
    eye = jnp.eye(cfg.d)
    params["encoder"]["W"] = eye
    params["head"] = {"D": eye} if cfg.loss == "mae" else {"P": eye} if cfg.loss == "simsiam" else {}
    return params


def test_linear_losses_by_hand():
    """Linear models with W = D = P = I on x = a * ones: MAE reconstructs 0 on every hidden
    coordinate (error a^2 whatever the mask); SimSiam with noiseless views gives -1; InfoNCE
    with orthogonal samples and noiseless views gives log(1 + (B-1) e^{-1/T})."""
    d, a = 4, 1.5
    x = a * jnp.ones((3, d))
    mask = jnp.ones(3, bool)
    mae = ShallowConfig(d=d, c=d, model="linear", loss="mae", mask_ratio=0.5)
    assert float(ShallowLoss(mae)(_identity_params(mae), x, mask, KEY)) == pytest.approx(a**2)
    sims = ShallowConfig(d=d, c=d, model="linear", loss="simsiam", aug_strength=0.0)
    assert float(ShallowLoss(sims)(_identity_params(sims), x, mask, KEY)) == pytest.approx(-1.0)
    nce = ShallowConfig(d=d, c=d, model="linear", loss="infonce", aug_strength=0.0, temperature=0.25)
    orth = jnp.eye(d)[:3] * a
    assert float(ShallowLoss(nce)(_identity_params(nce), orth, mask, KEY)) == pytest.approx(math.log(1 + 2 * math.exp(-4)))


def test_padded_rows_do_not_count():
    d = 4
    cfg = ShallowConfig(d=d, c=d, model="linear", loss="mae")
    x = jnp.concatenate([jnp.ones((2, d)), 100.0 * jnp.ones((3, d))])
    mask = jnp.array([True, True, False, False, False])
    assert float(ShallowLoss(cfg)(_identity_params(cfg), x, mask, KEY)) == pytest.approx(1.0)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("loss", LOSSES)
def test_every_model_and_loss_has_finite_gradients(model, loss):
    cfg = ShallowConfig(d=6, c=3, model=model, loss=loss, hidden=5)
    params = init_params(cfg, key=KEY)
    x = jax.random.normal(jax.random.key(1), (7, 6))
    mask = jnp.arange(7) < 5
    value, grads = jax.jit(jax.value_and_grad(ShallowLoss(cfg)))(params, x, mask, KEY)
    assert bool(jnp.isfinite(value))
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree_util.tree_leaves(grads))
    assert encode(cfg, params["encoder"], x).shape == (7, 3)


def test_linear_augmentation_uses_H():
    H = 2.0 * jnp.eye(3)
    x = jnp.arange(6.0).reshape(2, 3)
    v1, v2 = augment(x, "linear", 0.0, key=KEY, H=H)
    np.testing.assert_allclose(v1, x)
    np.testing.assert_allclose(v2, 2.0 * x)
    m1, _ = augment(jnp.ones((200, 50)), "mask", 0.3, key=KEY)
    assert abs(float(1 - m1.mean()) - 0.3) < 5 * math.sqrt(0.3 * 0.7 / 10_000)  # 5 standard errors
    cfg = ShallowConfig(d=3, c=2, model="linear", loss="simsiam", augmentation="linear")
    with pytest.raises(ValueError, match="H of shape"):
        ShallowLoss(cfg)
    assert ShallowLoss(cfg, H=np.eye(3)) == ShallowLoss(cfg, H=np.eye(3))
    assert hash(ShallowLoss(cfg, H=np.eye(3))) == hash(ShallowLoss(cfg, H=np.eye(3)))
    assert ShallowLoss(cfg, H=np.eye(3)) != ShallowLoss(cfg, H=2 * np.eye(3))


@pytest.mark.parametrize(
    "kwargs, field",
    [({"model": "cnn"}, "model"), ({"loss": "byol"}, "loss"), ({"augmentation": "blur"}, "augmentation"),
     ({"mask_ratio": 1.0}, "mask_ratio"), ({"model": "linear", "c": 9}, "c"), ({"temperature": 0.0}, "temperature"),
     ({"augmentation": "mask", "aug_strength": 1.0}, "aug_strength")],
)
def test_config_rejects_bad_values(kwargs, field):
    with pytest.raises(ValueError, match=field):
        ShallowConfig(**({"d": 8, "c": 4} | kwargs))


def test_input_subspace_and_distances():
    cfg = ShallowConfig(d=4, c=2, model="linear", loss="mae")
    W = jnp.array([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 3.0, 0.0]])
    V = input_subspace(cfg, {"W": W})
    np.testing.assert_allclose(V.T @ V, jnp.eye(2), atol=1e-12)
    np.testing.assert_allclose(V @ V.T @ W.T, W.T, atol=1e-12)  # V spans row(W)
    a = {"W": jnp.zeros((2, 2)), "b": jnp.zeros(2)}
    b = {"W": jnp.full((2, 2), 1.0), "b": jnp.array([3.0, 4.0])}
    assert float(layerwise_distance(a, b)) == pytest.approx(2.0 + 5.0)
    clients = {"W": jnp.stack([jnp.zeros((2, 2)), jnp.full((2, 2), 1.0), jnp.full((2, 2), 2.0)])}
    local, to_global = client_distances(clients, {"W": jnp.full((2, 2), 1.0)})
    assert float(local) == pytest.approx((2 + 4 + 2) / 3)  # pairs (0,1), (0,2), (1,2)
    assert float(to_global) == pytest.approx((2 + 0 + 2) / 3)


def test_shallow_loss_trains_with_decl():
    """The losses plug into the generic engine: D-PSGD on 3 fully connected clients lowers the MAE loss
    on low-rank data (a structure masked coordinates can be predicted from)."""
    from sim.engine.train import ClientData, TrainConfig, train_decl

    d, rank = 8, 2
    basis = jnp.linalg.qr(jax.random.normal(KEY, (d, rank)))[0]
    x = 3.0 * jax.random.normal(jax.random.key(1), (3, 40, rank)) @ basis.T
    cfg = ShallowConfig(d=d, c=rank, model="linear", loss="mae", mask_ratio=0.5)
    uniform = np.full((3, 3), 1 / 3)
    result = train_decl(init_params(cfg, key=KEY), ShallowLoss(cfg), ClientData.from_arrays(x), uniform,
                        TrainConfig(rounds=15, local_steps=4, batch_size=20, learning_rate=3e-2, optimizer="adam"),
                        key=jax.random.key(2))
    losses = np.asarray(result.losses)
    assert losses[-3:].mean() < 0.5 * losses[:3].mean()
