"""The one solve loop: prove the candidates that methods propose, first proved wins.

``seq2math solve``, ``seq2math report`` and ``seq2math.solve`` all go through
``attempt_method`` (one method under one check) and ``prove`` (one candidate):

1. ``check_candidate`` with an exact certificate (docs/verification.md);
2. a valid V on a polynomial system becomes a certificate document (system, V, rational
   Gram matrices), saved to a file when a path is given, and ``certificates.recheck``
   proves that document again from scratch;
3. under a deadline a first check gets at most CANDIDATE_SECONDS; what that cut is checked again,
   with the time left, after the method's last proposal;
4. the candidate is accepted when the re-check passed (``require_certificate``, the rule of
   the report: every counted V has a re-proved certificate file), or, for ``solve``, when it is
   valid and no certificate contradicts it: a non-polynomial V is valid only when a prover of
   ``check.NONPOLY_PROVERS`` proved it (and re-checked its own certificate, docs/verification.md).

A solver panic (Clarabel raises pyo3's PanicException, a BaseException) makes the candidate,
or the rest of a method's search, undecided; it never ends the loop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seq2math.jobs.workers import one_blas_thread
from seq2math.lyapunov.check import as_polynomials, check_candidate, falsify_exactly
from seq2math.lyapunov.conditions import quick_counterexample, sign_conditions
from seq2math.lyapunov.methods.base import Method, Search, make_method, seconds_left
from seq2math.lyapunov.methods.findlyap import not_polynomial_reason
from seq2math.lyapunov.result import CHECKS, CheckResult
from seq2math.sos import certificates
from seq2math.sos.sdp import is_solver_panic
from seq2math.symbolic.expr import as_expr, from_poly, to_infix
from seq2math.symbolic.poly import Poly, beyond_float_range
from seq2math.tokens.prefix import expression_tokens

#: the methods of ``seq2math solve`` and ``seq2math.solve`` when none are named: ``quadratic`` settles a quadratic
#: V of a small system first (at most a second, no torch), the model proposes, ``guided`` fits SOS coefficients on
#: the model's monomials, ``sos`` searches without the model
DEFAULT_METHODS = ("quadratic", "model", "guided", "sos")
#: share of the time limit each method may use (``method_deadline``); a method not listed weighs DEFAULT_SHARE
SHARES = {"quadratic": 0.05, "model": 0.25, "guided": 0.35, "sos": 0.4}
DEFAULT_SHARE = 0.3
#: a candidate checked at or past the deadline still gets this many seconds (it was proposed in time)
MIN_CHECK_SECONDS = 0.5
#: under a deadline, a candidate's first check gets at most this many seconds; the candidates it cut are checked
#: again with the time left once the method has proposed everything, in beam order. A wrong hypothesis that
#: neither falsification nor the SOS program can settle quickly would otherwise take a method's whole share
#: (a correct BPoly-like V is proved in a median 0.5 s, docs/verification.md)
CANDIDATE_SECONDS = 2.0
#: report records keep this many characters of a reason
REASON_CHARS = 300


def infix_text(V: Any) -> str:
    """V in the infix syntax of the command line."""
    return to_infix(from_poly(V) if isinstance(V, Poly) else as_expr(V))


def prefix_text(V: Any) -> str:
    """The prefix tokens of V (a polynomial in canonical form, or an expression tree), space-separated."""
    return " ".join(expression_tokens(from_poly(V) if isinstance(V, Poly) else as_expr(V)))


@dataclass
class Proof:
    """What the loop learnt about one candidate."""

    result: CheckResult | None           # check_candidate's answer; None when the solver panicked
    reason: str                          # why it is not accepted, or how it was proved
    certified: bool | None               # True: certificate re-proved, or (non-polynomial V) proved by a prover
                                         # of the chain; False: refuted or re-check failed; None: neither
    document: dict | None = None         # the certificate (system, V, check, conditions)
    recheck: str | None = None           # what the re-check said
    path: str | None = None              # where the certificate file is

    def accepted(self, require_certificate: bool) -> bool:
        if require_certificate:
            return self.certified is True
        return self.result is not None and self.result.valid is True and self.certified is not False

    def record(self) -> dict[str, Any]:
        """The fields of a report record (``valid``, ``proof``, ``reason``, ``certified``, ...)."""
        if self.result is None:
            return {"valid": None, "certified": None, "reason": self.reason}
        out = {"valid": self.result.valid, "proof": self.result.proof, "reason": self.reason[:REASON_CHARS],
               "certified": self.certified}
        out |= {key: getattr(self.result, key) for key in ("numerical", "region") if getattr(self.result, key)}
        if self.recheck is not None:
            out |= {"recheck": self.recheck, "certificate": self.path}
        return out


def prove(system: list, V: Any, check: str, deadline: float | None, certificate_path: str | Path | None = None,
          memory_limit: int | None = None) -> Proof:
    """Check V exactly, build its certificate, save it (when a path is given) and re-check it.

    With a deadline the check runs in a child process killed at it (``check_candidate``'s hard
    limit); ``memory_limit`` (bytes) caps that child's allocations (docs/reliability.md)."""
    polys = as_polynomials(system, V)
    falsified = False
    if polys is not None and check in CHECKS:           # a wrong beam hypothesis is refuted without a fork
        conditions = sign_conditions(polys[0], polys[1], check, asymptotic=False)
        # the fixed points first (microseconds), then the check's own numerical search (milliseconds, where
        # the fork costs 40-75 ms: the textbook system's wrong hypotheses fail near 0, off the fixed points)
        witness = quick_counterexample(conditions, len(polys[0])) or falsify_exactly(conditions, len(polys[0]))
        if witness is not None:
            result = CheckResult(False, check, "counterexample: " + witness["statement"], "exact counterexample",
                                 witness)
            return Proof(result, result.reason, False)
        falsified = True
    left = seconds_left(deadline)
    try:
        result = check_candidate(system, V, check, timeout=None if left is None else max(MIN_CHECK_SECONDS, left),
                                 certificate=True, memory_limit=memory_limit, falsified=falsified)
    except BaseException as err:  # one candidate's solver panic must not end the search
        if not is_solver_panic(err):
            raise
        return Proof(None, f"undecided: the solver panicked ({err})", None)
    if not result.valid:
        return Proof(result, result.reason, None if result.valid is None else False)
    polys = as_polynomials(system, V)
    if polys is None:
        # non-polynomial: valid only when a prover of the chain proved it globally, and each prover re-checks
        # its own certificate before it answers (docs/provers.md): that proof is what is counted
        return Proof(result, result.reason, True)
    if result.certificate is None:
        return Proof(result, result.reason, None)
    document = certificates.certificate_document(polys[0], polys[1], check, result.certificate["conditions"])
    path = None
    if certificate_path is not None:
        path = str(certificates.save(certificate_path, document))
        document = certificates.load(path)      # the file is what is re-proved
    try:
        ok, why = certificates.recheck(document)
    except Exception as err:  # a re-check that cannot run proves nothing
        return Proof(result, result.reason, None, document, f"re-check raised {type(err).__name__}: {err}", path)
    reason = result.reason if ok else f"certificate failed its exact re-check: {why}"
    return Proof(result, reason, bool(ok), document, why, path)


