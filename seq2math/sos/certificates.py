"""Self-contained certificate files and their independent re-check.

A certificate file holds the system and V (exact rational terms, plus infix for people),
the check, and one entry per condition: either an exact SOS certificate (the polynomial
that is SOS, the ε weights subtracted from it, the monomial basis z and a rational Gram
matrix Q as strings "p/q") or ``"method": "z3"``. ``recheck`` rebuilds every condition from
the system and V alone, so a certificate cannot vouch for a different polynomial.

Example (one condition, readable as JSON)::

    {"name": "decrease", "method": "sos-exact", "polynomial": [[[2, 0], "2"], [[0, 4], "2"]],
     "basis": [[1, 0], [0, 2]], "gram": [["2", "0"], ["0", "2"]]}

A sparse solve (``seq2math.sos.sparsity``) writes ``"blocks": [{"basis": …, "gram": …}, …]`` instead
of one basis and Gram matrix: the polynomial is the sum of the blocks' zᵀQz, each block ⪰ 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import flint

from seq2math.sos import exact as X
from seq2math.sos.prover import Verdict, find_point
from seq2math.symbolic.expr import from_poly, system_to_infix, to_infix
from seq2math.symbolic.poly import Poly, in_ring, lie_derivative, ring
from seq2math.symbolic.polytools import exact_value

REQUIRED = {"lyapunov": ("positive", "decrease"), "barrier": ("positive", "decrease")}


def _terms(p: Poly) -> list[list]:
    return X.poly_to_json(dict(zip(map(tuple, p.monoms()), p.coeffs())))


def certificate_document(system: list[Poly], V: Poly, check: str, conditions: list[dict]) -> dict:

    return {"check": check, "nvars": len(system), "system": [_terms(f) for f in system], "V": _terms(V),
            "system_infix": system_to_infix([from_poly(f) for f in system]), "V_infix": to_infix(from_poly(V)),
            "conditions": conditions}


def save(path: str | Path, document: dict) -> Path:
    return X.save_certificate(path, document)


def load(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())


def _condition_polynomial(name: str, system: list[Poly], V: Poly) -> tuple[dict, bool]:
    """(exact polynomial that must be ≥ 0, whether it must dominate Σ ε x^(2k))."""
    p = V if name == "positive" else -lie_derivative(V, system)
    return dict(zip(map(tuple, p.monoms()), p.coeffs())), name == "asymptotic"


def recheck(document: dict) -> tuple[bool, str]:
    """Prove the certificate again from scratch (exact arithmetic, z3 for z3 entries)."""
    check, n = document["check"], int(document["nvars"])
    if check not in REQUIRED:
        return False, f"unknown check {check!r}"
    R = ring(n)
    system = [R.from_dict(X.poly_from_json(f)) for f in document["system"]]
    V = R.from_dict(X.poly_from_json(document["V"]))
    if check == "lyapunov" and exact_value(V, (flint.fmpq(0),) * n) != 0:
        return False, "V(0) is not 0"
    if check == "barrier" and V.total_degree() <= 0:
        return False, "V is a constant, which meets the barrier conditions for every system (docs/verification.md)"
    parts = {c["name"]: c for c in document["conditions"]}
    for name in REQUIRED[check]:
        if name not in parts:
            return False, f"no certificate for condition {name!r}"
        ok, why = _recheck_condition(parts[name], system, V, definite=(name == "positive" and check == "lyapunov"))
        if not ok:
            return False, f"{name}: {why}"
    return True, "every condition re-proved exactly"


def _recheck_condition(part: dict, system: list[Poly], V: Poly, definite: bool) -> tuple[bool, str]:
    p, _ = _condition_polynomial(part["name"], system, V)
    n = len(system)
    if part["method"] == "z3":
        if definite:
            return False, "z3 cannot certify a definite (proper) condition"
        poly = in_ring(ring(n).from_dict(p), n)
        answer = find_point(poly, strict=True, nonzero=False, timeout=30.0)
        return answer.verdict is Verdict.PROVED, answer.detail
    if part["method"] != "sos-exact":
        return False, f"unknown method {part['method']!r}"
    totals = {i: flint.fmpq(0) for i in range(n)}
    for key, value in (part.get("epsilon") or {}).items():
        var, _, power = key.partition("^")
        i, e, eps = int(var[1:]), int(power), X._parse_q(value)
        if eps < 0 or e < 2 or e % 2:
            return False, f"bad epsilon term {key} = {value}"
        exps = tuple(e if j == i else 0 for j in range(n))
        p[exps] = p.get(exps, flint.fmpq(0)) - eps
        totals[i] += eps
    if definite and any(t <= 0 for t in totals.values()):
        return False, "the subtracted term sum eps x^2k is not positive definite"
    p = {k: v for k, v in p.items() if v != 0}
    if X.poly_from_json(part["polynomial"]) != p:
        return False, "the certified polynomial is not the one the system and V give"
    if "blocks" in part:                                  # a block-diagonal Gram matrix (seq2math.sos.sparsity)
        return X.verify_blocks(p, X.gram_parts(part))
    basis, gram = X.gram_from_json(part)
    if not len(basis):
        return (not p), ("zero polynomial" if not p else "empty basis for a nonzero polynomial")
    return X.verify_gram(p, basis, gram)
