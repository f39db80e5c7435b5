"""``check_candidate``: is V a (global) Lyapunov or barrier function of ẋ = f(x)?

Checks (docs/verification.md):

- ``lyapunov``: V(0) = 0; V − Σᵢ Σₖ εᵢₖ xᵢ^(2k) is SOS with εᵢₖ ≥ 0, Σₖ εᵢₖ > 0 (so V is
  positive definite and radially unbounded); −V̇ is SOS. ``asymptotic=True`` also tries
  −V̇ − Σ δᵢₖ xᵢ^(2k) SOS (global asymptotic stability), reported as its own flag.
- ``barrier``: V is SOS (V ≥ 0) and −V̇ is SOS.

Each SOS condition is settled by the first of: rounding the solver's Gram matrix (it has a
margin: milliseconds), facial reduction (``facial.py``: no Gram matrix has a margin, e.g. a
degenerate quadratic part of V, or −V̇ a sum of a few squares), z3.

Answers: ``valid=False`` only with an exact rational counterexample (or V(0) ≠ 0);
``valid=True`` only when every condition is proved exactly — a rational Gram matrix
checked by exact LDLᵀ, or z3 ``unsat`` — unless ``proof="numerical"`` accepts a solver's
SOS answer (then ``proof`` says so). Anything else is ``None`` with the reason.
Non-polynomial inputs get numerical falsification only: ``valid=True`` then means
"no counterexample found", ``proof="none (numerical)"``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import flint
import numpy as np

from seq2math.jobs.workers import TIMED_OUT, JobError, call_with_hard_limit
from seq2math.lyapunov.falsify import Target, find_violations
from seq2math.lyapunov.nonpoly import check_numerically
from seq2math.lyapunov.result import CHECKS, CheckResult
from seq2math.sos import exact as X
from seq2math.sos.facial import facial_part
from seq2math.sos.prover import find_point
from seq2math.sos.sdp import SOSCondition, SOSProgram, solve_sos
from seq2math.symbolic.expr import NotPolynomialError, to_poly
from seq2math.symbolic.polytools import (
    NumericPoly,
    Poly,
    exact_value,
    fmt_point,
    in_ring,
    lie_derivative,
    rationalise,
)

NUMERIC_SOS_TOLERANCE = 1e-7
#: facial reduction is tried when the solver's margin is above −this·(largest coefficient): degenerate
#: SOS programs (no interior point) end with slightly negative margins, clearly negative ones are not SOS
FACIAL_MARGIN_FLOOR = 1e-2
#: seconds past the deadline before the child process of the slow stage is killed
HARD_LIMIT_GRACE = 0.25


@dataclass
class _Condition:
    """One sign condition: ``polynomial`` ≥ 0 (``definite``: minus a Σ ε x^(2k) term)."""

    name: str
    polynomial: Poly
    definite: bool


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


def check_candidate(system, V, check: str = "lyapunov", timeout: float | None = None, proof: str = "exact",
                    asymptotic: bool = False, use_z3: bool = True, certificate: bool = False,
                    seed: int = 0, hard_timeout: bool = True) -> CheckResult:
    """Verify V for ẋ = system; see the module docstring.

    ``timeout`` (seconds) bounds the call: falsification, the SOS solves (with the solver's
    own time limit, checked between iterations, so a large solve can overrun by one) and
    exact rounding and facial reduction run in this process; z3, when it is needed, runs
    with ``hard_timeout`` in a forked child killed at the limit (z3 does not always honour
    its own timeout). Without a timeout everything runs here, as fast as it can.
    """
    if check not in CHECKS:
        raise ValueError(f"unknown check {check!r}; expected one of {CHECKS}")
    if proof not in ("exact", "numerical"):
        raise ValueError(f"unknown proof mode {proof!r}; expected 'exact' or 'numerical'")
    start = time.perf_counter()
    polys = as_polynomials(system, V)
    if polys is None:
        result = check_numerically(system, V, check, np.random.default_rng(seed))
    else:
        deadline = None if timeout is None else start + timeout
        result = _check_polynomial(polys[0], polys[1], check, deadline, proof, asymptotic, use_z3, certificate,
                                   np.random.default_rng(seed), hard_timeout)
    result.seconds = time.perf_counter() - start
    return result


def _conditions(system: list[Poly], V: Poly, check: str, asymptotic: bool) -> list[_Condition]:
    decrease = -lie_derivative(V, system)
    conditions = [_Condition("positive", V, definite=(check == "lyapunov")), _Condition("decrease", decrease, False)]
    if asymptotic and check == "lyapunov":
        conditions.append(_Condition("asymptotic", decrease, definite=True))
    return conditions


def _abs_scale(p: Poly):
    magnitude = NumericPoly(p)
    magnitude.coefficients = np.abs(magnitude.coefficients)
    return lambda X_: magnitude(np.abs(X_))


def _falsify(conditions: list[_Condition], nvars: int, rng) -> dict | None:
    """Numerical search, then exact confirmation of the point in rationals."""
    targets = [Target(c.name, NumericPoly(c.polynomial), -1.0, _abs_scale(c.polynomial), strict=not c.definite)
               for c in conditions[:2]]
    for name, x, _ in find_violations(targets, nvars, rng)[:6]:
        condition = next(c for c in conditions if c.name == name)
        for digits in (0, 1, 2, 3, 4, 6, 9, 12):
            point = rationalise(x, digits)
            witness = _violation(condition, point)
            if witness is not None:
                return witness
    return None


def _violation(condition: _Condition, point) -> dict | None:
    """An exact counterexample record if ``point`` violates the condition, else None."""
    value = exact_value(condition.polynomial, point)
    nonzero = any(v != 0 for v in point)
    if value < 0 or (condition.definite and nonzero and value == 0):
        what = {"positive": "V", "decrease": "-dV/dt"}.get(condition.name, condition.name)
        return {"condition": condition.name, "point": fmt_point(point), "value": str(value),
                "statement": f"{what} = {value} {'< 0' if value < 0 else 'at a nonzero point'}: "
                             f"x = ({', '.join(fmt_point(point))})"}
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


def _build_program(conditions: list[_Condition], nvars: int) -> tuple[SOSProgram, list[dict]] | str:
    """The SOS program and, per condition, {parameter index: (variable, exponent)} of its ε terms."""
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
            floor = 1e-6 * max(abs(float(c)) for c in cond.polynomial.coeffs())
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
    return SOSProgram(nvars, nparams, sos_conditions, inequalities), eps_index


def _exact_polynomial(cond: _Condition, params: dict[int, tuple[int, int]], values: np.ndarray
                      ) -> tuple[dict, dict[str, str]] | None:
    """The condition's polynomial with its ε rounded to positive rationals, exactly."""
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


