"""Partitioners (SPEC 5) against their definitions, measured heterogeneity, padded client data.

Statistical checks use fixed keys and the rule "within 5 standard errors" (normal
approximation: false-alarm rate below 1e-6 per check).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sim.data.config import DataConfig
from sim.data.partition import (
    client_data,
    dirichlet,
    feature_skew,
    feature_transform,
    global_sample,
    heterogeneity,
    iid,
    paper,
    pathological,
    quantity_skew,
)

KEY = jax.random.key(0)


def test_iid_is_stratified_and_homogeneous():
    part = iid(6, 5, 40, key=KEY)
    assert part.counts.shape == (5, 6)
    np.testing.assert_array_equal(part.sizes, 40)
    assert part.counts.max() - part.counts.min() <= 1  # 40 = 6*6 + 4: every class 6 or 7 times
    h = heterogeneity(part.counts)
    np.testing.assert_array_equal(h.classes_per_client, 6)


@pytest.mark.parametrize("alpha", [0.3, 2.0])
def test_dirichlet_shares_mean_and_concentration(alpha):
    """Client 0's shares over many classes are i.i.d. Beta(alpha, (K-1) alpha): mean 1/K and
    variance (1/K)(1 - 1/K)/(K alpha + 1) (the concentration)."""
    K, C = 5, 4000
    part = dirichlet(C, K, 10, alpha, key=KEY)
    np.testing.assert_allclose(part.shares.sum(axis=0), 1.0, atol=1e-12)
    s = part.shares[0]
    mean, var = 1 / K, (1 / K) * (1 - 1 / K) / (K * alpha + 1)
    se_mean = np.sqrt(var / C)
    assert abs(s.mean() - mean) < 5 * se_mean
    se_var = np.sqrt(np.mean((s - s.mean()) ** 4) - s.var() ** 2) / np.sqrt(C)
    assert abs(s.var() - var) < 5 * se_var


def test_dirichlet_exact_counts_follow_shares():
    part = dirichlet(4, 6, 50, 0.5, key=jax.random.key(3))
    class_totals = part.counts.sum(axis=0)
    np.testing.assert_array_equal(class_totals, 6 * 50 // 4)  # the pool: equal classes, exact totals
    np.testing.assert_array_less(np.abs(part.counts - part.shares * class_totals[None, :]), 1.0)


def test_dirichlet_balanced_row_and_column_sums():
    """The reference code's balancing: row sums ~ 1/K, column sums ~ 1/C of the balanced matrix;
    the counts are that matrix times the pool size, each rounded down or up, keeping every sample."""
    K, C, n = 10, 8, 100
    part = dirichlet(C, K, n, 0.1, balanced=True, key=KEY)
    m = part.balanced
    np.testing.assert_allclose(m.sum(axis=0), 1 / C, rtol=1e-2)
    np.testing.assert_allclose(m.sum(axis=1), 1 / K, rtol=1e-2)
    assert part.counts.sum() == K * n
    assert np.all((part.counts == np.floor(m * K * n)) | (part.counts == np.ceil(m * K * n)))
    np.testing.assert_allclose(part.sizes, n, rtol=2e-2, atol=C)
    exact = dirichlet(C, K, n, 0.1, key=KEY)
    assert np.ptp(part.sizes) < np.ptp(exact.sizes)  # balancing does what it is for


def test_dirichlet_bad_input():
    for alpha in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="alpha"):
            dirichlet(4, 3, 10, alpha, key=KEY)
    with pytest.raises(ValueError, match=r"client\(s\) .* no samples.*raise alpha"):
        dirichlet(4, 30, 2, 0.01, key=KEY)


def test_pathological_holds_exactly_m_classes():
    part = pathological(8, 6, 30, 3, key=KEY)
    np.testing.assert_array_equal((part.counts > 0).sum(axis=1), 3)
    np.testing.assert_array_equal(part.sizes, 30)
    np.testing.assert_array_equal(heterogeneity(part.counts).classes_per_client, 3)
    held = (part.counts > 0).sum(axis=0)
    assert held.max() - held.min() <= 1  # round-robin over a permutation: classes used evenly
    for m in (0, 9):
        with pytest.raises(ValueError, match=r"classes_per_client.*\[1, 8\]"):
            pathological(8, 6, 30, m, key=KEY)


def test_quantity_skew_log_normal_sizes():
    K, sigma = 2000, 0.8
    part = quantity_skew(4, K, 5000, sigma, key=KEY)
    assert part.sizes.sum() == K * 5000
    logs = np.log(part.sizes)
    assert abs(logs.std(ddof=1) - sigma) < 5 * sigma / np.sqrt(2 * (K - 1))
    assert np.all(part.counts.max(axis=1) - part.counts.min(axis=1) <= 1)  # labels stratified within clients
    with pytest.raises(ValueError, match="no samples.*lower sigma"):
        quantity_skew(4, 50, 1, 3.0, key=KEY)
    with pytest.raises(ValueError, match="sigma"):
        quantity_skew(4, 5, 10, -0.1, key=KEY)


@pytest.mark.parametrize("kind", ["scaling", "noise", "rotation"])
def test_feature_transforms(kind):
    zero = feature_transform(kind, 6, 3, 0.0, key=KEY)
    np.testing.assert_allclose(zero.matrix, np.broadcast_to(np.eye(6), (3, 6, 6)), atol=1e-12)
    np.testing.assert_allclose(zero.offset, 0.0)
    t = feature_transform(kind, 6, 3, 0.7, key=KEY)
    assert not np.allclose(t.matrix, zero.matrix) or not np.allclose(t.offset, 0.0)
    if kind == "rotation":
        np.testing.assert_allclose(t.matrix @ np.swapaxes(t.matrix, 1, 2), np.broadcast_to(np.eye(6), (3, 6, 6)), atol=1e-10)
    if kind == "scaling":
        assert np.all(np.diagonal(t.matrix, axis1=1, axis2=2) > 0)
        np.testing.assert_allclose(t.matrix, np.diagonal(t.matrix, axis1=1, axis2=2)[:, None, :] * np.eye(6))
    with pytest.raises(ValueError, match="strength"):
        feature_transform(kind, 6, 3, -0.1, key=KEY)


def test_feature_transform_unknown_kind():
    with pytest.raises(ValueError, match="blur"):
        feature_transform("blur", 6, 3, 1.0, key=KEY)


def test_heterogeneity_by_hand():
    h = heterogeneity(np.array([[2, 2, 0], [0, 0, 4]]))
    np.testing.assert_array_equal(h.classes_per_client, [2, 1])
    np.testing.assert_allclose(h.top2_mass, [1.0, 1.0])
    # pooled (1/4, 1/4, 1/2); client 0 (1/2, 1/2, 0) and client 1 (0, 0, 1) are both 1/2 away
    np.testing.assert_allclose(h.tv_distance, [0.5, 0.5])
    assert h.summary() == {"classes_per_client": 1.5, "top2_mass": 1.0, "tv_distance": 0.5}
    with pytest.raises(ValueError, match="client.*1.*no samples"):
        heterogeneity(np.array([[1, 1], [0, 0]]))


def test_client_data_pads_masks_and_transforms():
    cfg = DataConfig(d=8, N=2)
    split = dirichlet(4, 3, 10, 0.5, key=KEY)
    clients = client_data(cfg, split, key=KEY, n_max=int(split.sizes.max()) + 2)
    assert clients.x.shape == (3, int(split.sizes.max()) + 2, 8)
    np.testing.assert_array_equal(np.asarray(clients.mask).sum(axis=1), split.sizes)
    assert np.all(np.asarray(clients.x)[~np.asarray(clients.mask)] == 0)
    assert np.all(np.asarray(clients.y)[~np.asarray(clients.mask)] == -1)
    for k in range(3):
        y = np.asarray(clients.y[k])[np.asarray(clients.mask[k])]
        np.testing.assert_array_equal(np.bincount(y, minlength=4), split.counts[k])
    skew = feature_skew(4, 3, 10, 8, "noise", 2.0, key=KEY)
    plain = client_data(cfg, iid(4, 3, 10, key=jax.random.split(KEY)[0]), key=KEY)
    shifted = client_data(cfg, skew, key=KEY)
    offset = np.broadcast_to(skew.transform.offset[:, None, :], (3, 10, 8))
    np.testing.assert_allclose(np.asarray(shifted.x) - np.asarray(plain.x), offset, atol=1e-12)
    with pytest.raises(ValueError, match="n_max"):
        client_data(cfg, split, key=KEY, n_max=1)
    with pytest.raises(ValueError, match="4 classes but the data model has 6"):
        client_data(DataConfig(d=8, N=3), split, key=KEY)


def test_paper_partition_matches_the_construction():
    cfg = DataConfig(d=16, N=2)
    split = paper(cfg)
    expected = np.zeros((2, 4), int)
    expected[0, [0, 1]] = cfg.n // 2
    expected[1, [2, 3]] = cfg.n // 2
    expected[0, cfg.rare_class[0]] += cfg.n_rare
    expected[1, cfg.rare_class[1]] += cfg.n_rare
    np.testing.assert_array_equal(split.counts, expected)
    clients = client_data(cfg, split, key=KEY)
    assert clients.x.shape == (2, cfg.n_total, 16)
    for k in range(2):
        np.testing.assert_array_equal(np.bincount(np.asarray(clients.y[k]), minlength=4), expected[k])


def test_global_sample_is_balanced():
    x, y = global_sample(DataConfig(d=8, N=2), 40, key=KEY)
    assert x.shape == (40, 8)
    np.testing.assert_array_equal(np.bincount(np.asarray(y), minlength=4), 10)
    assert jnp.issubdtype(y.dtype, jnp.integer)


def test_client_data_stacks_many_partitions():
    cfg = DataConfig(d=16, N=2)
    splits = [iid(4, 2, 10, key=KEY), paper(cfg), dirichlet(4, 2, 10, 1.0, key=KEY)]
    batch = client_data(cfg, splits, key=KEY)
    width = max(cfg.n_total, int(splits[2].sizes.max()))
    assert batch.x.shape == (3, 2, width, 16)
    np.testing.assert_array_equal(np.asarray(batch.mask).sum(axis=2), [s.sizes if s.kind != "paper" else [cfg.n_total] * 2
                                                                       for s in splits])
    t = feature_skew(4, 2, 10, 16, "rotation", 0.5, key=KEY).transform
    x = jax.random.normal(KEY, (2, 3, 16))
    np.testing.assert_allclose(t.apply(x), np.einsum("knd,ked->kne", np.asarray(x), t.matrix), atol=1e-12)
    with pytest.raises(ValueError, match="same number of clients"):
        client_data(cfg, [iid(4, 2, 10, key=KEY), iid(4, 3, 10, key=KEY)], key=KEY)


def test_latent_model_is_selectable_and_uses_its_own_class_count():
    from sim.data.latent import LatentConfig, make_latent_model
    from sim.data.partition import class_count

    model = make_latent_model(LatentConfig(d=12, k=3, n_classes=5), key=KEY)
    assert class_count(model) == 5 and class_count(DataConfig(d=16, N=3)) == 6
    split = dirichlet(5, 3, 20, 1.0, balanced=True, key=KEY)
    data = client_data(model, split, key=KEY)
    assert data.x.shape[::2] == (3, 12)
    labels = np.asarray(data.y)[np.asarray(data.mask)]
    np.testing.assert_array_equal(np.bincount(labels, minlength=5), split.counts.sum(axis=0))
    # the samples lie in span U up to the noise: the residual off span U is noise-sized
    x = np.asarray(data.x)[np.asarray(data.mask)]
    U = np.asarray(model.embedding)
    off = x - x @ U @ U.T
    assert np.std(off) < 2 * model.cfg.noise and np.std(x @ U) > 3 * model.cfg.noise
    x, y = global_sample(model, 50, key=KEY)
    assert x.shape == (50, 12) and set(np.asarray(y).tolist()) == set(range(5))
    with pytest.raises(ValueError, match="6 classes but the data model has 5"):
        client_data(model, iid(6, 3, 20, key=KEY), key=KEY)
    with pytest.raises(ValueError, match="paper"):
        client_data(make_latent_model(LatentConfig(d=16, k=3, n_classes=4), key=KEY), paper(DataConfig(d=16, N=2)),
                    key=KEY)


@pytest.mark.parametrize("call, field", [
    (lambda: pathological(6, 4, 30, 2.7, key=KEY), "classes_per_client"),
    (lambda: pathological(6, 4, 30, True, key=KEY), "classes_per_client"),
    (lambda: pathological(6, 4, 30, 7, key=KEY), "classes_per_client"),
    (lambda: iid(6.0, 4, 30, key=KEY), "n_classes"),
    (lambda: iid(6, np.float32(4), 30, key=KEY), "n_clients"),
    (lambda: dirichlet(6, 4, 30.5, 1.0, key=KEY), "samples_per_client"),
    (lambda: global_sample(DataConfig(d=16, N=2), 10.0, key=KEY), "n"),
    (lambda: client_data(DataConfig(d=16, N=2), iid(4, 2, 10, key=KEY), key=KEY, n_max=True), "n_max"),
    (lambda: feature_transform("noise", 4.5, 2, 1.0, key=KEY), "d"),
])
def test_integer_arguments_reject_bools_and_floats(call, field):
    with pytest.raises(ValueError, match=rf"^{field}="):
        call()


def test_integer_arguments_accept_numpy_and_jax_integers():
    a = pathological(np.int64(6), jnp.int32(4), np.int32(30), jnp.array(2), key=KEY)
    b = pathological(6, 4, 30, 2, key=KEY)
    np.testing.assert_array_equal(a.counts, b.counts)


@pytest.mark.parametrize("K, C, n, alpha", [(5, 40, 800, 0.1), (8, 40, 10, 0.5), (4, 8, 1, 1.0), (20, 4, 3, 0.1)])
def test_dirichlet_balanced_keeps_every_sample(K, C, n, alpha):
    """Every one of the pool's K * n samples is dealt (also where a cell expects under one
    sample, C > n, which flooring each cell turned into empty clients), and no client is empty."""
    for seed in range(5):
        part = dirichlet(C, K, n, alpha, balanced=True, key=jax.random.key(seed))
        assert part.counts.sum() == K * n and part.counts.min() >= 0
        assert part.sizes.min() >= 1
        np.testing.assert_array_less(np.abs(part.sizes - n), C + 1)
