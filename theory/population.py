"""Population (``n -> infinity``) representability of every alignment reading, derived with sympy.

reading 6 calls the exact expected matrix the ``population`` reading: a failure that
persists there is intrinsic to the objective, not a finite-sample effect. The population
second moment of the paper's data model (Section 3.2, Section 3.2) is block-structured, so the
top-``c`` eigenspace of each client matrix (Section 3.3) has a closed form for general ``N``.

Derivation, step by step (each step is code below; symbols in `SYMBOLS`):

1. *Entries of E[S]* (`population_entries`). Client ``i`` holds main samples (fraction
   ``w = n/n_total``) ``x = s e_i - tau sum_{k in K} q_k e_k + mu xi`` with ``s = +-1`` equally
   often (exactly ``n/2`` of each class), ``q_k ~ Bernoulli(1/2)``, ``K = [N] \\ {i}``, and rare
   samples (fraction ``rho = n_rare/n_total``, ``w + rho = 1``) ``x = e_h + mu xi``. sympy.stats
   (`population_entries`) takes the expectations: ``E[x_k^2] = w (tau^2/2 + mu^2) + rho mu^2`` (the paper writes
   ``tau^2``), ``E[x_k x_l] = w tau^2/4`` (the paper treats it as 0), ``E[x_i^2] = w (1 + mu^2)
   + rho mu^2``, and every cross moment between the own, other-class, rare and noise
   coordinates is 0 (``E[s] = 0``, ``E[xi] = 0``).
2. *Block form.* So ``E[S]`` is block diagonal: on the class block ``B`` (``K`` locally, all of
   ``[N]`` for FL, dimension ``m``) it is ``a I_m + b J_m`` (``J`` all-ones); elsewhere diagonal.
   FL (FedAvg's global model, Eq. 1 with equal weights) minimises the mean loss, i.e. uses the
   mean over clients: coordinate ``k`` is the own coordinate of one client and an other-class
   coordinate of ``N - 1``, and a pair ``k != l`` is other-class for ``N - 2`` clients, so
   ``a + b = (E_own + (N-1) E_kk)/N``, ``b = (2 E_ik + (N-2) E_kl)/N``.
3. *Client matrices* (Section 3.3): ``cl-similar`` ``X = E[S]``; ``mim-surrogate`` (Eq. 17)
   ``X = 2p(1-p) diag E[S]``; ``mim-alignment`` (Eq. 4 exactly) ``X = p(1-p)(E[S] - diag E[S])``,
   i.e. ``p(1-p) b (J_m - I_m)`` on ``B`` and 0 elsewhere; ``mim-reconstruction`` (Eq. 3) the
   reduced-rank regression with ``Sigma_uu = (1-p)^2 S + p(1-p) diag S``,
   ``Sigma_vu = p(1-p)(S - diag S)``. All keep the form ``a' I + b' J`` on ``B``.
4. *Spectrum of a I_m + b J_m*: ``a + m b`` on ``1_m`` (multiplicity 1; ``(e_k^T 1_m)^2 / m =
   1/m`` per block coordinate) and ``a`` on ``1_m^perp`` (multiplicity ``m - 1``; weight
   ``(m-1)/m``). The other coordinates are axis eigenvectors with weight 0 on ``B``; the noise
   coordinates form a degenerate *bulk*. For Eq. 3 the two ``B``-matrices commute, so the
   regression matrix ``Sigma_vu Sigma_uu^{-1} Sigma_uv`` has eigenvalue ``lam_vu^2 / lam_uu``
   on each family and 0 off ``B``; the encoder row space is ``Sigma_uu^{-1}`` of its top-``c``
   part, i.e. the families with nonzero ``lam_vu``.
5. *Top-c selection.* A family above the bulk is in the top-``c`` eigenspace when all
   families above the bulk fit (``sum of their multiplicities <= c``, implied by the paper's
   ``c >= 2N``); one below the bulk is out when ``c <= d - (multiplicity below the bulk)``; one
   tied with the bulk is *ambiguous* (the eigenspace is not unique). Then
   ``r_k = sum of the weights of the selected families`` for every ``k in B``.
6. *Assumption A.5* (``rank W = c``): the alignment-type minimiser ``W^T W = X`` restricted to
   the top-``c`` eigenpairs keeps only positive eigenvalues, so it needs ``c`` of them (for
   Eq. 3: ``c`` nonzero eigenvalues of the regression matrix). `PopulationLimit.r_minimiser` is
   the representability of that minimiser's row space (0 when ``W = 0``); `r_top_c` that of the
   top-``c`` eigenspace a solver returns (``nan`` where it is not unique on ``B``).

``cl-dissimilar`` is left out: its matrix ``(H S + S H^T)/2`` depends on the transform ``H``
(reading 8 draws one per trial), so it has no ``H``-free population limit; at ``H = I`` it
is ``cl-similar``.

Decisions that depend on ``N`` are made at ``N = 2`` and for ``N >= 3`` (as ``N = 3 + M``,
``M >= 0``); the result is a ``Piecewise`` in ``N``, or a number when ``N`` is given.

Rare coordinate placement: the explicit spectrum puts ``h`` on a noise coordinate. If ``h`` is
an other-class coordinate (the default ``rare_class`` does this for some clients) the rare
term adds ``rho e_h e_h^T`` (or ``rho/N``) to one diagonal entry of the block: Eq. 4 and
``Sigma_vu`` drop the diagonal, so they are unchanged; for ``cl-similar`` and the surrogate a
positive semidefinite addition keeps every block eigenvalue above the bulk (Weyl), so ``r_k = 1``
stands; for Eq. 3 ``Sigma_uu`` still maps ``B`` to itself, so the row space is unchanged. The
numeric tests check this at the default placement.

Example:

    >>> lim = population_limit("mim-alignment", "local", N=4)
    >>> lim.r_minimiser, lim.positive_eigenvalues
    (1/3, 1)
"""

