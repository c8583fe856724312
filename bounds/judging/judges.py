"""The public judges: a paper claim and plain NumPy arrays in, one ledger `Record` out.

Each judge applies one rule of :mod:`bounds.judging.rules` (or the cross-``d`` constant rule of
:mod:`bounds.judging.constant_rule`) and says in the record's note what it did. The producers
are thin adapters from a study's measurement to these judges; a researcher's own measurement
is judged the same way.

- `lower_bound`: Theorems 4.2 / 4.3 (a high-probability lower bound on ``min_k r_k``):
  hypotheses screened per trial, vacuity, independent trials only, the exact check at
  ``population``, the binomial test against the stated probability with its power, undetermined
  trials (a tie at ``c``) left out, the counterexample in the note.
- `comparison`: Theorem 4.4 (``s^C > s^M``), a sign test of paired differences.
- `monotone`: Corollary 4.5 (``s`` decreases in ``|Ā|``) and Theorem 4.6 (``s_Dec >= s_Fed``),
  Bonferroni sign tests over the connectivity levels.
- `order`: ``s = Theta(d^a)`` (Theorem 4.4's orders), the fitted log-log slope within a tolerance.
- `constants`: reading 5, one ``d``-independent constant (`constant_rule.cross_d_constant`).
- `identity`: a deterministic claim checked on every sample.

Every judge takes the claim, the arrays, and the record fields it does not decide
(``source``, ``reading``, ``statistic``, ``params``, ``n_seeds``, ...) as keywords; ``note`` is
appended to the judge's own note. A lower bound that holds on every one of 200 trials:

    >>> import numpy as np, theory
    >>> claim = theory.get_claim("thm4.2-local")
    >>> worst = np.full((50, 4), 0.999)
    >>> r = lower_bound(claim, worst, 0.99, p0=0.95, samples="n=d", members=np.eye(4, dtype=bool)[None].repeat(50, 0))
    >>> r.verdict, r.trials, r.successes
    ('holds', 200, 200)
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

import theory
from bounds.judging import rules
from bounds.judging.constant_rule import cross_d_constant
from bounds.judging.records import Record

#: Why a trial whose statistic its moment does not determine is left out.
NOT_DETERMINED = ("the top-c eigenspace is not unique (an eigenvalue tied at c, e.g. by the class symmetry of a "
                  "population moment), the stationary points form a family, and an r_k the statistic reads varies over "
                  "it by more than 1e-6, so its value is the basis the eigen-solver happens to return")


def _fields(claim: theory.Claim, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The record fields every judge shares: the claim's id and source, simulation level."""
    return {"claim": claim.id, "source": claim.source, "level": "simulation", **fields}


def _with_note(text: str, note: str) -> str:
    return f"{text} {note}" if note else text


def _trial_array(name: str, value, shape: tuple[int, ...], dtype) -> np.ndarray:
    try:
        return np.broadcast_to(np.asarray(value, dtype=dtype), shape)
    except ValueError:
        raise ValueError(f"{name} of shape {np.shape(value)} must broadcast to the trials' shape {shape}") from None


def independent_trials(eligible: np.ndarray, p0: np.ndarray, *, priority: np.ndarray | None = None,
                       members: np.ndarray | None = None) -> list[tuple[int, int]]:
    """Independent trials to test, as ``(seed, flat index)`` pairs, chosen from the eligible
    trials' stated probabilities ``p0``, their ``priority`` (a random order drawn with the study;
    index order when None) and their client sets ``members`` (..., N) only — never from the data.

    Different seeds are independent. Within a seed, models built from disjoint client sets are
    independent (each client's data is drawn independently of the others'): they are taken
    greedily, largest stated probability first (smallest ``|A_i|``), ties in ``priority``, while
    their client sets are pairwise disjoint. Without ``members`` every model of a seed is built
    from all clients: one trial per seed (largest stated probability, then ``priority``).

    >>> members = np.array([[[1, 1, 0], [0, 1, 1], [0, 0, 1]]], dtype=bool)
    >>> independent_trials(np.ones((1, 3), bool), np.full((1, 3), 0.9), members=members)
    [(0, 0), (0, 2)]
    """
    eligible = np.asarray(eligible, dtype=bool)
    p0 = np.broadcast_to(p0, eligible.shape)
    priority = np.zeros(eligible.shape) if priority is None else np.broadcast_to(priority, eligible.shape)
    picks = []
    for s in range(eligible.shape[0]):
        cand = np.flatnonzero(eligible[s].ravel())
        order = cand[np.lexsort((priority[s].ravel()[cand], -p0[s].ravel()[cand]))]
        if members is None:
            picks += [(s, int(i)) for i in order[:1]]
            continue
        used = np.zeros(members.shape[-1], dtype=bool)
        clients = members[s].reshape(-1, members.shape[-1])
        for i in order:
            if not (clients[i] & used).any():
                used |= clients[i]
                picks.append((s, int(i)))
    return picks


