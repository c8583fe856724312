"""Property tests of the bound formulas over their whole domains (hypothesis, float64 NumPy).

Domains: p in [1e-6, 1 - 1e-6] (the formulas are exact in (0, 1); the margin keeps 2p(1-p)
out of the subnormal range, where float64 rounds the signal term to 0 and strict
inequalities degenerate to equalities), d in [1, 1e9], N in [2, 1000], A_bar in [2, N].
Deterministic formula checks: no false-alarm rate.
"""

import math

import numpy as np
import sympy as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from theory import derivations, get_claim

SETTINGS = settings(deadline=None, max_examples=100, derandomize=True)  # fixed examples: never fails by chance
mask_ratio = st.floats(1e-6, 1 - 1e-6)
dimension = st.floats(1.0, 1e9)
clients = st.integers(2, 1000)
fraction = st.floats(0.0, 1.0)
trace = st.floats(1e-3, 1e3)

STATEMENT_IDS = (
    "thm4.2-local", "thm4.2-decl", "thm4.2-fl",
    "thm4.3-local-similar", "thm4.3-decl-similar", "thm4.3-fl-similar",
    "thm4.3-local-dissimilar", "thm4.3-decl-dissimilar", "thm4.3-fl-dissimilar",
)  # fmt: skip
BOUNDS = {i: get_claim(i).lambdify(backend="numpy") for i in STATEMENT_IDS}
PROOF = {a: get_claim(f"thm4.3-decl-{a}").lambdify("proof", backend="numpy") for a in ("similar", "dissimilar")}
COR = get_claim("cor4.5")
DERIVATIVES = {name: COR.lambdify(sp.diff(COR.terms[name], COR.symbols["A_bar"]), backend="numpy") for name in COR.terms}
SENSITIVITY = {
    name: COR.lambdify(name, backend="numpy") for name in ("s_M", "s_C_similar", "s_C_dissimilar", "s_C_similar_proof")
}
THM46 = get_claim("thm4.6")
DEC_FED = {
    family: (THM46.lambdify(f"{family}_decl", backend="numpy"), THM46.lambdify(f"{family}_fl", backend="numpy"))
    for family in ("s_M", "s_C_similar", "s_C_dissimilar")
}
CMP = get_claim("thm4.4-decl")
CMP_FL = get_claim("thm4.4-fl")
S_M, S_C = CMP.lambdify("s_M", backend="numpy"), CMP.lambdify("s_C_similar", backend="numpy")
S_M_FL, S_C_FL = CMP_FL.lambdify("s_M", backend="numpy"), CMP_FL.lambdify("s_C_similar", backend="numpy")
_by_name = {x.name: x for x in derivations()}
# d* of the DecL threshold, lambdified from the derivation's sympy result (unit constants by default).
D_STAR = CMP.lambdify(_by_name["thm4.4-decl threshold d* (similar)"].result, backend="numpy")
# Where the proof-sign bound enters [0, 1]: the second edge of the range derivation.
PROOF_EDGE = {
    a: get_claim(f"thm4.3-decl-{a}").lambdify(_by_name[f"thm4.3-decl-{a} bound in [0, 1] (proof)"].result[1], backend="numpy")
    for a in ("similar", "dissimilar")
}


def _params(p, d, n, a_fraction, tr_h):
    a_bar = 2.0 + a_fraction * (n - 2)
    return {"p": p, "d": d, "N": float(n), "A_bar": a_bar, "tr_H": tr_h}


def _call(f, params):
    return float(f(**{k: v for k, v in params.items() if k in f.symbols}))


@SETTINGS
@given(mask_ratio, dimension, clients, fraction, trace)
def test_statement_bounds_lie_in_unit_interval(p, d, n, a_fraction, tr_h):
    params = _params(p, d, n, a_fraction, tr_h)
    for claim_id, f in BOUNDS.items():
        value = _call(f, params)
        assert 0.0 <= value <= 1.0, (claim_id, params, value)


