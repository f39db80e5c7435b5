"""Exact multivariate polynomials over the rationals, backed by python-flint.

Every polynomial of the project is a ``flint.fmpq_mpoly`` in the ring ``ring(n)`` whose
variables are named ``x0 .. x{n-1}``. The rings use the *degree-lexicographic* order,
so ``terms(p)`` lists the highest total degree first and, within a degree, ``x0`` before
``x1``: that is the order in which polynomials are written as prefix expressions
(``-x0^3 + x1`` is ``+ * INT- 1 ^ x0 INT+ 3 x1``).

flint is used instead of sympy because expanding products of 3-variable polynomials is
about four orders of magnitude faster (issue 4); sympy is only used to *display*
polynomials (``to_sympy``) or to read one a user typed in sympy syntax (``from_sympy``).

Example::

    R = ring(2); x0, x1 = R.gens()
    V = x0**2 + x1**2
    f = [-x0 + x1, -x0 - x1**3]
    lie_derivative(V, f)          # -2*x0^2 - 2*x1^4
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from typing import Iterable, Sequence

import flint
import numpy as np

Poly = flint.fmpq_mpoly

#: the largest number of variables the token vocabulary names (x0 .. x11)
MAX_VARIABLES = 12


@lru_cache(maxsize=None)
def ring(n: int) -> flint.fmpq_mpoly_ctx:
    """The polynomial ring Q[x0..x{n-1}] (cached: one context object per n)."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"a polynomial ring needs at least one variable, got n={n!r}")
    return flint.fmpq_mpoly_ctx.get(tuple(f"x{i}" for i in range(n)), "deglex")


def nvars(p: Poly) -> int:
    """Number of variables of the ring of ``p``."""
    return p.context().nvars()


def variables(n: int) -> tuple[Poly, ...]:
    """The generators x0 .. x{n-1} of ``ring(n)``."""
    return tuple(ring(n).gens())


def constant(value: int | Fraction, n: int) -> Poly:
    return ring(n).constant(_to_fmpq(value))


def _to_fmpq(value: int | Fraction | flint.fmpq) -> flint.fmpq:
    if isinstance(value, flint.fmpq):
        return value
    if isinstance(value, Fraction):
        return flint.fmpq(value.numerator, value.denominator)
    if isinstance(value, (int, np.integer)):
        return flint.fmpq(int(value))
    raise TypeError(f"polynomial coefficients must be exact (int or Fraction), got {value!r}")


def fmpq_to_fraction(c: flint.fmpq) -> Fraction:
    return Fraction(int(c.p), int(c.q))


#: the largest finite float64, as an exact rational: a coefficient at or past it has no float value
FLOAT_LIMIT = flint.fmpq(int(np.finfo(np.float64).max))


def saturated_float(c: flint.fmpq) -> float:
    """``float(c)``, or ±inf for a rational past the float64 range (flint raises OverflowError there)."""
    if abs(c) < FLOAT_LIMIT:
        return float(c)
    return float("inf") if c > 0 else float("-inf")


def beyond_float_range(p: Poly) -> bool:
    """Whether some coefficient of ``p`` is past the float64 range (a model can propose V = 10^400 + ...):
    numerical searches and SOS solvers cannot represent it."""
    return any(abs(c) >= FLOAT_LIMIT for c in p.coeffs())


def gradient(p: Poly, n: int | None = None) -> list[Poly]:
    """[∂p/∂x0, ..., ∂p/∂x{n-1}]."""
    n = nvars(p) if n is None else n
    return [p.derivative(i) for i in range(n)]


def lie_derivative(V: Poly, f: Sequence[Poly]) -> Poly:
    """V̇ = ∇V · f, the derivative of V along the trajectories of ẋ = f(x), exactly."""
    if len(f) != nvars(V):
        raise ValueError(f"the system has {len(f)} equations but V lives in {nvars(V)} variables")
    total = V.context().from_dict({})
    for i, fi in enumerate(f):
        if not fi.is_zero():
            total += V.derivative(i) * fi
    return total


def terms(p: Poly) -> list[tuple[tuple[int, ...], Fraction]]:
    """The nonzero terms of ``p`` as (exponent tuple, coefficient), in deglex order, highest first."""
    return [(tuple(int(e) for e in monom), fmpq_to_fraction(c)) for monom, c in p.terms()]