def _prove_with_z3(cond: _Condition, remaining: float, check: str) -> tuple[str, dict | None]:

    if cond.definite:              # z3 can refute positivity but its "unsat" would not show properness
        answer = find_point(cond.polynomial, strict=False, nonzero=True, timeout=remaining)
        return ("unknown", None) if answer.verdict == "proved" else (answer.verdict, _point_witness(cond, answer))
    answer = find_point(cond.polynomial, strict=True, nonzero=False, timeout=remaining)
    return answer.verdict, _point_witness(cond, answer)


def _point_witness(cond: _Condition, answer) -> dict | None:
    return _violation(cond, answer.point) if answer.point is not None else None


def _check_polynomial(system, V, check, deadline, proof, asymptotic, use_z3, want_certificate, rng, hard
                      ) -> CheckResult:
    n = len(system)
    if check == "lyapunov" and exact_value(V, (flint.fmpq(0),) * n) != 0:
        return CheckResult(False, check, f"V(0) = {exact_value(V, (flint.fmpq(0),) * n)} is not 0", "exact")
    conditions = _conditions(system, V, check, asymptotic)
    witness = _falsify(conditions, n, rng)
    if witness is not None:
        return CheckResult(False, check, "counterexample: " + witness["statement"], "exact counterexample", witness)
    built = _build_program(conditions, n)
    if isinstance(built, str):
        return CheckResult(None, check, f"no certificate possible in this form ({built}) and no counterexample found")
    program, eps_index = built
    remaining = None if deadline is None else max(0.05, deadline - time.perf_counter())
    solution = solve_sos(program, time_limit=remaining)
    return _settle(conditions, eps_index, solution, check, deadline, proof, use_z3, want_certificate, hard)


