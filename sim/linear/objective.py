"""The linear objectives of Section 3.3 as values: each formula written once.

Every linear objective is a function of a client's second moment ``S = E_j[x_j x_j^T]``: at a
stationary point with ``rank W = c`` (Assumption A.5) ``row(W)`` is the top-``c`` eigenspace of
a symmetric matrix ``X = matrix(S)`` (Eckart-Young), or, for Eq. 3's reconstruction, a
reduced-rank regression whose encoder is a fixed map of a top-``c`` eigenspace. An `Objective`
carries that matrix as a pure JAX function ``matrix(S, *, p, H)`` (``p`` the mask ratio, ``H``
the dissimilar-augmentation transform), the claim family that bounds it (Theorem 4.2 for MIM,
Theorem 4.3 for CL), its ledger reading, the hypotheses that apply, and for CL the matrix one
finite batch sees under the ``sampled`` augmentation (one augmentation pair per sample).

The five built-ins are module constants (`BUILTIN_OBJECTIVES`); `objectives()` adds those an
installed package exposes under the entry-point group ``dssl_bounds.objectives``. A study
measures any `Objective` like a built-in one:

>>> import jax.numpy as jnp
>>> def spectral(S, *, p=None, H=None):
...     '''HaoChen et al. (2021): the spectral contrastive loss's stationary row space.'''
...     return S @ S
>>> mine = Objective("cl-spectral", family="cl", reading=("cl", "spectral"), variant="similar",
...                  kind="alignment", matrix=spectral)
>>> mine.matrix(jnp.eye(2) * 2).tolist()
[[4.0, 0.0], [0.0, 4.0]]
>>> get_objective("mim-alignment").reading
('mim', 'alignment-exact')
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np

from sim.linear.solvers import check_square
from sim.linear.suffstats import sampled_augmentation

#: Claim families: Theorem 4.2 bounds the MIM objectives, Theorem 4.3 the CL ones.
FAMILIES: tuple[str, ...] = ("mim", "cl")
#: How the stationary row space follows from ``matrix(S)``: its top-``c`` eigenspace
#: (``alignment``), the same for a diagonal matrix, whose eigenvectors are coordinate axes so
#: ``r_k`` is 0 or 1 (``diagonal``: ``matrix`` returns the diagonal ``(d,)``), or a reduced-rank
#: regression mapped back by ``basis`` (``regression``).
KINDS: tuple[str, ...] = ("alignment", "diagonal", "regression")
#: Hypotheses an objective can rest on: A.5 (``rank W = c``), A.9 (``tr(P H_sym P) > 0``).
HYPOTHESES: tuple[str, ...] = ("A.5", "A.9")
#: The entry-point group through which an installed package adds objectives.
ENTRY_POINT_GROUP = "dssl_bounds.objectives"

Matrix = Callable[..., jax.Array]


@dataclasses.dataclass(frozen=True)
class Objective:
    """One linear objective (Section 3.3) as a value.

    - ``name``: e.g. ``"mim-alignment"``; the key of a study's measurements.
    - ``family``: ``"mim"`` or ``"cl"``, the claim family that bounds it (Theorem 4.2 / 4.3).
    - ``reading``: the ledger reading ``(axis, value)``, e.g. ``("mim", "alignment-exact")``.
    - ``variant``: Theorem 4.3's claim variant (``"similar"`` / ``"dissimilar"``) for CL, None for MIM.
    - ``kind``: one of `KINDS`.
    - ``matrix``: pure JAX ``(S, *, p, H) -> X (d, d)`` on one client's second moment ``S``;
      the objective's formula, written once (its docstring cites the paper's equation). For the
      ``diagonal`` kind it returns the diagonal of ``X``, ``(d,)``.
    - ``hypotheses``: which of `HYPOTHESES` apply.
    - ``uses_mask_ratio`` / ``uses_H``: whether ``matrix`` reads ``p`` / ``H``.
    - ``sampled``: ``(S, n_total, H, *, key) -> X``, the matrix one finite batch of
      ``n_total`` samples sees with one augmentation pair per sample (SPEC reading 7), or None
      (no augmentation reading: its expectation is ``matrix(S)``). The CL built-ins share one
      draw (`DrawPart` of `sim.linear.suffstats.sampled_augmentation`).
    - ``basis``: ``regression`` kind only, ``(S, Z, *, p, H) -> B`` mapping eigenvectors ``Z``
      of ``matrix(S)`` to a basis ``B`` (not orthonormal) of ``row(W)``.

    Frozen, hashable and compared by value (its functions by identity), so a jitted program
    takes it as a static argument and compiles once per objective.
    """

    name: str
    family: str
    reading: tuple[str, str]
    kind: str
    matrix: Matrix
    variant: Optional[str] = None
    hypotheses: tuple[str, ...] = ("A.5",)
    uses_mask_ratio: bool = False
    uses_H: bool = False
    sampled: Optional[Callable[..., jax.Array]] = None
    basis: Optional[Callable[..., jax.Array]] = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Objective.name = {self.name!r} is out of range: need a non-empty string")
        if self.family not in FAMILIES:
            raise ValueError(f"Objective.family = {self.family!r} is out of range: choose one of {FAMILIES}")
        reading = tuple(self.reading) if isinstance(self.reading, (tuple, list)) else self.reading
        if not (isinstance(reading, tuple) and len(reading) == 2 and all(isinstance(v, str) for v in reading)):
            raise ValueError(f"Objective.reading = {self.reading!r} is out of range: need a pair (axis, value) of strings")
        object.__setattr__(self, "reading", reading)
        if self.kind not in KINDS:
            raise ValueError(f"Objective.kind = {self.kind!r} is out of range: choose one of {KINDS}")
        if not callable(self.matrix):
            raise ValueError(f"Objective.matrix = {self.matrix!r} is out of range: need a function (S, *, p, H) -> X")
        if self.family == "cl" and self.variant is None:
            raise ValueError(f"Objective.variant = None is out of range: a CL objective ({self.name!r}) needs "
                             "Theorem 4.3's variant, 'similar' or 'dissimilar'")
        if self.family == "mim" and self.variant is not None:
            raise ValueError(f"Objective.variant = {self.variant!r} is out of range: a MIM objective has none")
        hypotheses = tuple(self.hypotheses)
        if not set(hypotheses) <= set(HYPOTHESES):
            raise ValueError(f"Objective.hypotheses = {self.hypotheses!r} is out of range: each one of {HYPOTHESES}")
        object.__setattr__(self, "hypotheses", hypotheses)
        if (self.kind == "regression") != (self.basis is not None):
            raise ValueError(f"Objective.basis = {self.basis!r} is out of range: needed by, and only by, the "
                             "'regression' kind")
        if self.sampled is not None and (not callable(self.sampled) or self.kind != "alignment"):
            raise ValueError(f"Objective.sampled = {self.sampled!r} is out of range: need None, or a function "
                             "(S, n_total, H, *, key) -> X for the 'alignment' kind")

    @property
    def augmentations(self) -> tuple[str, ...]:
        """The augmentation readings this objective has at finite ``n`` (SPEC reading 7)."""
        return ("expectation", "sampled") if self.sampled is not None else ("expectation",)

    def __repr__(self) -> str:
        return f"Objective({self.name!r})"


def _diag(S):
    return S * jnp.eye(S.shape[-1], dtype=S.dtype)


def _concrete(value) -> bool:
    return not isinstance(value, jax.core.Tracer)


def check_mask_ratio(p, objective: str) -> None:
    """Raise ValueError if the mask ratio ``p`` is None or, when concrete, outside ``(0, 1)``
    (a traced ``p`` is checked where it was made); ``objective`` names who needs it."""
    if p is None:
        raise ValueError(f"p = None: objective {objective!r} needs the mask ratio p in (0, 1)")
    if _concrete(p):
        value = np.asarray(p, dtype=float)
        if not np.all((value > 0) & (value < 1)):
            raise ValueError(f"p = {p!r} is out of range: the mask ratio p must lie in (0, 1)")


def mask_moments(S, p) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Mask-averaged moments of ``u = x * m`` (visible) and ``v = x * (1 - m)`` (masked).

    With ``m_k ~ Bernoulli(1 - p)`` independent: ``E[m_k m_l] = (1-p)^2`` off the diagonal and
    ``1 - p`` on it, ``E[(1 - m_k) m_l] = p(1-p)`` off the diagonal and ``0`` on it, so

        Sigma_uu = (1-p)^2 S + p(1-p) diag S
        Sigma_vu = p(1-p) (S - diag S)
        Sigma_vv = p^2 S + p(1-p) diag S.

    Returns ``(Sigma_uu, Sigma_vu, Sigma_vv)``.
    """
    check_square("S", S)
    check_mask_ratio(p, "mim-reconstruction")
    S = jnp.asarray(S)
    S = (S + S.T) / 2
    D = _diag(S)
    q = p * (1 - p)
    return (1 - p) ** 2 * S + q * D, q * (S - D), p**2 * S + q * D