def lower_bound(claim: theory.Claim, worst, bound, /, *, p0, samples: str,
                hypotheses: Mapping[str, Any] | None = None, reasons: Mapping[str, str] | None = None,
                determined=None, diverged=None, members=None, priority=None, trivial: str | None = None,
                informative: bool = False, note: str = "", **fields) -> Record:
    """Judge a Theorem 4.2 / 4.3-type claim "``min_k r_k >= bound`` with probability ``p0``".

    Arrays, each of the trials' shape ``(seeds, ...)`` or broadcastable to it: ``worst`` =
    ``min_k r_k`` of each trial (model), ``bound`` the claim's bound there (`evaluate`), ``p0``
    its stated probability (`stated_probability`), ``hypotheses`` name -> whether the hypothesis
    holds, ``determined`` whether ``worst`` is the model's (False where a tie at ``c`` leaves it
    to the eigen-solver: left out), ``diverged`` whether a trained run diverged (left out),
    ``members`` the client set of each model (..., N; None: every model uses all clients) and
    ``priority`` a random order drawn with the study (ties between trials). ``samples`` is the
    samples reading (SPEC reading 6).

    Rule. A trial is *eligible* when every hypothesis holds and, at finite ``n``, the stated
    probability is positive (screened here, once: callers pass only the claim's assumptions);
    no eligible trial -> ``vacuous``, the note naming every hypothesis that fails on every trial
    (``reasons[name]`` says why). At ``population`` the stated probability does not screen: it
    bounds the chance that the ``n``-sample moments stray from their expectation (the
    concentration event of the proof), and at ``population`` that event is certain, so the
    proof's deterministic implication is checked on every instance; the note gives the
    probability's value and what it means at finite ``n``. Among the eligible
    determined, converged trials `independent_trials` picks the independent ones. At finite ``n``:
    `rules.binomial` of their successes against the smallest stated probability among them; at
    ``population`` the matrix is fixed given the seed's draw (graph, ``H``), so the bound must
    hold on every model (within `rules.TIE`): `rules.every_trial`, one instance per seed (met
    when every eligible model of the seed meets the bound). Nothing to test -> ``inconclusive``.
    ``trivial``: why a pass would be structural (e.g. the diagonal surrogate's 0/1 ``r_k``):
    when the test does not fail and every tested trial met the bound, ``holds-trivially``.
    ``informative``: on a vacuous claim still run the test on the determined converged trials
    and report it (numbers and note), for what the bound does where the claim asserts nothing.

    Record: ``bound``/``margin`` at the worst determined trial, ``empirical`` the mean of
    ``worst`` over the determined finite trials; ``params["p0"]`` the tested stated probability.
    """
    worst = np.asarray(worst, dtype=float)
    shape = worst.shape
    if worst.ndim < 1 or worst.size == 0:
        raise ValueError(f"worst of shape {shape} must be a non-empty array of trials with seeds on the first axis")
    bound = _trial_array("bound", bound, shape, float)
    p0 = _trial_array("p0", p0, shape, float)
    determined = _trial_array("determined", True if determined is None else determined, shape, bool)
    diverged = _trial_array("diverged", False if diverged is None else diverged, shape, bool)
    population = samples == "population"
    hyp = {name: _trial_array(f"hypotheses[{name!r}]", v, shape, bool) for name, v in (hypotheses or {}).items()}
    if population:
        hyp.pop("probability > 0", None)  # the concentration event is certain: no probability to screen on
    else:
        hyp.setdefault("probability > 0", p0 > 0)
    holds_all = np.logical_and.reduce(list(hyp.values())) if hyp else np.ones(shape, bool)

    finite = np.isfinite(worst) & determined
    margins = np.where(finite, worst - bound, np.inf)
    # At population the check is deterministic: a margin within rounding of 0 is no counterexample.
    success = finite & (margins >= (-rules.TIE if population else 0.0))
    k = int(np.argmin(margins))
    vacuous = not holds_all.any()
    record = _fields(claim, {"bound": float(bound.ravel()[k]),
                             "empirical": float(np.mean(worst[finite])) if finite.any() else None,
                             "margin": float(margins.ravel()[k]) if finite.any() else None, **fields})
    params = dict(record.pop("params", {}))

    counts = ", ".join(f"{name} on {int(v.sum())}" for name, v in hyp.items())
    text = (f"{int(success.sum())} of {worst.size} trials (samples {samples}) satisfy min_k r_k >= bound"
            + (f"; hypotheses hold per trial: {counts}." if counts else "."))
    if diverged.any():
        text += f" {int(diverged.sum())} trained runs diverged (non-finite loss or encoder) and are left out."
    if not determined.all():
        text += (f" {int((~determined).sum())} of {worst.size} trials are left out (counted above among those that do "
                 f"not satisfy the bound): {NOT_DETERMINED}.")
    if population:
        text += " " + _population_probability(claim, p0)
    if vacuous:
        failed = [name for name, v in hyp.items() if not v.any()]
        defaults = {"probability > 0": f"the stated probability {claim.probability} is <= 0 on every trial "
                                       f"(at most {float(np.max(p0)):.3g})"}
        why = "; ".join((reasons or {}).get(name, defaults.get(name, f"{name} fails on every trial")) for name in failed)
        text = f"Vacuous: {why or 'no trial satisfies every hypothesis at once'}. " + text
    testable = ~diverged & determined & (True if vacuous and informative else holds_all)
    if vacuous and not informative:
        return Record(verdict="vacuous", hypotheses={n: bool(v.any()) for n, v in hyp.items()}, params=params,
                      note=_with_note(text + " The claim asserts nothing here, nothing to test.", note), **record)
    picks = independent_trials(testable, p0, priority=priority, members=members)
    q = float(min(p0[s].ravel()[i] for s, i in picks)) if picks else math.nan
    judged = None
    if picks and population:
        seeds = [s for s in range(shape[0]) if testable[s].any()]
        seed_ok = [bool(success[s][testable[s]].all()) for s in seeds]
        judged = rules.every_trial(sum(seed_ok), len(seed_ok), what="min_k r_k >= bound at the population matrix")
        rule = (f"{judged.rule} — one instance per seed (its draw of data model, graphs and H), met when every tested "
                f"model of the seed meets the bound ({int(testable[seeds].sum())} models).")
    elif picks and q > 0:
        chosen = np.array([success[s].ravel()[i] for s, i in picks])
        judged = rules.binomial(int(chosen.sum()), int(chosen.size), q)
        rule = (f"{judged.rule} — independent trials only: "
                + ("per seed, models on pairwise disjoint client sets (largest stated probability first, ties in a "
                   "random order drawn with the study)" if members is not None else
                   "one per seed (largest stated probability, ties in a random order drawn with the study)")
                + f"; p0 = the smallest stated probability {claim.probability} of the chosen trials.")
    if judged is None and vacuous:
        return Record(verdict="vacuous", params=params, hypotheses={n: bool(v.any()) for n, v in hyp.items()},
                      note=_with_note(text, note), **record)
    if judged is None:
        why = " or ".join(w for w, bad in (("diverged", (holds_all & diverged).any()),
                                           ("has a min_k r_k that its moment does not determine",
                                            (holds_all & ~determined).any())) if bad)
        text += f" Every trial whose hypotheses hold {why or 'is left out'}: nothing to test."
        return Record(verdict="inconclusive", params=params, hypotheses={n: True for n in hyp},
                      note=_with_note(text, note), **record)
    verdict = judged.verdict
    text += " " + rule
    if judged.verdict == "fails":
        text += f" Counterexample: trial {k} has min_k r_k = {worst.ravel()[k]:.6g} < bound {bound.ravel()[k]:.6g}."
    if vacuous:
        verdict = "vacuous"
    elif trivial and verdict != "fails" and judged.successes == judged.trials:
        verdict = "holds-trivially"  # structural, so not a question of power
        text += " " + trivial
    params["p0"] = q
    return Record.judged(judged, verdict=verdict, params=params,
                         hypotheses={n: bool(v.any()) if vacuous else True for n, v in hyp.items()},
                         note=_with_note(text, note), **record)


