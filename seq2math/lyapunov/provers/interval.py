"""Region certificates by interval branch-and-bound in arb ball arithmetic (docs/provers.md).

``prove(system, V, check, time_limit, radius=None)`` proves the conditions on a box
``|x_i| ≤ R`` — never globally — or finds a counterexample point, re-checked exactly:

- "lyapunov": V(0) = 0, V > 0 on the box minus the origin, dV/dt ≤ 0 on the box;
- "barrier": V ≥ 0 and dV/dt ≤ 0 on the box.

Each condition ``g ≥ 0`` (``g > 0`` away from 0 for V in the Lyapunov check; ``g = −dV/dt``
for the decrease) is decided box by box: a box whose arb enclosure of g is ≥ 0 (> 0) is proved;
otherwise g is evaluated at the box's midpoint, rounded to 17 decimal digits, and a value that
violates the condition *as a ball* is a counterexample; otherwise the box is bisected along its
widest side. Boxes inside a small box around the origin, where g(0) = 0 defeats any enclosure,
are covered by the quadratic Taylor model of ``provers.taylor`` (exact SOS certificate of the
quadratic part plus a rigorous remainder bound). When no Taylor model exists (a quadratic part
that is only semidefinite, such as dV/dt = −x⁴) the small box ``|x_i| ≤ R/64`` is left out and
the verdict's region says so: ``R/64 < max_i |x_i| ≤ R``.

With ``radius=None`` the boxes R = 8, 4, 2, 1, 1/2, 1/4 are tried in turn (largest first, each
with half the time left); the first one proved is the answer. A counterexample on a larger box
does not stop the search, but if no box is proved the verdict is "refuted" with that point.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

from seq2math.lyapunov.provers.enclosure import (
    ball,
    decimal_strings,
    enclose_at,
    holds,
    lie_derivative,
    point_value,
    validated,
    violates,
    zero_at_origin,
)
from seq2math.lyapunov.provers.taylor import TaylorBound, quadratic_model
from seq2math.lyapunov.provers.verdict import ProverVerdict
from seq2math.symbolic.expr import Expr, negate

PROVER = "interval"
RADII = (Fraction(8), Fraction(4), Fraction(2), Fraction(1), Fraction(1, 2), Fraction(1, 4))
#: half-width of the box left out around 0 when no Taylor model exists, as a share of R
EXCLUDED_SHARE = Fraction(1, 64)
#: an undecided box narrower than R times this is given up ("unknown"), not bisected further
SMALLEST_SHARE = Fraction(1, 2**26)

Box = list[tuple[Fraction, Fraction]]


@dataclass(frozen=True)
class _Condition:
    name: str        # how the verdict names it: "V > 0", "dV/dt <= 0", ...
    g: Expr          # the condition is g ≥ 0 (strict: g > 0 for x ≠ 0)
    strict: bool


@dataclass(frozen=True)
class _Outcome:
    status: str                            # "proved" | "refuted" | "unknown"
    detail: str
    point: tuple[str, ...] | None = None   # the re-checked counterexample (decimal strings)
    excluded: Fraction | None = None       # the half-width of the box around 0 left out, if any


def conditions(system: Sequence[Expr], V: Expr, check: str) -> list[_Condition]:
    """The conditions of ``check`` as ``g ≥ 0`` (``> 0``) statements."""
    if check not in ("lyapunov", "barrier"):
        raise ValueError(f"check is 'lyapunov' or 'barrier', got {check!r}")
    decrease = _Condition("dV/dt <= 0", negate(lie_derivative(system, V)), strict=False)
    if check == "lyapunov":
        return [_Condition("V > 0", V, strict=True), decrease]
    return [_Condition("V >= 0", V, strict=False), decrease]


def _inside(box: Box, half_width: Fraction) -> bool:
    return all(-half_width <= lower and upper <= half_width for lower, upper in box)


def _bisect(box: Box) -> tuple[Box, Box]:
    widest = max(range(len(box)), key=lambda i: box[i][1] - box[i][0])
    lower, upper = box[widest]
    middle = (lower + upper) / 2
    left, right = list(box), list(box)
    left[widest], right[widest] = (lower, middle), (middle, upper)
    return left, right


def _counterexample(cond: _Condition, box: Box) -> tuple[str, ...] | None:
    """The box's midpoint (17 digits) if g there violates the condition, re-checked exactly."""
    strings, point = decimal_strings([(lower + upper) / 2 for lower, upper in box])
    if cond.strict and not any(point):
        return None                                          # V > 0 is asked for x ≠ 0 only
    return strings if violates(point_value(cond.g, point), cond.strict) else None


def _origin(cond: _Condition, n: int, radius: Fraction, deadline: float) -> tuple[Fraction | None, str | None]:
    """How boxes around 0 are handled: (half-width of the box covered or left out, why it is left out)."""
    if holds(point_value(cond.g, [Fraction(0)] * n), strict=True):
        return None, None                                    # g(0) > 0: the enclosures settle it
    model = quadratic_model(cond.g, n, radius, deadline)
    if isinstance(model, TaylorBound):
        return model.radius, None
    return radius * EXCLUDED_SHARE, model


