"""theory: the paper's statements as sympy claims, and symbolic facts derived from them.

Nothing numeric lives here (sympy only; JAX is imported lazily by `Claim.lambdify`).

Public surface:
  Claim            a claim: symbols, domains, hypotheses, statement, bounds, `lambdify()`.
  CLAIMS           read-only mapping id -> Claim (ids of DESIGN.md, plus toolkit-added ones).
  get_claim(id)    the claim, or ValueError naming the known ids.
  sensitivity_bound(id, variant="statement")
                   s = 1 - (lower bound on r_k), the sensitivity the proofs use (SPEC 1.4).
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

from theory.claims import Claim
from theory.derivations import Derivation, derivations
from theory.registry import CLAIMS, get_claim, sensitivity_bound

__all__ = ["Claim", "CLAIMS", "get_claim", "sensitivity_bound", "Derivation", "derivations"]