def _population_probability(claim: theory.Claim, p0: np.ndarray) -> str:
    """What the stated probability means for a ``population`` record (it does not screen it)."""
    lo, hi = float(np.min(p0)), float(np.max(p0))
    value = f"{lo:.3g}" if math.isclose(lo, hi) else f"{lo:.3g} to {hi:.3g}"
    where = "every trial" if hi <= 0 else "some trials"
    meaning = (f"at finite n with these d and m it is <= 0 on {where}, where the theorem asserts nothing"
               if lo <= 0 else "at finite n the bound is claimed with at least that probability")
    return (f"The stated probability {claim.probability} is {value} here ({meaning}); it bounds the chance that the "
            "n-sample moments stray from their expectation, which at population they do not, so the proof's "
            "implication is checked on every instance.")


def comparison(claim: theory.Claim, differences, /, *, trivial: str | None = None, vacuous: str = "", note: str = "",
               **fields) -> Record:
    """Judge "the paired difference is positive" (Theorem 4.4: ``s^C - s^M > 0`` per trial) by
    `rules.sign_test`, differences within `rules.TIE` counting as ties (against the claim).

    ``trivial``: why a pass is structural (the surrogate's 0/1 ``r_k``), turning ``holds`` into
    ``holds-trivially``; ``vacuous``: why the claim asserts nothing here (the test is still
    reported). ``empirical`` is the mean difference, ``margin`` its minimum.

    >>> comparison(theory.get_claim("thm4.4-fl"), [0.1] * 12, bound=0.0).verdict
    'holds'
    >>> comparison(theory.get_claim("thm4.4-fl"), [-0.1] * 12, bound=0.0).verdict
    'fails'
    """
    diff = np.asarray(differences, dtype=float)
    j = rules.sign_test(rules.untie(diff))
    verdict, text = j.verdict, j.rule + "."
    if verdict == "holds" and trivial:
        verdict, text = "holds-trivially", f"{text} {trivial}"
    if vacuous:
        verdict, text = "vacuous", f"Vacuous: {vacuous}. {text}"
    return Record.judged(j, **{**_fields(claim, fields), "verdict": verdict, "empirical": float(np.mean(diff)),
                               "margin": float(np.min(diff)), "note": _with_note(text, note)})


