"""The cvc5 prover: global proofs, re-checked refutations, a hard time limit, honest unknowns."""

import time
from fractions import Fraction

import pytest

from seq2math.lyapunov.provers import smt
from seq2math.lyapunov.provers.enclosure import lie_derivative, point_value
from seq2math.symbolic.expr import Int, Unary, Var

pytestmark = pytest.mark.skipif(smt.cvc5 is None, reason="cvc5 not installed (the smt extra)")

x0, x1 = Var(0), Var(1)
V = x0**2 + x1**2


def test_proves_exponential_system_globally():
    system = [Int(-1) * x0, Int(-1) * x1 * Unary("exp", x0)]   # V̇ = −2x0² − 2x1²e^{x0}
    verdict = smt.prove(system, V, "lyapunov", time_limit=10)
    assert verdict.proved and verdict.is_global and "V proper" in verdict.detail


def test_proves_a_barrier_with_a_logarithm_after_its_domain_check():
    barrier = Unary("ln", Int(1) + x0**2) + x1**2                # ln needs 1 + x0² > 0: proved first
    verdict = smt.prove([Int(-1) * x0, Int(-1) * x1], barrier, "barrier", time_limit=10)
    assert verdict.proved and verdict.is_global


def test_refutes_an_unstable_system_with_a_rechecked_point():
    system = [x0, Int(-1) * Unary("sin", x1)]
    verdict = smt.prove(system, V, "lyapunov", time_limit=10)
    assert verdict.status == "refuted"
    point = [Fraction(c) for c in verdict.counterexample]
    assert point_value(lie_derivative(system, V), point) > 0


def test_refutes_an_indefinite_V():
    verdict = smt.prove([Int(-1) * x0, Int(-1) * x1], x0**2 - x1**2, "lyapunov", time_limit=10)
    point = [Fraction(c) for c in verdict.counterexample]
    assert verdict.status == "refuted" and any(point) and point[0] ** 2 - point[1] ** 2 <= 0


def test_respects_its_time_limit_and_says_unknown():
    system = [Int(-1) * Unary("sin", x0), Int(-1) * x1]         # false globally, too hard for cvc5 in 1 s
    start = time.monotonic()
    verdict = smt.prove(system, V, "lyapunov", time_limit=1.0)
    assert time.monotonic() - start < 3.0
    assert verdict.status == "unknown" and verdict.detail


def test_slow_growth_is_not_claimed_proper():
    slow = Unary("ln", Int(1) + x0**2) + x1**2                   # proper, but not ≥ ε(‖x‖² − 1)
    verdict = smt.prove([Int(-1) * x0, Int(-1) * x1], slow, "lyapunov", time_limit=2)
    assert verdict.status == "unknown" and "V proper" in verdict.detail


def test_without_cvc5_the_verdict_is_unknown(monkeypatch):
    monkeypatch.setattr(smt, "cvc5", None)
    verdict = smt.prove([Int(-1) * x0], x0**2, "lyapunov", time_limit=1)
    assert verdict.status == "unknown" and "cvc5 not installed" in verdict.detail