@dataclass
class Attempt:
    """One method under one check: how many candidates it proposed, and the one accepted."""

    method: str
    check: str
    candidates: int = 0                  # candidates proved or refuted or left undecided
    undecided: int = 0                   # of which neither certified nor refuted
    reason: str | None = None            # the last rejection, "time limit reached", "no time left", ...
    seconds: float = 0.0
    interrupted: bool = False            # the time limit or a solver panic ended the search
    V: Any = None                        # the accepted candidate
    proof: Proof | None = None           # and what proved it
    last: tuple[Any, Proof] | None = None  # the last candidate rejected, and why
    region: tuple[Any, Proof] | None = None  # the first candidate proved on a region only (non-polynomial)

    @property
    def found(self) -> bool:
        return self.proof is not None

    @property
    def certified(self) -> bool | None:
        """The report's verdict: True (certificate re-proved), False (no candidate survived), None (undecided)."""
        if self.found:
            return self.proof.certified
        return None if self.interrupted or self.undecided else False

    def summary(self) -> dict[str, Any]:
        """The entry of ``seq2math solve``'s ``tried`` list."""
        out = {"method": self.method, "candidates": self.candidates, "seconds": round(self.seconds, 6),
               "last_reason": self.reason}
        if self.region is not None and not self.found:
            V, proof = self.region
            out["region"] = {"V": infix_text(V), "region": proof.result.region, "proof": proof.result.proof}
        return out

    def record(self) -> dict[str, Any]:
        """The per-check entry of a ``seq2math report`` record.

        Found: the proof's fields (``valid``, ``proof``, ``reason``, ``certified``, ``recheck``,
        ``certificate``), ``candidates`` and ``V``. Not found: ``certified`` (False or None),
        ``candidates``, ``undecided``, ``reason`` and, when some candidate was checked, ``valid``,
        ``proof`` and ``V`` of the last one (e.g. the neural baseline's one V, proved numerically only).
        """
        if self.found:
            return self.proof.record() | {"candidates": self.candidates, "V": prefix_text(self.V)}
        out = {"certified": self.certified, "candidates": self.candidates, "undecided": self.undecided,
               "reason": (self.reason or "no candidate")[:REASON_CHARS]}
        if self.last is not None:
            V, proof = self.last
            out |= {"valid": None if proof.result is None else proof.result.valid,
                    "proof": "" if proof.result is None else proof.result.proof, "V": prefix_text(V)}
        return out