@dataclass
class _Attempt:
    """What the fast stage (rounding the solver's Gram matrix) settled for one condition."""

    how: str | None                  # "sos-exact", or None while the condition is open
    part: dict | None
    why: str = ""
    numerically_sos: bool = False
    facial: bool = False             # worth trying facial reduction (SOS with at most a tiny negative margin)


def _settle_fast(j: int, cond: _Condition, params: dict, solution) -> _Attempt:
    """Exact rounding of the solver's Gram matrix: milliseconds, always in this process."""
    if cond.polynomial.is_zero() and not cond.definite:
        return _Attempt("sos-exact", {"name": cond.name, "method": "sos-exact", "polynomial": [], "basis": [],
                                      "gram": []})
    if solution.status == "infeasible":
        return _Attempt(None, None, f"not SOS ({solution.detail})")
    if solution.status != "solved":
        return _Attempt(None, None, f"solver: {solution.detail or solution.status}")
    scale = max(abs(float(c)) for c in cond.polynomial.coeffs())
    margin = solution.margins[j]
    numerically_sos = margin >= -NUMERIC_SOS_TOLERANCE * scale
    why = f"not SOS numerically (margin {margin:.2e})" if not numerically_sos else "SOS with no margin to round"
    exact_poly = _exact_polynomial(cond, params, solution.params) if numerically_sos else None
    if exact_poly is not None and margin > 0:
        target, epsilons = exact_poly
        gram = X.exact_certificate(target, solution.bases[j], solution.grams[j], margin)
        if gram is not None:
            part = {"name": cond.name, "method": "sos-exact", "polynomial": X.poly_to_json(target),
                    "epsilon": epsilons} | X.gram_to_json(solution.bases[j], gram)
            return _Attempt("sos-exact", part)
        why = "SOS found numerically, exact rounding failed"
    return _Attempt(None, None, why, numerically_sos, facial=margin >= -FACIAL_MARGIN_FLOOR * scale)


def _settle_slow(j: int, cond: _Condition, params: dict, solution, attempt: _Attempt, deadline, proof: str,
                 use_z3: bool) -> tuple[str, dict | None, dict | None]:
    """Facial reduction, then z3: (how the condition was settled or "open: why", certificate part, witness)."""
    why = attempt.why
    if attempt.facial:
        found = facial_part(j, cond, params, solution, deadline)
        if found is not None:
            return "sos-exact", found, None
        why += "; facial reduction found no face with a margin"
    remaining = None if deadline is None else deadline - time.perf_counter()
    if use_z3 and cond.name != "asymptotic" and (remaining is None or remaining > 0.05):
        verdict, witness = _prove_with_z3(cond, 5.0 if remaining is None else remaining, "")
        if witness is not None:
            return "counterexample", None, witness
        if verdict == "proved":
            return "z3", {"name": cond.name, "method": "z3"}, None
        why += "; z3: undecided"
    if attempt.numerically_sos and proof == "numerical":
        return "sos (numerical)", None, None
    return "open: " + why, None, None


