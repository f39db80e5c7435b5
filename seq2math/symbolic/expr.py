"""Immutable expression trees for the non-polynomial case, and their link to polynomials.

A tree keeps the exact structure it was read with (a file's ``+ a + b c`` stays a
right-nested pair of ``+`` nodes, ``FLOAT+ 50 0 10^ INT- 5`` stays mantissa 50000 and
exponent -5), so that writing it back reproduces the file token for token. Canonical
forms are built only from polynomials (``from_poly``).

Nodes: ``Int`` (exact integer), ``Float`` (±mantissa·10^exponent, exact), ``Var`` (x_i),
``Const`` (pi, E), ``Unary`` (sqrt exp ln sin cos tan asin acos atan Abs) and ``Binary``
(+ - * / ^). Python operators build trees without simplification: ``Var(0)**2 + 1``.

Calculus and evaluation live in ``seq2math.symbolic.calculus`` (``diff``, ``evaluate``,
``simplify``); this module holds the nodes, ``to_poly`` / ``from_poly`` and sympy display.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator

import flint

from seq2math.symbolic import poly as P

UNARY_OPERATORS = ("sqrt", "exp", "ln", "sin", "cos", "tan", "asin", "acos", "atan", "Abs")
BINARY_OPERATORS = ("+", "-", "*", "/", "^")
CONSTANTS = ("pi", "E")


class NotPolynomialError(ValueError):
    """The expression is not a polynomial (a function, a negative or fractional power, pi...)."""


class Expr:
    """Base of all nodes; supports ``+ - * / **`` and unary ``-`` to build trees."""

    __slots__ = ()

    def __add__(self, other): return Binary("+", self, as_expr(other))
    def __radd__(self, other): return Binary("+", as_expr(other), self)
    def __sub__(self, other): return Binary("-", self, as_expr(other))
    def __rsub__(self, other): return Binary("-", as_expr(other), self)
    def __mul__(self, other): return Binary("*", self, as_expr(other))
    def __rmul__(self, other): return Binary("*", as_expr(other), self)
    def __truediv__(self, other): return Binary("/", self, as_expr(other))
    def __rtruediv__(self, other): return Binary("/", as_expr(other), self)
    def __pow__(self, other): return Binary("^", self, as_expr(other))
    def __neg__(self): return negate(self)

    def __str__(self) -> str:
        from seq2math.tokens.infix import to_infix

        return to_infix(self)


@dataclass(frozen=True, slots=True)
class Int(Expr):
    value: int


@dataclass(frozen=True, slots=True)
class Float(Expr):
    """±mantissa·10^exponent, exactly as the FLOAT tokens spell it."""

    negative: bool
    mantissa: int
    exponent: int

    @property
    def value(self) -> Fraction:
        magnitude = Fraction(self.mantissa) * Fraction(10) ** self.exponent
        return -magnitude if self.negative else magnitude


@dataclass(frozen=True, slots=True)
class Var(Expr):
    index: int


@dataclass(frozen=True, slots=True)
class Const(Expr):
    name: str  # "pi" or "E"


@dataclass(frozen=True, slots=True)
class Unary(Expr):
    op: str
    arg: Expr


@dataclass(frozen=True, slots=True)
class Binary(Expr):
    op: str
    left: Expr
    right: Expr


def as_expr(value) -> Expr:
    """Coerce an int / Fraction / Expr to an Expr (used by the Python operators)."""
    if isinstance(value, Expr):
        return value
    if isinstance(value, bool):
        raise TypeError("booleans are not expressions")
    if isinstance(value, int):
        return Int(value)
    if isinstance(value, Fraction):
        return number(value)
    raise TypeError(f"cannot make an expression from {value!r} (use Int, Float or Fraction for numbers)")


def number(value: int | Fraction) -> Expr:
    """An exact rational as a leaf: ``Int`` or ``/ Int Int`` (the sign goes on the numerator)."""
    value = Fraction(value)
    if value.denominator == 1:
        return Int(value.numerator)
    return Binary("/", Int(value.numerator), Int(value.denominator))


def negate(e: Expr) -> Expr:
    """−e in the files' convention: fold the sign into a leading integer, else ``* INT- 1 e``."""
    if isinstance(e, Int):
        return Int(-e.value)
    if isinstance(e, Float):
        return Float(not e.negative, e.mantissa, e.exponent)
    if isinstance(e, Binary) and e.op == "*" and isinstance(e.left, Int):
        if e.left.value == -1:
            return e.right
        return Binary("*", Int(-e.left.value), e.right)
    return Binary("*", Int(-1), e)


def operands(e: Expr, op: str) -> list[Expr]:
    """Operands of the right-nested chain ``op a op b c`` -> [a, b, c] (no recursion on the spine)."""
    items = []
    while isinstance(e, Binary) and e.op == op:
        items.append(e.left)
        e = e.right
    items.append(e)
    return items


def chain(op: str, items: list[Expr]) -> Expr:
    """Right-nested chain: chain("+", [a, b, c]) is ``+ a + b c``."""
    if not items:
        raise ValueError("chain of no operands")
    result = items[-1]
    for item in reversed(items[:-1]):
        result = Binary(op, item, result)
    return result


def walk(e: Expr) -> Iterator[Expr]:
    """Every node, in prefix order (iterative: safe on long chains)."""
    stack = [e]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, Binary):
            stack.append(node.right)
            stack.append(node.left)
        elif isinstance(node, Unary):
            stack.append(node.arg)


