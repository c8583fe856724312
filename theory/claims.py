"""A paper claim as a symbolic value: its symbols, domains, hypotheses and statement.

A `Claim` is data (sympy expressions) plus one operation, `Claim.lambdify`, which turns any of
its expressions into a pure JAX (or NumPy) function of keyword arguments named after the
claim's symbols, so bounds evaluate vectorised over parameter grids inside `jax.jit`:

    >>> from theory import get_claim
    >>> bound = get_claim("thm4.2-local").lambdify(backend="numpy")
    >>> round(float(bound(d=1e4, p=0.75)), 5)   # C defaults to 1
    0.99832
"""

from __future__ import annotations

import dataclasses
import inspect
import types
from typing import Any, Callable, Literal, Mapping

import sympy as sp

Kind = Literal["lower-bound", "comparison", "monotone", "identity", "order"]
KINDS: tuple[str, ...] = ("lower-bound", "comparison", "monotone", "identity", "order")
#: What a claim is about: a MIM or CL representability bound (Theorems 4.2, 4.3), the MIM vs CL
#: comparison (Theorem 4.4), connectivity (Corollary 4.5, Theorem 4.6, Eq. 1),
#: representability itself (Definition 4.1 and the corrected bound), or an experiment of
#: Section 5 (its Tables and Fig. 2b, compared on measured quantities).
FAMILIES: tuple[str, ...] = ("mim", "cl", "comparison", "connectivity", "representability", "experiment")
#: Which model a claim is about: a client's own model, DecL's, or FL's.
SCOPES: tuple[str, ...] = ("local", "decl", "fl")
#: The reading axes of Section 4 (the keys of a ledger record's ``reading``).
READINGS: tuple[str, ...] = ("mim", "cl", "decl", "sensitivity", "constants", "samples", "augmentation", "variant")
#: The verdict words of derivations and ledger records. ``vacuous``: the claim asserts nothing
#: there (a hypothesis fails, or its stated probability is <= 0); ``inconclusive``: the test
#: ran and could not decide.
VERDICTS: tuple[str, ...] = ("holds", "holds-trivially", "fails", "inconclusive", "vacuous")
BACKENDS: tuple[str, ...] = ("jax", "numpy")

# Unevaluated objects that have no numeric (lambdify-able) form.
_SYMBOLIC_ONLY = (sp.Sum, sp.Product, sp.Integral, sp.Derivative, sp.Indexed, sp.Limit)


def _free(expr: sp.Basic) -> set[sp.Symbol]:
    return {s for s in expr.free_symbols if isinstance(s, sp.Symbol)}


def _names(expr: sp.Basic) -> set[str]:
    return {s.name for s in _free(expr)}