def attempt_method(method: Method, search: Search, check: str, deadline: float | None,
                   certificate_path: str | Path | None = None, require_certificate: bool = False) -> Attempt:
    """Prove ``method``'s candidates for ``check`` in order until one is accepted or time is up."""
    started = time.perf_counter()
    attempt = Attempt(method.name, check)
    retry = []                                                 # candidates cut by the first pass's cap
    try:
        for V in method.propose(search, check, deadline):
            attempt.candidates += 1
            capped = None if deadline is None else min(deadline, time.perf_counter() + CANDIDATE_SECONDS)
            proof = implied_barrier(search, check, V) or prove(search.system, V, check, capped, certificate_path,
                                                               method.options.memory_limit)
            if _record_proof(attempt, V, proof, require_certificate):
                break
            if proof.result is not None and proof.result.limit == "time" and capped != deadline:
                retry.append(V)
            if deadline is not None and time.perf_counter() > deadline:
                attempt.reason, attempt.interrupted = "time limit reached", True
                break
        for V in retry if not attempt.found else []:           # second pass: the time left, in beam order
            if deadline is not None and deadline - time.perf_counter() <= MIN_CHECK_SECONDS:
                attempt.reason, attempt.interrupted = "time limit reached", True
                break
            proof = prove(search.system, V, check, deadline, certificate_path, method.options.memory_limit)
            attempt.undecided -= 1                             # counted once, in its last pass
            if _record_proof(attempt, V, proof, require_certificate):
                break
    except BaseException as err:  # a solver panic inside the method's own search
        if not is_solver_panic(err):
            raise
        attempt.reason, attempt.interrupted = f"undecided: the solver panicked ({err})", True
    if attempt.candidates == 0 and attempt.reason is None:
        attempt.reason = search.reason or None
    if not attempt.found and not attempt.interrupted:
        if search.interrupted:                                 # the method's own search was cut by a limit
            attempt.reason, attempt.interrupted = search.reason, True
        elif deadline is not None and time.perf_counter() > deadline:
            attempt.reason, attempt.interrupted = attempt.reason or "time limit reached", True
    attempt.seconds = time.perf_counter() - started
    return attempt


def implied_barrier(search: Search, check: str, V: Any) -> Proof | None:
    """The barrier proof of a non-polynomial V that the loop proved under the lyapunov check for this system:
    V ≥ 0 and V̇ ≤ 0 everywhere are part of what the prover proved, so proving them again (the prover chain
    from scratch, seconds) adds nothing. A polynomial V gets its own barrier certificate file instead."""
    lyapunov = search.proofs.get("lyapunov")
    if (check != "barrier" or lyapunov is None or lyapunov.certified is not True or lyapunov.document is not None
            or V is not search.proved.get("lyapunov")):
        return None
    result = CheckResult(True, "barrier", f"implied by the lyapunov proof ({lyapunov.result.reason})"[:REASON_CHARS],
                         lyapunov.result.proof)
    return Proof(result, result.reason, True)


