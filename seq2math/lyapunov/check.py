"""``check_candidate``: is V a (global) Lyapunov or barrier function of ẋ = f(x)?

Checks (docs/verification.md):

- ``lyapunov``: V(0) = 0; V − Σᵢ Σₖ εᵢₖ xᵢ^(2k) is SOS with εᵢₖ ≥ 0, Σₖ εᵢₖ > 0 (so V is
  positive definite and radially unbounded); −V̇ is SOS. ``asymptotic=True`` also tries
  −V̇ − Σ δᵢₖ xᵢ^(2k) SOS (global asymptotic stability), reported as its own flag.
- ``barrier``: V is SOS (V ≥ 0) and −V̇ is SOS, V not constant: a constant meets both conditions for every
  system and says nothing about this one, so it is refuted outright (``constant_barrier_reason``).

A polynomial candidate goes through, in order: V(0); numerical falsification
(``falsify.py``) with exact confirmation of the point; the gradient form of −V̇
(``sos/gradient.py``), which settles the decrease condition in milliseconds when it applies; one
SOS program for the conditions left (``conditions.py``); then each condition is settled by exact rounding, facial reduction or
z3 (``settle.py``) into a typed outcome (``outcomes.py``), and ``result.from_settled``
turns the outcomes into the answer.

Answers: ``valid=False`` only with an exact rational counterexample (or V(0) ≠ 0, or a constant barrier V);
``valid=True`` only when every condition is proved exactly — a rational Gram matrix
checked by exact LDLᵀ, or z3 ``unsat`` — unless ``proof="numerical"`` accepts a solver's
SOS answer (then ``proof`` says so). Anything else is ``None`` with the reason.
Non-polynomial inputs get numerical falsification first (``nonpoly.py``: a counterexample
gives ``valid=False``), then the provers of ``NONPOLY_PROVERS`` in order, each
``prove(system, V, check, time_limit) -> ProverVerdict``: the first global proof gives
``valid=True`` with ``proof`` naming the prover; a proof on a region only gives ``valid=None``
with ``region``; nothing proved gives ``valid=None`` with ``numerical`` ("no counterexample
found (...)"), never ``True`` (docs/verification.md).
"""

from __future__ import annotations

import importlib
import time
from dataclasses import replace

import flint
import numpy as np

from seq2math.jobs.workers import MEMORY_OUT, TIMED_OUT, JobError, call_with_hard_limit, can_fork_safely
from seq2math.lyapunov.conditions import Condition, build_program, sign_conditions, violation
from seq2math.lyapunov.falsify import SignCondition, find_violations
from seq2math.lyapunov.nonpoly import check_numerically
from seq2math.lyapunov.options import CheckOptions
from seq2math.lyapunov.outcomes import ASYMPTOTIC, DECREASE, Outcome, SettledCondition, proved
from seq2math.lyapunov.result import CheckResult, from_settled
from seq2math.lyapunov.settle import MIN_STAGE_SECONDS, settle
from seq2math.sos.gradient import gradient_certificate
from seq2math.sos.sdp import solve_sos
from seq2math.symbolic.expr import NotPolynomialError, from_poly, to_poly
from seq2math.symbolic.poly import NumericPoly, Poly, beyond_float_range, in_ring, total_degree
from seq2math.symbolic.polytools import exact_value, rationalise

#: the numerical search's points tried in exact rationals (worst first), and the decimals they are rounded to
CONFIRMED_POINTS = 6
ROUNDING_DIGITS = (0, 1, 2, 3, 4, 6, 9, 12)
#: a check in a child process is killed this many seconds past its deadline (plus CHECK_GRACE_SHARE of
#: the time limit): the solver's own limit, checked between iterations, normally ends it first
CHECK_GRACE = 0.25
CHECK_GRACE_SHARE = 0.05
#: the SOS backend of the check (``seq2math.sos.sdp.solve_sos``): Clarabel, or for large Gram blocks the
#: Schur-complement interior-point method with Clarabel as its fallback (docs/verification.md)
SOLVER = "auto"
#: the gradient-form attempt on −V̇ (``sos/gradient.py``) gets at most this share of the time left, and this many
#: seconds
GRADIENT_SHARE = 0.25
GRADIENT_SECONDS = 3.0
#: the provers of non-polynomial conditions, tried in this order (modules with ``prove``, imported when needed):
#: exact substitution + SOS, the SMT prover (cvc5), interval branch-and-bound on a region
NONPOLY_PROVERS = ("seq2math.lyapunov.provers.substitution", "seq2math.lyapunov.provers.smt",
                   "seq2math.lyapunov.provers.interval")
