"""Non-polynomial candidates: the numerical falsification that runs before the provers, never a proof.

V and V̇ = Σ ∂ᵢV·fᵢ are expression trees (exact symbolic derivatives, then float
evaluation), searched by the same ``falsify.find_violations`` as polynomial candidates.
A violation counts only when it is far above rounding error: the value must exceed 1e-9
relative to |V| + |V̇|-scale terms at that point (or V be ≤ 0 at x ≠ 0, lyapunov check).
No counterexample found means ``valid=None`` with ``numerical`` saying what was searched
("no counterexample found (N points on spheres of radii 0.001 to 1000, ...)"): not a proof.
``check.py`` then runs the provers of ``seq2math.lyapunov.provers`` (docs/verification.md).
"""

from __future__ import annotations

import numpy as np

from seq2math.lyapunov.falsify import RADII, SignCondition, find_violations
from seq2math.lyapunov.outcomes import DECREASE, POSITIVE
from seq2math.lyapunov.result import CheckResult
from seq2math.symbolic.calculus import diff, evaluate
from seq2math.symbolic.expr import as_expr, from_poly
from seq2math.symbolic.poly import Poly

RELATIVE_MARGIN = 1e-9
#: denser than the polynomial check's search: nothing exact confirms or settles these candidates afterwards
SAMPLES, POLISHED = 400, 4


def _vdot_expression(system, V):
    V = as_expr(V)
    total = None
    for i, fi in enumerate(system):
        term = diff(V, i) * as_expr(fi)
        total = term if total is None else total + term
    return total


def check_numerically(system, V, check: str, rng: np.random.Generator):
    system = [from_poly(f) if isinstance(f, Poly) else f for f in system]
    V = from_poly(V) if isinstance(V, Poly) else V
    n = len(system)
    vdot = _vdot_expression(system, V)
    value_at_zero = float(evaluate(V, np.zeros((1, n)))[0])
    if check == "lyapunov" and not (abs(value_at_zero) <= 1e-12):
        return CheckResult(False, check, f"V(0) = {value_at_zero:g} (numerically) is not 0", "numerical")
    v_fn = lambda X: evaluate(V, X)                                          # noqa: E731
    vdot_fn = lambda X: evaluate(vdot, X)                                    # noqa: E731
    definite = check == "lyapunov"
    conditions = [
        SignCondition(POSITIVE, v_fn, lambda X: np.abs(v_fn(X)) + RELATIVE_MARGIN + (1.0 if definite else 0.0),
                      definite=definite),
        SignCondition(DECREASE, lambda X: -vdot_fn(X), lambda X: np.abs(vdot_fn(X)) + 1.0),
    ]
    for name, x, relative in find_violations(conditions, n, rng, samples=SAMPLES, polish=POLISHED):
        value = float((v_fn if name == POSITIVE else vdot_fn)(x[None, :])[0])
        bad = (value < -RELATIVE_MARGIN or (definite and value <= 0 and np.linalg.norm(x) > 0)
               ) if name == POSITIVE else value > RELATIVE_MARGIN * (1 + abs(value))
        if bad:
            point = [f"{v:.17g}" for v in x]
            what = "V" if name == POSITIVE else "dV/dt"
            reason = f"numerical counterexample: {what} = {value:.6g} at x = ({', '.join(point)})"
            return CheckResult(False, check, reason, "numerical counterexample",
                               {"condition": name, "point": point, "value": f"{value:.17g}", "exact": False})
    return CheckResult(None, check, "undecided: no proof, and no counterexample found by sampling (not a proof)",
                       numerical=searched_text(n))


def searched_text(n: int) -> str:
    """What the numerical search looked at, in words (the ``numerical`` field of a result)."""
    directions = 2 * n + 2 ** n + SAMPLES
    return (f"no counterexample found ({directions * len(RADII)} points: {directions} directions on "
            f"{len(RADII)} spheres of radii {min(RADII):g} to {max(RADII):g}, then {POLISHED} local searches "
            f"per condition)")