from __future__ import annotations

import dataclasses
import functools

import sympy as sp

READINGS = ("mim-surrogate", "mim-alignment", "mim-reconstruction", "cl-similar")
SCOPES = ("local", "fl")

N = sp.Symbol("N", positive=True, integer=True)
tau, mu = sp.symbols("tau mu", positive=True)
w, rho = sp.symbols("w rho", positive=True)  # n/n_total and n_rare/n_total, w + rho = 1
p = sp.Symbol("p", positive=True)  # mask ratio, 0 < p < 1
c, d = sp.symbols("c d", positive=True, integer=True)
SYMBOLS = {"N": N, "tau": tau, "mu": mu, "w": w, "rho": rho, "p": p, "c": c, "d": d}

# 1 - p as its own positive symbol while signs are decided (sympy cannot assume p < 1).
_p_vis = sp.Symbol("p_vis", positive=True)
_M = sp.Symbol("M", nonnegative=True, integer=True)  # N = 3 + M


def _expect(expr, moments) -> sp.Expr:
    """``E[expr]`` for a polynomial in independent variables with the given moment rules."""
    poly = sp.Poly(sp.expand(expr), *moments)
    return sp.expand(sum(
        coeff * sp.Mul(*(moments[v](k) for v, k in zip(moments, powers)))
        for powers, coeff in poly.terms()
    ))


@functools.lru_cache(maxsize=None)
def population_entries() -> dict[str, sp.Expr]:
    """Entries of one client's ``E[S]`` by entry type, taken by sympy from the data model.

    The variables are independent: the class sign ``s = +-1`` (equal class sizes, so
    ``E[s^k] = 1`` for even ``k``, 0 for odd), ``q ~ Bernoulli(1/2)`` (``E[q^k] = 1/2``,
    ``k >= 1``), ``xi ~ N(0, 1)`` (``E[xi^k] = (k-1)!!`` for even ``k``, 0 for odd).

    Keys: ``own`` (``E[x_i^2]``), ``class_diag`` (``E[x_k^2]``, ``k in K``), ``class_off``
    (``E[x_k x_l]``), ``own_class``, ``class_noise``, ``own_noise``, ``noise_diag``,
    ``noise_off``, ``rare`` (``E[x_h^2]``, ``h`` on a noise coordinate), ``rare_class``,
    ``rare_noise``.

    >>> population_entries()["class_diag"]
    mu**2*rho + mu**2*w + tau**2*w/2
    """
    s, q_k, q_l = sp.symbols("s q_k q_l")
    xi = sp.symbols("xi0:6")
    moments = {s: lambda k: 1 - k % 2, q_k: lambda k: sp.Rational(1, 2) if k else 1,
               q_l: lambda k: sp.Rational(1, 2) if k else 1}
    moments.update({x: (lambda k: sp.factorial2(k - 1) if k % 2 == 0 else 0) for x in xi})
    # Coordinates: own, other-class k, other-class l, noise, noise', rare.
    main = [s + mu * xi[0], -tau * q_k + mu * xi[1], -tau * q_l + mu * xi[2],
            mu * xi[3], mu * xi[4], mu * xi[5]]
    rare = [mu * xi[0], mu * xi[1], mu * xi[2], mu * xi[3], mu * xi[4], 1 + mu * xi[5]]
    pairs = {"own": (0, 0), "class_diag": (1, 1), "class_off": (1, 2), "own_class": (0, 1),
             "class_noise": (1, 3), "own_noise": (0, 3), "noise_diag": (3, 3), "noise_off": (3, 4),
             "rare": (5, 5), "rare_class": (1, 5), "rare_noise": (3, 5)}
    return {
        name: _expect(w * main[a] * main[b] + rho * rare[a] * rare[b], moments)
        for name, (a, b) in pairs.items()
    }


