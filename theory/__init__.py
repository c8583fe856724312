"""theory: the paper's statements as sympy claims, and symbolic facts derived from them.

Nothing numeric lives here (sympy only; JAX is imported lazily by `Claim.lambdify`).

Public surface:
  Claim            a claim: symbols, domains, hypotheses, statement, bounds, family, scope,
                   variant, order, stated probability, `lambdify()`, `order_exponent()`.
  READINGS         the reading axes (keys of a ledger record's ``reading``).
  VERDICTS         the verdict words.
  CLAIMS           read-only mapping id -> Claim (ids of DESIGN.md, plus toolkit-added ones).
  get_claim(id)    the claim, or ValueError naming the known ids.
  find_claim(family=, scope=, variant=)
                   the claim with these structured fields (no id is ever parsed).
  threshold(id, augmentation)
                   Theorem 4.4's d* as a sympy expression (solved from the claim).
  sensitivity_bound(id, variant="statement")
                   s = 1 - (lower bound on r_k), the sensitivity the proofs use (Definition 4.1).
  Derivation       one symbolic fact (threshold, sign, limit, identity) with a verdict.
  derivations()    every derivation, computed by sympy once per process.

Example:

    >>> from theory import get_claim
    >>> claim = get_claim("thm4.3-decl-similar")
    >>> sorted(claim.bounds)
    ['proof', 'statement']
    >>> f = claim.lambdify("proof", backend="numpy")
    >>> f.symbols
    ('A_bar', 'C', 'd')
    >>> round(float(f(d=1e5, A_bar=5)), 4)
    0.9987
"""

from theory.claims import READINGS, VERDICTS, Claim
from theory.derivations import Derivation, derivations, threshold
from theory.registry import CLAIMS, find_claim, get_claim, sensitivity_bound

__all__ = ["READINGS", "VERDICTS", "Claim", "CLAIMS", "get_claim", "find_claim", "sensitivity_bound", "threshold", "Derivation", "derivations"]