def _record_proof(attempt: Attempt, V: Any, proof: Proof, require_certificate: bool) -> bool:
    """Note one candidate's proof in ``attempt``; True when it is accepted (the search ends)."""
    if proof.accepted(require_certificate):
        attempt.V, attempt.proof = V, proof
        return True
    attempt.undecided += proof.certified is None
    if attempt.region is None and proof.result is not None and proof.result.region:
        attempt.region = (V, proof)
    attempt.reason, attempt.last = proof.reason, (V, proof)
    return False


@dataclass
class SolveOutcome:
    """The answer of ``solve_system``: the first accepted V and every method's attempt."""

    found: bool
    V: Any = None
    method: str | None = None
    verification: CheckResult | None = None
    certificate: dict | None = None       # the re-checked certificate document (polynomial systems)
    tried: list[Attempt] = field(default_factory=list)
    seconds: float = 0.0


def for_system(system: list, methods: list[Method]) -> list[Method]:
    """The methods to try on ``system``: a non-polynomial system gets the ``nonpoly`` method first
    (the polynomial methods have nothing to propose for it) unless the list already has it."""
    if as_polynomials(system, system[0]) is not None or any(m.name == "nonpoly" for m in methods):
        return methods
    return [make_method("nonpoly")] + methods


def method_deadline(methods: list[Method], index: int, deadline: float | None, shared: bool) -> float | None:
    """When method ``index`` must stop: with ``shared``, its share (``SHARES``) of the time left, weighed
    against the shares of the methods after it (time an earlier method left unused passes on); the last
    method, and every method without ``shared``, gets the whole ``deadline``."""
    left = seconds_left(deadline)
    if left is None or not shared or index == len(methods) - 1:
        return deadline
    weights = [SHARES.get(method.name, DEFAULT_SHARE) for method in methods[index:]]
    return time.perf_counter() + left * weights[0] / sum(weights)


def float_range_reason(system: list) -> str:
    """Why no method can work on a polynomial ``system`` with a coefficient past the float64 range ("" when every
    coefficient fits): the SOS programs, the fits and the checker's solver all work in floats."""
    polys = as_polynomials(system, system[0])
    for i, f in enumerate(polys[0] if polys is not None else []):
        if beyond_float_range(f):
            return (f"equation {i + 1} (x{i}') has a coefficient past the float64 range (|c| >= 1.8e308), which "
                    "the SOS programs and the checker's solver cannot represent: rescale the system")
    return ""


def solve_system(system: list, methods: list[Method], check: str = "lyapunov", time_limit: float | None = None,
                 require_certificate: bool = False, shared: bool = False) -> SolveOutcome:
    """Try each method in order within ``time_limit`` seconds in all; the first accepted V wins
    (``for_system``: a non-polynomial system tries the ``nonpoly`` method first).

    With ``shared`` each method stops at its share of the time (``method_deadline``); without, each may
    use all the time that is left. On a non-polynomial system the SOS methods (``Method.polynomial_only``)
    are not started: their attempt says why they do not apply, and the time is shared by the others
    (``nonpoly`` and ``model``)."""
    with one_blas_thread():            # small matrices: a second BLAS thread makes the fits 2-7x slower
        polynomial = as_polynomials(system, system[0]) is not None
        methods = for_system(system, methods)
        active = [method for method in methods if polynomial or not method.polynomial_only]
        start = time.perf_counter()
        deadline = None if time_limit is None else start + time_limit
        tried: list[Attempt] = []
        too_large = float_range_reason(system) if polynomial else ""
        for method in methods:
            if too_large:
                tried.append(Attempt(method.name, check, reason=too_large, interrupted=True))    # undecided
                continue
            if method not in active:
                tried.append(Attempt(method.name, check, reason=not_polynomial_reason(method.name, system)))
                continue
            method_start = time.perf_counter()
            remaining = seconds_left(deadline)
            if remaining is not None and remaining <= 0:
                tried.append(Attempt(method.name, check, reason="no time left"))
                continue
            own = method_deadline(active, active.index(method), deadline, shared)
            attempt = attempt_method(method, method.start(system, seconds_left(own)), check, own,
                                     require_certificate=require_certificate)
            attempt.seconds = time.perf_counter() - method_start    # the method's start counts too
            tried.append(attempt)
            if attempt.found:
                proof = attempt.proof
                return SolveOutcome(True, attempt.V, method.name, proof.result, proof.document, tried,
                                    time.perf_counter() - start)
        return SolveOutcome(False, tried=tried, seconds=time.perf_counter() - start)
