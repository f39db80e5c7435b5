"""Exact SOS certificate of the region claim V̇ < 0 on the annulus r² ≤ ‖x‖² ≤ R² (S-procedure).

With p = −V̇, g₁ = ‖x‖² − r² ≥ 0 and g₂ = R² − ‖x‖² ≥ 0 on the annulus, we look for

    p − δ‖x‖² − σ₁·g₁ − σ₂·g₂  is SOS,   σ₁, σ₂ SOS,   δ > 0,

which gives p ≥ δ‖x‖² ≥ δr² > 0 on the annulus (Putinar-style multipliers). The SDP is
solved by the project's engine (``seq2math.sos.sdp``, margins maximised); then δ and
the multipliers are rounded to rationals and every Gram matrix is made exact
(``seq2math.sos.exact``), so the certificate rests on exact LDLᵀ checks, not on solver
tolerance (docs/verification.md). ``recheck`` re-proves a certificate from V, f and the radii alone.
z3 remains the complete fallback (``counterexamples.exact_region_check``); this route is
the one that scales to 3 variables, where z3's nlsat often times out.
"""

from __future__ import annotations

from fractions import Fraction

import flint
import numpy as np

from seq2math.jobs.workers import TIMED_OUT, JobError, call_with_hard_limit, can_fork_safely
from seq2math.sos import exact as X
from seq2math.sos.newton import exponent_vectors
from seq2math.sos.sdp import SolverStatus, SOSCondition, SOSProgram, solve_sos
from seq2math.symbolic.poly import Poly, lie_derivative, ring

DELTA_FLOOR = 1e-6
COEFFICIENT_GRID = 10 ** 12


def _exact_dict(p: Poly) -> dict[tuple[int, ...], flint.fmpq]:
    return {tuple(int(e) for e in m): c for m, c in zip(p.monoms(), p.coeffs()) if c != 0}


def _float_dict(p: Poly) -> dict[tuple[int, ...], float]:
    return {m: float(c) for m, c in _exact_dict(p).items()}


def _constraints(nvars: int, inner: float, outer: float) -> tuple[Poly, Poly, Poly]:
    """(‖x‖², g₁, g₂) with the radii read as the decimals given (0.01 is 1/100)."""
    squared_norm = sum((x * x for x in ring(nvars).gens()), ring(nvars).constant(0))
    low, high = Fraction(str(inner)) ** 2, Fraction(str(outer)) ** 2
    return (squared_norm, squared_norm - flint.fmpq(low.numerator, low.denominator),
            flint.fmpq(high.numerator, high.denominator) - squared_norm)


def _monomials(nvars: int, degree: int) -> list[Poly]:
    R = ring(nvars)
    return [R.from_dict({m: 1}) for m in sorted(exponent_vectors(nvars, degree))]


