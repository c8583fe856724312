"""sim core, client matrices and stationary row spaces (SPEC 1.3).

Hand-computed matrices on tiny inputs; Monte-Carlo mask averages (5 standard errors per
entry, fixed key) for the MIM moments; independent NumPy eigen-solves for the row spaces.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sim import (
    OBJECTIVES,
    DataConfig,
    check_transform,
    client_matrix,
    encoder_subspace,
    make_transform,
    mask_moments,
    reconstruction_loss,
    representability,
    sample_clients,
    second_moment,
    subspace_distance,
    top_eigenspace,
    transform_trace,
)

Z = 5.0
S3 = jnp.array([[2.0, 1.0, -0.5], [1.0, 3.0, 0.25], [-0.5, 0.25, 1.0]])


def _projector(V):
    V = np.asarray(V)
    return V @ V.T


def _numpy_top(X, c):
    w, U = np.linalg.eigh(np.asarray(X))
    return U[:, np.argsort(w)[::-1][:c]]


# ---------------------------------------------------------------- client matrices


def test_client_matrices_on_a_hand_computed_example():
    p = 0.25  # p(1-p) = 3/16
    np.testing.assert_allclose(client_matrix(S3, "mim-surrogate", p=p), np.diag([0.75, 1.125, 0.375]))
    np.testing.assert_allclose(
        client_matrix(S3, "mim-alignment", p=p),
        [[0, 3 / 16, -3 / 32], [3 / 16, 0, 3 / 64], [-3 / 32, 3 / 64, 0]],
    )
    np.testing.assert_allclose(client_matrix(S3, "cl-similar"), S3)
    H = jnp.array([[1.0, 2.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]])
    HS = np.array([[4.0, 7.0, 0.0], [1.0, 3.0, 0.25], [0.5, -0.25, -1.0]])
    np.testing.assert_allclose(client_matrix(S3, "cl-dissimilar", H=H), (HS + HS.T) / 2)
    np.testing.assert_allclose(client_matrix(S3, "cl-dissimilar", H=jnp.eye(3)), S3)


def test_mask_moments_and_alignment_matrix_match_a_monte_carlo_mask_average():
    """u = x*m, v = x*(1-m), m_k = 0 with probability p; average over 100k masks per sample."""
    p, masks = 0.7, 100_000
    x = jax.random.normal(jax.random.key(0), (3, 4)) + jnp.array([[1.0, 0.0, -2.0, 0.5]])
    m = jax.random.bernoulli(jax.random.key(1), 1 - p, (masks, 3, 4)).astype(x.dtype)
    u, v = x[None] * m, x[None] * (1 - m)
    S = np.asarray(second_moment(x))
    uu, vu, vv = (np.asarray(a) for a in mask_moments(S, p))
    align = np.asarray(client_matrix(S, "mim-alignment", p=p))
    outer = lambda a, b: np.asarray(a)[..., :, None] * np.asarray(b)[..., None, :]  # noqa: E731
    for draws, target in [
        (outer(u, u), uu),
        (outer(v, u), vu),
        (outer(v, v), vv),
        ((outer(u, v) + outer(v, u)) / 2, align),  # the symmetrised Eq. 4 cross-moment
    ]:
        mean = draws.mean(axis=(0, 1))
        se = np.sqrt(draws.var(axis=0).sum(axis=0)) / (3 * math.sqrt(masks))
        assert np.all(np.abs(mean - target) <= Z * se + 1e-15)
    # m_k (1 - m_k) = 0 for every single mask, so the diagonal is exactly zero.
    assert np.all(np.diagonal(outer(u, v), axis1=-2, axis2=-1) == 0)
    assert np.all(np.diag(align) == 0)


def test_reconstruction_objective_has_no_alignment_matrix():
    with pytest.raises(ValueError, match="no alignment matrix.*encoder_subspace"):
        client_matrix(S3, "mim-reconstruction", p=0.5)


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: client_matrix(S3, "mae"), "objective = 'mae' is unknown"),
        (lambda: client_matrix(S3, "mim-alignment"), "p = None"),
        (lambda: client_matrix(S3, "mim-surrogate", p=1.0), "p = 1.0 is out of range"),
        (lambda: client_matrix(S3, "mim-alignment", p=0.0), "(0, 1)"),
        (lambda: client_matrix(S3, "cl-dissimilar"), "H = None"),
        (lambda: client_matrix(S3, "cl-dissimilar", H=jnp.eye(4)), r"H: got shape \(4, 4\); need \(3, 3\)"),
        (lambda: client_matrix(S3[:2], "cl-similar"), r"S: got shape \(2, 3\)"),
        (lambda: encoder_subspace(S3, "cl-similar", 0), "c = 0 is out of range"),
        (lambda: encoder_subspace(S3, "cl-similar", 4), "1 <= c <= d = 3"),
        (lambda: encoder_subspace(S3, "mim-reconstruction", 2, p=1.5), "p = 1.5"),
        (lambda: encoder_subspace(S3, "mim-reconstruction", 2), "p = None"),
        (lambda: mask_moments(S3, -0.1), "p = -0.1"),
        (lambda: top_eigenspace(S3, 5), "c = 5"),
    ],
)
def test_matrix_functions_reject_bad_arguments(call, words):
    with pytest.raises(ValueError, match=words):
        call()


# ---------------------------------------------------------------- stationary row spaces


@pytest.fixture(scope="module")
def client_stats():
    cfg = DataConfig(d=24, N=4, tau=2.0, mu=0.4)
    x, _ = sample_clients(cfg, key=jax.random.key(5))
    return cfg, x, second_moment(x)


@pytest.mark.parametrize("objective", ["mim-surrogate", "mim-alignment", "cl-similar", "cl-dissimilar"])
def test_alignment_row_space_is_the_numpy_top_eigenspace(client_stats, objective):
    cfg, _, S = client_stats
    H = make_transform("subspace-rotation", cfg.d, key=jax.random.key(6), dim=6)
    for i in range(cfg.N):
        X = client_matrix(S[i], objective, p=0.75, H=H)
        V = encoder_subspace(S[i], objective, 8, p=0.75, H=H)
        np.testing.assert_allclose(np.asarray(V).T @ np.asarray(V), np.eye(8), atol=1e-12)
        np.testing.assert_allclose(_projector(V), _projector(_numpy_top(X, 8)), atol=1e-8)


def test_surrogate_row_space_is_coordinate_axes_of_the_largest_second_moments(client_stats):
    cfg, _, S = client_stats
    r = representability(encoder_subspace(S[0], "mim-surrogate", 5, p=0.5))
    top = np.argsort(np.diag(np.asarray(S[0])))[::-1][:5]
    np.testing.assert_array_equal(np.asarray(r), np.isin(np.arange(cfg.d), top).astype(float))


@jax.jit
def _best_decoder_loss(S, V, p):
    """Eq. 3 loss of encoder rows V^T with its optimal decoder W_d = Sigma_vu V (V^T Sigma_uu V)^{-1}."""
    uu, vu, _ = mask_moments(S, p)
    W_e = jnp.asarray(V).T
    W_d = jnp.linalg.solve(W_e @ uu @ W_e.T, W_e @ vu.T).T
    return reconstruction_loss(S, W_e, W_d, p), W_e, W_d


def test_reconstruction_closed_form_is_stationary_and_beats_other_encoders(client_stats):
    cfg, _, S = client_stats
    S, p, c = S[1], 0.6, 6
    V = encoder_subspace(S, "mim-reconstruction", c, p=p)
    loss, W_e, W_d = _best_decoder_loss(S, V, p)
    grads = jax.grad(lambda e, dd: reconstruction_loss(S, e, dd, p), argnums=(0, 1))(W_e, W_d)
    assert max(float(jnp.abs(g).max()) for g in grads) < 1e-9 * float(jnp.abs(S).max())
    keys = jax.random.split(jax.random.key(7), 50)
    for k in keys[:25]:  # nearby encoders
        moved = jnp.linalg.qr(V + 0.05 * jax.random.normal(k, V.shape))[0]
        assert loss <= _best_decoder_loss(S, moved, p)[0]
    for k in keys[25:]:  # random encoders, and the other objectives' row spaces
        assert loss <= _best_decoder_loss(S, jnp.linalg.qr(jax.random.normal(k, V.shape))[0], p)[0]
    for objective in ("mim-alignment", "cl-similar"):
        assert loss <= _best_decoder_loss(S, encoder_subspace(S, objective, c, p=p), p)[0]


def test_reconstruction_loss_matches_a_monte_carlo_mask_average():
    p, masks = 0.4, 50_000
    x = jax.random.normal(jax.random.key(8), (5, 4))
    W_e = jax.random.normal(jax.random.key(9), (2, 4))
    W_d = jax.random.normal(jax.random.key(10), (4, 2))
    m = jax.random.bernoulli(jax.random.key(11), 1 - p, (masks, 5, 4)).astype(x.dtype)
    err = np.asarray(jnp.sum(((x[None] * m) @ W_e.T @ W_d.T - x[None] * (1 - m)) ** 2, axis=-1))
    se = np.sqrt(err.var(axis=0).sum()) / (5 * math.sqrt(masks))
    assert abs(err.mean() - float(reconstruction_loss(second_moment(x), W_e, W_d, p))) <= Z * se


# ---------------------------------------------------------------- vmap / jit


def test_vmap_and_jit_agree_with_a_per_client_loop_without_recompiling(client_stats):
    cfg, _, S = client_stats
    H = make_transform("orthogonal", cfg.d, key=jax.random.key(12))
    seeds = jnp.stack([S, S[::-1]])  # a seed axis in front of the client axis
    for objective in OBJECTIVES:
        traces = []

        def f(s, objective=objective):
            traces.append(1)
            return encoder_subspace(s, objective, 8, p=0.75, H=H)

        batched = jax.jit(jax.vmap(jax.vmap(f)))
        out = batched(seeds)
        batched(seeds + 0.01)
        assert len(traces) == 1, "changing values must not retrace"
        for seed in range(2):
            for i in range(cfg.N):
                single = encoder_subspace(seeds[seed, i], objective, 8, p=0.75, H=H)
                assert float(subspace_distance(out[seed, i], single)) < 1e-8


def test_mask_ratio_can_be_traced_and_vmapped(client_stats):
    _, _, S = client_stats
    ps = jnp.array([0.25, 0.5, 0.75])
    V = jax.vmap(lambda p: encoder_subspace(S[0], "mim-reconstruction", 4, p=p))(ps)
    for j, p in enumerate([0.25, 0.5, 0.75]):
        assert float(subspace_distance(V[j], encoder_subspace(S[0], "mim-reconstruction", 4, p=p))) < 1e-8


# ---------------------------------------------------------------- transforms


def test_identity_transform_and_its_trace():
    H = make_transform("identity", 5)
    np.testing.assert_array_equal(H, np.eye(5))
    assert float(transform_trace(H, 3)) == 3.0 and check_transform(H, 3) == 3.0


def test_orthogonal_transform_is_orthogonal_and_haar_unbiased():
    H = make_transform("orthogonal", 6, key=jax.random.key(13))
    np.testing.assert_allclose(np.asarray(H).T @ np.asarray(H), np.eye(6), atol=1e-12)
    # Haar: E[H_00] = 0, Var = 1/d. Without the sign fix QR returns a biased first column.
    draws = jax.vmap(lambda k: make_transform("orthogonal", 3, key=k)[0, 0])(
        jax.random.split(jax.random.key(14), 4000)
    )
    assert abs(float(draws.mean())) < Z * math.sqrt(1 / 3 / 4000)


def test_subspace_rotation_rotates_only_the_first_dim_coordinates():
    H = np.asarray(make_transform("subspace-rotation", 7, key=jax.random.key(15), dim=3))
    np.testing.assert_allclose(H[:3, :3].T @ H[:3, :3], np.eye(3), atol=1e-12)
    assert np.linalg.det(H[:3, :3]) == pytest.approx(1.0)
    np.testing.assert_array_equal(H[3:, 3:], np.eye(4))
    np.testing.assert_array_equal(H[:3, 3:], 0)
    np.testing.assert_array_equal(H[3:, :3], 0)


def test_transform_trace_uses_only_the_symmetric_part_on_the_first_c_coordinates():
    H = jnp.array([[1.0, 5.0, 0.0], [-5.0, -3.0, 0.0], [0.0, 9.0, 2.0]])
    assert float(transform_trace(H, 1)) == 1.0
    assert float(transform_trace(H, 2)) == -2.0
    P = np.diag([1.0, 1.0, 0.0])
    assert float(transform_trace(H, 2)) == pytest.approx(np.trace(P @ ((H + H.T) / 2) @ P))


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: check_transform(-jnp.eye(3), 2), r"H: tr\(P H_sym P\) = -2 .*c = 2.*Assumption A.9 requires"),
        (lambda: make_transform("shear", 3), "kind = 'shear' is unknown"),
        (lambda: make_transform("orthogonal", 3), "key = None"),
        (lambda: make_transform("identity", 0), "d = 0"),
        (lambda: make_transform("subspace-rotation", 3, key=jax.random.key(0)), "dim = None"),
        (lambda: make_transform("subspace-rotation", 3, key=jax.random.key(0), dim=4), "2 <= dim <= d = 3"),
        (lambda: transform_trace(jnp.eye(3), 0), "c = 0"),
    ],
)
def test_transform_functions_reject_bad_arguments(call, words):
    with pytest.raises(ValueError, match=words):
        call()