def surrogate_matrix(S, *, p, H=None) -> jax.Array:
    """The paper's MIM surrogate, Eq. 17: ``X^M = 2p(1-p) diag(S)``, returned as its diagonal
    ``(d,)`` (the ``diagonal`` kind). Its eigenvectors are coordinate axes and every ``r_k`` is
    0 or 1 (reading 1: a bound can hold for a trivial reason)."""
    del H
    return 2 * p * (1 - p) * jnp.diagonal(S)


def alignment_matrix(S, *, p, H=None) -> jax.Array:
    """Eq. 4 averaged exactly over masks: ``p(1-p) (S - diag S)``; zero diagonal because
    ``m_k (1 - m_k) = 0``."""
    del H
    return p * (1 - p) * (S - _diag(S))


def similar_matrix(S, *, p=None, H=None) -> jax.Array:
    """CL with similar augmentations (Lemma A.11): ``sym E[(x+xi)(x+xi')^T] = S`` for independent
    Gaussian views."""
    del p, H
    return S


def dissimilar_matrix(S, *, p=None, H) -> jax.Array:
    """CL with dissimilar augmentations (Theorem 4.3, Assumption A.9):
    ``1/2 E[H x (x+xi)^T + (x+xi) x^T H^T] = (H S + S H^T) / 2``."""
    del p
    HS = H @ S
    return (HS + jnp.swapaxes(HS, -1, -2)) / 2


