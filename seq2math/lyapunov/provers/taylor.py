"""A rigorous quadratic Taylor model of a condition at the origin (docs/provers.md).

The interval prover cannot prove ``g > 0`` on boxes that touch the origin where ``g(0) = 0``:
every enclosure there reaches below 0. This module proves it on a small box ``|x_i| ≤ r``
instead, from Taylor's theorem with the Lagrange remainder:

    g(x) = xᵀ(H/2)x + Σ_{|α|=3} ∂^α g(θx)/α! · x^α      (θ ∈ (0, 1), when g(0) = 0, ∇g(0) = 0)

- ``g(0)`` and ``∇g(0)`` must enclose *exactly* zero (arb balls of radius 0), else no model;
- ``Q`` is the rational midpoint of ``H/2`` and ``e`` bounds every entry of ``H/2 − Q``;
- the quadratic part is proved definite by an exact SOS certificate: ``xᵀ(Q − mI)x`` is a sum
  of squares, i.e. its Gram matrix ``Q − mI`` in the basis (x0, ..., x{n-1}) is positive
  semidefinite by exact LDLᵀ (``seq2math.sos.exact.is_psd_exact``), for a rational m > 0;
- ``K = Σ_{|α|=3} max_box |∂^α g| / α!`` bounds the cubic remainder by ``K‖x‖³`` (each
  |x^α| ≤ ‖x‖³), with the third derivatives enclosed by arb on the whole small box.

Then ``g(x) ≥ ‖x‖²(m − e·n − K‖x‖) > 0`` for ``0 < ‖x‖ ≤ r√n`` whenever ``m − e·n − K·r√n > 0``,
which is checked in ball arithmetic. A finite enclosure of the third derivatives on the box also
shows that g is three times differentiable there (every function of the tree is defined).
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from flint import arb

from seq2math.lyapunov.provers.enclosure import ball, enclose_at
from seq2math.sos.exact import is_psd_exact
from seq2math.symbolic.calculus import diff
from seq2math.symbolic.expr import Expr

#: the small box is searched from the prover's box down by halving, at most this many times
HALVINGS = 40


@dataclass(frozen=True)
class TaylorBound:
    radius: Fraction         # g > 0 on 0 < max|x_i| ≤ radius
    margin: Fraction         # m: xᵀQx ≥ m‖x‖², proved by the exact Gram matrix Q − mI
    detail: str              # what was proved, in words


def _exact(value: arb) -> Fraction | None:
    """The exact rational value of a radius-0 ball, else None."""
    if not value.is_finite() or not value.is_exact():
        return None
    mantissa, exponent = value.mid().man_exp()
    return Fraction(int(mantissa)) * Fraction(2) ** int(exponent)


def _midpoint(value: arb) -> Fraction:
    mantissa, exponent = value.mid().man_exp()
    return Fraction(int(mantissa)) * Fraction(2) ** int(exponent)


def _factorial_of(alpha: tuple[int, ...], n: int) -> int:
    return math.prod(math.factorial(alpha.count(i)) for i in range(n))


def _definite_margin(Q: list[list[Fraction]]) -> Fraction | None:
    """A rational m > 0 with Q − mI PSD, proved exactly; None when none is found."""
    smallest = float(np.linalg.eigvalsh(np.array([[float(q) for q in row] for row in Q]))[0])
    if not smallest > 0:
        return None
    for fraction in (2, 4, 16):
        m = Fraction(smallest / fraction).limit_denominator(10**6)
        if m <= 0:
            continue
        shifted = [[Q[i][j] - (m if i == j else 0) for j in range(len(Q))] for i in range(len(Q))]
        if is_psd_exact(shifted):
            return m
    return None


def quadratic_model(g: Expr, n: int, radius: Fraction, deadline: float) -> TaylorBound | str:
    """Prove g > 0 on 0 < max|x_i| ≤ r for the largest r = radius/2^k found; else why not (a str)."""
    zero = [arb(0)] * n
    if not enclose_at(g, zero).is_zero():
        return "g(0) is not exactly 0"
    gradient = [diff(g, i) for i in range(n)]
    if not all(enclose_at(d, zero).is_zero() for d in gradient):
        return "the gradient at 0 is not exactly 0"
    second = {(i, j): diff(gradient[i], j) for i in range(n) for j in range(i, n)}
    Q = [[Fraction(0)] * n for _ in range(n)]
    error = arb(0)
    for (i, j), d in second.items():
        value = enclose_at(d, zero) / 2
        if not value.is_finite():
            return "the Hessian at 0 is not finite"
        Q[i][j] = Q[j][i] = _midpoint(value)
        error = error.max(value.rad())                          # |H_ij/2 − Q_ij| ≤ rad
    margin = _definite_margin(Q)
    if margin is None:
        return "the quadratic part at 0 is not positive definite (no exact SOS certificate)"
    third = {}
    for alpha in itertools.combinations_with_replacement(range(n), 3):
        i, j, k = alpha
        third[alpha] = (diff(second[(i, j)], k), _factorial_of(alpha, n))
    if time.monotonic() > deadline:
        return "out of time"
    r = radius
    for _ in range(HALVINGS):
        box = [ball(-r, r)] * n
        lower_orders = [g, *gradient, *second.values()]
        if not all(enclose_at(d, box).is_finite() for d in lower_orders):
            r /= 2                                              # g is not C² on this box (yet)
            continue
        K = arb(0)
        for derivative, factorial in third.values():
            K += enclose_at(derivative, box).abs_upper() / factorial
        left = arb(margin.numerator) / margin.denominator - error * n - K * arb(n).sqrt() * ball(r, r)
        if left.is_finite() and left > 0:
            detail = (f"Taylor model at 0: quadratic part ≥ {margin}·‖x‖² (exact SOS Gram matrix), "
                      f"cubic remainder ≤ {float(K.upper()):.3g}·‖x‖³ on |x_i| ≤ {r}")
            return TaylorBound(r, margin, detail)
        if time.monotonic() > deadline:
            return "out of time"
        r /= 2
    return f"the remainder could not be dominated on |x_i| ≤ {r * 2}"