@dataclasses.dataclass(frozen=True)
class Claim:
    """One statement of the paper (or one the toolkit adds), encoded symbolically.

    Attributes:
      id: stable identifier, e.g. ``"thm4.2-decl"`` (DESIGN.md).
      source: where it comes from, e.g. ``"Theorem 4.2 (DecL)"``.
      kind: ``"lower-bound"``, ``"comparison"``, ``"monotone"``, ``"identity"`` or ``"order"``.
      symbols: name -> sympy Symbol (with sympy assumptions) for every free symbol used.
      domains: name -> human-readable domain, e.g. ``"p in (0, 1) (mask ratio ...)"``.
      hypotheses: the domain hypotheses as sympy relations.
      statement: the claim as a sympy relation.
      readings: the reading axes the claim is evaluated under.
      bounds: for lower-bound claims, variant -> lower bound on ``r_k``; ``"statement"`` always,
        ``"proof"`` where the printed statement and its proof differ (CL DecL).
      terms: named sub-expressions the statement is built from (e.g. the sensitivities a
        comparison compares), so callers can evaluate each side or another variant.
      defaults: default values of the hidden O()-constants (``C``, ``C_M``, ``C_C``: 1).
      note: what the encoding assumes, in words.
      family: one of `FAMILIES`.
      scope: one of `SCOPES`, or None where the claim is not about one model.
      variant: the CL augmentation (``"similar"`` / ``"dissimilar"``) of a Theorem 4.3 claim.
      order: for lower-bound claims of Theorems 4.2/4.3, the stated ``Theta`` order of the
        sensitivity ``s = 1 - bound`` as an expression in ``d`` (Theorem 4.4: ``d^{-4/5}`` for MIM,
        ``d^{-3/5}`` for CL); its exponent is `order_exponent`.
      probability: the stated success probability (the proofs' concentration step, a union bound
        over the ``m`` client matrices the model is built from), or None.
    """

    id: str
    source: str
    kind: Kind
    symbols: Mapping[str, sp.Symbol]
    domains: Mapping[str, str]
    hypotheses: tuple[sp.Basic, ...]
    statement: sp.Basic
    readings: tuple[str, ...]
    bounds: Mapping[str, sp.Expr] = dataclasses.field(default_factory=dict)
    terms: Mapping[str, sp.Expr] = dataclasses.field(default_factory=dict)
    defaults: Mapping[str, float] = dataclasses.field(default_factory=dict)
    note: str = ""
    family: str = "representability"
    scope: str | None = None
    variant: str | None = None
    order: sp.Expr | None = None
    probability: sp.Expr | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"{self.id}: kind={self.kind!r} must be one of {KINDS}")
        if self.family not in FAMILIES:
            raise ValueError(f"{self.id}: family={self.family!r} must be one of {FAMILIES}")
        if self.scope is not None and self.scope not in SCOPES:
            raise ValueError(f"{self.id}: scope={self.scope!r} must be one of {SCOPES} or None")
        unknown = set(self.readings) - set(READINGS)
        if unknown:
            raise ValueError(f"{self.id}: readings {sorted(unknown)} must be among {READINGS}")
        if not isinstance(self.statement, sp.core.relational.Relational):
            raise ValueError(f"{self.id}: statement must be a sympy relation, got {type(self.statement).__name__}")
        if self.kind == "lower-bound" and "statement" not in self.bounds:
            raise ValueError(f"{self.id}: a lower-bound claim needs bounds['statement']")
        if set(self.domains) != set(self.symbols):
            raise ValueError(f"{self.id}: domains {sorted(self.domains)} must name exactly the symbols {sorted(self.symbols)}")
        used = set().union(
            _free(self.statement),
            *(_free(h) for h in self.hypotheses),
            *(_free(e) for e in (*self.bounds.values(), *self.terms.values())),
            *(_free(e) for e in (self.order, self.probability) if e is not None),
        )
        # Compared as sympy symbols, so a same-named symbol with other assumptions is caught.
        stray = used - set(self.symbols.values())
        if stray:
            raise ValueError(f"{self.id}: expressions use {sorted(map(str, stray))}, not in symbols (or with other assumptions)")
        if set(self.defaults) - set(self.symbols):
            raise ValueError(f"{self.id}: defaults name unknown symbols {sorted(set(self.defaults) - set(self.symbols))}")
        for name in ("symbols", "domains", "bounds", "terms", "defaults"):
            object.__setattr__(self, name, types.MappingProxyType(dict(getattr(self, name))))
        object.__setattr__(self, "hypotheses", tuple(self.hypotheses))
        object.__setattr__(self, "readings", tuple(self.readings))

    def expression(self, expr: str | sp.Basic | None = None) -> sp.Expr:
        """Resolve ``expr`` to a sympy expression of this claim.

        ``None``: ``bounds["statement"]`` for lower-bound claims, else the statement's
        ``lhs - rhs`` (positive / negative / zero exactly when a ``>`` / ``<`` / ``=`` claim
        holds). A string names an entry of ``bounds`` or ``terms``. A relation gives
        ``lhs - rhs``. Unevaluated derivatives and sums are evaluated (``doit``).
        """
        if expr is None:
            expr = self.bounds["statement"] if self.kind == "lower-bound" else self.statement
        elif isinstance(expr, str):
            if expr in self.bounds:
                expr = self.bounds[expr]
            elif expr in self.terms:
                expr = self.terms[expr]
            else:
                raise ValueError(
                    f"{self.id}: no bound or term named {expr!r}; bounds: {sorted(self.bounds)}, terms: {sorted(self.terms)}"
                )
        if isinstance(expr, sp.core.relational.Relational):
            expr = expr.lhs - expr.rhs
        return sp.sympify(expr).doit()

    def order_exponent(self) -> sp.Expr:
        """The exponent ``a`` of the stated order ``Theta(d^a)`` (sympy: ``lim log(order)/log d``)."""
        if self.order is None:
            raise ValueError(f"{self.id} states no order")
        d = self.symbols["d"]
        return sp.limit(sp.expand_log(sp.log(self.order), force=True) / sp.log(d), d, sp.oo)

    def lambdify(self, expr: str | sp.Basic | None = None, *, backend: str = "jax") -> Callable[..., Any]:
        """A pure function of keyword arguments named after the symbols ``expr`` involves.

        ``backend="jax"`` (default) gives a function that works under ``jax.jit`` and
        ``jax.vmap``; ``"numpy"`` a NumPy one. JAX is imported only when this is called with
        the JAX backend. Hidden constants (``C``, ``C_M``, ``C_C``) default to
        ``self.defaults``; every other symbol is a required keyword. Other symbols of the
        claim are accepted and ignored, so one parameter dict serves all of a claim's
        expressions. The function's
        ``symbols`` attribute lists the names it takes and ``expr`` the expression.

        Raises ValueError for an unknown backend or an expression without a numeric form;
        the returned function raises TypeError for a missing or unknown keyword.
        """
        if backend not in BACKENDS:
            raise ValueError(f"backend={backend!r} must be one of {BACKENDS}")
        expression = self.expression(expr)
        if expression.has(*_SYMBOLIC_ONLY):
            raise ValueError(f"{self.id}: {expression} has no numeric form (it contains an unevaluated sum/derivative)")
        names = tuple(sorted(_names(expression)))
        if set(names) - set(self.symbols):
            raise ValueError(f"{self.id}: expression uses {sorted(set(names) - set(self.symbols))}, not symbols of the claim")
        numeric = sp.lambdify([self.symbols[n] for n in names], expression, modules=backend)
        defaults = {n: self.defaults[n] for n in names if n in self.defaults}
        required = tuple(n for n in names if n not in defaults)
        claim_id, accepted = self.id, frozenset(self.symbols)

        def evaluate(**values):
            unknown = sorted(set(values) - accepted)
            if unknown:
                raise TypeError(f"{claim_id}: unknown argument(s) {unknown}; symbols of the claim: {sorted(accepted)}")
            missing = [n for n in required if n not in values]
            if missing:
                raise TypeError(
                    f"{claim_id}: missing value(s) for {missing}; this function takes {list(names)} "
                    f"(defaults {defaults}) for {expression}"
                )
            return numeric(*(values[n] if n in values else defaults[n] for n in names))

        evaluate.__name__ = f"{self.id.replace('-', '_').replace('.', '_')}_{backend}"
        evaluate.__doc__ = f"{self.id} ({self.source}): {expression}, arguments {list(names)}."
        evaluate.__signature__ = inspect.Signature(
            [
                inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=defaults.get(n, inspect.Parameter.empty))
                for n in names
            ]
        )
        evaluate.symbols = names
        evaluate.expr = expression
        return evaluate