@dataclasses.dataclass(frozen=True)
class PopulationLimit:
    """Population representability of one reading and scope (module docstring, steps 1-6).

    ``r_minimiser``: ``r_k`` on every class-block coordinate (``[N] \\ {i}`` local, ``[N]`` FL) of
    the minimiser's row space (0 when ``W = 0``). ``r_top_c``: the same for the top-``c``
    eigenspace a solver returns (``nan`` where that is not unique on the block).
    ``positive_eigenvalues``: how many eigenvalues of ``X`` are positive (Eq. 3: nonzero
    eigenvalues of the regression matrix); ``a5``: Assumption A.5, ``positive_eigenvalues >= c``.
    ``spectrum``: ``(family, eigenvalue, multiplicity, weight on a block coordinate)``.
    ``conditions``: what the selection assumed about ``c`` and ``d`` (``c >= #above-bulk`` is
    implied by ``c >= 2N``; ``c <= d - #below-bulk`` keeps negative families out).
    """

    reading: str
    scope: str
    N: sp.Expr
    r_minimiser: sp.Expr
    r_top_c: sp.Expr
    positive_eigenvalues: sp.Expr
    a5: sp.Basic
    spectrum: tuple
    conditions: tuple[str, ...]


def _sign(expr) -> int:
    # Cheap forms first: most signs are read off a cancelled or factored form.
    for form in (sp.cancel, sp.factor, sp.simplify):
        expr = form(expr)
        if expr.is_zero:
            return 0
        if expr.is_positive:
            return 1
        if expr.is_negative:
            return -1
    raise ValueError(f"cannot decide the sign of {expr} from the symbols' assumptions")


def _block_form(scope: str, n_clients):
    """``(a, b, m, scalars, bulk)`` of ``E[S]``: ``a I_m + b J_m`` on the class block, the
    non-block non-bulk coordinates as ``(name, value, multiplicity)``, the bulk value."""
    E = population_entries()
    if scope == "local":
        b = E["class_off"]
        scalars = [("own", E["own"], 1), ("rare", E["rare"], 1)]
        m = n_clients - 1
    else:
        # Mean over clients (step 2); client j's rare samples sit on their own noise coordinate.
        b = (2 * E["own_class"] + (n_clients - 2) * E["class_off"]) / n_clients
        diag = (E["own"] + (n_clients - 1) * E["class_diag"]) / n_clients
        rare = E["noise_diag"] + (E["rare"] - E["noise_diag"]) / n_clients
        scalars = [("rare", rare, n_clients)]
        m = n_clients
        return diag - b, b, m, scalars, E["noise_diag"]
    return E["class_diag"] - b, b, m, scalars, E["noise_diag"]


def _families(a, b, m, scalars, bulk):
    fams = [("uniform", a + m * b, 1, 1 / sp.sympify(m))]
    if m > 1:
        fams.append(("contrast", a, m - 1, (m - sp.Integer(1)) / m))
    fams += [(name, value, mult, sp.Integer(0)) for name, value, mult in scalars]
    return fams, bulk


def _reading_spectrum(reading: str, a, b, m, scalars, bulk):
    """Families of the client matrix (or of Eq. 3's regression matrix) and the bulk value."""
    pq = p * _p_vis
    if reading == "cl-similar":
        return _families(a, b, m, scalars, bulk)
    if reading == "mim-surrogate":
        return _families(2 * pq * (a + b), 0, m, [(n, 2 * pq * v, k) for n, v, k in scalars], 2 * pq * bulk)
    if reading == "mim-alignment":
        return _families(-pq * b, pq * b, m, [(n, sp.Integer(0), k) for n, _, k in scalars], sp.Integer(0))
    # Eq. 3: Sigma_uu and Sigma_vu share the block eigenvectors (step 4).
    uu, _ = _families(_p_vis**2 * a + pq * (a + b), _p_vis**2 * b, m, [], 0)
    vu, _ = _families(-pq * b, pq * b, m, [], 0)
    fams = [(name, l_vu**2 / l_uu, mult, weight) for (name, l_uu, mult, weight), (_, l_vu, _, _) in zip(uu, vu)]
    return fams + [(name, sp.Integer(0), mult, sp.Integer(0)) for name, _, mult in scalars], sp.Integer(0)


