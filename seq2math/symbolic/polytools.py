"""Small bridges between python-flint polynomials, exponent arrays and numpy.

The verifier works on ``fmpq_mpoly`` polynomials (exact rationals). The SOS machinery
needs their supports as integer arrays and their coefficients as floats; the exact
re-check needs them as ``{exponent tuple: fmpq}`` dictionaries. Everything here is
independent of the expression-tree layer so the certificates stay self-contained.
"""

from __future__ import annotations

from fractions import Fraction

import flint
import numpy as np

from seq2math.symbolic.poly import ring as symbolic_ring

Poly = flint.fmpq_mpoly


def ring(nvars: int) -> flint.fmpq_mpoly_ctx:
    """The polynomial ring Q[x0..x{n-1}] shared with the rest of the package."""

    return symbolic_ring(nvars)


def to_fmpq(value) -> flint.fmpq:
    """An exact rational from an int, Fraction, fmpq, fmpz or a float (converted exactly)."""
    if isinstance(value, flint.fmpq):
        return value
    if isinstance(value, (int, flint.fmpz)):
        return flint.fmpq(int(value))
    if isinstance(value, float):
        value = Fraction(value)
    if isinstance(value, Fraction):
        return flint.fmpq(value.numerator, value.denominator)
    raise TypeError(f"cannot read {value!r} as an exact rational")


def in_ring(p: Poly, nvars: int) -> Poly:
    """``p`` rewritten in ``ring(nvars)`` (pads or checks its variables)."""
    ctx = ring(nvars)
    if p.context() is ctx:
        return p
    terms = {}
    for exps, coef in p.to_dict().items():
        if any(e != 0 for e in exps[nvars:]):
            raise ValueError(f"polynomial {p} uses a variable beyond x{nvars - 1}")
        terms[tuple(exps[:nvars]) + (0,) * max(0, nvars - len(exps))] = coef
    return ctx.from_dict(terms)


def support(p: Poly) -> np.ndarray:
    """Exponent vectors of ``p`` as an int array (terms, nvars)."""
    monoms = p.monoms()
    if not monoms:
        return np.zeros((0, p.context().nvars()), dtype=np.int64)
    return np.array(monoms, dtype=np.int64)


def coefficient_map(p: Poly) -> dict[tuple[int, ...], flint.fmpq]:
    return {tuple(e): c for e, c in zip(p.monoms(), p.coeffs())}


def lie_derivative(V: Poly, system: list[Poly]) -> Poly:
    """V̇ = ∇V · f, exactly."""
    total = V.context().from_dict({})
    for i, fi in enumerate(system):
        total += V.derivative(i) * fi
    return total


class NumericPoly:
    """A polynomial evaluated on many points at once: values = monomials(X) @ coefficients."""

    def __init__(self, p: Poly):
        self.exponents = support(p)                                    # (terms, n)
        self.coefficients = np.array([float(c) for c in p.coeffs()])   # (terms,)
        self.nvars = p.context().nvars()

    def __call__(self, X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(np.asarray(X, dtype=float))                  # (N, n)
        if not len(self.coefficients):
            return np.zeros(len(X))
        with np.errstate(over="ignore", invalid="ignore"):
            monomials = np.prod(X[:, None, :] ** self.exponents[None, :, :], axis=2)  # (N, terms)
            return monomials @ self.coefficients


def exact_value(p: Poly, point: tuple[flint.fmpq, ...]) -> flint.fmpq:
    """p(point) in exact rational arithmetic."""
    if p.context().nvars() == 0:
        return flint.fmpq(0)
    return flint.fmpq(p(*point)) if len(p) else flint.fmpq(0)


def rationalise(x: np.ndarray, digits: int) -> tuple[flint.fmpq, ...]:
    """The point rounded to ``digits`` decimals, as exact rationals."""
    scale = 10 ** digits
    return tuple(flint.fmpq(int(round(float(v) * scale)), scale) for v in x)


def fmt_point(point) -> list[str]:
    """A rational point in JSON-friendly form (strings such as "3/2")."""
    return [str(v) for v in point]
