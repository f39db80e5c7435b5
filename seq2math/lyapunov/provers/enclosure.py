"""Rigorous enclosures of expression trees with python-flint's ``arb`` balls (docs/provers.md).

``enclose(e, box)`` returns a ball that contains the value of ``e`` at every point of ``box``
(a sequence of ``arb`` balls, one per variable). Ball arithmetic rounds outward, so the
enclosure is a proof: if its lower end is > 0, ``e`` is > 0 on the whole box. Where ``e`` is
undefined somewhere on the box (``ln`` of a ball reaching 0, division by a ball containing 0,
``sqrt`` of a negative part) arb answers NaN or an infinite ball, and ``is_finite()`` is false:
callers treat that as "not proved", never as a value.

Two places where plain ball arithmetic is too coarse are done by hand: integer powers (arb's
``ball ** 2`` of a ball around 0 is NaN, and ``x*x`` contains negative numbers) use the
monotonicity of ``t^k`` on the ends of the ball; everything else is arb's own function.

Also here, shared by the cvc5 and interval provers: the Lie derivative of a tree and the exact
re-check of a counterexample point at high precision (``point_value``).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Sequence

import flint
from flint import arb

from seq2math.lyapunov.provers.verdict import ProverVerdict
from seq2math.symbolic.calculus import diff
from seq2math.symbolic.expr import Const, Expr, Float, Int, Unary, Var, as_expr, constant_value, operands, variables

#: working precision (bits) of enclosures and of the re-check of counterexamples
PRECISION = 128

_FUNCTIONS = {
    "sqrt": arb.sqrt, "exp": arb.exp, "ln": arb.log, "sin": arb.sin, "cos": arb.cos, "tan": arb.tan,
    "asin": arb.asin, "acos": arb.acos, "atan": arb.atan, "Abs": abs,
}


def validated(system, V, check: str) -> tuple[list[Expr], Expr]:
    """(system, V) as trees, after checking ``check`` and that every variable is one of the system's."""
    if check not in ("lyapunov", "barrier"):
        raise ValueError(f"check is 'lyapunov' or 'barrier', got {check!r}")
    system = [as_expr(f) for f in system]
    V = as_expr(V)
    if not system:
        raise ValueError("a system needs at least one equation")
    for where, e in [("V", V)] + [(f"equation {i} (x{i}')", f) for i, f in enumerate(system)]:
        extra = sorted(i for i in variables(e) if i >= len(system))
        if extra:
            raise ValueError(f"{where} uses x{extra[0]}, but the system has only {len(system)} variables")
    return system, V


def lie_derivative(system: Sequence[Expr], V: Expr) -> Expr:
    """V̇ = Σᵢ ∂V/∂xᵢ · fᵢ as a tree (exact symbolic derivatives, ``symbolic.calculus.diff``)."""
    total: Expr | None = None
    for i, fi in enumerate(system):
        term = diff(V, i) * as_expr(fi)
        total = term if total is None else total + term
    if total is None:
        raise ValueError("a system needs at least one equation")
    return total


def ball(lower: Fraction, upper: Fraction) -> arb:
    """A ball that contains the interval [lower, upper] (exact rationals)."""
    if lower > upper:
        raise ValueError(f"empty interval [{lower}, {upper}]")
    middle, radius = (lower + upper) / 2, (upper - lower) / 2
    return arb(flint.fmpq(middle.numerator, middle.denominator), flint.fmpq(radius.numerator, radius.denominator))


def _integer_power(base: arb, k: int) -> arb:
    if k == 0:
        return arb(1)
    if k < 0:
        return arb(1) / _integer_power(base, -k)
    if not base.is_finite():
        return arb.nan()
    if k % 2 == 0:                       # t^k is even: [|x|min^k, |x|max^k]
        return (base.abs_lower() ** k).union(base.abs_upper() ** k)
    return (base.lower() ** k).union(base.upper() ** k)   # odd: increasing


