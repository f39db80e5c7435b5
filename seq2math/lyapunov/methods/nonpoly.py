"""The ``nonpoly`` method: simple candidates for non-polynomial systems, proved by the prover chain.

Candidates, best first (each checked by the solve loop: numerical falsification, then the
provers of ``check.NONPOLY_PROVERS``, docs/verification.md):

1. V = Σ xᵢ²;
2. diagonal quadratic forms Σ wᵢ xᵢ² with weights from ``WEIGHTS``, ranked by a small numerical
   search (the share of sampled points where V̇ > 0, then the worst relative value);
3. energy-like forms: Σ 2(1 − cos xᵢ) for the coordinates whose equation is a sine of xᵢ
   (plus xⱼ² for the others), which suit pendulum-like systems (they are not proper, so they can
   at best be proved on a region, never globally).

The method never decides validity; a candidate counts only when a prover proved it.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from typing import Iterator

import numpy as np

from seq2math.lyapunov.methods.base import Method, Search, register_method
from seq2math.symbolic.calculus import evaluate
from seq2math.symbolic.expr import Binary, Expr, Int, Unary, Var, as_expr, chain, from_poly, number, walk
from seq2math.symbolic.poly import Poly

#: the weights tried for each coordinate of a diagonal quadratic form
WEIGHTS = (Fraction(1, 4), Fraction(1, 2), Fraction(1), Fraction(2), Fraction(4))
#: how many weighted forms are proposed after Σ xᵢ²
WEIGHTED_CANDIDATES = 3
#: sampled points of the ranking search (seeded)
SAMPLES = 400


def _quadratic(weights: tuple[Fraction, ...]) -> Expr:
    terms = [Binary("^", Var(i), Int(2)) if w == 1 else Binary("*", number(w), Binary("^", Var(i), Int(2)))
             for i, w in enumerate(weights)]
    return chain("+", terms)


def _vdot_values(system: list[Expr], weights: tuple[Fraction, ...], X: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return sum(2 * float(w) * X[:, i] * evaluate(f, X) for i, (w, f) in enumerate(zip(weights, system)))


def ranked_weights(system: list[Expr], seed: int = 0) -> list[tuple[Fraction, ...]]:
    """Weight vectors (not all ones) ranked by how rarely V̇ > 0 on seeded samples, then by the worst value."""
    n = len(system)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((SAMPLES, n)) * np.repeat([0.1, 1.0, 10.0, 100.0], SAMPLES // 4)[:, None]
    scored = []
    for weights in itertools.product(WEIGHTS, repeat=n):
        if all(w == 1 for w in weights) or len(scored) > 4 ** 5:
            continue
        values = _vdot_values(system, weights, X) / np.maximum(np.sum(X * X, axis=1), 1e-300)
        finite = np.where(np.isfinite(values), values, np.inf)
        scored.append((float(np.mean(finite > 0)), float(np.max(finite)), weights))
    scored.sort(key=lambda item: (item[0], item[1]))
    return [weights for *_, weights in scored]


def energy_candidate(system: list[Expr]) -> Expr | None:
    """Σ 2(1 − cos xᵢ) over coordinates whose equation contains sin(xᵢ), plus xⱼ² for the others; None if none."""
    pieces, any_trig = [], False
    for i, f in enumerate(system):
        if any(isinstance(node, Unary) and node.op == "sin" and node.arg == Var(i) for node in walk(f)):
            pieces.append(Binary("*", Int(2), Binary("-", Int(1), Unary("cos", Var(i)))))
            any_trig = True
        else:
            pieces.append(Binary("^", Var(i), Int(2)))
    return chain("+", pieces) if any_trig else None


@register_method
class NonPolynomial(Method):
    """Quadratic and energy-like candidates for non-polynomial systems (module docstring)."""

    name = "nonpoly"

    def propose(self, search: Search, check: str, deadline: float | None) -> Iterator[Expr]:
        system = [from_poly(f) if isinstance(f, Poly) else as_expr(f) for f in search.system]
        n = len(system)
        yield _quadratic((Fraction(1),) * n)
        for weights in ranked_weights(system, self.options.seed)[:WEIGHTED_CANDIDATES]:
            yield _quadratic(weights)
        energy = energy_candidate(system)
        if energy is not None:
            yield energy