def _program(p: Poly, nvars: int, inner: float, outer: float) -> tuple[SOSProgram, list[Poly]]:
    """Parameters: [δ, σ₁ coefficients, σ₂ coefficients]; conditions: main, σ₁, σ₂."""
    degree = max(2, 2 * ((int(p.total_degree()) + 1) // 2))          # even degree of the identity
    multipliers = _monomials(nvars, degree - 2)
    squared_norm, g1, g2 = _constraints(nvars, inner, outer)
    k = len(multipliers)
    main = {0: {m: -c for m, c in _float_dict(squared_norm).items()}}
    for j, m in enumerate(multipliers):
        main[1 + j] = {e: -c for e, c in _float_dict(m * g1).items()}
        main[1 + k + j] = {e: -c for e, c in _float_dict(m * g2).items()}
    sigma1 = {1 + j: _float_dict(m) for j, m in enumerate(multipliers)}
    sigma2 = {1 + k + j: _float_dict(m) for j, m in enumerate(multipliers)}
    conditions = [SOSCondition("main", _float_dict(p), main), SOSCondition("sigma1", {}, sigma1),
                  SOSCondition("sigma2", {}, sigma2)]
    floor = DELTA_FLOOR * max(abs(float(c)) for c in p.coeffs())
    return SOSProgram(nvars, 1 + 2 * k, conditions, [({0: -1.0}, -floor)], shared_margin=True), multipliers


def _rounded(value: float) -> flint.fmpq:
    return flint.fmpq(int(round(value * COEFFICIENT_GRID)), COEFFICIENT_GRID)


#: seconds a hard-limited region solve may run past its time limit before its child is killed (Clarabel checks its
#: own limit between iterations; one iteration of a large program, or its set-up, can take minutes)
HARD_LIMIT_GRACE = 2.0


def bounded_region_certificate(V: Poly, system: list[Poly], inner: float, outer: float, time_limit: float
                               ) -> tuple[dict | None, str]:
    """``region_certificate`` in a forked child killed ``HARD_LIMIT_GRACE`` seconds after ``time_limit`` (in this
    process where a fork is not safe: ``jobs.workers.can_fork_safely``). On the first system of our bpoly test set
    the neural learner's V gave a region program whose solve ran 3 minutes past a 10 s limit (session 27)."""
    if not can_fork_safely():
        return region_certificate(V, system, inner, outer, time_limit)
    answer = call_with_hard_limit(lambda: region_certificate(V, system, inner, outer, time_limit),
                                  time_limit + HARD_LIMIT_GRACE)
    if answer is TIMED_OUT:
        return None, f"sos: time limit ({time_limit:.3g} s)"
    if isinstance(answer, JobError):
        return None, f"sos: the solve failed ({answer.message})"
    return answer


def region_certificate(V: Poly, system: list[Poly], inner: float, outer: float, time_limit: float | None
                       ) -> tuple[dict | None, str]:
    """(certificate, detail); the certificate is None when no exact one was found."""
    n = len(system)
    p = -lie_derivative(V, system)
    if p.is_zero():
        return None, "sos: dV/dt is identically 0"
    program, multipliers = _program(p, n, inner, outer)
    solution = solve_sos(program, time_limit=time_limit)
    if solution.status is not SolverStatus.SOLVED or min(solution.margins) <= 0:
        margin = f"{min(solution.margins):.2e}" if solution.margins else "-"
        return None, f"sos: no certificate ({solution.status}, margin {margin}, {solution.detail})"
    delta = flint.fmpq(int(np.floor(solution.params[0] * 1e9)), 10 ** 9)
    if delta <= 0:
        return None, "sos: delta rounds to 0"
    k = len(multipliers)
    zero = ring(n).constant(0)
    sigma1 = sum((_rounded(c) * m for c, m in zip(solution.params[1:1 + k], multipliers)), zero)
    sigma2 = sum((_rounded(c) * m for c, m in zip(solution.params[1 + k:], multipliers)), zero)
    squared_norm, g1, g2 = _constraints(n, inner, outer)
    targets = [p - delta * squared_norm - sigma1 * g1 - sigma2 * g2, sigma1, sigma2]
    parts = {"delta": str(delta)}
    for name, target, basis, gram, margin in zip(("main", "sigma1", "sigma2"), targets, solution.bases,
                                                 solution.grams, solution.margins):
        if target.is_zero():
            parts[name] = {"polynomial": [], "basis": [], "gram": []}
            continue
        exact_gram = X.exact_certificate(_exact_dict(target), basis, gram, margin)
        if exact_gram is None:
            return None, f"sos: {name} solved numerically, exact rounding failed"
        parts[name] = {"polynomial": X.poly_to_json(_exact_dict(target))} | X.gram_to_json(basis, exact_gram)
    return parts, "sos-exact: -dV/dt - delta |x|^2 - s1 g1 - s2 g2 SOS with s1, s2 SOS"


def recheck(V: Poly, system: list[Poly], inner: float, outer: float, certificate: dict) -> tuple[bool, str]:
    """Re-prove a region certificate from V, f and the radii alone (exact arithmetic only)."""
    n = len(system)
    R = ring(n)
    delta = X._parse_q(certificate["delta"])
    if delta <= 0:
        return False, "delta is not positive"
    polynomials = {}
    for name in ("sigma1", "sigma2", "main"):
        part = certificate[name]
        claimed = X.poly_from_json(part["polynomial"])
        if part["polynomial"]:
            basis, gram = X.gram_from_json(part)
            ok, why = X.verify_gram(claimed, basis, gram)
            if not ok:
                return False, f"{name}: {why}"
        polynomials[name] = R.from_dict(claimed) if claimed else R.constant(0)
    squared_norm, g1, g2 = _constraints(n, inner, outer)
    identity = -lie_derivative(V, system) - delta * squared_norm - polynomials["sigma1"] * g1 \
        - polynomials["sigma2"] * g2
    if identity != polynomials["main"]:
        return False, "the certified polynomial is not -dV/dt - delta |x|^2 - s1 g1 - s2 g2"
    return True, "every Gram matrix re-proved exactly"