def _settle_open(conditions, eps_index, solution, attempts, deadline, proof, use_z3, hard: bool) -> dict:
    """Condition index -> (how, part, witness) for the conditions the fast stage left open.

    Facial reduction runs here (its solves carry the solver's own time limit). z3 does not
    return to Python while it works and does not always honour its timeout, so with a
    deadline and ``hard`` the z3 stage runs in a forked child killed at the deadline (plus
    HARD_LIMIT_GRACE). Neither the fast stage nor a facial certificate pays for the fork.
    """
    outcomes = {}
    for j, cond in enumerate(conditions):
        attempt = attempts[j]
        if attempt.how is None and attempt.facial:
            found = facial_part(j, cond, eps_index[j], solution, deadline)
            if found is not None:
                outcomes[j] = ("sos-exact", found, None)
            attempt.why += "; facial reduction found no face with a margin" if found is None else ""
            attempt.facial = False
    still_open = [j for j in range(len(conditions)) if attempts[j].how is None and j not in outcomes]

    def work() -> dict:
        done = {}
        for j in still_open:
            done[j] = _settle_slow(j, conditions[j], eps_index[j], solution, attempts[j], deadline, proof, use_z3)
            if done[j][2] is not None and conditions[j].name != "asymptotic":
                break                                                  # refuted: the rest does not matter
        return done

    if not still_open:
        return outcomes
    if deadline is not None and deadline - time.perf_counter() <= 0.05:
        return outcomes | {j: _unsettled(attempts[j], "time limit reached", proof) for j in still_open}
    if deadline is None or not hard or not use_z3:
        return outcomes | work()

    result = call_with_hard_limit(work, deadline - time.perf_counter() + HARD_LIMIT_GRACE)
    if result is TIMED_OUT or isinstance(result, JobError):
        why = "hard time limit reached" if result is TIMED_OUT else f"failure: {result.message}"
        return outcomes | {j: _unsettled(attempts[j], why, proof) for j in still_open}
    return outcomes | result


def _unsettled(attempt: _Attempt, why: str, proof: str) -> tuple[str, None, None]:
    """A condition left without an exact answer: open, or the solver's word if ``proof="numerical"``."""
    if attempt.numerically_sos and proof == "numerical":
        return "sos (numerical)", None, None
    return f"open: {attempt.why}; {why}", None, None


def _settle(conditions, eps_index, solution, check, deadline, proof, use_z3, want_certificate, hard: bool
            ) -> CheckResult:
    attempts = [_settle_fast(j, cond, eps_index[j], solution) for j, cond in enumerate(conditions)]
    slow = {}
    if any(a.how is None for a in attempts):
        slow = _settle_open(conditions, eps_index, solution, attempts, deadline, proof, use_z3, hard)
    settled, parts = {}, []
    for j, cond in enumerate(conditions):
        if j not in slow and attempts[j].how is None:
            break                                                      # after a refutation in the slow stage
        how, part, witness = slow[j] if j in slow else (attempts[j].how, attempts[j].part, None)
        if witness is not None and cond.name != "asymptotic":
            return CheckResult(False, check, "counterexample: " + witness["statement"], "exact counterexample",
                               witness, conditions={**settled, cond.name: "counterexample"})
        settled[cond.name] = how if witness is None else "counterexample"
        if part is not None:
            parts.append(part)
    asymptotic = None
    if "asymptotic" in settled:
        asymptotic = True if not settled["asymptotic"].startswith(("open", "counterexample")) else (
            False if settled["asymptotic"] == "counterexample" else None)
    main = [settled[c.name] for c in conditions if c.name != "asymptotic"]
    open_ = [f"{c.name}: {settled[c.name][6:]}" for c in conditions if settled[c.name].startswith("open")
             and c.name != "asymptotic"]
    if open_:
        return CheckResult(None, check, "undecided: " + "; ".join(open_), "", None, asymptotic=asymptotic,
                           conditions=settled)
    methods = sorted(set(main), key=["sos-exact", "z3", "sos (numerical)"].index)
    label = "+".join(methods)
    reason = {"lyapunov": "V(0) = 0, V - sum eps x^2k is SOS, -dV/dt is SOS",
              "barrier": "V is SOS, -dV/dt is SOS"}[check]
    certificate = {"check": check, "conditions": parts} if want_certificate else None
    return CheckResult(True, check, reason, label, None, asymptotic=asymptotic, conditions=settled,
                       certificate=certificate)
