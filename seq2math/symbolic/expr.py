"""Immutable expression trees for the non-polynomial case, and their link to polynomials.

A tree keeps the exact structure it was read with (a file's ``+ a + b c`` stays a
right-nested pair of ``+`` nodes, ``FLOAT+ 50 0 10^ INT- 5`` stays mantissa 50000 and
exponent -5), so that writing it back reproduces the file token for token. Canonical
forms are built only from polynomials (``from_poly``).

Nodes: ``Int`` (exact integer), ``Float`` (±mantissa·10^exponent, exact), ``Var`` (x_i),
``Const`` (pi, E), ``Unary`` (sqrt exp ln sin cos tan asin acos atan Abs) and ``Binary``
(+ - * / ^). Python operators build trees without simplification: ``Var(0)**2 + 1``.

Calculus and evaluation live in ``seq2math.symbolic.calculus`` (``diff``, ``evaluate``,
``simplify``), sympy display in ``seq2math.symbolic.display``; this module holds the nodes,
``to_poly`` / ``from_poly`` and the infix text (``to_infix``, read back by ``seq2math.tokens.infix``).
"""

from __future__ import annotations

import math
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
    if e.op in ("+", "*"):  # a right-nested chain: walked without recursion (it may be long)
        values = [constant_value(item) for item in operands(e, e.op)]
        if any(value is None for value in values):
            return None
        total = values[-1]
        for value in reversed(values[:-1]):
            total = value + total if e.op == "+" else value * total
        return total
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
    return _power(to_poly(e.left, n), int(exponent), n)


#: the largest power of a single term (a monomial or a number other than 0, 1, -1) that is expanded
MAX_TERM_POWER = 10_000
#: the most terms the expansion of a sum's power may have
MAX_EXPANDED_TERMS = 1_000_000


def _power(base: P.Poly, power: int, n: int) -> P.Poly:
    """``base ** power``, refused (``NotPolynomialError``) when the result would be too large to build:
    python-flint aborts the process, or asks for gigabytes, on powers such as 2^(10^13) or (x0 + x1 + x2)^5000."""
    terms = len(base)
    trivial = terms == 0 or (base.is_constant() and abs(P.value_at_zero(base)) == 1)
    if not trivial and terms == 1 and power > MAX_TERM_POWER:
        raise NotPolynomialError(f"the power {power} is too large to expand exactly (at most {MAX_TERM_POWER})")
    if terms > 1:
        size = min(math.comb(terms + power - 1, power), math.comb(n + P.total_degree(base) * power, n))
        if size > MAX_EXPANDED_TERMS:
            raise NotPolynomialError(f"a sum of {terms} terms to the power {power} would expand to up to "
                                     f"{size:.3g} terms, more than {MAX_EXPANDED_TERMS:,}")
    return base ** power


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


def fmpq_number(c: flint.fmpq) -> Expr:
    return number(P.fmpq_to_fraction(c))


# ---- writing (infix text) -------------------------------------------------------------------------------
SUM, PRODUCT, POWER, ATOM = 1, 2, 4, 5


def _positive_part(e: Expr) -> Expr | None:
    """For a term written with a leading minus sign (``INT- 2``, ``* INT- 2 x``, ``* / INT- 1 INT+ 3 x``),
    the same term without it; None for other terms."""
    if isinstance(e, Int):
        return Int(-e.value) if e.value < 0 else None
    if isinstance(e, Float):
        return Float(False, e.mantissa, e.exponent) if e.negative else None
    if isinstance(e, Binary) and e.op == "/" and isinstance(e.left, Int) and e.left.value < 0:
        return Binary("/", Int(-e.left.value), e.right)
    if isinstance(e, Binary) and e.op == "*":
        if isinstance(e.left, Int) and e.left.value < 0:
            return e.right if e.left.value == -1 else Binary("*", Int(-e.left.value), e.right)
        head = _positive_part(e.left) if isinstance(e.left, Binary) and e.left.op == "/" else None
        if head is not None:
            return Binary("*", head, e.right)
    return None


def _float_text(e: Float) -> str:
    if e.exponent >= 0:
        return f"{e.mantissa}e{e.exponent}"
    digits = str(e.mantissa).rjust(-e.exponent + 1, "0")
    return digits[:e.exponent] + "." + digits[e.exponent:]


def _render(e: Expr) -> tuple[str, int]:
    """(text, precedence of its outermost operator)."""
    if isinstance(e, Var):
        return f"x{e.index}", ATOM
    if isinstance(e, Const):
        return e.name, ATOM
    if isinstance(e, Int):
        return str(e.value), (SUM if e.value < 0 else ATOM)
    if isinstance(e, Float):
        return ("-" if e.negative else "") + _float_text(e), (SUM if e.negative else ATOM)
    if isinstance(e, Unary):
        return f"{e.op}({to_infix(e.arg)})", ATOM
    if e.op == "+":
        items = operands(e, "+")
        text = _wrap(items[0], SUM)
        for item in items[1:]:
            positive = _positive_part(item)
            if positive is not None:
                text += " - " + _wrap(positive, PRODUCT)
            else:
                text += " + " + _wrap(item, SUM + 1 if isinstance(item, Binary) and item.op == "+" else SUM)
        return text, SUM
    if e.op == "-":
        return f"{_wrap(e.left, SUM)} - {_wrap(e.right, PRODUCT)}", SUM
    if e.op == "*":
        positive = _positive_part(e)
        if positive is not None:
            return "-" + _wrap(positive, PRODUCT), SUM
        items = operands(e, "*")
        parts = [_wrap(items[0], PRODUCT)]
        parts += [_wrap(item, PRODUCT + 1 if isinstance(item, Binary) and item.op in "*/" else PRODUCT)
                  for item in items[1:]]
        return "*".join(parts), PRODUCT
    if e.op == "/":
        positive = _positive_part(e)
        if positive is not None:
            return "-" + _wrap(positive, PRODUCT), SUM
        return f"{_wrap(e.left, PRODUCT)}/{_wrap(e.right, PRODUCT + 1)}", PRODUCT
    return f"{_wrap(e.left, ATOM)}^{_wrap(e.right, ATOM)}", POWER  # "^"


def _wrap(e: Expr, minimum: int) -> str:
    text, precedence = _render(e)
    return text if precedence >= minimum else f"({text})"


def to_infix(e: Expr) -> str:
    """Readable infix text that ``parse_infix`` reads back to the same value (usually the same tree)."""
    return _render(e)[0]


def system_to_infix(system: list[Expr]) -> str:
    return "; ".join(f"x{i}' = {to_infix(f)}" for i, f in enumerate(system))
