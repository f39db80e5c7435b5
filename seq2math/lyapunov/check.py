"""``check_candidate``: is V a (global) Lyapunov or barrier function of ẋ = f(x)?

Checks (docs/verification.md):

- ``lyapunov``: V(0) = 0; V − Σᵢ Σₖ εᵢₖ xᵢ^(2k) is SOS with εᵢₖ ≥ 0, Σₖ εᵢₖ > 0 (so V is
  positive definite and radially unbounded); −V̇ is SOS. ``asymptotic=True`` also tries
  −V̇ − Σ δᵢₖ xᵢ^(2k) SOS (global asymptotic stability), reported as its own flag.
- ``barrier``: V is SOS (V ≥ 0) and −V̇ is SOS.

A polynomial candidate goes through, in order: V(0); numerical falsification
(``falsify.py``) with exact confirmation of the point; one SOS program for all conditions
(``conditions.py``); then each condition is settled by exact rounding, facial reduction or
z3 (``settle.py``) into a typed outcome (``outcomes.py``), and ``result.from_settled``
turns the outcomes into the answer.

Answers: ``valid=False`` only with an exact rational counterexample (or V(0) ≠ 0);
``valid=True`` only when every condition is proved exactly — a rational Gram matrix
checked by exact LDLᵀ, or z3 ``unsat`` — unless ``proof="numerical"`` accepts a solver's
SOS answer (then ``proof`` says so). Anything else is ``None`` with the reason.
Non-polynomial inputs get numerical falsification only (``nonpoly.py``): ``valid=True``
then means "no counterexample found", ``proof="none (numerical)"``.
"""

from __future__ import annotations

import time

import flint
import numpy as np

from seq2math.lyapunov.conditions import Condition, build_program, sign_conditions, violation
from seq2math.lyapunov.falsify import SignCondition, find_violations
from seq2math.lyapunov.nonpoly import check_numerically
from seq2math.lyapunov.options import CheckOptions
from seq2math.lyapunov.outcomes import ASYMPTOTIC
from seq2math.lyapunov.result import CheckResult, from_settled
from seq2math.lyapunov.settle import MIN_STAGE_SECONDS, settle
from seq2math.sos.sdp import solve_sos
from seq2math.symbolic.expr import NotPolynomialError, to_poly
from seq2math.symbolic.poly import NumericPoly, Poly, in_ring
from seq2math.symbolic.polytools import exact_value, rationalise

#: the numerical search's points tried in exact rationals (worst first), and the decimals they are rounded to
CONFIRMED_POINTS = 6
ROUNDING_DIGITS = (0, 1, 2, 3, 4, 6, 9, 12)


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
    start = time.perf_counter()
    options = CheckOptions(check=check, deadline=None if timeout is None else start + timeout, proof=proof,
                           asymptotic=asymptotic, use_z3=use_z3, want_certificate=certificate, seed=seed,
                           hard_limit=hard_timeout)
    polys = as_polynomials(system, V)
    if polys is None:
        result = check_numerically(system, V, options.check, np.random.default_rng(options.seed))
    else:
        result = _check_polynomial(polys[0], polys[1], options)
    result.seconds = time.perf_counter() - start
    return result


def _check_polynomial(system: list[Poly], V: Poly, options: CheckOptions) -> CheckResult:
    n, check = len(system), options.check
    value_at_zero = exact_value(V, (flint.fmpq(0),) * n)
    if check == "lyapunov" and value_at_zero != 0:
        return CheckResult(False, check, f"V(0) = {value_at_zero} is not 0", "exact")
    conditions = sign_conditions(system, V, check, options.asymptotic)
    witness = _falsify(conditions, n, np.random.default_rng(options.seed))
    if witness is not None:
        return CheckResult(False, check, "counterexample: " + witness["statement"], "exact counterexample", witness)
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
    solution = solve_sos(program, time_limit=remaining)
    return from_settled(check, settle(conditions, eps_index, solution, options), options.want_certificate)


def _falsify(conditions: list[Condition], nvars: int, rng: np.random.Generator) -> dict | None:
    """The numerical search (``falsify.py``), then exact confirmation of its points in rationals."""
    searched = []
    for condition in conditions:
        if condition.name != ASYMPTOTIC:          # never decides validity: a point against it refutes nothing
            numeric = NumericPoly(condition.polynomial)
            searched.append(SignCondition(condition.name, numeric, numeric.magnitude, condition.definite))
    by_name = {condition.name: condition for condition in conditions}
    for name, x, _ in find_violations(searched, nvars, rng)[:CONFIRMED_POINTS]:
        for digits in ROUNDING_DIGITS:
            witness = violation(by_name[name], rationalise(x, digits))
            if witness is not None:
                return witness
    return None