#: seconds each non-polynomial prover may use when the check has no time limit
PROVER_SECONDS = 30.0


def as_polynomials(system, V) -> tuple[list[Poly], Poly] | None:
    """(system, V) as polynomials of one ring, or None when some expression is not polynomial."""
    n = len(system)
    if n == 0:
        raise ValueError("the system has no equations")
    if all(isinstance(p, Poly) for p in [*system, V]):
        return [in_ring(p, n) for p in system], in_ring(V, n)

    try:
        return ([in_ring(p, n) if isinstance(p, Poly) else to_poly(p, n) for p in system],
                in_ring(V, n) if isinstance(V, Poly) else to_poly(V, n))
    except NotPolynomialError:
        return None


def constant_barrier_reason(system, V) -> str | None:
    """Why V cannot be a barrier function of ``system`` because it is a constant, or None.

    Both barrier conditions (V ≥ 0, −V̇ = 0 ≥ 0) hold for a constant c ≥ 0 whatever the system, so such a
    certificate would prove nothing; the paper's barrier functions are never constant (docs/verification.md)."""
    try:
        polynomial = V if isinstance(V, Poly) else to_poly(V, len(system))
    except NotPolynomialError:
        return None
    if total_degree(polynomial) > 0:
        return None
    return f"V = {exact_value(polynomial, (flint.fmpq(0),) * len(system))} is a constant: it meets the barrier conditions for every system and proves nothing about this one"


def check_candidate(system, V, check: str = "lyapunov", timeout: float | None = None, proof: str = "exact",
                    asymptotic: bool = False, use_z3: bool = True, certificate: bool = False,
                    seed: int = 0, hard_timeout: bool = True, memory_limit: int | None = None,
                    falsified: bool = False) -> CheckResult:
    """Verify V for ẋ = system; see the module docstring.

    ``timeout`` (seconds) bounds the call. With ``hard_timeout`` (the default) the polynomial
    check runs in a forked child killed at the deadline plus a small grace (CHECK_GRACE and
    CHECK_GRACE_SHARE of ``timeout``): falsification, the SOS solve, exact rounding, facial
    reduction and z3 all stop with it, and a killed check is ``valid=None`` with reason
    "undecided: time limit (N s)" — nothing unfinished is ever reported valid or refuted.
    ``memory_limit`` (bytes) runs the check in such a child too, its allocations capped with
    RLIMIT_AS; a check past it is ``valid=None``, "undecided: memory limit (...)"
    (docs/reliability.md). With ``hard_timeout=False`` the check runs in this process and relies
    on the solver's own time limit (a large solve can overrun by one iteration); so does a process
    that has already run the SOS solver itself (``jobs.workers.can_fork_safely``: its thread pool
    would hang a forked child), with z3 alone in a child killed at the deadline. Without a
    timeout or memory limit everything runs here, as fast as it can. ``falsified``: the caller already
    ran ``falsify_exactly`` on these conditions with ``seed`` and found nothing, so it is not repeated.
    """
    start = time.perf_counter()
    options = CheckOptions(check=check, deadline=None if timeout is None else start + timeout, proof=proof,
                           asymptotic=asymptotic, use_z3=use_z3, want_certificate=certificate, seed=seed,
                           hard_limit=hard_timeout, memory_limit=memory_limit, falsified=falsified)
    polys = as_polynomials(system, V)
    constant = constant_barrier_reason(system, V if polys is None else polys[1]) if check == "barrier" else None
    if constant:
        result = CheckResult(False, check, constant, "exact")
    elif polys is None:
        result = check_nonpolynomial(system, V, options.check, options.seed, options.deadline)
    elif ((timeout is not None and hard_timeout) or memory_limit is not None) and can_fork_safely():
        result = _check_in_child(polys[0], polys[1], options, timeout if hard_timeout else None)
    else:
        result = _check_polynomial(polys[0], polys[1], options)
        if hard_timeout and options.deadline is not None and time.perf_counter() > options.deadline:
            result = CheckResult(None, check, f"undecided: time limit ({timeout:g} s)", limit="time")  # late: as killed
    result.seconds = time.perf_counter() - start
    return result


