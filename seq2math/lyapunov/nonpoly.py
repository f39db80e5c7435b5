"""Non-polynomial candidates: the numerical falsification that runs before the provers, never a proof.

V and V̇ = Σ ∂ᵢV·fᵢ are expression trees (exact symbolic derivatives, then float
evaluation), searched by the same ``falsify.find_violations`` as polynomial candidates.
A float violation is only a lead: floats lose V = ln(1 + 2x1⁶ + 4x0⁴) > 0 at x = (0, 10⁻³)
(1 + 2·10⁻¹⁸ rounds to 1) and the cancellations of V̇ = −∇Vᵀ G ∇V at |x| ~ 100. Each lead is
rounded to a 17-digit decimal point and re-evaluated there in arb ball arithmetic (128, then
1,024 bits; ``provers/enclosure.point_value``); ``valid=False`` is returned only when the
ball proves the violation, so the counterexample is exact. V(0) = 0 is decided the same way.
No counterexample found means ``valid=None`` with ``numerical`` saying what was searched
("no counterexample found (N points on spheres of radii 0.001 to 1000, ...)"): not a proof.
``check.py`` then runs the provers of ``seq2math.lyapunov.provers`` (docs/verification.md).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from seq2math.lyapunov.falsify import RADII, SignCondition, find_violations
from seq2math.lyapunov.outcomes import DECREASE, POSITIVE
from seq2math.lyapunov.provers.enclosure import decimal_strings, lie_derivative, point_value, violates
from seq2math.lyapunov.result import CheckResult
from seq2math.symbolic.calculus import evaluate
from seq2math.symbolic.expr import as_expr, from_poly
from seq2math.symbolic.poly import Poly

RELATIVE_MARGIN = 1e-9
#: precisions (bits) of the ball-arithmetic re-check of a float violation
RECHECK_BITS = (128, 1024)
#: denser than the polynomial check's search: nothing exact confirms or settles these candidates afterwards
SAMPLES, POLISHED = 400, 4


def check_numerically(system, V, check: str, rng: np.random.Generator):
    system = [from_poly(f) if isinstance(f, Poly) else f for f in system]
    V = from_poly(V) if isinstance(V, Poly) else V
    n = len(system)
    vdot = lie_derivative(system, V)
    definite = check == "lyapunov"
    if definite:
        at_zero = point_value(as_expr(V), [Fraction(0)] * n)
        if not at_zero.is_zero() and at_zero.is_finite() and not at_zero.contains(0):
            return CheckResult(False, check, f"V(0) = {_shown(at_zero)} is not 0 (ball arithmetic)",
                               "numerical counterexample", {"point": ["0"] * n, "value": _shown(at_zero),
                                                            "exact": True})
    v_fn = lambda X: evaluate(V, X)                                          # noqa: E731
    vdot_fn = lambda X: evaluate(vdot, X)                                    # noqa: E731
    conditions = [
        SignCondition(POSITIVE, v_fn, lambda X: np.abs(v_fn(X)) + RELATIVE_MARGIN + (1.0 if definite else 0.0),
                      definite=definite),
        SignCondition(DECREASE, lambda X: -vdot_fn(X), lambda X: np.abs(vdot_fn(X)) + 1.0),
    ]
    exact = {POSITIVE: as_expr(V), DECREASE: as_expr(vdot)}
    leads = 0
    for name, x, relative in find_violations(conditions, n, rng, samples=SAMPLES, polish=POLISHED):
        value = float((v_fn if name == POSITIVE else vdot_fn)(x[None, :])[0])
        bad = (value < -RELATIVE_MARGIN or (definite and value <= 0 and np.linalg.norm(x) > 0)
               ) if name == POSITIVE else value > RELATIVE_MARGIN * (1 + abs(value))
        if not bad:
            continue
        leads += 1
        point, ball = _confirmed(exact[name], name, x, strict=definite and name == POSITIVE)
        if point is not None:
            what = "V" if name == POSITIVE else "dV/dt"
            reason = (f"numerical counterexample: {what} = {_shown(ball)} at x = ({', '.join(point)}) "
                      f"(re-checked in ball arithmetic)")
            return CheckResult(False, check, reason, "numerical counterexample",
                               {"condition": name, "point": list(point), "value": _shown(ball), "exact": True})
    searched = searched_text(n)
    if leads:
        searched += f"; {leads} float violation(s) not confirmed in ball arithmetic (rounding)"
    return CheckResult(None, check, "undecided: no proof, and no counterexample found by sampling (not a proof)",
                       numerical=searched)


def _confirmed(g, name: str, x: np.ndarray, strict: bool):
    """(decimal point, ball) where the ball proves that ``name`` fails at that exact point, else (None, None).

    ``g`` is V (positive condition, ``strict``: V > 0 at x ≠ 0) or V̇ (decrease: V̇ ≤ 0)."""
    strings, point = decimal_strings([Fraction(float(c)) for c in x])
    if strict and not any(point):
        return None, None
    for bits in RECHECK_BITS:
        ball = point_value(g, point, bits)
        fails = violates(ball, strict) if name == POSITIVE else violates(-ball, False)
        if fails:
            return strings, ball
        if ball.is_finite() and not ball.contains(0):
            return None, None                  # the sign is proved, and it is the right one
    return None, None


def _shown(ball) -> str:
    return "0" if ball.is_zero() else f"{float(ball.mid()):.6g}"


def searched_text(n: int) -> str:
    """What the numerical search looked at, in words (the ``numerical`` field of a result)."""
    directions = 2 * n + 2 ** n + SAMPLES
    return (f"no counterexample found ({directions * len(RADII)} points: {directions} directions on "
            f"{len(RADII)} spheres of radii {min(RADII):g} to {max(RADII):g}, then {POLISHED} local searches "
            f"per condition)")
