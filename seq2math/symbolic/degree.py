"""A degree bound read off an expression tree, computed before any expensive check.

A beam of 50 decoded Lyapunov candidates contains repeats and, early in training, nonsense
such as ``^ x0 INT+ 999`` that would take the SOS verifier hours to expand and settle.
``degree_bound`` reads an upper bound of the polynomial degree off the expression tree
without expanding it, so such candidates are set aside (reported undecided) in microseconds.
"""

from __future__ import annotations

from seq2math.symbolic.expr import (
    Binary,
    Const,
    Expr,
    Float,
    Int,
    Unary,
    Var,
    constant_value,
)

#: stands for "unbounded" (a power with a huge or symbolic exponent)
HUGE_DEGREE = 10 ** 9


def degree_bound(e: Expr) -> int:
    """An upper bound of the total degree of ``e`` seen as a polynomial (functions count as their
    argument's degree: only the polynomial parts are ever expanded)."""
    if isinstance(e, (Int, Float, Const)):
        return 0
    if isinstance(e, Var):
        return 1
    if isinstance(e, Unary):
        return degree_bound(e.arg)
    if not isinstance(e, Binary):
        raise TypeError(f"not an expression node: {type(e).__name__}")
    left = degree_bound(e.left)
    if e.op in ("+", "-"):
        return max(left, degree_bound(e.right))
    if e.op == "*":
        return min(HUGE_DEGREE, left + degree_bound(e.right))
    if e.op == "/":
        return left if constant_value(e.right) is not None else min(HUGE_DEGREE, left + degree_bound(e.right))
    exponent = constant_value(e.right)  # "^"
    if exponent is None:
        exponent_bound = degree_bound(e.right)
        return left if exponent_bound == 0 and left == 0 else HUGE_DEGREE
    if exponent.denominator != 1 or exponent <= 0:
        return left
    return min(HUGE_DEGREE, left * int(exponent))

