"""The data-model configuration of Section 3.2 (the paper's Section 3.2 construction).

`DataConfig` fixes the dimension `d`, the number of clients `N`, the per-client sample
counts, the scales `tau`, `mu` and the rare class of every client. Fields left as `None`
take the theorem scalings; `DataConfig.scalings()` says which values came from a scaling
and which were set by hand, so a ledger record can state what it simulated.
"""

from __future__ import annotations

import dataclasses
import math

from sim import checks

_SCALING_FORMULAS = {
    "N": "max(2, round(d**(1/20)))",
    "n": "d, rounded up to even (beta = 1)",
    "n_rare": "ceil(d**(1/2)) (alpha = 1/2)",
    "tau": "d**(1/5)",
    "mu": "d**(-1/5)",
    "rare_class": "h_i = 2*((i+1) % N)",
}


def _scaled(d: int, N: int | None = None) -> dict:
    """The theorem-scaling value of every scalable field at dimension ``d`` (and ``N``)."""
    N_scaled = max(2, round(d ** (1 / 20)))
    N = N_scaled if N is None else N
    return {
        "N": N_scaled,
        "n": d + d % 2,
        "n_rare": math.isqrt(d - 1) + 1,
        "tau": d ** (1 / 5),
        "mu": d ** (-1 / 5),
        "rare_class": tuple(2 * ((i + 1) % N) for i in range(N)),
    }


def _fail(field: str, value, allowed: str) -> ValueError:
    return ValueError(f"DataConfig.{field} = {value!r} is out of range: {allowed}")


def _integer(field: str, value, allowed: str) -> int:
    # NumPy/JAX integer scalars and integral floats pass; bools and 2.7 do not (sim.checks).
    return checks.integer(f"DataConfig.{field}", value, allowed=allowed)


def _positive_real(field: str, value) -> float:
    return checks.real(f"DataConfig.{field}", value, low=0, closed=False)


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Data model of Section 3.2 for one simulation (hashable: usable as a static jit argument).

    Client ``i`` (0-indexed, ``0 <= i < N``) holds ``n`` main samples, half of class ``2i``
    (``x = +e_i - sum_{k<N, k!=i} q_k tau e_k + mu xi``) and half of class ``2i+1``
    (``x = -e_i - ...``), then ``n_rare`` samples of its rare class ``h_i = rare_class[i]``
    (``x = e_{h_i} + mu xi``), with ``q_k ~ Bernoulli(1/2)`` and ``xi ~ N(0, I_d)``.

    Fields left as ``None`` take the theorem scalings: ``N = max(2, round(d**(1/20)))``
    (the paper's ``N = Theta(d^{1/20})``; note ``d**(1/20) < 3`` for every ``d < 10**9``, so
    at any simulable ``d`` the scaling gives ``N = 2`` and ``N`` should be treated as a free
    parameter), ``n = d`` (``beta = 1``; rounded up to even so both classes get ``n/2``),
    ``n_rare = ceil(sqrt(d))`` (``alpha = 1/2``), ``tau = d**(1/5)``, ``mu = d**(-1/5)``,
    ``rare_class[i] = 2*((i+1) % N)``.

    Raises ``ValueError`` naming the field, the value and the allowed range.

    >>> cfg = DataConfig(d=64)
    >>> (cfg.N, cfg.n, cfg.n_rare, cfg.n_total, cfg.rare_class)
    (2, 64, 8, 72, (2, 0))
    >>> DataConfig(d=64, tau=1.0).scalings()["tau"]
    'by hand'
    """

    d: int
    N: int | None = None
    n: int | None = None
    n_rare: int | None = None
    tau: float | None = None
    mu: float | None = None
    rare_class: tuple[int, ...] | None = None

    def __post_init__(self):
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        by_hand = {name for name in _SCALING_FORMULAS if getattr(self, name) is not None}

        d = _integer("d", self.d, "d >= 1")
        if d <= 0:
            raise _fail("d", d, "must be >= 1")
        set_("d", d)

        if self.N is None:
            set_("N", _scaled(d)["N"])
        N = _integer("N", self.N, "N >= 2")
        if N < 2:
            raise _fail("N", N, "must be >= 2 (at least two clients)")
        set_("N", N)
        if 2 * N > d:
            origin = "by hand" if "N" in by_hand else f"from the scaling {_SCALING_FORMULAS['N']}"
            raise _fail(
                "N", N,
                f"the 2N = {2 * N} class coordinates must fit in d = {d} (need 2N <= d; "
                f"N was set {origin})",
            )

        if self.n is None:
            set_("n", _scaled(d)["n"])
        n = _integer("n", self.n, "even n >= 2")
        if n <= 0:
            raise _fail("n", n, "must be >= 2")
        if n % 2:
            raise _fail("n", n, "must be even: each client holds equal amounts (n/2) of its two classes")
        set_("n", n)

        if self.n_rare is None:
            set_("n_rare", _scaled(d)["n_rare"])
        n_rare = _integer("n_rare", self.n_rare, "n_rare >= 0")
        if n_rare < 0:
            raise _fail("n_rare", n_rare, "must be >= 0")
        set_("n_rare", n_rare)

        scaled = _scaled(d, N)
        set_("tau", _positive_real("tau", scaled["tau"] if self.tau is None else self.tau))
        set_("mu", _positive_real("mu", scaled["mu"] if self.mu is None else self.mu))

        if self.rare_class is None:
            set_("rare_class", scaled["rare_class"])
        rare = self.rare_class
        if isinstance(rare, (str, bytes)) or not hasattr(rare, "__len__"):
            raise _fail("rare_class", rare, f"must be a sequence of N = {N} class labels")
        rare = tuple(rare)
        if len(rare) != N:
            raise _fail("rare_class", rare, f"must have length N = {N}, got {len(rare)}")
        for i, h in enumerate(rare):
            h = _integer(f"rare_class[{i}]", h, f"0 <= h < 2N = {2 * N}")
            if not 0 <= h < 2 * N:
                raise _fail(f"rare_class[{i}]", h, f"must satisfy 0 <= h < 2N = {2 * N}")
            if h in (2 * i, 2 * i + 1):
                raise _fail(
                    f"rare_class[{i}]", h,
                    f"must not be one of client {i}'s own classes {{{2 * i}, {2 * i + 1}}}",
                )
        set_("rare_class", tuple(int(h) for h in rare))

    @property
    def n_total(self) -> int:
        """Samples per client: ``n`` main plus ``n_rare`` rare."""
        return self.n + self.n_rare

    def scalings(self) -> dict[str, str]:
        """For each scalable field, ``"scaling: <formula>"`` or ``"by hand"``.

        A value counts as coming from the scaling when it equals the scaling evaluated at this
        config's ``d`` (and ``N`` for ``rare_class``), whether it was left as ``None`` or typed
        in; so the answer survives ``dataclasses.replace`` (which re-passes every value).
        ``d`` itself is always given.
        """
        scaled = _scaled(self.d, self.N)
        return {
            name: f"scaling: {formula}" if getattr(self, name) == scaled[name] else "by hand"
            for name, formula in _SCALING_FORMULAS.items()
        }