def _limit_at(reading: str, scope: str, n_clients):
    """The limit for one concrete ``N`` (an integer, or ``3 + M``)."""
    a, b, m, scalars, bulk = _block_form(scope, n_clients)
    fams, bulk = _reading_spectrum(reading, a, b, m, scalars, bulk)
    sub = {_p_vis: 1 - p}
    bulk_mult = d - sum(mult for _, _, mult, _ in fams)
    above, below, tied = [], [], []
    for fam in fams:
        if fam[2] == 0:
            continue
        {1: above, -1: below, 0: tied}[_sign(fam[1] - bulk)].append(fam)
    n_above = sum(f[2] for f in above)
    n_below = sum(f[2] for f in below)
    # Relationals in c (step 5); the first is implied by the paper's c >= 2N, checked here.
    conditions = []
    if above:
        conditions.append((">=", n_above))
        if _sign(2 * n_clients - n_above) < 0:
            raise ValueError(f"{reading}/{scope}: {n_above} eigenvalues above the bulk exceed 2N")
    if below:
        conditions.append(("<=", d - n_below))
    positive = sum((f[2] for f in fams if _sign(f[1]) > 0), sp.Integer(0))
    if _sign(bulk) > 0:
        positive += bulk_mult
    ambiguous = any(f[3] != 0 for f in tied)
    r_top = sum((f[3] for f in above), sp.Integer(0))
    if reading == "mim-reconstruction":
        # The null part of the top-c is completed orthogonally to the selected columns: on the
        # block it is determined only when the selected families cover the block.
        ambiguous = sp.cancel(r_top - 1) != 0
    r_min = sum((f[3] for f in above if _sign(f[1]) > 0), sp.Integer(0))
    spectrum = tuple((name, sp.factor(value.subs(sub)), mult, weight) for name, value, mult, weight in fams)
    spectrum += (("bulk", sp.factor(bulk.subs(sub)), sp.expand(bulk_mult), sp.Integer(0)),)
    return (sp.cancel(r_min), sp.nan if ambiguous else sp.cancel(r_top), sp.expand(positive),
            spectrum, tuple(conditions))


@functools.lru_cache(maxsize=None)
def population_limit(reading: str, scope: str, *, N: int | None = None) -> PopulationLimit:
    """Population ``r_k`` on the class block for ``reading`` in {`READINGS`}, ``scope`` "local"
    (client ``i``'s own matrix, block ``[N] \\ {i}``) or "fl" (mean over clients, block ``[N]``).

    ``N=None`` gives ``Piecewise`` expressions in the symbol ``N`` (``N = 2`` and ``N >= 3``
    differ); an integer ``N >= 2`` gives numbers (``spectrum`` then holds that ``N``'s values).

    >>> population_limit("mim-alignment", "fl").r_minimiser
    Piecewise((1/N, N >= 3), (0, True))
    >>> population_limit("cl-similar", "local", N=3).a5
    d >= c
    """
    if reading not in READINGS:
        raise ValueError(f"reading = {reading!r} is unknown; choose one of {READINGS}")
    if scope not in SCOPES:
        raise ValueError(f"scope = {scope!r} is unknown; choose one of {SCOPES}")
    if N is not None:
        if isinstance(N, bool) or not isinstance(N, int) or N < 2:
            raise ValueError(f"N = {N!r} is out of range: need an integer N >= 2 (or None for symbolic N)")
        r_min, r_top, positive, spectrum, conditions = _limit_at(reading, scope, sp.Integer(N))
        return PopulationLimit(reading, scope, sp.Integer(N), r_min, r_top, positive,
                               sp.Ge(positive, c), spectrum, tuple(f"c {op} {rhs}" for op, rhs in conditions))
    two = _limit_at(reading, scope, sp.Integer(2))
    many = _limit_at(reading, scope, 3 + _M)
    N_sym = SYMBOLS["N"]
    back = {_M: N_sym - 3}

    def piece(k):
        general = sp.cancel(sp.sympify(many[k]).subs(back))
        if general == two[k]:
            return general
        return sp.Piecewise((general, sp.Ge(N_sym, 3)), (two[k], True))

    positive = piece(2)
    conditions = tuple(f"N >= 3: c {op} {sp.expand(sp.sympify(rhs).subs(back))}" for op, rhs in many[4]) + tuple(
        f"N = 2: c {op} {rhs}" for op, rhs in two[4])
    spectrum = tuple((name, sp.factor(sp.sympify(v).subs(back)), sp.expand(sp.sympify(k).subs(back)),
                      sp.cancel(sp.sympify(wt).subs(back))) for name, v, k, wt in many[3])
    return PopulationLimit(reading, scope, N_sym, piece(0), piece(1), positive,
                           sp.Ge(positive, c), spectrum, conditions)
