"""The spectral contrastive loss (HaoChen et al., 2021) of a linear encoder W (c x d) as a
dssl-bounds objective, with similar augmentations: views x + xi, x + xi' with xi, xi' ~ N(0, s2 I).

    L(W) = -2 E[(W v)^T W v'] + E[((W v)^T W v'')^2] = -2 tr(W S W^T) + ||W Sv W^T||_F^2,

v, v' two views of one sample, v'' a view of another, S = E[x x^T], Sv = S + s2 I. With
P = W Sv^{1/2}: L = ||P^T P - K||_F^2 - ||K||_F^2, K = Sv^{-1/2} S Sv^{-1/2}, so (Eckart-Young)
row(P) is the top-c eigenspace of K and row(W) = Sv^{-1/2} row(P): a regression-kind objective.
By hand: K = S (S + s2 I)^{-1} has the eigenvectors of S and eigenvalues l / (l + s2), which
increase with l, so row(W) is the top-c eigenspace of S.
"""

import jax.numpy as jnp

from sim import Objective

S2 = 0.5  # s2, the augmentation variance


def inverse_root(S):
    """Sv^{-1/2} = (S + s2 I)^{-1/2}."""
    lam, U = jnp.linalg.eigh(S + S2 * jnp.eye(S.shape[-1], dtype=S.dtype))
    return (U / jnp.sqrt(lam)) @ U.T


def matrix(S, *, p=None, H=None):
    R = inverse_root(S)
    return R @ S @ R


def basis(S, Z, *, p=None, H=None):
    return inverse_root(S) @ Z


SPECTRAL = Objective("cl-spectral", family="cl", reading=("cl", "spectral"), variant="similar",
                     kind="regression", matrix=matrix, basis=basis)
