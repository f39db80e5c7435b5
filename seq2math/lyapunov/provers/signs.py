"""Rational bounds of an expression from its form alone: what SOS cannot certify with a margin.

``bounds(e) -> (low, high)`` gives rationals (or None: unbounded) with low ≤ e(x) ≤ high at every
x where e is defined, by interval rules applied to the tree:

- constants are their value; a variable is unbounded;
- sums and products combine intervals (products of unbounded factors only when both are ≥ 0);
- an even power is ≥ 0 (and ≥ low^k when low ≥ 0); an odd power is monotone;
- sin and cos lie in [−1, 1], atan in [−2, 2] (|atan| < π/2 < 2), |·| ≥ 0;
- exp a ≥ max(0, 1 + low a) (exp t ≥ 1 + t), √a ≥ min(low a, 1) when low a > 0 (else 0),
  ln a ≥ 1 − 1/low a when low a > 0 (ln t ≥ 1 − 1/t);
- a/b with b ≥ c > 0 follows from 1/b ∈ (0, 1/c].

Why here: terms such as sin(q)², 1 − cos q, (exp q − 1)² or ln(1 + q²) are ≥ 0 but vanish on
whole curves, so every Gram matrix of them is singular and an SOS certificate has no margin to
round (docs/verification.md); the generator's V add them to a proper core, and 1 + q² under a
ln or a division must be shown positive. Each rule is a fact about the function, so a bound is a
proof; ``recheck`` recomputes it from the expression. Anything not covered is None (no bound).
"""

from __future__ import annotations

from fractions import Fraction

from seq2math.symbolic.expr import Binary, Const, Expr, Float, Int, Unary, Var, constant_value, operands

Bound = Fraction | None
Interval = tuple[Bound, Bound]

#: larger exponents are not raised exactly (the bounds are only used for small generated terms)
MAX_EXPONENT = 64


def bounds(e: Expr) -> Interval:
    """(low, high) with low ≤ e ≤ high wherever e is defined; None for a side with no bound found."""
    value = constant_value(e)
    if value is not None:
        return value, value
    if isinstance(e, (Int, Float)):                    # pragma: no cover - constant_value handles them
        return None, None
    if isinstance(e, (Var, Const)):
        return None, None
    if isinstance(e, Unary):
        return _function(e.op, bounds(e.arg))
    if isinstance(e, Binary) and e.op in ("+", "*"):
        items = [bounds(item) for item in operands(e, e.op)]
        result = items[0]
        for item in items[1:]:
            result = _add(result, item) if e.op == "+" else _multiply(result, item)
        return result
    if not isinstance(e, Binary):
        return None, None
    left, right = bounds(e.left), bounds(e.right)
    if e.op == "-":
        return _add(left, (_negate(right[1]), _negate(right[0])))
    if e.op == "/":
        low = right[0]
        if low is None or low <= 0:
            return None, None
        return _multiply(left, (Fraction(0), 1 / low))   # 0 < 1/b ≤ 1/low
    if e.op == "^":
        exponent = constant_value(e.right)
        if exponent is None or exponent.denominator != 1 or not 0 <= exponent <= MAX_EXPONENT:
            return None, None
        return _power(left, int(exponent))
    return None, None


def lower_bound(e: Expr) -> Bound:
    return bounds(e)[0]


def _negate(b: Bound) -> Bound:
    return None if b is None else -b


def _add(a: Interval, b: Interval) -> Interval:
    low = None if a[0] is None or b[0] is None else a[0] + b[0]
    high = None if a[1] is None or b[1] is None else a[1] + b[1]
    return low, high


def _multiply(a: Interval, b: Interval) -> Interval:
    if None not in a and None not in b:
        products = [x * y for x in a for y in b]
        return min(products), max(products)
    # unbounded above: only products of non-negative factors keep a lower bound
    if a[0] is not None and b[0] is not None and a[0] >= 0 and b[0] >= 0:
        return a[0] * b[0], None
    for constant, other in ((a, b), (b, a)):           # a constant factor scales the other side
        if constant[0] is not None and constant[0] == constant[1]:
            c = constant[0]
            scaled = (_scale(other[0], c), _scale(other[1], c))
            return scaled if c >= 0 else (scaled[1], scaled[0])
    return None, None


def _scale(b: Bound, c: Fraction) -> Bound:
    return None if b is None else b * c


def _power(base: Interval, k: int) -> Interval:
    if k == 0:
        return Fraction(1), Fraction(1)
    low, high = base
    if k % 2:                                           # increasing
        return (None if low is None else low ** k), (None if high is None else high ** k)
    if low is not None and low >= 0:
        return low ** k, (None if high is None else high ** k)
    if high is not None and high <= 0:
        return high ** k, (None if low is None else low ** k)
    top = None if low is None or high is None else max(low ** k, high ** k)
    return Fraction(0), top


def _function(op: str, arg: Interval) -> Interval:
    low = arg[0]
    if op in ("sin", "cos"):
        return Fraction(-1), Fraction(1)
    if op == "atan":
        return Fraction(-2), Fraction(2)
    if op == "exp":                                     # exp t ≥ 1 + t (convexity) and > 0
        return max(Fraction(0), Fraction(0) if low is None else 1 + low), None
    if op == "sqrt":                                    # √t ≥ min(t, 1) for t ≥ 0
        return (Fraction(0) if low is None or low <= 0 else min(low, Fraction(1))), None
    if op == "Abs":
        return Fraction(0), None
    if op == "ln" and low is not None and low > 0:      # ln t ≥ 1 − 1/t
        return 1 - 1 / low, None
    return None, None
