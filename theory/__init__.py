"""theory: the paper's statements as sympy claims, and symbolic facts derived from them.

Nothing numeric lives here (sympy only; JAX is imported lazily by `Claim.lambdify`).

Public surface:
  Claim            a claim: symbols, domains, hypotheses, statement, bounds, family, scope,
                   variant, order, stated probability, `lambdify()`, `order_exponent()`.
  READINGS         the reading axes (keys of a ledger record's ``reading``).
  Reading          one reading (axis, value), its meaning from `VOCABULARY` (or given, for a
                   value of one's own); ``Reading("mim", "alignment-exact")``.
  VOCABULARY       axis -> value -> meaning: every documented reading, written once.
  reading_key(*readings) / readings_of(mapping)
                   readings -> the ledger's ``{axis: value}`` mapping, and back.
  as_reading_mapping(reading)
                   that mapping from readings or from a mapping (keys checked): what a
                   record or a derivation stores.
  VERDICTS         the verdict words.
  CLAIMS           read-only mapping id -> Claim: the theorems, the toolkit-added claims and the
                   experiments of Section 5 (Tables 1, 5, 7, 8 and Fig. 2b).
  get_claim(id)    the claim (built-in or installed), or ValueError naming the known ids.
  installed_claims(), CLAIM_GROUP
                   claims installed packages add (entry points ``dssl_bounds.claims``).
  find_claim(family=, scope=, variant=)
                   the one claim with these structured fields (no id is ever parsed).
  claims_where(**fields)
                   every claim with these field values (a tuple; empty if none).
  threshold(id, augmentation)
                   Theorem 4.4's d* as a sympy expression (solved from the claim).
  sensitivity_bound(id, variant="statement")
                   s = 1 - (lower bound on r_k), the sensitivity the proofs use (Definition 4.1).
  Derivation       one symbolic fact (threshold, sign, limit, identity) with a verdict.
  derivations()    every derivation, computed by sympy once per process.
  population_limit(objective, scope, *, N=None) -> PopulationLimit
                   the population (``n -> oo``) ``r_k`` of an alignment objective, by sympy;
                   POPULATION_OBJECTIVES are the objectives it covers, POPULATION_SYMBOLS its
                   symbols (loaded on first use: sympy.stats is slow to import).

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
from theory.readings import VOCABULARY, Reading, as_reading_mapping, reading_key, readings_of
from theory.registry import CLAIM_GROUP, CLAIMS, claims_where, find_claim, get_claim, installed_claims, sensitivity_bound

# Loaded on first use (PEP 562): theory.population imports sympy.stats.
_POPULATION = {"population_limit": "population_limit", "PopulationLimit": "PopulationLimit",
               "POPULATION_OBJECTIVES": "READINGS", "POPULATION_SYMBOLS": "SYMBOLS"}


def __getattr__(name: str):
    if name in _POPULATION:
        from theory import population

        return getattr(population, _POPULATION[name])
    raise AttributeError(f"module 'theory' has no attribute {name!r}")


__all__ = [
    "READINGS", "VERDICTS", "VOCABULARY", "Claim", "CLAIMS",
    "Reading", "reading_key", "readings_of", "as_reading_mapping",
    "get_claim", "installed_claims", "CLAIM_GROUP", "find_claim", "claims_where", "sensitivity_bound", "threshold", "Derivation", "derivations",
    "population_limit", "PopulationLimit", "POPULATION_OBJECTIVES", "POPULATION_SYMBOLS",
]