def variables(e: Expr) -> set[int]:
    """Indices of the variables that occur in ``e``."""
    return {node.index for node in walk(e) if isinstance(node, Var)}


def size(e: Expr) -> int:
    """Number of nodes."""
    return sum(1 for _ in walk(e))


def constant_value(e: Expr) -> Fraction | None:
    """The exact rational value of a constant expression without pi/E/functions, else None."""
    if isinstance(e, Int):
        return Fraction(e.value)
    if isinstance(e, Float):
        return e.value
    if not isinstance(e, Binary):
        return None
    left, right = constant_value(e.left), constant_value(e.right)
    if left is None or right is None:
        return None
    if e.op == "+":
        return left + right
    if e.op == "-":
        return left - right
    if e.op == "*":
        return left * right
    if e.op == "/":
        return None if right == 0 else left / right
    # "^": only integer exponents of modest size stay exact and cheap
    if right.denominator != 1 or abs(right.numerator) > 64 or (left == 0 and right < 0):
        return None
    return left ** right.numerator


# ---- polynomials -------------------------------------------------------------------------
def to_poly(e: Expr, n: int) -> P.Poly:
    """The polynomial ``e`` denotes, in ``ring(n)``; raise ``NotPolynomialError`` otherwise."""
    R = P.ring(n)
    if isinstance(e, (Int, Float)):
        return R.constant(P._to_fmpq(Fraction(e.value)))
    if isinstance(e, Var):
        if e.index >= n:
            raise NotPolynomialError(f"variable x{e.index} does not exist with {n} variables")
        return R.gen(e.index)
    if isinstance(e, Const):
        raise NotPolynomialError(f"the constant {e.name} is not rational")
    if isinstance(e, Unary):
        raise NotPolynomialError(f"the function {e.op} is not polynomial")
    if e.op in ("+", "*"):
        items = [to_poly(item, n) for item in operands(e, e.op)]
        result = items[-1]
        for item in reversed(items[:-1]):
            result = item + result if e.op == "+" else item * result
        return result
    if e.op == "-":
        return to_poly(e.left, n) - to_poly(e.right, n)
    if e.op == "/":
        divisor = constant_value(e.right)
        if divisor is None or divisor == 0:
            raise NotPolynomialError("division by a non-constant (or zero) expression")
        return to_poly(e.left, n) / P._to_fmpq(divisor)
    exponent = constant_value(e.right)  # "^"
    if exponent is None or exponent.denominator != 1 or exponent < 0:
        raise NotPolynomialError(f"power with exponent {exponent if exponent is not None else 'non-constant'}"
                                 " is not a polynomial power")
    return to_poly(e.left, n) ** int(exponent)


def is_polynomial(e: Expr) -> bool:
    n = max(variables(e), default=-1) + 1
    try:
        to_poly(e, max(n, 1))
    except NotPolynomialError:
        return False
    return True


def _monomial(exponents: tuple[int, ...]) -> Expr | None:
    factors: list[Expr] = []
    for index, power in enumerate(exponents):
        if power == 1:
            factors.append(Var(index))
        elif power > 1:
            factors.append(Binary("^", Var(index), Int(power)))
    return chain("*", factors) if factors else None


def _coefficient_times(coefficient: Fraction, monomial: Expr | None) -> Expr:
    if monomial is None:
        return number(coefficient)
    if coefficient == 1:
        return monomial
    return Binary("*", number(coefficient), monomial)


def from_poly(p: P.Poly) -> Expr:
    """The canonical tree of a polynomial: deglex terms, right-nested sums and products,
    coefficient first (``* INT- 2 x1``; rational ones as ``/ INT p INT q``), ``^ x INT+ k``."""
    items = [_coefficient_times(c, _monomial(m)) for m, c in P.terms(p)]
    return chain("+", items) if items else Int(0)


# ---- sympy (display only) ----------------------------------------------------------------
def to_sympy(e: Expr):
    """A sympy expression (for display and cross-checks; never in the hot path)."""
    import sympy

    functions = {"sqrt": sympy.sqrt, "exp": sympy.exp, "ln": sympy.log, "sin": sympy.sin, "cos": sympy.cos,
                 "tan": sympy.tan, "asin": sympy.asin, "acos": sympy.acos, "atan": sympy.atan, "Abs": sympy.Abs}

    def convert(node: Expr):
        if isinstance(node, Int):
            return sympy.Integer(node.value)
        if isinstance(node, Float):
            value = node.value
            return sympy.Rational(value.numerator, value.denominator)
        if isinstance(node, Var):
            return sympy.Symbol(f"x{node.index}")
        if isinstance(node, Const):
            return sympy.pi if node.name == "pi" else sympy.E
        if isinstance(node, Unary):
            return functions[node.op](convert(node.arg))
        if node.op in ("+", "*"):
            items = [convert(item) for item in operands(node, node.op)]
            return sympy.Add(*items) if node.op == "+" else sympy.Mul(*items)
        left, right = convert(node.left), convert(node.right)
        if node.op == "-":
            return left - right
        if node.op == "/":
            return left / right
        return left ** right

    return convert(e)


def fmpq_number(c: flint.fmpq) -> Expr:
    return number(P.fmpq_to_fraction(c))


# Calculus is implemented in its own module; re-exported here so that
# ``from seq2math.symbolic.expr import diff, evaluate, simplify`` works.
from seq2math.symbolic.calculus import diff, evaluate, gradient, simplify  # noqa: E402,F401
