"""Exact derivatives, light simplification and vectorised numpy evaluation of expression trees.

``diff`` applies the textbook rules and folds the trivial cases as it builds (0·a, 1·a,
a+0, a^1, constant arithmetic), which keeps gradients of generated Lyapunov functions
small without a general simplifier. ``evaluate`` maps a tree over many points at once.
All three functions walk right-nested ``+``/``*`` chains iteratively, so a sum of many
terms does not hit Python's recursion limit.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Callable, Mapping, NamedTuple

import numpy as np

from seq2math.symbolic.expr import (
    Binary,
    Const,
    Expr,
    Float,
    Int,
    Unary,
    Var,
    chain,
    constant_value,
    negate,
    number,
    operands,
)

ZERO, ONE, TWO = Int(0), Int(1), Int(2)


def _is_number(e: Expr, value: int) -> bool:
    v = constant_value(e) if isinstance(e, (Int, Float)) else None
    return v is not None and v == value


# ---- folding constructors -----------------------------------------------------------------
def add(a: Expr, b: Expr) -> Expr:
    if _is_number(a, 0):
        return b
    if _is_number(b, 0):
        return a
    if isinstance(a, (Int, Float)) and isinstance(b, (Int, Float)):
        return number(a.value + b.value)
    if _looks_negative(b):
        return Binary("-", a, negate(b))
    return Binary("+", a, b)


def sub(a: Expr, b: Expr) -> Expr:
    if _is_number(b, 0):
        return a
    if _is_number(a, 0):
        return negate(b)
    if isinstance(a, (Int, Float)) and isinstance(b, (Int, Float)):
        return number(a.value - b.value)
    return Binary("-", a, b)


def mul(a: Expr, b: Expr) -> Expr:
    if _is_number(a, 0) or _is_number(b, 0):
        return ZERO
    if _is_number(a, 1):
        return b
    if _is_number(b, 1):
        return a
    if _is_number(a, -1):
        return negate(b)
    if _is_number(b, -1):
        return negate(a)
    if isinstance(a, (Int, Float)) and isinstance(b, (Int, Float)):
        return number(a.value * b.value)
    if isinstance(b, (Int, Float)):  # numbers first, as the files write them
        a, b = b, a
    if isinstance(a, Int) and isinstance(b, Binary) and b.op == "*" and isinstance(b.left, Int):
        return mul(Int(a.value * b.left.value), b.right)
    return Binary("*", a, b)


def div(a: Expr, b: Expr) -> Expr:
    if _is_number(b, 1):
        return a
    if _is_number(a, 0):
        return ZERO
    if isinstance(a, Int) and isinstance(b, Int) and b.value != 0:
        return number(Fraction(a.value, b.value))
    return Binary("/", a, b)


def power(a: Expr, b: Expr) -> Expr:
    if _is_number(b, 1):
        return a
    if _is_number(b, 0):
        return ONE
    value = constant_value(a)
    exponent = constant_value(b)
    if value is not None and exponent is not None and exponent.denominator == 1 and abs(exponent) <= 64:
        if value != 0 or exponent > 0:
            return number(value ** exponent.numerator)
    return Binary("^", a, b)


def _looks_negative(e: Expr) -> bool:
    if isinstance(e, Int):
        return e.value < 0
    if isinstance(e, Float):
        return e.negative and e.mantissa != 0
    return isinstance(e, Binary) and e.op == "*" and isinstance(e.left, Int) and e.left.value < 0


def simplify(e: Expr) -> Expr:
    """Bottom-up constant folding and removal of neutral elements (not a canonical form)."""
    if isinstance(e, Unary):
        return Unary(e.op, simplify(e.arg))
    if not isinstance(e, Binary):
        return e
    if e.op in ("+", "*"):
        items = [simplify(item) for item in operands(e, e.op)]
        result = items[-1]
        for item in reversed(items[:-1]):
            result = add(item, result) if e.op == "+" else mul(item, result)
        return result
    build = {"-": sub, "/": div, "^": power}[e.op]
    return build(simplify(e.left), simplify(e.right))


# ---- derivatives ---------------------------------------------------------------------------
def diff(e: Expr, i: int) -> Expr:
    """∂e/∂x_i, exact, with trivial terms folded."""
    if isinstance(e, (Int, Float, Const)):
        return ZERO
    if isinstance(e, Var):
        return ONE if e.index == i else ZERO
    if isinstance(e, Unary):
        return mul(_outer_derivative(e.op, e.arg), diff(e.arg, i))
    if e.op == "+":
        result: Expr = ZERO
        for item in reversed(operands(e, "+")):
            result = add(diff(item, i), result)
        return result
    if e.op == "*":
        items = operands(e, "*")
        if len(items) > 2:  # d(a·rest) = da·rest + a·d(rest)
            return _product_rule(items[0], chain("*", items[1:]), i)
        return _product_rule(e.left, e.right, i)
    da, db = diff(e.left, i), diff(e.right, i)
    if e.op == "-":
        return sub(da, db)
    if e.op == "/":
        if _is_number(db, 0):
            return div(da, e.right)
        return div(sub(mul(da, e.right), mul(e.left, db)), power(e.right, TWO))
    exponent = constant_value(e.right)  # "^"
    if exponent is not None:
        return mul(mul(number(exponent), power(e.left, number(exponent - 1))), da)
    # a^b = exp(b ln a): d = a^b (db ln a + b da / a)
    return mul(e, add(mul(db, Unary("ln", e.left)), div(mul(e.right, da), e.left)))


def _product_rule(a: Expr, b: Expr, i: int) -> Expr:
    return add(mul(diff(a, i), b), mul(a, diff(b, i)))


def _outer_derivative(op: str, a: Expr) -> Expr:
    if op == "sqrt":
        return div(ONE, mul(TWO, Unary("sqrt", a)))
    if op == "exp":
        return Unary("exp", a)
    if op == "ln":
        return div(ONE, a)
    if op == "sin":
        return Unary("cos", a)
    if op == "cos":
        return negate(Unary("sin", a))
    if op == "tan":
        return add(ONE, power(Unary("tan", a), TWO))
    if op == "asin":
        return div(ONE, Unary("sqrt", sub(ONE, power(a, TWO))))
    if op == "acos":
        return negate(div(ONE, Unary("sqrt", sub(ONE, power(a, TWO)))))
    if op == "atan":
        return div(ONE, add(ONE, power(a, TWO)))
    if op == "Abs":
        return div(a, Unary("Abs", a))  # sign(a); undefined at a = 0
    raise ValueError(f"unknown function {op!r}")


def gradient(e: Expr, n: int) -> list[Expr]:
    return [diff(e, i) for i in range(n)]


# ---- numerical evaluation ------------------------------------------------------------------
_NUMPY_FUNCTIONS = {"sqrt": np.sqrt, "exp": np.exp, "ln": np.log, "sin": np.sin, "cos": np.cos, "tan": np.tan,
                    "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan, "Abs": np.abs}


def evaluate(e: Expr, X: np.ndarray) -> np.ndarray:
    """Values of ``e`` at the rows of ``X`` (shape [N, n]), float64, shape [N].

    Out-of-domain points (ln of a negative number, overflow) give nan/inf, without warnings.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"evaluate: expected points of shape [N, n], got {X.shape}")
    with np.errstate(all="ignore"):
        return np.broadcast_to(_evaluate(e, X), (X.shape[0],)).astype(np.float64, copy=True)