def enclose(e: Expr, box: Sequence[arb]) -> arb:
    """A ball containing e(x) for every x in ``box`` (NaN or infinite where e may be undefined)."""
    if isinstance(e, Int):
        return arb(e.value)
    if isinstance(e, Float):
        value = e.value
        return arb(flint.fmpq(value.numerator, value.denominator))
    if isinstance(e, Var):
        if e.index >= len(box):
            raise ValueError(f"x{e.index} used, but the box has only {len(box)} coordinates")
        return box[e.index]
    if isinstance(e, Const):
        return arb.pi() if e.name == "pi" else arb.const_e()
    if isinstance(e, Unary):
        if e.op not in _FUNCTIONS:
            raise ValueError(f"unknown function {e.op!r}")
        return _FUNCTIONS[e.op](enclose(e.arg, box))
    if e.op in ("+", "*"):
        items = operands(e, e.op)
        result = enclose(items[-1], box)
        for item in reversed(items[:-1]):
            value = enclose(item, box)
            result = value + result if e.op == "+" else value * result
        return result
    left = enclose(e.left, box)
    if e.op == "^":
        exponent = constant_value(e.right)
        if exponent is not None and exponent.denominator == 1 and abs(exponent) <= 10_000:
            return _integer_power(left, int(exponent))
        return left ** enclose(e.right, box)          # arb: NaN unless the base is > 0 (or an exact case)
    right = enclose(e.right, box)
    if e.op == "-":
        return left - right
    if e.op == "/":
        return left / right
    raise ValueError(f"unknown operator {e.op!r}")


def enclose_at(e: Expr, box: Sequence[arb], precision: int = PRECISION) -> arb:
    """``enclose`` at ``precision`` bits (flint's precision is process-wide: restored afterwards)."""
    saved = flint.ctx.prec
    flint.ctx.prec = precision
    try:
        return enclose(e, box)
    finally:
        flint.ctx.prec = saved


def point_value(e: Expr, point: Sequence[Fraction], precision: int = PRECISION) -> arb:
    """A ball containing e at the exact rational point ``point`` (the re-check of a counterexample)."""
    saved = flint.ctx.prec
    flint.ctx.prec = precision
    try:
        return enclose(e, [arb(flint.fmpq(c.numerator, c.denominator)) for c in point])
    finally:
        flint.ctx.prec = saved


def violates(value: arb, strict: bool) -> bool:
    """Whether the ball *proves* that the condition ``g ≥ 0`` (``strict``: ``g > 0``) fails."""
    if not value.is_finite():
        return False
    if strict:
        return value.is_zero() or value < 0
    return value < 0


def holds(value: arb, strict: bool) -> bool:
    """Whether the ball *proves* ``g ≥ 0`` (``strict``: ``g > 0``) on everything it encloses."""
    if not value.is_finite():
        return False
    return value > 0 if strict else value >= 0


def decimal_strings(point: Sequence[Fraction], digits: int = 17) -> tuple[tuple[str, ...], tuple[Fraction, ...]]:
    """The point rounded to ``digits`` significant decimal digits: (strings, their exact values)."""
    strings = []
    for c in point:
        if c == 0:
            strings.append("0")
            continue
        text = f"{float(c):.{digits}g}" if abs(c) > Fraction(1, 10**300) else "0"
        strings.append(text)
    return tuple(strings), tuple(Fraction(s) for s in strings)


def zero_at_origin(V: Expr, n: int, prover: str) -> ProverVerdict | None:
    """The verdict when V(0) = 0 fails or cannot be shown exactly (lyapunov check), else None."""
    at_zero = point_value(V, [Fraction(0)] * n)
    if at_zero.is_zero():
        return None
    if at_zero.is_finite() and not at_zero.contains(0):
        return ProverVerdict("refuted", prover, "V(0) != 0", counterexample=tuple("0" for _ in range(n)))
    return ProverVerdict("unknown", prover, "V(0) = 0 could not be shown exactly")
