"""Settling the conditions of a solved SOS program: exact rounding, facial reduction, z3.

Each condition is settled by the first stage that can, cheapest first (docs/verification.md):

1. rounding the solver's Gram matrix to an exact one (it has a margin: milliseconds);
2. facial reduction (``sos/facial.py``, ``sos/facial_lp.py``: no Gram matrix has a margin, e.g. a degenerate
   quadratic part of V, or −V̇ a sum of a few squares), in this process;
3. z3, which decides the sign condition exactly; with a deadline and ``hard_limit`` it runs in
   a forked child killed at the deadline (z3 does not always honour its own timeout). When the
   whole check already runs in such a child (``check.check_candidate``), ``hard_limit`` is off
   here and z3 runs in that child: one fork per check.

What is left is open, or accepted on the solver's word when ``proof="numerical"`` and the
solver found it SOS. Every condition ends as one ``SettledCondition``; nothing here writes
the words of a ``CheckResult`` (``result.from_settled`` does).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from seq2math.jobs.workers import TIMED_OUT, JobError, call_with_hard_limit
from seq2math.lyapunov.conditions import Condition, exact_polynomial, violation
from seq2math.lyapunov.options import CheckOptions
from seq2math.lyapunov.outcomes import ASYMPTOTIC, Outcome, SettledCondition, left_open, proved, refuted
from seq2math.sos import exact as X
from seq2math.sos.facial_lp import facial_part
from seq2math.sos.prover import Verdict, find_point
from seq2math.sos.sdp import SolverStatus, SOSSolution

NUMERIC_SOS_TOLERANCE = 1e-7
#: facial reduction is tried when the solver's margin is above −this·(largest coefficient): degenerate
#: SOS programs (no interior point) end with slightly negative margins, clearly negative ones are not SOS
FACIAL_MARGIN_FLOOR = 1e-2
#: seconds past the deadline before the child process of the slow stage is killed
HARD_LIMIT_GRACE = 0.25
#: a stage starts only with at least this many seconds left before the deadline
MIN_STAGE_SECONDS = 0.05
#: z3's own time limit per condition when the call has no deadline
Z3_SECONDS = 5.0
#: z3 on a definite condition (V's positivity under the lyapunov check) can only refute it, never prove it
#: (``_prove_with_z3``), and the numerical search has already looked for such points: it gets at most this many
#: seconds there, so that a V whose positivity has no exact certificate does not hold a check for its whole time
#: limit (bpoly system 129 of our test set: 11 s per model candidate, session 22)
DEFINITE_Z3_SECONDS = 2.0


@dataclass(frozen=True)
class _Attempt:
    """What rounding the solver's Gram matrix learnt about a condition it could not settle."""

    why: str                         # why no exact certificate came of it
    numerically_sos: bool = False    # the solver found it SOS: enough under proof="numerical"
    facial: bool = False             # worth trying facial reduction (SOS with at most a tiny negative margin)


def settle(conditions: list[Condition], eps_index: list[dict], solution: SOSSolution, options: CheckOptions
           ) -> list[SettledCondition]:
    """The settled conditions, in order, up to the first refuted condition that decides validity."""
    first = [_settle_fast(j, cond, eps_index[j], solution) for j, cond in enumerate(conditions)]
    later: dict[int, SettledCondition] = {}
    if any(isinstance(outcome, _Attempt) for outcome in first):
        later = _settle_open(conditions, eps_index, solution, first, options)
    settled = []
    for j in range(len(conditions)):
        outcome = later.get(j, first[j])
        if isinstance(outcome, _Attempt):
            break                                                      # not reached after a refutation
        settled.append(outcome)
        if outcome.outcome is Outcome.COUNTEREXAMPLE and outcome.decides_validity:
            break                                                      # refuted: the rest does not matter
    return settled


def _settle_fast(j: int, cond: Condition, params: dict, solution: SOSSolution) -> SettledCondition | _Attempt:
    """Exact rounding of the solver's Gram matrix: milliseconds, always in this process."""
    if cond.polynomial.is_zero() and not cond.definite:
        return proved(cond.name, Outcome.SOS_EXACT, {"name": cond.name, "method": "sos-exact", "polynomial": [],
                                                     "basis": [], "gram": []})
    if solution.status is SolverStatus.INFEASIBLE:
        return _Attempt(f"not SOS ({solution.detail})")
    if solution.status is not SolverStatus.SOLVED:
        return _Attempt(f"solver: {solution.detail or solution.status.value}")
    scale = max(abs(float(c)) for c in cond.polynomial.coeffs())
    margin = solution.margins[j]
    numerically_sos = margin >= -NUMERIC_SOS_TOLERANCE * scale
    why = f"not SOS numerically (margin {margin:.2e})" if not numerically_sos else "SOS with no margin to round"
    exact_poly = exact_polynomial(cond, params, solution.params) if numerically_sos else None
    if exact_poly is not None and margin > 0:
        target, epsilons = exact_poly
        part = {"name": cond.name, "method": "sos-exact", "polynomial": X.poly_to_json(target), "epsilon": epsilons}
        blocks = solution.blocks[j] if solution.blocks else []
        if len(blocks) > 1:                                            # a sparse solve: block by block
            grams = X.exact_block_certificate(target, solution.bases[j], solution.grams[j], blocks, margin)
            if grams is not None:
                part |= X.blocks_to_json([solution.bases[j][b] for b in blocks], grams)
                return proved(cond.name, Outcome.SOS_EXACT, part)
        else:
            gram = X.exact_certificate(target, solution.bases[j], solution.grams[j], margin)
            if gram is not None:
                return proved(cond.name, Outcome.SOS_EXACT, part | X.gram_to_json(solution.bases[j], gram))
        why = "SOS found numerically, exact rounding failed"
    return _Attempt(why, numerically_sos, facial=margin >= -FACIAL_MARGIN_FLOOR * scale)


