"""sim core, robustness measures (SPEC 1.4) and the corrected eigen-bound (SPEC Readings 2)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sim import (
    SENSITIVITY_VARIANTS,
    corrected_lower_bound,
    representability,
    sensitivity,
    subspace_distance,
    top_eigenspace,
)

# ---------------------------------------------------------------- representability


def test_coordinate_subspace_has_zero_one_representability():
    d, chosen = 7, [1, 4, 5]
    V = jnp.eye(d)[:, chosen]
    np.testing.assert_array_equal(representability(V), np.isin(np.arange(d), chosen).astype(float))
    # The same subspace in a rotated basis: r depends on the subspace only.
    Q = jnp.linalg.qr(jax.random.normal(jax.random.key(0), (3, 3)))[0]
    np.testing.assert_allclose(representability(V @ Q), representability(V), atol=1e-12)


@pytest.mark.parametrize("d, c", [(5, 1), (12, 4), (30, 29)])
def test_random_subspace_representability_lies_in_unit_interval_and_sums_to_c(d, c):
    V = jnp.linalg.qr(jax.random.normal(jax.random.key(d), (d, c)))[0]
    r = np.asarray(representability(V))
    assert r.shape == (d,)
    assert np.all(r >= 0) and np.all(r <= 1 + 1e-12)
    assert r.sum() == pytest.approx(c, rel=1e-12)
    assert np.all(r < 1 - 1e-6) or c == d - 1  # a random subspace contains no axis


# ---------------------------------------------------------------- sensitivity

R = jnp.array([0.9, 0.5, 0.7, 0.2, 0.1, 0.6])


@pytest.mark.parametrize(
    "variant, kwargs, expected",
    [
        ("paper-c", dict(N=3, c=4), 0.9 - 0.2),  # over k < c
        ("paper-c", dict(N=3, c=2), 0.9 - 0.5),
        ("class", dict(N=3, c=4), 0.9 - 0.5),  # over k < N
        ("class", dict(N=2, c=4), 0.9 - 0.5),
        ("proof", dict(N=3, c=4, client=0), 1 - 0.5),  # min over {1, 2}
        ("proof", dict(N=3, c=4, client=1), 1 - 0.7),  # min over {0, 2}
        ("proof", dict(N=3, c=4, client=2), 1 - 0.5),  # min over {0, 1}
        ("proof", dict(N=3, c=4), 1 - 0.5),  # global model: all of [N]
        ("proof", dict(N=4, c=4), 1 - 0.2),
    ],
)
def test_sensitivity_variants_on_a_hand_made_vector(variant, kwargs, expected):
    assert float(sensitivity(R, variant, **kwargs)) == pytest.approx(expected, abs=1e-15)


def test_proof_sensitivity_vmaps_over_a_traced_client():
    r = jnp.stack([R, R[::-1]])
    s = jax.jit(jax.vmap(lambda r, i: sensitivity(r, "proof", N=3, c=4, client=i)))(r, jnp.array([1, 0]))
    np.testing.assert_allclose(s, [1 - 0.7, 1 - 0.1], atol=1e-15)  # R[::-1][1:3] = 0.1, 0.2


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(variant="worst"), "variant = 'worst' is unknown"),
        (dict(variant="class", N=7), "N = 7 is out of range"),
        (dict(variant="paper-c", c=0), "c = 0 is out of range"),
        (dict(variant="proof", client=3), "client = 3 is out of range"),
        (dict(variant="proof", N=1, client=0), "N = 1 is out of range"),
    ],
)
def test_sensitivity_rejects_bad_arguments(kwargs, words):
    args = dict(N=3, c=4) | kwargs
    variant = args.pop("variant")
    with pytest.raises(ValueError, match=words):
        sensitivity(R, variant, **args)
    assert set(SENSITIVITY_VARIANTS) == {"paper-c", "class", "proof"}


# ---------------------------------------------------------------- corrected lower bound


def test_corrected_bound_on_a_diagonal_matrix_is_tight_on_the_top_axis():
    X = jnp.diag(jnp.array([3.0, 2.0, 1.0, 2.5]))
    np.testing.assert_allclose(corrected_lower_bound(X, 1), [1.0, -1.0, -3.0, 0.0])
    np.testing.assert_allclose(corrected_lower_bound(X, 2), [1.0, 0.0, -1.0, 0.5])  # lam_3 = 2, gap 1


def test_corrected_bound_is_trivial_without_a_spectral_gap():
    np.testing.assert_array_equal(corrected_lower_bound(2 * jnp.eye(4), 2), np.zeros(4))


def test_corrected_bound_rejects_c_without_a_next_eigenvalue():
    with pytest.raises(ValueError, match=r"c = 3 is out of range: need an integer 1 <= c <= 2"):
        corrected_lower_bound(jnp.eye(3), 3)


@st.composite
def symmetric_and_width(draw):
    d = draw(st.integers(2, 5))
    c = draw(st.integers(1, d - 1))
    A = draw(arrays(np.float64, (d, d), elements=st.floats(-10, 10, allow_nan=False, allow_infinity=False)))
    return (A + A.T) / 2, c


@settings(max_examples=100, deadline=None)
@given(symmetric_and_width())
def test_corrected_bound_never_exceeds_the_realised_representability(Xc):
    """r_k >= (X_kk - lam_{c+1}) / (lam_1 - lam_{c+1}) for every symmetric X (an identity, no probability).

    Slack: eigh's backward error ~ d eps ||X||, divided by the gap the bound divides by.
    """
    X, c = Xc
    V, lam = top_eigenspace(jnp.asarray(X), c)
    r = np.asarray(representability(V))
    bound = np.asarray(corrected_lower_bound(jnp.asarray(X), c))
    lam = np.asarray(lam)
    gap = lam[0] - lam[c]
    slack = 1e3 * X.shape[0] * np.finfo(float).eps * max(1.0, np.abs(lam).max()) / max(gap, 1e-300)
    assert np.all(bound <= r + slack)
    assert np.all(bound <= 1 + slack)


# ---------------------------------------------------------------- subspace distance


def test_subspace_distance_against_the_projector_formula():
    k1, k2 = jax.random.split(jax.random.key(3))
    V1 = jnp.linalg.qr(jax.random.normal(k1, (9, 3)))[0]
    V2 = jnp.linalg.qr(jax.random.normal(k2, (9, 2)))[0]
    direct = np.linalg.norm(np.asarray(V1 @ V1.T - V2 @ V2.T))
    assert float(subspace_distance(V1, V2)) == pytest.approx(direct, rel=1e-12)
    Q = jnp.linalg.qr(jax.random.normal(k2, (3, 3)))[0]
    assert float(subspace_distance(V1, V1 @ Q)) < 1e-7
    E = jnp.eye(6)
    assert float(subspace_distance(E[:, :3], E[:, 3:])) == pytest.approx(math.sqrt(6))
