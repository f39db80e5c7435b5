"""The SOSTOOLS ``findlyap`` baseline (docs/baselines.md), with exact re-verification.

For d = 2, 4, … ≤ max_degree: V = Σ c_m·m over all monomials m of degree 2..d (unknown
c), nonnegative εᵢₖ with Σₖ εᵢₖ ≥ 0.1 for each variable i, and the conditions
V − Σᵢ Σₖ εᵢₖ xᵢ^(2k) SOS and −∇V·f SOS. SOSTOOLS states no objective; we maximise the
Gram margins (capped at 1), which changes nothing about feasibility and gives the margin
that exact rounding needs. The ``barrier`` variant only asks V SOS with the pure even
powers' coefficients summing to ≥ 0.1 (which excludes V = 0), as in FBarr.

A found V is never reported from the solver alone: its coefficients are rounded (small
integers first, then finer rationals) and every rounded V goes through
``check_candidate`` — "found" means an exact proof of the rounded V.

Three registered methods use this search (``seq2math.lyapunov.methods.base``):

- ``findlyap``: the baseline as published, a black box that returns one V (the first rounded V
  that ``findlyap`` proved); the solve loop proves it again with a certificate;
- ``sos``: every rounded V, simplest first, proposed to the solve loop, which proves them;
- ``quadratic``: ``sos`` at degree 2 only, on small programs, within ``QUADRATIC_SECONDS``: the first
  method of ``solve``'s default, which settles a quadratic V in tenths of a second without importing
  torch or loading a model (docs/api.md).

All propose nothing for a non-polynomial system.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from seq2math.jobs.workers import MEMORY_OUT, TIMED_OUT, JobError, call_with_hard_limit, can_fork_safely
from seq2math.lyapunov.check import CHECK_GRACE, CHECK_GRACE_SHARE, as_polynomials, check_candidate
from seq2math.lyapunov.methods.base import Method, Search, register_method, seconds_left
from seq2math.lyapunov.methods.screen import may_be_feasible
from seq2math.lyapunov.result import CheckResult
from seq2math.sos.newton import exponent_vectors
from seq2math.sos.sdp import SolverStatus, SOSCondition, SOSProgram, solve_sos
from seq2math.symbolic.expr import NotPolynomialError, to_infix, to_poly
from seq2math.symbolic.poly import Poly, in_ring, lie_derivative, ring, total_degree

MARGIN_TOLERANCE = 1e-7
#: a solve whose best margin lies in [−BOUNDARY_TOLERANCE, −MARGIN_TOLERANCE) still proposes its V (status
#: "boundary"). A Lyapunov function whose −V̇ vanishes away from the origin (the backward generator's often do)
#: has singular Gram matrices: the best margin is 0, and the solver answers −1e-7 … −1e-5. Its V is then often
#: exactly proportional to the right one (docs/baselines.md); the exact check, facial reduction included, decides
BOUNDARY_TOLERANCE = 1e-4
ROUNDING_SCALES = (1, 2, 3, 4, 5, 10, 20, 50, 100, 1000, 10 ** 4, 10 ** 6)
#: ``rounded_candidates(exact_directions=True)``: the simple scales tried before the integer directions
SIMPLE_SCALES = 5
#: integer directions: the largest multiplier q of a reference coefficient, how many of the smallest
#: coefficients serve as reference, and the largest distance to an integer (relative to the largest entry)
MAX_MULTIPLIER = 64
DIRECTION_REFERENCES = 3
DIRECTION_TOLERANCE = 1e-5
#: ``quadratic`` runs only when the Gram basis of -dV/dt for a quadratic V has at most this many monomials
#: (2 variables up to degree 7 in f, 3 up to degree 5, 4 up to degree 3, 5 linear); larger programs are left to the
#: methods after it, whose time they would take
QUADRATIC_MAX_BASIS = 20
#: and it stops after this many seconds, whatever its share of the time limit
QUADRATIC_SECONDS = 1.0


@dataclass
class Attempt:
    degree: int
    status: str    # "feasible", "boundary" (margin about 0), "infeasible", "refuted at sample points" (sos only),
    #                "solver failure", "timeout", "memory limit"
    seconds: float
    detail: str = ""


@dataclass
class FindlyapResult:
    status: str                                  # "found", "not found", "solver failure", "timeout"
    V: Poly | None = None
    degree: int | None = None
    verification: CheckResult | None = None
    attempts: list[Attempt] = field(default_factory=list)
    seconds: float = 0.0


def monomials(nvars: int, low: int, high: int) -> list[tuple[int, ...]]:
    return sorted(exponent_vectors(nvars, high, low))            # degree low..high, lexicographic: the columns


def _float_terms(p: Poly) -> dict[tuple[int, ...], float]:
    return {tuple(int(v) for v in e): float(c) for e, c in zip(p.monoms(), p.coeffs())}


def build_program(system: list[Poly], degree: int, check: str = "lyapunov", basis: list | None = None,
                  sparsity: str = "dense") -> tuple[SOSProgram, list]:
    """The findlyap SOS program for V of degree ≤ ``degree``; returns (program, V monomials).

    ``basis`` (exponent tuples of degree ≥ 2) restricts V to those monomials (the ``guided``
    method's supports); by default V has every monomial of degree 2..``degree``. The ε weights
    of the lyapunov check cover the pure even powers xᵢ², xᵢ⁴, …, xᵢ^``degree`` either way, so
    a basis should hold the pure even powers that positive definiteness needs. ``sparsity`` splits the
    Gram matrices into blocks (``seq2math.sos.sparsity``; "dense": today's findlyap, one block).
    """
    n = len(system)
    R = ring(n)
    basis = monomials(n, 2, degree) if basis is None else [tuple(int(e) for e in m) for m in basis]
    if any(len(m) != n or sum(m) < 2 for m in basis):
        raise ValueError(f"a V basis needs exponent tuples of length {n} and degree ≥ 2, got {basis}")
    positive: dict[int, dict] = {}
    decrease: dict[int, dict] = {}
    for k, m in enumerate(basis):
        positive[k] = {m: 1.0}
        decrease[k] = _float_terms(-lie_derivative(R.from_dict({m: 1}), system))
    inequalities = []
    nparams = len(basis)
    if check == "lyapunov":
        for i in range(n):
            group = {}
            for power in range(2, degree + 1, 2):
                positive[nparams] = {tuple(power if j == i else 0 for j in range(n)): -1.0}
                inequalities.append(({nparams: -1.0}, 0.0))                  # ε_ik ≥ 0
                group[nparams] = -1.0
                nparams += 1
            inequalities.append((group, -0.1))                                # Σ_k ε_ik ≥ 0.1
    else:
        pure = {k: -1.0 for k, m in enumerate(basis) if sum(1 for e in m if e) == 1 and sum(m) % 2 == 0}
        inequalities.append((pure, -0.1))
    conditions = [SOSCondition("positive", {}, positive), SOSCondition("decrease", {}, decrease)]
    return SOSProgram(n, nparams, conditions, inequalities, shared_margin=True, sparsity=sparsity), basis


def rounded_candidates(coefficients: np.ndarray, basis: list, nvars: int, max_scale: int | None = None,
                       exact_directions: bool = False) -> Iterator[Poly]:
    """V with integer coefficients round(s·c/max|c|), s = 1, 2, 3, … (simplest first, duplicates skipped).

    A positive multiple of a Lyapunov function is one too, so integer coefficients lose nothing.
    With ``exact_directions``, the integer vectors that ``c`` is proportional to within the solver's
    accuracy (``integer_directions``) come after the scales up to SIMPLE_SCALES: a solution on the
    boundary of the feasible set must be matched exactly, and (19, 24, 9) is no simple scale of
    (0.79, 1, 0.375).
    """
    R = ring(nvars)
    top = float(np.max(np.abs(coefficients))) if len(coefficients) else 0.0
    if top == 0:
        return
    seen = set()

    def scaled(scale: int) -> np.ndarray:
        return np.rint(coefficients / top * scale).astype(np.int64)

    simple = [scaled(s) for s in ROUNDING_SCALES if s <= SIMPLE_SCALES]
    directions = list(integer_directions(coefficients)) if exact_directions else []
    rest = [scaled(s) for s in ROUNDING_SCALES if s > SIMPLE_SCALES]
    for values in simple + directions + rest:
        if max_scale is not None and int(np.max(np.abs(values))) > max_scale:
            continue
        common = int(np.gcd.reduce(np.abs(values))) if np.any(values) else 0
        if common == 0:
            continue
        terms = {m: int(v) // common for m, v in zip(basis, values) if v}
        key = tuple(sorted(terms.items()))
        if key not in seen:
            seen.add(key)
            yield R.from_dict(terms)


def integer_directions(coefficients: np.ndarray, max_multiplier: int = MAX_MULTIPLIER,
                       references: int = DIRECTION_REFERENCES, tolerance: float = DIRECTION_TOLERANCE
                       ) -> Iterator[np.ndarray]:
    """Integer vectors v with c ∝ v up to ``tolerance`` (relative to max|v|), smallest first per reference.

    Each of the ``references`` smallest coefficients (in magnitude, above tolerance·max|c|) is taken in
    turn as q/1 of the unit, q = 1 … ``max_multiplier``; the first q that puts every coefficient within
    the tolerance of an integer gives one vector. Coefficients below tolerance·max|c| count as 0.
    """
    c = np.asarray(coefficients, dtype=float)
    top = float(np.max(np.abs(c))) if len(c) else 0.0
    if top == 0:
        return
    zero = np.abs(c) <= tolerance * top
    order = [int(i) for i in np.argsort(np.abs(c)) if not zero[i]][:references]
    for ref in order:
        for q in range(1, max_multiplier + 1):
            values = np.where(zero, 0.0, c / abs(c[ref]) * q)
            rounded = np.rint(values)
            if np.max(np.abs(values - rounded)) <= tolerance * np.max(np.abs(values)):
                yield rounded.astype(np.int64)
                break


def solve_program(system: list[Poly], degree: int, check: str = "lyapunov", basis: list | None = None,
                  time_limit: float | None = None, backend: str = "clarabel", memory_limit: int | None = None,
                  sparsity: str = "dense", built: tuple[SOSProgram, list] | None = None,
                  loose_tolerance: float | None = None) -> tuple[Attempt, np.ndarray | None, list]:
    """One findlyap SOS solve (``build_program``): (log entry, V's float coefficients or None, V monomials).

    ``built`` is ``build_program``'s answer for these arguments when the caller has it already (the screen).
    ``loose_tolerance`` accepts an IPM answer at that accuracy (``seq2math.sos.sdp.solve_sos``), and a best
    margin down to minus that as "boundary" (coefficients proposed): for callers that only propose (guided).

    The coefficients are returned only when the solver answered and the best margin is not
    negative; they are the solver's floats, a proposal to round, never a proof. With a
    ``time_limit`` or ``memory_limit`` (bytes) the building and the solve run in a forked child
    killed at the limit plus a small grace (docs/reliability.md): the log entry then says
    "timeout" or "memory limit" and no coefficients come back. A process that has run the solver
    itself cannot fork it safely (``jobs.workers.can_fork_safely``) and solves here.
    """
    if (time_limit is None and memory_limit is None) or not can_fork_safely():
        return _solve_program_here(system, degree, check, basis, time_limit, backend, sparsity, built,
                                   loose_tolerance)
    start = time.perf_counter()
    seconds = None if time_limit is None else max(0.0, time_limit) * (1 + CHECK_GRACE_SHARE) + CHECK_GRACE
    answer = call_with_hard_limit(lambda: _solve_program_here(system, degree, check, basis, time_limit, backend,
                                                              sparsity, built, loose_tolerance),
                                  seconds, memory_limit)
    if answer is TIMED_OUT or answer is MEMORY_OUT or isinstance(answer, JobError):
        status, detail = (("timeout", "hard time limit reached") if answer is TIMED_OUT else
                          ("memory limit", "the solve ran out of its memory limit") if answer is MEMORY_OUT else
                          ("solver failure", answer.message))
        n = len(system)
        basis = monomials(n, 2, degree) if basis is None else [tuple(int(e) for e in m) for m in basis]
        return Attempt(degree, status, time.perf_counter() - start, detail), None, basis
    return answer


def _solve_program_here(system: list[Poly], degree: int, check: str, basis: list | None, time_limit: float | None,
                        backend: str, sparsity: str = "dense", built: tuple[SOSProgram, list] | None = None,
                        loose_tolerance: float | None = None) -> tuple[Attempt, np.ndarray | None, list]:
    """``solve_program`` in this process."""
    start = time.perf_counter()
    program, basis = built or build_program(system, degree, check, basis, sparsity)
    solution = solve_sos(program, time_limit=time_limit, backend=backend, loose_tolerance=loose_tolerance)
    seconds = time.perf_counter() - start
    if solution.status is not SolverStatus.SOLVED:
        status = "infeasible" if solution.status is SolverStatus.INFEASIBLE else (
            "timeout" if "MaxTime" in solution.detail else "solver failure")
        return Attempt(degree, status, seconds, solution.detail), None, basis
    # an answer accepted at a looser accuracy cannot tell a margin of -loose_tolerance from 0
    boundary = BOUNDARY_TOLERANCE if loose_tolerance is None else max(BOUNDARY_TOLERANCE, loose_tolerance)
    if min(solution.margins) < -boundary:
        return Attempt(degree, "infeasible", seconds, f"best margin {min(solution.margins):.2e} < 0"), None, basis
    if min(solution.margins) < -MARGIN_TOLERANCE:            # a singular Gram matrix at the optimum: propose V
        return (Attempt(degree, "boundary", seconds, f"best margin {min(solution.margins):.2e}, about 0"),
                solution.params[:len(basis)], basis)
    detail = f"margins {', '.join(f'{m:.2e}' for m in solution.margins)}"
    return Attempt(degree, "feasible", seconds, detail), solution.params[:len(basis)], basis


def candidates(system: list[Poly], max_degree: int = 6, deadline: float | None = None, check: str = "lyapunov",
               attempts: list[Attempt] | None = None, max_scale: int | None = None, backend: str = "clarabel",
               memory_limit: int | None = None, sparsity: str = "dense", screen: bool = False
               ) -> Iterator[tuple[Poly, int]]:
    """(rounded V, degree) from the SOS search at degrees 2, 4, …; ``attempts`` collects the log.

    Each solve runs under the time left and ``memory_limit`` (``solve_program``); a solve that
    ran out of memory ends the search (higher degrees only need more). With ``screen`` a degree
    whose conditions fail at sample points (``screen.may_be_feasible``, milliseconds) skips its SDP."""
    attempts = attempts if attempts is not None else []
    n = len(system)
    for degree in range(2, max_degree + 1, 2):
        remaining = None if deadline is None else deadline - time.perf_counter()
        if remaining is not None and remaining <= 0:
            attempts.append(Attempt(degree, "timeout", 0.0))
            return
        built = None
        if screen:
            started = time.perf_counter()
            built = build_program(system, degree, check, None, sparsity)
            if not may_be_feasible(built[0], time_limit=remaining):
                attempts.append(Attempt(degree, "refuted at sample points", time.perf_counter() - started))
                continue
        attempt, coefficients, basis = solve_program(system, degree, check, None, remaining, backend, memory_limit,
                                                     sparsity, built)
        attempts.append(attempt)
        if attempt.status == "memory limit":
            return
        if coefficients is None:
            continue
        for V in rounded_candidates(coefficients, basis, n, max_scale, exact_directions=True):
            yield V, degree


def findlyap(system, max_degree: int = 6, time_limit: float | None = None, check: str = "lyapunov",
             memory_limit: int | None = None, sparsity: str = "dense", screen: bool = False) -> FindlyapResult:
    """Search V by SOS programming and prove the rounded V exactly; see the module docstring.

    ``time_limit`` bounds the whole search (each solve and check is killed at its share);
    ``memory_limit`` (bytes) bounds each solve and check (docs/reliability.md); ``sparsity`` splits the
    Gram matrices (``build_program``); ``screen`` skips the SDP of a degree refuted at sample points (what the
    ``sos`` method does; the baseline as published has no screen)."""
    start = time.perf_counter()
    n = len(system)
    system = [in_ring(f, n) for f in system]
    deadline = None if time_limit is None else start + time_limit
    attempts: list[Attempt] = []
    for V, degree in candidates(system, max_degree, deadline, check, attempts, memory_limit=memory_limit,
                                sparsity=sparsity, screen=screen):
        remaining = None if deadline is None else deadline - time.perf_counter()
        if remaining is not None and remaining <= 0:
            attempts[-1].detail += "; time limit reached while proving the rounded V"
            attempts[-1].status = "timeout"
            break
        result = check_candidate(system, V, check, timeout=remaining, memory_limit=memory_limit)
        if result.valid:
            return FindlyapResult("found", V, degree, result, attempts, time.perf_counter() - start)
        attempts[-1].detail += f"; rounded V rejected ({result.reason[:80]})"
    statuses = {a.status for a in attempts}
    status = ("timeout" if "timeout" in statuses else
              "memory limit" if "memory limit" in statuses else
              "solver failure" if statuses == {"solver failure"} else "not found")
    return FindlyapResult(status, None, None, None, attempts, time.perf_counter() - start)


def polynomial_system(system: list) -> list[Poly] | None:
    """The system as flint polynomials, or None when an equation is not polynomial."""
    polys = as_polynomials(system, system[0])
    return None if polys is None else polys[0]


def not_polynomial_reason(method: str, system: list) -> str:
    """Why the SOS method ``method`` does not apply to ``system``: its first non-polynomial equation."""
    n = len(system)
    for i, equation in enumerate(system):
        if isinstance(equation, Poly):
            continue
        try:
            to_poly(equation, n)
        except NotPolynomialError as err:
            return (f"{method}: does not apply: x{i}' = {to_infix(equation)} is not a polynomial we can expand "
                    f"({err}), and an SOS certificate needs polynomial equations (V and dV/dt must be polynomials)")
    return f"{method}: does not apply: the system is not polynomial"


@register_method
class FindlyapMethod(Method):
    """The SOSTOOLS-style ``findlyap`` baseline: proposes the one V it proved (docs/baselines.md)."""

    name = "findlyap"

    polynomial_only = True

    def propose(self, search: Search, check: str, deadline: float | None) -> Iterator[Poly]:
        system = polynomial_system(search.system)
        if system is None:
            search.reason = not_polynomial_reason(self.name, search.system)
            return
        result = findlyap(system, self.options.max_degree, seconds_left(deadline), check, self.options.memory_limit)
        _note_limits(search, result.attempts)
        if result.V is not None:
            yield result.V


@register_method
class SosMethod(Method):
    """The findlyap SOS search, every rounded V proposed to the solve loop (simplest first). Unlike the
    baseline as published (``findlyap``), a degree whose conditions fail at sample points skips its SDP
    (``screen.may_be_feasible``)."""

    name = "sos"

    polynomial_only = True

    def propose(self, search: Search, check: str, deadline: float | None) -> Iterator[Poly]:
        system = polynomial_system(search.system)
        if system is None:
            search.reason = not_polynomial_reason(self.name, search.system)
            return
        yield from self._search(system, self.options.max_degree, search, check, deadline)

    def _search(self, system: list[Poly], max_degree: int, search: Search, check: str, deadline: float | None
                ) -> Iterator[Poly]:
        attempts: list[Attempt] = []
        search.reason, search.interrupted = "", False
        for V, _ in candidates(system, max_degree, deadline, check, attempts,
                               memory_limit=self.options.memory_limit, screen=True):
            yield V
        _note_limits(search, attempts)
        if not search.reason and attempts:
            search.reason = f"{self.name}: " + ", ".join(f"degree {a.degree} {a.status}" for a in attempts)


def quadratic_basis_size(system: list[Poly]) -> int:
    """Monomials in the Gram basis of -dV/dt when V is quadratic: degree ≤ ⌈(deg f + 1)/2⌉ in n variables."""
    n = len(system)
    half = (max(max(total_degree(f) for f in system), 1) + 2) // 2
    return math.comb(n + half, n)


@register_method
class QuadraticMethod(SosMethod):
    """The SOS search at degree 2 only (V a quadratic form), on small programs and for at most
    ``QUADRATIC_SECONDS``: ``solve`` tries it first, since it settles a quadratic V without importing torch."""

    name = "quadratic"

    def propose(self, search: Search, check: str, deadline: float | None) -> Iterator[Poly]:
        system = polynomial_system(search.system)
        if system is None:
            search.reason = not_polynomial_reason(self.name, search.system)
            return
        size = quadratic_basis_size(system)
        if size > QUADRATIC_MAX_BASIS:
            search.reason = (f"quadratic: not tried: for a quadratic V, -dV/dt needs a Gram basis of {size} monomials "
                             f"(more than {QUADRATIC_MAX_BASIS}); left to the methods after it")
            search.interrupted = True                      # nothing was ruled out: undecided, not "not found"
            return
        cap = time.perf_counter() + QUADRATIC_SECONDS
        yield from self._search(system, 2, search, check, cap if deadline is None else min(deadline, cap))


def _note_limits(search: Search, attempts: list[Attempt]) -> None:
    """Mark ``search`` interrupted, with the reason "undecided: ...", when a time or memory limit cut
    one of its SOS solves; otherwise leave the reason empty (the solve loop gives its own)."""
    search.reason, search.interrupted = "", False
    for attempt in attempts:
        if attempt.status in ("timeout", "memory limit"):
            what = "time limit" if attempt.status == "timeout" else "memory limit"
            search.reason = f"undecided: {what} in the degree-{attempt.degree} SOS search"
            search.interrupted = True
            return