def _branch_and_bound(cond: _Condition, n: int, radius: Fraction, deadline: float) -> _Outcome:
    zero = point_value(cond.g, [Fraction(0)] * n)
    if not cond.strict and violates(zero, strict=False):
        return _Outcome("refuted", f"{cond.name} fails at the origin", tuple("0" for _ in range(n)))
    inner, why_excluded = _origin(cond, n, radius, deadline)
    queue: deque[Box] = deque([[(-radius, radius)] * n])     # breadth first: coarse midpoints everywhere first
    boxes, undecided = 0, []
    while queue:
        if time.monotonic() > deadline:
            return _Outcome("unknown", f"{cond.name}: out of time after {boxes} boxes")
        box = queue.popleft()
        if inner is not None and _inside(box, inner):
            continue
        boxes += 1
        if holds(enclose_at(cond.g, [ball(lower, upper) for lower, upper in box]), cond.strict):
            continue
        point = _counterexample(cond, box)
        if point is not None:
            return _Outcome("refuted", f"{cond.name} fails at x = ({', '.join(point)}) (arb re-check "
                            f"at the exact decimal point)", point)
        if max(upper - lower for lower, upper in box) < radius * SMALLEST_SHARE:
            undecided.append(box)                            # given up; the others are still searched
            continue
        queue.extend(_bisect(box))
    if undecided:
        where = ", ".join(f"[{float(lower):.6g}, {float(upper):.6g}]" for lower, upper in undecided[0])
        return _Outcome("unknown", f"{cond.name}: {len(undecided)} tiny boxes undecided, e.g. {where}")
    if why_excluded is not None:
        return _Outcome("proved", f"{cond.name} in {boxes} boxes, the box |x_i| <= {inner} left out "
                        f"({why_excluded})", excluded=inner)
    origin = f", |x_i| <= {inner} by a Taylor model" if inner is not None else ""
    return _Outcome("proved", f"{cond.name} in {boxes} boxes{origin}")


def _region(radius: Fraction, excluded: Fraction | None) -> str:
    if excluded is None:
        return f"the box |x_i| <= {radius}"
    return f"{excluded} < max_i |x_i| <= {radius} (the box |x_i| <= {radius} minus the box |x_i| <= {excluded})"


def prove_on_box(system: Sequence[Expr], V: Expr, check: str, radius: Fraction, deadline: float) -> ProverVerdict:
    """The verdict on the one box |x_i| ≤ radius (see the module docstring)."""
    n = len(system)
    if check == "lyapunov":
        at_zero = zero_at_origin(V, n, PROVER)
        if at_zero is not None:
            return at_zero
    outcomes = []
    for cond in conditions(system, V, check):
        outcome = _branch_and_bound(cond, n, radius, deadline)
        if outcome.status != "proved":
            return ProverVerdict(outcome.status, PROVER, f"on |x_i| <= {radius}: {outcome.detail}",
                                 counterexample=outcome.point)
        outcomes.append(outcome)
    excluded = max((o.excluded for o in outcomes if o.excluded is not None), default=None)
    region = _region(radius, excluded)
    detail = f"{check} conditions proved on {region}: " + "; ".join(o.detail for o in outcomes)
    return ProverVerdict("proved", PROVER, detail, region=region)


def prove(system, V, check: str, time_limit: float, radius: Fraction | int | None = None) -> ProverVerdict:
    """A region certificate on |x_i| ≤ radius (None: the largest of ``RADII`` proved), or why not."""
    system, V = validated(system, V, check)
    start = time.monotonic()
    if radius is not None:
        radius = Fraction(radius)
        if radius <= 0:
            raise ValueError(f"the box's radius must be > 0, got {radius}")
        return prove_on_box(system, V, check, radius, start + time_limit)
    refuted, reasons = None, []
    for index, r in enumerate(RADII):
        left = start + time_limit - time.monotonic()
        if left <= 0:
            reasons.append("out of time")
            break
        share = left if index == len(RADII) - 1 else left / 2
        verdict = prove_on_box(system, V, check, r, time.monotonic() + share)
        if verdict.proved:
            if refuted is not None:
                return ProverVerdict("proved", PROVER, f"{verdict.detail} (larger box: {refuted.detail})",
                                     region=verdict.region)
            return verdict
        if verdict.status == "refuted" and refuted is None:
            refuted = verdict
        reasons.append(verdict.detail)
    if refuted is not None:
        return ProverVerdict("refuted", PROVER, f"{refuted.detail}; no box down to |x_i| <= {RADII[-1]} proved",
                             counterexample=refuted.counterexample)
    return ProverVerdict("unknown", PROVER, "; ".join(reasons) or "no time")
