"""The sign conditions of a polynomial check, as exact polynomials, and the SOS program for them.

``sign_conditions`` lists what must be ≥ 0 (docs/verification.md): V (``positive``; with the
lyapunov check it must dominate a Σ εᵢₖ xᵢ^(2k) term, ``definite``), −V̇ (``decrease``) and,
when asked, −V̇ dominating a Σ δᵢₖ xᵢ^(2k) term (``asymptotic``). ``violation`` checks a
rational point against one of them exactly; ``build_program`` writes the SOS program that
the solver answers, and ``exact_polynomial`` rounds its ε weights to rationals.
"""

from __future__ import annotations

from dataclasses import dataclass

import flint
import numpy as np

from seq2math.lyapunov.outcomes import ASYMPTOTIC, DECREASE, POSITIVE
from seq2math.sos import exact as X
from seq2math.sos.sdp import SOSCondition, SOSProgram
from seq2math.symbolic.poly import Poly, lie_derivative
from seq2math.symbolic.polytools import exact_value, fmt_point

#: how a violated condition reads in a counterexample's statement
SUBJECT = {POSITIVE: "V", DECREASE: "-dV/dt"}
#: the ε terms must add up to at least this fraction of the largest coefficient (keeps the SDP away from ε = 0)
EPSILON_FLOOR = 1e-6
#: Gram blocks of the check's SOS program (``seq2math.sos.sparsity``): the lossless sign-symmetry blocks, one
#: solve with the dense program's optimum ("terms", the sparser TSSOS step, costs a second solve whenever it
#: finds no margin: slower on BPoly-like systems, docs/performance.md)
SPARSITY = "signs"


@dataclass(frozen=True)
class Condition:
    """One sign condition: ``polynomial`` ≥ 0 everywhere."""

    name: str              # POSITIVE, DECREASE or ASYMPTOTIC
    polynomial: Poly       # exact, in the ring of the system
    definite: bool         # it must dominate some Σ εᵢₖ xᵢ^(2k), Σₖ εᵢₖ > 0: 0 at x ≠ 0 violates it


def sign_conditions(system: list[Poly], V: Poly, check: str, asymptotic: bool) -> list[Condition]:
    """[positive, decrease] (+ asymptotic for a lyapunov check when asked), in that order."""
    decrease = -lie_derivative(V, system)
    conditions = [Condition(POSITIVE, V, definite=(check == "lyapunov")), Condition(DECREASE, decrease, False)]
    if asymptotic and check == "lyapunov":
        conditions.append(Condition(ASYMPTOTIC, decrease, definite=True))
    return conditions


def violation(condition: Condition, point) -> dict | None:
    """The exact counterexample record if the rational ``point`` violates the condition, else None."""
    value = exact_value(condition.polynomial, point)
    nonzero = any(v != 0 for v in point)
    if value < 0 or (condition.definite and nonzero and value == 0):
        what = SUBJECT.get(condition.name, condition.name)
        return {"condition": condition.name, "point": fmt_point(point), "value": str(value),
                "statement": f"{what} = {value} {'< 0' if value < 0 else 'at a nonzero point'}: "
                             f"x = ({', '.join(fmt_point(point))})"}
    return None


#: ``quick_counterexample`` tries points at these distances from 0, along the axes and SCREEN_DIRECTIONS others
SCREEN_SCALES = (flint.fmpq(1, 1000), flint.fmpq(1, 10), flint.fmpq(1), flint.fmpq(10))
SCREEN_DIRECTIONS = 8