def prover_modules(paths: tuple[str, ...] = NONPOLY_PROVERS) -> list:
    """The prover modules of ``paths`` that exist in this installation, in order.

    The one place a missing prover is tolerated: a module that is not there (its own path is
    what is missing) is skipped; any other import error is a bug and is raised.
    """
    found = []
    for path in paths:
        try:
            found.append(importlib.import_module(path))
        except ModuleNotFoundError as error:
            if error.name != path:
                raise
    return found


def check_nonpolynomial(system, V, check: str, seed: int = 0, deadline: float | None = None,
                        provers: tuple[str, ...] = NONPOLY_PROVERS) -> CheckResult:
    """Numerical falsification, then each prover in order until one proves or refutes (module docstring).

    ``system`` and ``V`` may hold flint polynomials (a method's polynomial V for a non-polynomial system):
    the provers get them as expression trees."""
    system = [from_poly(f) if isinstance(f, Poly) else f for f in system]
    V = from_poly(V) if isinstance(V, Poly) else V
    numerical = check_numerically(system, V, check, np.random.default_rng(seed))
    if numerical.valid is False:
        return numerical
    why, region = [], None
    modules = prover_modules(provers)
    for position, module in enumerate(modules):
        # the time left is shared equally by the provers still to come (what one leaves flows on)
        left = PROVER_SECONDS * (len(modules) - position) if deadline is None else deadline - time.perf_counter()
        seconds = left / (len(modules) - position)
        if seconds <= MIN_STAGE_SECONDS:
            why.append("time limit reached")
            break
        verdict = module.prove(system, V, check, seconds)
        if verdict.is_global:
            return CheckResult(True, check, f"proved by {verdict.prover}: {verdict.detail}", verdict.prover)
        if verdict.status == "refuted":
            point = list(verdict.counterexample or ())
            return CheckResult(False, check, f"counterexample ({verdict.prover}): {verdict.detail}", verdict.prover,
                               {"point": point, "exact": True, "prover": verdict.prover})
        if verdict.proved and region is None:
            region = verdict
        why.append(f"{verdict.prover}: {verdict.detail}" if not verdict.proved else
                   f"{verdict.prover}: proved on {verdict.region} only")
    tried = "; ".join(why) or "no prover available"
    if region is not None:
        return CheckResult(None, check, f"undecided globally; proved on {region.region} by {region.prover} ({tried})",
                           region.prover, numerical=numerical.numerical, region=region.region)
    return CheckResult(None, check, f"undecided: no counterexample found by sampling, and no prover proved it ({tried})", numerical=numerical.numerical)


def _check_in_child(system: list[Poly], V: Poly, options: CheckOptions, timeout: float | None) -> CheckResult:
    """``_check_polynomial`` in one forked child, killed at ``timeout`` + grace, under the memory limit.

    The child settles z3 in its own process (``hard_limit=False`` there): one fork per check. The
    grace lets the solver's own time limit end the child first; an answer that comes back after the
    deadline is dropped like a killed check's (the time limit is a contract, not a hint).
    """
    inner = replace(options, hard_limit=False)
    seconds = None
    if timeout is not None and options.deadline is not None:
        seconds = max(0.0, options.deadline - time.perf_counter()) + CHECK_GRACE + CHECK_GRACE_SHARE * timeout
    answer = call_with_hard_limit(lambda: _check_polynomial(system, V, inner), seconds, options.memory_limit)
    late = options.deadline is not None and timeout is not None and time.perf_counter() > options.deadline
    if answer is TIMED_OUT or (late and isinstance(answer, CheckResult)):   # the limit is the limit: a late answer
        # is dropped, so a check answers within its time limit or says it ran out of time (as a killed one does)
        return CheckResult(None, options.check, f"undecided: time limit ({timeout:g} s)", limit="time")
    if answer is MEMORY_OUT:
        return CheckResult(None, options.check, f"undecided: memory limit ({memory_text(options.memory_limit)})",
                           limit="memory")
    if isinstance(answer, JobError):
        if answer.error_type == "PanicException":
            return CheckResult(None, options.check, f"undecided: the solver panicked ({answer.message})")
        if answer.died:                                     # the child died (an abort in C or Rust code)
            return CheckResult(None, options.check, f"undecided: the check's process died ({answer.message})")
        raise RuntimeError(f"the check failed in its child process: {answer.message}")
    return answer


def memory_text(size: int | None) -> str:
    """``size`` bytes as text: 512M, 2.5G (docs/reliability.md)."""
    if size is None:
        return "none"
    for unit, scale in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.3g}{unit}"
    return f"{size}B"


