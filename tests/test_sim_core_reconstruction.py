"""sim core: gradient descent on Eq. 3 reaches the closed-form reduced-rank-regression row space.

Problem: d = 16, c = 4, n = 256 samples of a rank-4 latent model plus isotropic noise
(x = A z + 0.3 eps), mask ratio p = 1/2. The top-4 eigenvalues of Sigma_vu Sigma_uu^{-1}
Sigma_uv are separated from the 5th (1.54 vs 1.17), so the row space is well determined.
Adam, cosine-decaying learning rate 0.02 -> 0, 2000 steps, 4 fresh masks per sample and step.
Tolerance: normalised projector distance ||P_gd - P_cf||_F / sqrt(2c) < 0.05 (observed ~0.013;
a wrong closed form, e.g. the mim-alignment top eigenspace, is at ~0.3).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from sim import (
    encoder_subspace,
    fit_reconstruction,
    mask_moments,
    reconstruction_loss,
    second_moment,
    subspace_distance,
)

D, C, P, N_SAMPLES, STEPS = 16, 4, 0.5, 256, 2000


@pytest.fixture(scope="module")
def problem():
    kA, kz, ke = jax.random.split(jax.random.key(0), 3)
    A = jax.random.normal(kA, (D, C))
    x = jax.random.normal(kz, (N_SAMPLES, C)) @ A.T + 0.3 * jax.random.normal(ke, (N_SAMPLES, D))
    fit = fit_reconstruction(
        x, C, P, key=jax.random.key(1), steps=STEPS,
        learning_rate=optax.cosine_decay_schedule(0.02, STEPS), masks_per_step=4,
    )
    return x, second_moment(x), fit


def _normalised_distance(V1, V2):
    return float(subspace_distance(V1, V2)) / np.sqrt(2 * C)


def test_gradient_descent_reaches_the_closed_form_row_space(problem):
    x, S, fit = problem
    assert fit.encoder.shape == (C, D) and fit.decoder.shape == (D, C) and fit.losses.shape == (STEPS,)
    assert np.all(np.isfinite(fit.losses))
    assert float(fit.losses[-100:].mean()) < 0.5 * float(fit.losses[:10].mean())
    V_cf = encoder_subspace(S, "mim-reconstruction", C, p=P)
    V_gd = jnp.linalg.qr(fit.encoder.T)[0]
    assert _normalised_distance(V_gd, V_cf) < 0.05
    # The tolerance separates the right answer from a plausible wrong one.
    assert _normalised_distance(V_cf, encoder_subspace(S, "mim-alignment", C, p=P)) > 0.1


def test_closed_form_is_at_least_as_good_as_gradient_descent_on_the_mask_averaged_loss(problem):
    _, S, fit = problem
    V = encoder_subspace(S, "mim-reconstruction", C, p=P)
    uu, vu, _ = mask_moments(S, P)
    W_e = V.T
    W_d = jnp.linalg.solve(W_e @ uu @ W_e.T, W_e @ vu.T).T
    closed = float(reconstruction_loss(S, W_e, W_d, P))
    trained = float(reconstruction_loss(S, fit.encoder, fit.decoder, P))
    assert closed <= trained
    assert trained <= closed * (1 + 1e-3)  # and GD got close to it


def test_minibatches_and_a_constant_rate_run_and_are_reproducible():
    x = jax.random.normal(jax.random.key(2), (40, 6))
    a = fit_reconstruction(x, 2, 0.75, key=jax.random.key(3), steps=5, learning_rate=1e-2, batch_size=8)
    b = fit_reconstruction(x, 2, 0.75, key=jax.random.key(3), steps=5, learning_rate=1e-2, batch_size=8)
    np.testing.assert_array_equal(a.encoder, b.encoder)
    assert a.losses.shape == (5,) and np.all(np.isfinite(a.losses))


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(c=0), "c = 0"),
        (dict(p=1.0), "p = 1.0"),
        (dict(steps=0), "steps = 0"),
        (dict(batch_size=0), "batch_size = 0"),
        (dict(masks_per_step=0), "masks_per_step = 0"),
    ],
)
def test_fit_reconstruction_rejects_bad_arguments(kwargs, words):
    args = dict(c=2, p=0.5, steps=3, learning_rate=1e-2) | kwargs
    with pytest.raises(ValueError, match=words):
        fit_reconstruction(jnp.ones((4, 3)), args.pop("c"), args.pop("p"), key=jax.random.key(0), **args)