def _regression_factor(S, p):
    # Sigma_uu = L L^T and A = L^{-1} Sigma_uv (Eq. 3's reduced-rank regression).
    uu, vu, _ = mask_moments(S, p)
    L = jnp.linalg.cholesky(uu)
    return L, jsl.solve_triangular(L, vu.T, lower=True)


def reconstruction_matrix(S, *, p, H=None) -> jax.Array:
    """MIM reconstruction, Eq. 3: a reduced-rank regression of ``v = x * (1-m)`` on
    ``u = x * m`` with the moments of `mask_moments`. ``row(W_e) = span(Sigma_uu^{-1} Sigma_uv U_c)``,
    ``U_c`` the top-``c`` eigenvectors of ``Sigma_vu Sigma_uu^{-1} Sigma_uv``; with
    ``Sigma_uu = L L^T`` and ``A = L^{-1} Sigma_uv`` that is ``L^{-T} Z_c`` (`reconstruction_basis`),
    ``Z_c`` the top-``c`` eigenvectors of the matrix returned here, ``A A^T``. Needs
    ``diag(S) > 0`` (``Sigma_uu`` positive definite); it is when ``mu > 0``."""
    del H
    A = _regression_factor(S, p)[1]
    return A @ A.T


def reconstruction_basis(S, Z, *, p, H=None) -> jax.Array:
    """``L^{-T} Z`` (`reconstruction_matrix`): a basis of Eq. 3's encoder row space from
    eigenvectors ``Z`` of ``A A^T``. Its first ``m`` columns span the row space built from the
    top ``m`` eigenpairs, for every ``m``."""
    del H
    L = _regression_factor(S, p)[0]
    return jsl.solve_triangular(L.T, Z, lower=False)


@dataclasses.dataclass(frozen=True)
class DrawPart:
    """Output ``index`` of a joint draw ``draw(S, n_total, H, *, key) -> tuple of matrices``, as
    an objective's ``sampled`` function. Objectives whose parts share one ``draw`` see the same
    augmentation noise, and a study measuring several of them calls ``draw`` once per client."""

    draw: Callable[..., tuple]
    index: int

    def __call__(self, S, n_total, H, *, key) -> jax.Array:
        return self.draw(S, n_total, H, key=key)[self.index]


#: The paper's diagonal MIM surrogate (Eq. 17).
MIM_SURROGATE = Objective("mim-surrogate", family="mim", reading=("mim", "paper-surrogate"), kind="diagonal",
                          matrix=surrogate_matrix, uses_mask_ratio=True)
#: Eq. 4, the MIM alignment loss, averaged exactly over masks.
MIM_ALIGNMENT = Objective("mim-alignment", family="mim", reading=("mim", "alignment-exact"), kind="alignment",
                          matrix=alignment_matrix, uses_mask_ratio=True)
#: CL with similar augmentations (Lemma A.11).
CL_SIMILAR = Objective("cl-similar", family="cl", reading=("cl", "similar"), variant="similar", kind="alignment",
                       matrix=similar_matrix, sampled=DrawPart(sampled_augmentation, 0))