class ArrayOps(NamedTuple):
    """One array library's operations for ``tree_values``: ``unary[op](value)`` for sqrt, exp,
    ln, ...; ``power(base, exponent, integer)`` where ``integer`` is the exponent as an int when
    it is a constant integer (exact sign for negative bases), else None; ``divide(a, b)``."""

    unary: Mapping[str, Callable]
    power: Callable
    divide: Callable


def tree_values(e: Expr, X, ops: ArrayOps):
    """Values of the tree ``e`` at the rows of ``X`` [N, n] with the operations ``ops``. Constants
    stay Python floats; the +/* spines are walked without recursion on the spine. Used with numpy
    here (``evaluate``) and with torch by the neural baseline."""
    if isinstance(e, (Int, Float)):
        return float(e.value)
    if isinstance(e, Var):
        if e.index >= X.shape[1]:
            raise ValueError(f"x{e.index} used, but the points have only {X.shape[1]} coordinates")
        return X[:, e.index]
    if isinstance(e, Const):
        return math.pi if e.name == "pi" else math.e
    if isinstance(e, Unary):
        return ops.unary[e.op](tree_values(e.arg, X, ops))
    if e.op in ("+", "*"):
        items = operands(e, e.op)
        result = tree_values(items[-1], X, ops)
        for item in reversed(items[:-1]):
            value = tree_values(item, X, ops)
            result = value + result if e.op == "+" else value * result
        return result
    left = tree_values(e.left, X, ops)
    if e.op == "^":
        exponent = constant_value(e.right)
        integer = int(exponent) if exponent is not None and exponent.denominator == 1 else None
        right = float(integer) if integer is not None else tree_values(e.right, X, ops)
        return ops.power(left, right, integer)
    right = tree_values(e.right, X, ops)
    return left - right if e.op == "-" else ops.divide(left, right)


def _numpy_power(base, exponent, integer: int | None):
    return np.power(base, integer if integer is not None and integer >= 0 else exponent)


NUMPY_OPS = ArrayOps(_NUMPY_FUNCTIONS, _numpy_power, np.divide)


def _evaluate(e: Expr, X: np.ndarray):
    return tree_values(e, X, NUMPY_OPS)