def from_terms(items: Iterable[tuple[Sequence[int], int | Fraction]], n: int) -> Poly:
    """Build a polynomial from (exponent tuple, coefficient) pairs; equal monomials add up."""
    accumulated: dict[tuple[int, ...], flint.fmpq] = {}
    for monom, coefficient in items:
        monom = tuple(int(e) for e in monom)
        if len(monom) != n or any(e < 0 for e in monom):
            raise ValueError(f"exponent tuple {monom} does not fit {n} variables")
        accumulated[monom] = accumulated.get(monom, flint.fmpq(0)) + _to_fmpq(coefficient)
    return ring(n).from_dict({m: c for m, c in accumulated.items() if c != 0})


def total_degree(p: Poly) -> int:
    """Total degree; -1 for the zero polynomial (flint's convention)."""
    return -1 if p.is_zero() else int(p.total_degree())


def is_zero(p: Poly) -> bool:
    return p.is_zero()


def value_at_zero(p: Poly) -> Fraction:
    """p(0), the constant coefficient."""
    return fmpq_to_fraction(_constant_coefficient(p, nvars(p)))


def _constant_coefficient(p: Poly, n: int) -> flint.fmpq:
    zero = (0,) * n
    for monom, c in p.terms():
        if tuple(monom) == zero:
            return c
    return flint.fmpq(0)


def in_ring(p: Poly, n: int) -> Poly:
    """``p`` rewritten in ``ring(n)``: pads missing variables, rejects a variable beyond x{n-1}."""
    ctx = ring(n)
    if p.context() is ctx:
        return p
    items = {}
    for monom, c in p.terms():
        monom = tuple(monom)
        if any(monom[n:]):
            raise ValueError(f"polynomial {p} uses a variable beyond x{n - 1}")
        items[(monom + (0,) * n)[:n]] = c
    return ctx.from_dict(items)


class NumericPoly:
    """``p`` prepared for float64 evaluation at many points: ``NumericPoly(p)(X)`` for X of shape [N, n].

    Vectorised: one table of powers per variable, then one gather and product per variable,
    then a dot product with the coefficients. Coefficients are rounded to float64 once (use
    flint for exact values; one past the float range becomes ±inf); overflow gives ±inf or nan,
    without a warning.
    """

    def __init__(self, p: Poly):
        items = list(p.terms())
        self.nvars = nvars(p)
        exponents = [tuple(m) for m, _ in items]
        self.exponents = np.array(exponents, dtype=np.int64).reshape(len(items), self.nvars)  # [T, n]
        self.coefficients = np.array([saturated_float(c) for _, c in items])  # [T]

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return self._values(X, self.coefficients)

    def magnitude(self, X: np.ndarray) -> np.ndarray:
        """Σ |c|·|x|^e over the terms c·x^e: the size against which a value of p at X is small or not."""
        return self._values(np.abs(np.asarray(X, dtype=np.float64)), np.abs(self.coefficients))

    def _values(self, X: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        if X.ndim != 2 or X.shape[1] != self.nvars:
            raise ValueError(f"evaluate: expected points of shape [N, {self.nvars}], got {X.shape}")
        if not len(coefficients):
            return np.zeros(X.shape[0])
        values = np.ones((X.shape[0], len(coefficients)))  # [N, T]
        with np.errstate(over="ignore", invalid="ignore"):
            for i in range(self.nvars):
                column = self.exponents[:, i]
                top = int(column.max())
                if top == 0:
                    continue
                powers = X[:, i:i + 1] ** np.arange(top + 1)  # [N, top+1]
                values *= powers[:, column]  # gather: [N, T]
            return values @ coefficients


def evaluate(p: Poly, X: np.ndarray) -> np.ndarray:
    """Values of ``p`` at the rows of ``X`` (shape [N, n]) in float64, shape [N] (see ``NumericPoly``)."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"evaluate: expected points of shape [N, {nvars(p)}], got {X.shape}")
    return NumericPoly(p)(X)


def to_sympy(p: Poly):
    """A sympy expression over symbols x0.. (for display only)."""
    import sympy

    n = nvars(p)
    symbols = sympy.symbols(f"x0:{n}")
    result = sympy.Integer(0)
    for monom, c in terms(p):
        term = sympy.Rational(c.numerator, c.denominator)
        for s, e in zip(symbols, monom):
            if e:
                term *= s ** e
        result += term
    return result


def from_sympy(expression, n: int) -> Poly:
    """Convert a sympy polynomial expression in x0..x{n-1} (for user input and display code)."""
    import sympy

    symbols = sympy.symbols(f"x0:{n}")
    extra = expression.free_symbols - set(symbols)
    if extra:
        raise ValueError(f"unknown symbols {sorted(map(str, extra))}; expected only x0..x{n - 1}")
    poly = sympy.Poly(sympy.expand(expression), *symbols)
    return from_terms(((m, Fraction(int(c.p), int(c.q))) for m, c in poly.terms()), n)