def quick_counterexample(conditions: list[Condition], nvars: int) -> dict | None:
    """An exact counterexample among a few fixed rational points, or None (a screen, microseconds per point).

    The solve loop runs it in its own process before the full check (which forks a child): most wrong
    candidates of a beam fail at a point near 0 or on an axis. Every point is checked in exact rationals
    (``violation``), so an answer here is as final as the full check's; None decides nothing."""
    rng = np.random.default_rng(0)
    directions = [tuple(int(i == k) * sign for i in range(nvars)) for k in range(nvars) for sign in (1, -1)]
    directions += [tuple(int(v) for v in rng.integers(-3, 4, size=nvars)) for _ in range(SCREEN_DIRECTIONS)]
    for scale in SCREEN_SCALES:
        for direction in directions:
            if not any(direction):
                continue
            point = tuple(scale * v for v in direction)
            for condition in conditions:
                if condition.name == ASYMPTOTIC:          # never decides validity
                    continue
                witness = violation(condition, point)
                if witness is not None:
                    return witness
    return None


def _pure_powers(p: Poly, nvars: int) -> dict[int, list[int]]:
    """Variable i -> exponents 2k ≥ 2 with a positive coefficient of x_i^(2k) in p."""
    powers: dict[int, list[int]] = {i: [] for i in range(nvars)}
    for exps, coef in zip(p.monoms(), p.coeffs()):
        nonzero = [i for i, e in enumerate(exps) if e]
        if len(nonzero) == 1 and exps[nonzero[0]] % 2 == 0 and coef > 0:
            powers[nonzero[0]].append(int(exps[nonzero[0]]))
    return powers


def _float_terms(p: Poly) -> dict[tuple[int, ...], float]:
    return {tuple(int(v) for v in e): float(c) for e, c in zip(p.monoms(), p.coeffs())}


def build_program(conditions: list[Condition], nvars: int) -> tuple[SOSProgram, list[dict]] | str:
    """The SOS program and, per condition, {parameter index: (variable, exponent)} of its ε terms.

    A string instead says why no certificate of this form exists (a definite condition
    without any term xᵢ^(2k) with a positive coefficient for some i).
    """
    sos_conditions, eps_index, inequalities = [], [], []
    nparams = 0
    for cond in conditions:
        params: dict[int, tuple[int, int]] = {}
        parametric: dict[int, dict] = {}
        if cond.definite:
            powers = _pure_powers(cond.polynomial, nvars)
            missing = [i for i, exps in powers.items() if not exps]
            if missing:
                return f"{cond.name}: no term x{missing[0]}^(2k) with a positive coefficient"
            floor = EPSILON_FLOOR * max(abs(float(c)) for c in cond.polynomial.coeffs())
            for i, exps in powers.items():
                group = {}
                for e in exps:
                    exponent = tuple(e if j == i else 0 for j in range(nvars))
                    params[nparams] = (i, e)
                    parametric[nparams] = {exponent: -1.0}
                    group[nparams] = -1.0
                    inequalities.append(({nparams: -1.0}, 0.0))          # ε ≥ 0
                    nparams += 1
                inequalities.append((group, -floor))                       # Σ_k ε_ik ≥ floor
        sos_conditions.append(SOSCondition(cond.name, _float_terms(cond.polynomial), parametric))
        eps_index.append(params)
    return SOSProgram(nvars, nparams, sos_conditions, inequalities, sparsity=SPARSITY), eps_index


def exact_polynomial(cond: Condition, params: dict[int, tuple[int, int]], values: np.ndarray
                     ) -> tuple[dict, dict[str, str]] | None:
    """The condition's polynomial with its ε rounded down to rationals (1e-9 grid), exactly, and the ε
    as strings; None when the ε of some variable round to 0 (the result would not be definite)."""
    p = X.poly_from_json(X.poly_to_json(dict(zip(map(tuple, cond.polynomial.monoms()), cond.polynomial.coeffs()))))
    epsilons, totals = {}, {}
    for k, (i, e) in params.items():
        eps = flint.fmpq(int(np.floor(max(values[k], 0.0) * 1e9)), 10 ** 9)
        key = tuple(e if j == i else 0 for j in range(len(next(iter(p)))))
        p[key] = p.get(key, flint.fmpq(0)) - eps
        epsilons[f"x{i}^{e}"] = str(eps)
        totals[i] = totals.get(i, flint.fmpq(0)) + eps
    if any(t <= 0 for t in totals.values()):
        return None
    return {k: v for k, v in p.items() if v != 0}, epsilons
