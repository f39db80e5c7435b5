"""Exact points for the verifier: values at rational points, float points rounded to rationals.

A counterexample of the verifier is an exact rational point (``rationalise`` turns the
float point a numerical search found into one), checked by ``exact_value`` in rationals
and written out by ``fmt_point`` as strings such as ``"3/2"`` (docs/verification.md).
Polynomials, rings, ``lie_derivative`` and float evaluation live in ``symbolic.poly``.
"""

from __future__ import annotations

import flint
import numpy as np

from seq2math.symbolic.poly import Poly


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