@SETTINGS
@given(dimension, clients, fraction, trace)
def test_proof_bound_lies_in_unit_interval_above_its_edge(d, n, a_fraction, tr_h):
    params = _params(0.5, d, n, a_fraction, tr_h)
    for augmentation, f in PROOF.items():
        edge = _call(PROOF_EDGE[augmentation], params)
        # At the edge itself the proof's denominator is 0 (a pole): only either side is asserted.
        if d >= edge * (1 + 1e-9):
            value = _call(f, params)
            assert 0.0 <= value <= 1.0, (augmentation, params, value)
        elif d <= edge * (1 - 1e-9):
            value = _call(f, params)
            assert not 0.0 <= value <= 1.0, (augmentation, params, value)


@SETTINGS
@given(mask_ratio, dimension, clients, fraction, trace)
def test_decl_sensitivity_decreases_with_connectivity(p, d, n, a_fraction, tr_h):
    params = _params(p, d, n, a_fraction, tr_h)
    for name, derivative in DERIVATIVES.items():
        if name.endswith("_proof"):
            continue  # negative too, but only meaningful above the validity edge: tested below
        assert _call(derivative, params) < 0, (name, params)
    for name, s in SENSITIVITY.items():
        if name.endswith("_proof"):
            continue
        larger = {**params, "A_bar": params["A_bar"] + 1.0}
        assert _call(s, larger) <= _call(s, params), (name, params)


@SETTINGS
@given(dimension, clients, fraction)
def test_proof_sign_sensitivity_decreases_with_connectivity_where_valid(d, n, a_fraction):
    params = _params(0.5, d, n, a_fraction, 1.0)
    assume(d >= _call(PROOF_EDGE["similar"], params) * (1 + 1e-9))
    assert _call(DERIVATIVES["s_C_similar_proof"], params) < 0


@SETTINGS
@given(mask_ratio, dimension, clients, fraction, trace)
def test_decl_sensitivity_is_at_least_fl(p, d, n, a_fraction, tr_h):
    params = _params(p, d, n, a_fraction, tr_h)
    for family, (decl, fl) in DEC_FED.items():
        s_dec, s_fed = _call(decl, params), _call(fl, params)
        assert s_dec >= s_fed * (1 - 1e-12), (family, params)
    full = {**params, "A_bar": float(n)}
    for family, (decl, fl) in DEC_FED.items():
        assert math.isclose(_call(decl, full), _call(fl, full), rel_tol=1e-12), family


@SETTINGS
@given(st.floats(0.05, 0.95), dimension, clients, fraction)
def test_cl_above_mim_iff_d_above_threshold(p, d, n, a_fraction):
    params = _params(p, d, n, a_fraction, 1.0)
    d_star = _call(D_STAR, params)
    assert math.isclose(d_star, (2 * p * (1 - p)) ** -5, rel_tol=1e-12)
    assume(abs(d - d_star) > 1e-6 * d_star)
    assert (_call(S_C, params) > _call(S_M, params)) == (d > d_star), params
    assert (_call(S_C_FL, params) > _call(S_M_FL, params)) == (d > d_star), params


@SETTINGS
@given(mask_ratio, dimension, clients, fraction)
def test_mim_bound_symmetric_in_p(p, d, n, a_fraction):
    params = _params(p, d, n, a_fraction, 1.0)
    mirrored = {**params, "p": 1 - p}
    for claim_id in ("thm4.2-local", "thm4.2-decl", "thm4.2-fl"):
        f = BOUNDS[claim_id]
        assert math.isclose(_call(f, params), _call(f, mirrored), rel_tol=1e-9)
        assert _call(f, {**params, "p": 0.5}) >= _call(f, params) * (1 - 1e-12)


def test_threshold_values_quoted_by_the_spec():
    assert np.isclose(_call(D_STAR, {"p": 0.75}), 134.8477366255144, rtol=1e-12)
    assert np.isclose(_call(D_STAR, {"p": 0.5}), 32.0, rtol=1e-12)