def _check_polynomial(system: list[Poly], V: Poly, options: CheckOptions) -> CheckResult:
    n, check = len(system), options.check
    value_at_zero = exact_value(V, (flint.fmpq(0),) * n)
    if check == "lyapunov" and value_at_zero != 0:
        return CheckResult(False, check, f"V(0) = {value_at_zero} is not 0", "exact")
    conditions = sign_conditions(system, V, check, options.asymptotic)
    witness = None if options.falsified else falsify_exactly(conditions, n, options.seed)
    if witness is not None:
        return CheckResult(False, check, "counterexample: " + witness["statement"], "exact counterexample", witness)
    huge = [c.name for c in conditions if beyond_float_range(c.polynomial)]
    if huge:     # the SOS programs are solved in floats: such a coefficient cannot even be written down
        return CheckResult(None, check, f"undecided: the {huge[0]} condition has a coefficient past the float64 "
                           f"range (|c| >= 1.8e308), which the SOS solver cannot represent; no counterexample found")
    early = _gradient_form(conditions, V, options)
    order = [c.name for c in conditions]
    conditions = [c for c in conditions if c.name not in early]
    built = build_program(conditions, n)
    if isinstance(built, str) and any(c.name == ASYMPTOTIC for c in conditions):
        # strict decrease cannot be stated in this form (e.g. −V̇ has no xᵢ^2k term, as on a centre):
        # the asymptotic flag stays unset and stability is still decided on its own conditions
        conditions = [c for c in conditions if c.name != ASYMPTOTIC]
        built = build_program(conditions, n)
    if isinstance(built, str):
        return CheckResult(None, check, f"no certificate possible in this form ({built}) and no counterexample found")
    program, eps_index = built
    remaining = None if options.deadline is None else max(MIN_STAGE_SECONDS, options.deadline - time.perf_counter())
    solution = solve_sos(program, time_limit=remaining, backend=SOLVER)
    settled = {s.name: s for s in settle(conditions, eps_index, solution, options)} | early
    return from_settled(check, [settled[name] for name in order if name in settled], options.want_certificate)


def _gradient_form(conditions: list[Condition], V: Poly, options: CheckOptions) -> dict[str, SettledCondition]:
    """{DECREASE: proved} when −V̇ has an exact Gram certificate in the gradient basis x^m·∂ₖV
    (``sos/gradient.py``: milliseconds where it applies, and it spares the full SOS program the
    condition's large, degenerate Gram matrix), else {}."""
    decrease = next((c for c in conditions if c.name == DECREASE), None)
    if decrease is None or decrease.polynomial.is_zero():
        return {}
    budget = GRADIENT_SECONDS
    if options.deadline is not None:
        budget = min(budget, GRADIENT_SHARE * (options.deadline - time.perf_counter()))
    if budget <= MIN_STAGE_SECONDS:
        return {}
    found = gradient_certificate(decrease.polynomial, V, time.perf_counter() + budget)
    if found is None:
        return {}
    part = {"name": DECREASE, "method": "sos-exact", "epsilon": {}} | found
    return {DECREASE: proved(DECREASE, Outcome.SOS_EXACT, part)}


def falsify_exactly(conditions: list[Condition], nvars: int, seed: int = 0) -> dict | None:
    """The numerical search (``falsify.py``, seeded), then exact confirmation of its points in rationals:
    an exact counterexample, or None. Milliseconds (8-17 ms on the textbook system's candidates), where
    forking the child of a hard-limited check costs 40-75 ms: the solve loop runs it first, in its own
    process (``methods/solve.prove``), and tells the child (``falsified``)."""
    rng = np.random.default_rng(seed)
    searched = []
    for condition in conditions:
        if condition.name != ASYMPTOTIC:          # never decides validity: a point against it refutes nothing
            polynomial = condition.polynomial
            if beyond_float_range(polynomial):    # the same signs with coefficients of at most 1 (confirmed exactly)
                polynomial = polynomial * (1 / max(abs(c) for c in polynomial.coeffs()))
            numeric = NumericPoly(polynomial)
            searched.append(SignCondition(condition.name, numeric, numeric.magnitude, condition.definite))
    by_name = {condition.name: condition for condition in conditions}
    for name, x, _ in find_violations(searched, nvars, rng)[:CONFIRMED_POINTS]:
        for digits in ROUNDING_DIGITS:
            witness = violation(by_name[name], rationalise(x, digits))
            if witness is not None:
                return witness
    return None
