"""`sim.linear.objective.Objective`: an objective defined here, outside `sim`, is measured by the
linear study exactly like a built-in one; names and values dispatch the same way; an equal
Objective is the same static argument (no recompilation)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sim.linear import matrices
from sim.linear import objective as objective_module
from sim.linear.objective import (BUILTIN_OBJECTIVES, CL_SIMILAR, ENTRY_POINT_GROUP, MIM_ALIGNMENT, OBJECTIVES,
                                  Objective, as_objectives, get_objective, objectives)
from sim.linear.suffstats import sampled_augmentation
from sim.studies import linear


def spectral_matrix(S, *, p=None, H=None):
    """The spectral contrastive loss of HaoChen et al. (2021), ``-2 E[f(x)^T f(x+)] +
    E[(f(x)^T f(x'))^2]``, with views ``x + xi`` and a linear ``f = W``: in expectation
    ``-2 tr(W S W^T) + ||W S W^T||_F^2``, whose stationary points have ``W^T W`` on the top
    eigenspace of ``S`` — with ``S^2`` for ``X`` the same eigenvectors, in the same order on the
    positive part."""
    del p, H
    return S @ S


SPECTRAL = Objective("cl-spectral", family="cl", reading=("cl", "spectral"), variant="similar", kind="alignment",
                     matrix=spectral_matrix)


def sampled_spectral(S, n_total, H, *, key):
    """`spectral_matrix` of the similar-augmentation matrix one batch sees (one pair per sample)."""
    X = sampled_augmentation(S, n_total, H, key=key)[0]
    return X @ X


#: The same with a sampled augmentation reading of its own (a plain function, not a shared draw).
SPECTRAL_SAMPLED = dataclasses.replace(SPECTRAL, name="cl-spectral-sampled", sampled=sampled_spectral)


class _EntryPoint:
    name = "spectral"

    @staticmethod
    def load():
        return lambda: (SPECTRAL,)


def test_builtins_are_typed_and_ordered():
    assert OBJECTIVES == ("mim-surrogate", "mim-alignment", "cl-similar", "cl-dissimilar", "mim-reconstruction")
    assert tuple(o.name for o in BUILTIN_OBJECTIVES) == OBJECTIVES
    assert {o.name: o.family for o in BUILTIN_OBJECTIVES} == {
        "mim-surrogate": "mim", "mim-alignment": "mim", "cl-similar": "cl", "cl-dissimilar": "cl",
        "mim-reconstruction": "mim"}
    assert get_objective("mim-surrogate").kind == "diagonal"
    assert get_objective("mim-reconstruction").kind == "regression"
    assert get_objective("cl-dissimilar").hypotheses == ("A.5", "A.9")
    assert [o.name for o in BUILTIN_OBJECTIVES if o.sampled is not None] == ["cl-similar", "cl-dissimilar"]
    assert all(o.matrix.__doc__ and "Eq." in o.matrix.__doc__ or o.family == "cl" for o in BUILTIN_OBJECTIVES)
    assert set(objectives()) >= set(BUILTIN_OBJECTIVES)


def test_get_objective_errors_name_the_known_ones():
    with pytest.raises(ValueError, match=r"objective = 'mae' is unknown; choose one of .*'mim-alignment'"):
        get_objective("mae")
    assert get_objective(SPECTRAL) is SPECTRAL
    with pytest.raises(ValueError, match="Objective.family"):
        dataclasses.replace(SPECTRAL, family="gan")
    with pytest.raises(ValueError, match="Objective.variant"):
        dataclasses.replace(SPECTRAL, variant=None)
    with pytest.raises(ValueError, match="Objective.basis"):
        dataclasses.replace(SPECTRAL, kind="regression")
    with pytest.raises(ValueError, match="Objective.sampled"):
        dataclasses.replace(SPECTRAL_SAMPLED, kind="diagonal")
    with pytest.raises(ValueError, match="distinct"):
        as_objectives(("cl-similar", CL_SIMILAR))


def test_installed_objectives_are_read_at_call_time(monkeypatch):
    def entry_points(*, group):
        return [_EntryPoint()] if group == ENTRY_POINT_GROUP else []

    monkeypatch.setattr(objective_module.importlib.metadata, "entry_points", entry_points)
    assert objectives() == (*BUILTIN_OBJECTIVES, SPECTRAL)
    assert get_objective("cl-spectral") is SPECTRAL
    monkeypatch.setattr(_EntryPoint, "load", staticmethod(lambda: CL_SIMILAR))
    with pytest.raises(ValueError, match="already taken"):
        objectives()
    monkeypatch.undo()
    with pytest.raises(ValueError, match="unknown"):
        get_objective("cl-spectral")


def test_client_matrix_dispatches_through_the_objective():
    S = jnp.array([[2.0, 1.0], [1.0, 3.0]])
    for objective in ("mim-alignment", MIM_ALIGNMENT):
        np.testing.assert_array_equal(matrices.client_matrix(S, objective, p=0.5), [[0.0, 0.25], [0.25, 0.0]])
    np.testing.assert_array_equal(matrices.client_matrix(S, SPECTRAL), S @ S)
    fit = matrices.encoder_fit(S, SPECTRAL, 1)
    np.testing.assert_allclose(fit.subspace[:, 0] ** 2, matrices.encoder_fit(S, "cl-similar", 1).subspace[:, 0] ** 2)
    with pytest.raises(ValueError, match="reduced-rank regression"):
        matrices.client_matrix(S, "mim-reconstruction", p=0.5)


def test_equal_objective_does_not_recompile():
    traces = []

    def matrix(S, *, objective):
        traces.append(objective.name)  # runs once per trace, i.e. per compilation
        return objective.matrix(S, p=0.5, H=None)

    program = jax.jit(matrix, static_argnames="objective")
    S = jnp.eye(3)
    program(S, objective=SPECTRAL)
    twin = Objective("cl-spectral", family="cl", reading=("cl", "spectral"), variant="similar", kind="alignment",
                     matrix=spectral_matrix)
    assert twin == SPECTRAL and hash(twin) == hash(SPECTRAL) and twin is not SPECTRAL
    program(2 * S, objective=twin)
    assert traces == ["cl-spectral"]
    program(S, objective=CL_SIMILAR)
    assert traces == ["cl-spectral", "cl-similar"]


def test_an_objective_defined_here_is_measured_like_a_builtin():
    study = linear.theorem_study(24, n_seeds=2)
    key = jax.random.key(3)
    mine = linear.measure(study, key=key, objectives=(CL_SIMILAR, SPECTRAL, SPECTRAL_SAMPLED))
    builtin = linear.measure(study, key=key, objectives=("cl-similar",))
    assert mine.augmentations(SPECTRAL) == ("expectation",)
    assert mine.augmentations("cl-similar") == ("expectation", "sampled")
    assert mine.augmentations(SPECTRAL_SAMPLED) == ("expectation", "sampled")
    assert set(mine.local) == {"cl-similar", "cl-spectral", "cl-spectral-sampled"}
    assert mine.representabilities(SPECTRAL_SAMPLED, "local", "sampled").shape == mine.local["cl-similar"].shape
    for field in ("local", "global_", "spread_local", "spread_global", "positive_local", "positive_global", "gap_local",
                  "gap_global", "corrected_margin", "corrected_max"):
        assert getattr(mine, field)["cl-spectral"].shape == getattr(mine, field)["cl-similar"].shape, field
    for scope in ("local", "global"):
        assert mine.representabilities(SPECTRAL, scope).shape == mine.representabilities("cl-similar", scope).shape
        assert mine.sensitivities(SPECTRAL, "class", scope).shape == mine.sensitivities("cl-similar", "class", scope).shape
        # The objectives measured alongside do not change a built-in's numbers (the draws are per seed).
        np.testing.assert_array_equal(mine.representabilities("cl-similar", scope),
                                      builtin.representabilities("cl-similar", scope))
    # S's top-c eigenspace is S^2's wherever S is positive semi-definite (a sample moment is).
    np.testing.assert_allclose(mine.local["cl-spectral"], mine.local["cl-similar"], atol=1e-6)
    # Its sampled reading sees the same augmentation draw as the built-in one.
    np.testing.assert_allclose(mine.representabilities(SPECTRAL_SAMPLED, "local", "sampled"),
                               mine.representabilities(CL_SIMILAR, "local", "sampled"), atol=1e-6)
    with pytest.raises(ValueError, match="no sampled representabilities"):
        mine.representabilities(SPECTRAL, "local", "sampled")
    population = linear.measure(dataclasses.replace(study, samples="population"), key=key, objectives=(CL_SIMILAR,))
    assert population.augmentations(CL_SIMILAR) == ("expectation",)
