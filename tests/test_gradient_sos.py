"""Gradient-form SOS (``seq2math.sos.gradient``): −V̇ as a Gram form in the polynomials x^m·∂ₖV."""

from __future__ import annotations

import time

import pytest

from seq2math.lyapunov.batch import parse_problem
from seq2math.lyapunov.check import as_polynomials, check_candidate
from seq2math.sos import certificates as C
from seq2math.sos import exact as X
from seq2math.sos.gradient import gradient_certificate, multiplier_degrees
from seq2math.symbolic.poly import lie_derivative, ring
from seq2math.tokens.infix import parse_infix

BPOLY = "tests/data/lyapunov-bpoly-test200.txt"


def _gradient_system(V, damping, rotation):
    """f = −diag(h_k²)∇V + c·(∂₁V, −∂₀V): the backward construction (docs/generation.md) in two variables."""
    g0, g1 = V.derivative(0), V.derivative(1)
    return [-damping[0] ** 2 * g0 + rotation * g1, -damping[1] ** 2 * g1 - rotation * g0]


def _poly(text):
    return as_polynomials([parse_infix("x0"), parse_infix("x1")], parse_infix(text))[1]


def test_a_degenerate_decrease_condition_gets_an_exact_gradient_certificate():
    V = _poly("x0^2 + 2*x1^4 + (x0 - x1)^2")
    zero = ring(2).from_dict({})
    system = _gradient_system(V, [_poly("1 + x1"), zero], _poly("x0"))   # only x0 damped: −V̇ vanishes on a curve
    p = -lie_derivative(V, system)
    found = gradient_certificate(p, V)
    assert found is not None and found["reduction"] == "gradient"
    basis, gram = X.gram_from_json(found)
    target = dict(zip(map(tuple, p.monoms()), p.coeffs()))
    assert X.verify_gram(target, basis, gram)[0]


def test_the_check_uses_it_and_the_certificate_rechecks(tmp_path):
    V = _poly("x0^2 + 2*x1^4 + (x0 - x1)^2")
    system = _gradient_system(V, [_poly("1 + x1"), ring(2).from_dict({})], _poly("x0 - 2*x1^2"))
    result = check_candidate(system, V, "lyapunov", certificate=True, use_z3=False)
    assert result.valid is True, result.reason
    part = next(c for c in result.certificate["conditions"] if c["name"] == "decrease")
    assert part["reduction"] == "gradient"
    document = C.certificate_document(system, V, "lyapunov", result.certificate["conditions"])
    assert C.recheck(C.load(C.save(tmp_path / "c.json", document)))[0] is True


def test_it_never_certifies_a_decrease_condition_that_fails():
    V = _poly("x0^2 + x1^2 + x0^4")
    system = [-g for g in _gradient_system(V, [_poly("1"), _poly("x0")], _poly("x1"))]   # f = +D∇V: V grows
    p = -lie_derivative(V, system)
    assert gradient_certificate(p, V) is None
    assert check_candidate(system, V, "lyapunov", use_z3=False).valid is False


def test_multiplier_degrees_match_the_degree_of_the_condition():
    V = _poly("x0^2 + x1^6")
    system = _gradient_system(V, [_poly("1 + x0^2"), _poly("x1")], ring(2).from_dict({}))
    p = -lie_derivative(V, system)
    assert 2 in multiplier_degrees(p, V)      # h₀ = 1 + x0² has degree 2


@pytest.mark.parametrize("line", [7, 14, 17])
def test_backward_pairs_that_timed_out_before_are_proved_in_seconds(line):
    """Three pairs of our BPoly-like test set that the check left undecided (facial reduction found no face, z3
    ran out of time) before the gradient stage existed."""
    with open(BPOLY) as handle:
        text = handle.read().splitlines()[line - 1]
    system, V = parse_problem(text, False)
    start = time.perf_counter()
    result = check_candidate(system, V, "lyapunov", timeout=30, certificate=True)
    assert result.valid is True, result.reason
    assert time.perf_counter() - start < 30
    polys = as_polynomials(system, V)
    document = C.certificate_document(polys[0], polys[1], "lyapunov", result.certificate["conditions"])
    assert C.recheck(document)[0]
