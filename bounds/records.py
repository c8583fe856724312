"""One ledger record and the statistical rules that turn measurements into verdicts.

Every module that produces ledger records (formula level, simulation level, reported level)
builds `Record` values with the helpers here, so that the verdict words and the rules behind
them are defined once.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal, Mapping, Sequence

import numpy as np
from scipy import stats

Verdict = Literal["holds", "holds-trivially", "fails", "inconclusive"]
Level = Literal["formula", "simulation", "reported"]
VERDICTS: tuple[str, ...] = ("holds", "holds-trivially", "fails", "inconclusive")
LEVELS: tuple[str, ...] = ("formula", "simulation", "reported")
READING_KEYS: tuple[str, ...] = ("mim", "cl", "decl", "sensitivity", "constants", "variant")

#: False-alarm rate of every statistical rule in the toolkit: a claim that is true is
#: reported "fails" with probability at most ALPHA.
ALPHA = 0.01


def _finite_or_none(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


@dataclasses.dataclass(frozen=True)
class Record:
    """One row of ``ledger.json`` (DESIGN.md). Non-finite numbers are stored as ``None``."""

    claim: str
    source: str
    level: Level
    verdict: Verdict
    reading: Mapping[str, str] = dataclasses.field(default_factory=dict)
    bound: float | None = None
    empirical: float | None = None
    margin: float | None = None
    ci: tuple[float, float] | None = None
    n_seeds: int = 0
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    note: str = ""

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict={self.verdict!r} must be one of {VERDICTS}")
        if self.level not in LEVELS:
            raise ValueError(f"level={self.level!r} must be one of {LEVELS}")
        unknown = set(self.reading) - set(READING_KEYS)
        if unknown:
            raise ValueError(f"reading keys {sorted(unknown)} must be among {READING_KEYS}")
        for name in ("bound", "empirical", "margin"):
            object.__setattr__(self, name, _finite_or_none(getattr(self, name)))
        if self.ci is not None:
            lo, hi = (_finite_or_none(v) for v in self.ci)
            object.__setattr__(self, "ci", None if lo is None or hi is None else (lo, hi))

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["reading"] = dict(self.reading)
        out["params"] = _jsonable(dict(self.params))
        out["ci"] = list(self.ci) if self.ci is not None else None
        return out


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.generic, np.ndarray)):
        return _jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


@dataclasses.dataclass(frozen=True)
class BinomialJudgement:
    successes: int
    trials: int
    p0: float
    p_value: float
    ci: tuple[float, float]
    verdict: Verdict
    rule: str


def binomial_verdict(successes: int, trials: int, p0: float, *, alpha: float = ALPHA) -> BinomialJudgement:
    """Judge a claim "the event holds with probability at least ``p0``".

    Rule: one-sided exact binomial test of H0: P(success) >= p0 against P < p0. Reject at
    level ``alpha`` -> "fails" (false-alarm rate <= alpha when the claim is true). Otherwise
    "holds" if the experiment had the power to reject at all (zero successes would have been
    significant), else "inconclusive": too few trials to ever contradict the claim.
    The CI is the two-sided 1-alpha Clopper-Pearson interval of the success rate.
    """
    if trials < 1:
        raise ValueError(f"trials={trials} must be >= 1")
    if not 0 <= successes <= trials:
        raise ValueError(f"successes={successes} must be in [0, trials={trials}]")
    if not 0 < p0 <= 1:
        raise ValueError(f"p0={p0} must be in (0, 1]")
    test = stats.binomtest(successes, trials, p0, alternative="less")
    ci = test.proportion_ci(confidence_level=1 - alpha, method="exact")
    can_reject = (1 - p0) ** trials < alpha  # P(0 successes | p0): could any outcome contradict the claim?
    if test.pvalue < alpha:
        verdict: Verdict = "fails"
    elif can_reject:
        verdict = "holds"
    else:
        verdict = "inconclusive"
    rule = (
        f"one-sided exact binomial test, H0: P(success) >= {p0:.4g}, alpha={alpha}; "
        f"{successes}/{trials} successes, p={test.pvalue:.3g}"
    )
    return BinomialJudgement(successes, trials, p0, float(test.pvalue), (float(ci.low), float(ci.high)), verdict, rule)


@dataclasses.dataclass(frozen=True)
class SlopeJudgement:
    slope: float
    intercept: float
    ci: tuple[float, float]
    expected: float
    tolerance: float
    verdict: Verdict
    rule: str


def slope_verdict(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    expected: float,
    *,
    tolerance: float,
    alpha: float = ALPHA,
) -> SlopeJudgement:
    """Judge an order claim ``y = Theta(x^expected)`` by the fitted log-log slope.

    ``x`` and ``y`` are positive; several ``y`` per ``x`` (seeds) are allowed. Rule: ordinary
    least squares of log y on log x, two-sided (1-alpha) t confidence interval of the slope.
    "holds" if the CI lies inside ``expected +- tolerance``; "fails" if it lies entirely outside
    that band; otherwise "inconclusive".
    """
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same size, got {x.size} and {y.size}")
    if tolerance <= 0:
        raise ValueError(f"tolerance={tolerance} must be > 0")
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    lx, ly = np.log(x[ok]), np.log(y[ok])
    if lx.size < 3 or np.unique(lx).size < 2:
        return SlopeJudgement(math.nan, math.nan, (math.nan, math.nan), expected, tolerance, "inconclusive",
                              f"log-log slope needs >= 3 positive finite points at >= 2 x values, got {lx.size}")
    fit = stats.linregress(lx, ly)
    dof = lx.size - 2
    half = stats.t.ppf(1 - alpha / 2, dof) * fit.stderr if dof > 0 else math.inf
    lo, hi = fit.slope - half, fit.slope + half
    if expected - tolerance <= lo and hi <= expected + tolerance:
        verdict: Verdict = "holds"
    elif hi < expected - tolerance or lo > expected + tolerance:
        verdict = "fails"
    else:
        verdict = "inconclusive"
    rule = (
        f"OLS log-log slope {fit.slope:.3f} with {100 * (1 - alpha):.0f}% CI [{lo:.3f}, {hi:.3f}] "
        f"against {expected:.3f} +- {tolerance}"
    )
    return SlopeJudgement(float(fit.slope), float(fit.intercept), (float(lo), float(hi)), expected, tolerance, verdict, rule)


def sign_test_verdict(differences: Sequence[float] | np.ndarray, *, alpha: float = ALPHA) -> BinomialJudgement:
    """Judge "the difference is positive" over paired seeds (e.g. s^C - s^M, or s(|A|=3) - s(|A|=5)).

    Rule: exact one-sided sign test, H0: P(difference > 0) <= 1/2. Reject at ``alpha`` ->
    "holds" (the difference is positive more often than chance); if instead the mirrored test
    rejects (negative more often) -> "fails"; else "inconclusive". Ties count as failures.
    """
    diff = np.asarray(differences, dtype=float).ravel()
    if diff.size == 0 or not np.all(np.isfinite(diff)):
        raise ValueError("differences must be a non-empty array of finite values")
    pos = int(np.sum(diff > 0))
    neg = int(np.sum(diff < 0))
    n = diff.size
    p_pos = stats.binomtest(pos, n, 0.5, alternative="greater").pvalue
    p_neg = stats.binomtest(neg, n, 0.5, alternative="greater").pvalue
    ci = stats.binomtest(pos, n).proportion_ci(confidence_level=1 - alpha, method="exact")
    if p_pos < alpha:
        verdict: Verdict = "holds"
    elif p_neg < alpha:
        verdict = "fails"
    else:
        verdict = "inconclusive"
    rule = f"exact one-sided sign test, alpha={alpha}: {pos}/{n} positive (p={p_pos:.3g}), {neg}/{n} negative (p={p_neg:.3g})"
    return BinomialJudgement(pos, n, 0.5, float(min(p_pos, p_neg)), (float(ci.low), float(ci.high)), verdict, rule)