#: CL with dissimilar augmentations (Theorem 4.3; Assumption A.9 on ``H``).
CL_DISSIMILAR = Objective("cl-dissimilar", family="cl", reading=("cl", "dissimilar"), variant="dissimilar",
                          kind="alignment", matrix=dissimilar_matrix, hypotheses=("A.5", "A.9"), uses_H=True,
                          sampled=DrawPart(sampled_augmentation, 1))
#: Eq. 3, the MIM reconstruction loss (a reduced-rank regression).
MIM_RECONSTRUCTION = Objective("mim-reconstruction", family="mim", reading=("mim", "reconstruction"),
                               kind="regression", matrix=reconstruction_matrix, uses_mask_ratio=True,
                               basis=reconstruction_basis)

#: The five objectives of Section 3.3, in the order the studies measure them.
BUILTIN_OBJECTIVES: tuple[Objective, ...] = (MIM_SURROGATE, MIM_ALIGNMENT, CL_SIMILAR, CL_DISSIMILAR,
                                             MIM_RECONSTRUCTION)
#: Their names.
OBJECTIVES: tuple[str, ...] = tuple(o.name for o in BUILTIN_OBJECTIVES)


def objectives() -> tuple[Objective, ...]:
    """The built-in objectives, then those installed packages expose under the entry-point
    group ``dssl_bounds.objectives`` (each entry an `Objective`, or a function returning one or
    a tuple of them), read now. Raises ValueError on a name given twice or an entry that is
    not an `Objective`."""
    found = list(BUILTIN_OBJECTIVES)
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        value = entry.load()
        if callable(value) and not isinstance(value, Objective):
            value = value()
        for objective in (value if isinstance(value, (tuple, list)) else (value,)):
            if not isinstance(objective, Objective):
                raise ValueError(f"entry point {entry.name!r} of {ENTRY_POINT_GROUP!r} = {objective!r}: "
                                 "need a sim.Objective")
            if any(o.name == objective.name for o in found):
                raise ValueError(f"entry point {entry.name!r} of {ENTRY_POINT_GROUP!r}: objective name "
                                 f"{objective.name!r} is already taken")
            found.append(objective)
    return tuple(found)


def get_objective(objective: "Objective | str") -> Objective:
    """The `Objective` named ``objective`` (built-in or installed); an `Objective` is returned
    as is.

    >>> get_objective("cl-similar").family
    'cl'
    >>> get_objective("mim")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: objective = 'mim' is unknown; choose one of ('mim-surrogate', 'mim-alignment', 'cl-similar', 'cl-dissimilar', 'mim-reconstruction'...)
    """
    if isinstance(objective, Objective):
        return objective
    for o in BUILTIN_OBJECTIVES:  # the common case without reading the installed packages
        if o.name == objective:
            return o
    known = objectives()
    for o in known:
        if o.name == objective:
            return o
    raise ValueError(f"objective = {objective!r} is unknown; choose one of {tuple(o.name for o in known)}")


def as_objectives(objectives) -> tuple[Objective, ...]:
    """``objectives`` (each an `Objective` or a name) as a tuple of distinct `Objective` values,
    the form a study takes as a static argument.

    >>> [o.name for o in as_objectives(("cl-similar", MIM_ALIGNMENT))]
    ['cl-similar', 'mim-alignment']
    >>> as_objectives(())
    Traceback (most recent call last):
    ...
    ValueError: objectives = () is out of range: need a non-empty tuple of distinct objectives
    """
    if isinstance(objectives, (str, Objective)) or not hasattr(objectives, "__iter__"):
        raise ValueError(f"objectives = {objectives!r} is out of range: need a tuple of Objectives or names")
    out = tuple(get_objective(o) for o in objectives)
    names = [o.name for o in out]
    if not out or len(set(names)) != len(names):
        raise ValueError(f"objectives = {tuple(names)!r} is out of range: need a non-empty tuple of distinct objectives")
    return out


__all__ = [
    "BUILTIN_OBJECTIVES",
    "DrawPart",
    "CL_DISSIMILAR",
    "CL_SIMILAR",
    "ENTRY_POINT_GROUP",
    "FAMILIES",
    "HYPOTHESES",
    "KINDS",
    "MIM_ALIGNMENT",
    "MIM_RECONSTRUCTION",
    "MIM_SURROGATE",
    "OBJECTIVES",
    "Objective",
    "as_objectives",
    "get_objective",
    "mask_moments",
    "objectives",
]