def _settle_open(conditions: list[Condition], eps_index: list[dict], solution: SOSSolution,
                 first: list[SettledCondition | _Attempt], options: CheckOptions) -> dict[int, SettledCondition]:
    """Condition index -> outcome for the conditions the fast stage left open.

    Facial reduction runs here (its solves carry the solver's own time limit). z3 does not
    return to Python while it works and does not always honour its timeout, so with a
    deadline and ``hard_limit`` the z3 stage runs in a forked child killed at the deadline
    (plus HARD_LIMIT_GRACE). Neither the fast stage nor a facial certificate pays for the fork.
    """
    outcomes: dict[int, SettledCondition] = {}
    still_open: dict[int, _Attempt] = {}
    for j, cond in enumerate(conditions):
        attempt = first[j]
        if not isinstance(attempt, _Attempt):
            continue
        if attempt.facial:
            found = facial_part(j, cond, eps_index[j], solution, options.deadline)
            if found is not None:
                outcomes[j] = proved(cond.name, Outcome.SOS_EXACT, found)
                continue
            attempt = replace(attempt, why=attempt.why + "; facial reduction found no face with a margin",
                              facial=False)
        still_open[j] = attempt
    if not still_open:
        return outcomes
    deadline = options.deadline
    if deadline is not None and deadline - time.perf_counter() <= MIN_STAGE_SECONDS:
        return outcomes | {j: _unsettled(conditions[j], attempt, "time limit reached", options)
                           for j, attempt in still_open.items()}

    def work() -> dict[int, SettledCondition]:
        done = {}
        for j, attempt in still_open.items():
            done[j] = _settle_with_z3(conditions[j], attempt, options)
            if done[j].outcome is Outcome.COUNTEREXAMPLE and done[j].decides_validity:
                break                                                  # refuted: the rest does not matter
        return done

    if deadline is None or not options.hard_limit or not options.use_z3:
        return outcomes | work()
    result = call_with_hard_limit(work, deadline - time.perf_counter() + HARD_LIMIT_GRACE)
    if result is TIMED_OUT or isinstance(result, JobError):
        why = "hard time limit reached" if result is TIMED_OUT else f"failure: {result.message}"
        return outcomes | {j: _unsettled(conditions[j], attempt, why, options) for j, attempt in still_open.items()}
    return outcomes | result


def _settle_with_z3(cond: Condition, attempt: _Attempt, options: CheckOptions) -> SettledCondition:
    """z3 (when allowed and time is left), else the solver's word under proof="numerical", else open."""
    why = attempt.why
    remaining = None if options.deadline is None else options.deadline - time.perf_counter()
    if options.use_z3 and cond.name != ASYMPTOTIC and (remaining is None or remaining > MIN_STAGE_SECONDS):
        seconds = Z3_SECONDS if remaining is None else remaining
        verdict, witness = _prove_with_z3(cond, min(seconds, DEFINITE_Z3_SECONDS) if cond.definite else seconds)
        if witness is not None:
            return refuted(cond.name, witness)
        if verdict is Verdict.PROVED:
            return proved(cond.name, Outcome.Z3, {"name": cond.name, "method": "z3"})
        why += "; z3: undecided"
    if attempt.numerically_sos and options.numerical_proof:
        return proved(cond.name, Outcome.SOS_NUMERICAL)
    return left_open(cond.name, why)


def _prove_with_z3(cond: Condition, seconds: float) -> tuple[Verdict, dict | None]:
    """z3's verdict on the condition, and an exact witness when its point violates it (re-checked here)."""
    if cond.definite:              # z3 can refute positivity but its "unsat" would not show properness
        answer = find_point(cond.polynomial, strict=False, nonzero=True, timeout=seconds)
        verdict = Verdict.UNKNOWN if answer.verdict is Verdict.PROVED else answer.verdict
    else:
        answer = find_point(cond.polynomial, strict=True, nonzero=False, timeout=seconds)
        verdict = answer.verdict
    return verdict, (violation(cond, answer.point) if answer.point is not None else None)


def _unsettled(cond: Condition, attempt: _Attempt, why: str, options: CheckOptions) -> SettledCondition:
    """A condition left without an exact answer: open, or the solver's word if ``proof="numerical"``."""
    if attempt.numerically_sos and options.numerical_proof:
        return proved(cond.name, Outcome.SOS_NUMERICAL)
    return left_open(cond.name, f"{attempt.why}; {why}")