def monotone(claim: theory.Claim, values, *, levels: Sequence, reference=None, on_tie: tuple[str, str],
             note: str = "", **fields) -> Record:
    """Judge a claim on consecutive connectivity levels by Bonferroni sign tests over seeds
    (`rules.all_positive`). ``values`` (seeds, levels) in increasing ``|Ā|`` (``levels``).

    Without ``reference`` (Corollary 4.5, ``s`` decreases in ``|Ā|``) the differences are
    ``values[:, i] - values[:, i + 1]``; with a ``reference`` per seed (Theorem 4.6,
    ``s_Dec >= s_Fed``) they are ``values[:, i] - reference``. When every difference is a tie
    (within `rules.TIE`) the claim is an exact identity here, checked as such
    (`rules.identity`); ``on_tie`` = (verdict, why) says what it means for the claim (a strict
    decrease fails, ``>=`` holds trivially). ``empirical`` = the smallest mean difference over
    the levels, ``margin`` = the smallest difference on any seed, ``bound`` = 0.

    >>> s = np.array([[0.3, 0.2, 0.1]] * 12)
    >>> monotone(theory.get_claim("cor4.5"), s, levels=(3, 5, 10), on_tie=("fails", "")).verdict
    'holds'
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or values.shape[1] != len(levels) or (reference is None and len(levels) < 2):
        raise ValueError(f"values of shape {values.shape} must be (seeds, levels) with levels = {tuple(levels)} "
                         "(at least two without a reference)")
    if reference is None:
        diffs = [values[:, i] - values[:, i + 1] for i in range(len(levels) - 1)]
        labels = [f"|Ā| {levels[i]}->{levels[i + 1]}" for i in range(len(levels) - 1)]
    else:
        diffs = [values[:, i] - np.asarray(reference, dtype=float) for i in range(len(levels))]
        labels = [f"|Ā|={level}" for level in levels]
    if all(np.all(np.abs(dd) <= rules.TIE) for dd in diffs):
        j = rules.identity(-np.abs(np.concatenate(diffs)), tolerance=rules.TIE, what="every difference = 0")
        verdict, text = on_tie
    else:
        j = rules.all_positive(diffs, labels)
        verdict, text = j.verdict, j.rule
    return Record.judged(j, **{**_fields(claim, fields), "verdict": verdict, "bound": 0.0,
                               "empirical": float(min(np.mean(dd) for dd in diffs)),
                               "margin": float(min(np.min(dd) for dd in diffs)), "note": _with_note(text, note)})


def order(claim: theory.Claim, d, s, *, tolerance: float, exponent_of: theory.Claim | None = None,
          vacuous: str = "", note: str = "", **fields) -> Record:
    """Judge ``s = Theta(d^a)`` by the OLS log-log slope of ``s`` on ``d`` (`rules.slope`), ``a``
    = the stated order's exponent of ``exponent_of`` (default ``claim``; sympy,
    `theory.Claim.order_exponent`), within ``tolerance``. Trials with ``s = 0`` have no log and
    are left out; ``s = 0`` on every trial fails the order (its lower half ``s >= c d^a > 0``).
    ``vacuous``: why the claim asserts nothing here (the fit is still reported).

    >>> d = np.repeat([64.0, 128, 256, 512], 4)
    >>> order(theory.get_claim("thm4.2-local"), d, 3 * d ** -0.8, tolerance=0.1).verdict
    'holds'
    """
    expected = float((exponent_of or claim).order_exponent())
    s = np.asarray(s, dtype=float).ravel()
    j = rules.slope(d, s, expected, tolerance=tolerance)
    verdict, text = j.verdict, j.rule + "."
    zero = float(np.mean(s <= 0))
    if zero > 0:
        text += f" {100 * zero:.0f}% of trials have s = 0 exactly (no log); they are left out of the fit."
    if zero == 1.0:
        verdict = "fails"
        text += (" s = 0 identically: the O(d^a) half of the order holds trivially, the Theta order's lower half "
                 "(s >= c d^a > 0) fails.")
    if vacuous:
        verdict, text = "vacuous", f"Vacuous: {vacuous}. {text}"
    return Record.judged(j, **{**_fields(claim, fields), "verdict": verdict, "bound": expected,
                               "empirical": j.statistic,
                               "margin": None if math.isnan(j.statistic) else j.statistic - expected,
                               "note": _with_note(text, note)})


def constants(claim: theory.Claim, d: Sequence[float], needed_C: Sequence[np.ndarray], *, p0: float,
              trivial: str | None = None, vacuous: str = "", note: str = "", **fields) -> Record:
    """Reading 5: is one ``d``-independent constant enough? ``needed_C[j]``: per trial at
    ``d[j]`` the smallest constant with which the bound holds; fitted on the smaller half of
    ``d``, judged on the larger half, with the trend of ``log C(d)`` on ``log d``
    (`constant_rule.cross_d_constant`, its rule in the note). ``trivial``: why a non-failure is
    structural (``holds-trivially``); ``vacuous``: why the claim asserts nothing here.
    ``bound`` = the fitted ``C``, ``empirical`` = the slope; the fit is in ``params``.
    """
    j = cross_d_constant(d, needed_C, p0=p0)
    verdict, text = j.verdict, j.reason + "."
    if vacuous:
        verdict, text = "vacuous", f"Vacuous: {vacuous}. {text}"
    elif trivial and verdict != "fails":
        verdict, text = "holds-trivially", f"{text} {trivial}"
    fit = {"d": list(j.d), "C_per_d": list(j.C_per_d), "fit_d": list(j.fit_d), "judge_d": list(j.judge_d),
           "C_fit": j.C_fit, "slope": j.slope, "slope_ci": list(j.slope_ci), "p0": p0}
    record = _fields(claim, fields)
    return Record(**{**record, "verdict": verdict, "bound": j.C_fit, "empirical": j.slope, "margin": None,
                     "ci": j.slope_ci, "p_value": j.p_value, "trials": j.trials, "successes": j.successes,
                     "power": j.binomial_power, "params": {**fit, **record.get("params", {})},
                     "note": _with_note(text, note)})


def identity(claim: theory.Claim, margins, /, *, tolerance: float, what: str, trivial: str | None = None,
             note: str = "", **fields) -> Record:
    """Judge a deterministic claim on every sample (`rules.identity`): every margin
    ``>= -tolerance`` (pass ``-abs(gap)`` for an equality), else ``fails`` with the worst sample
    as counterexample. ``trivial``: why a pass is structural (``holds-trivially``). ``empirical``
    and ``margin`` are the worst margin.

    >>> identity(theory.get_claim("corrected-rv"), [0.0, 0.2], tolerance=1e-9, what="r_k >= bound").verdict
    'holds'
    """
    j = rules.identity(margins, tolerance=tolerance, what=what)
    verdict, text = j.verdict, j.rule + "."
    if verdict == "holds" and trivial:
        verdict, text = "holds-trivially", f"{text} {trivial}"
    return Record.judged(j, **{"empirical": j.statistic, "margin": j.statistic, **_fields(claim, fields),
                               "verdict": fields.get("verdict", verdict), "note": _with_note(text, note)})


__all__ = ["NOT_DETERMINED", "comparison", "constants", "identity", "independent_trials", "lower_bound", "monotone",
           "order"]
