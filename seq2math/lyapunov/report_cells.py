"""One (method, system) cell of the comparison table: search, certify, save and re-check.

For each check (``lyapunov`` and ``barrier``, docs/verification.md) a method gets ``time_limit``
seconds to produce a V; a V counts as *certified* only when ``check_candidate`` proves it
exactly (rational Gram matrices or z3), the certificate is written to a file, and
``seq2math.sos.certificates.recheck`` proves that file again from scratch. A numerical
"no counterexample" (non-polynomial inputs) is recorded but never counted.

Methods (column names of ``seq2math report --methods``):

- ``model`` / ``model:RUN``: beam-search hypotheses decoded beforehand (in the parent
  process, in batches), checked best first; cheap falsification inside ``check_candidate``
  rejects wrong ones in milliseconds; the first certified one stops the search.
- ``findlyap``: the SOSTOOLS-style search (``seq2math.lyapunov.methods.findlyap``), run per check.
- ``neural``: the learner–verifier baseline, run once; its V is checked under both checks
  (its region claim is recorded apart, never mixed with the global columns).
- any other name registered in ``seq2math.lyapunov.methods.registry`` (e.g. ``sos``), through
  ``solve_system``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from seq2math.lyapunov.methods.model import read_hypotheses
from seq2math.lyapunov.methods.registry import make_method, solve_system
from seq2math.sos import certificates
from seq2math.symbolic.expr import as_expr, from_poly
from seq2math.symbolic.polytools import Poly
from seq2math.tokens.prefix import expression_tokens

CHECKS = ("lyapunov", "barrier")


def _certify(system: list, V: Any, check: str, deadline: float, certificate_path: Path) -> dict[str, Any]:
    """Prove V exactly with a certificate, save it and re-check the file; a record of the outcome."""
    from seq2math.lyapunov.check import as_polynomials, check_candidate
    from seq2math.sos.sdp import is_solver_panic

    remaining = max(0.5, deadline - time.perf_counter())
    try:
        result = check_candidate(system, V, check, timeout=remaining, certificate=True)
    except BaseException as err:  # one candidate's solver panic must not end the search
        if not is_solver_panic(err):
            raise
        return {"valid": None, "certified": None, "reason": f"undecided: the solver panicked ({err})"}
    record: dict[str, Any] = {"valid": result.valid, "proof": result.proof, "reason": result.reason[:300]}
    if not result.valid:
        return record | {"certified": None if result.valid is None else False}
    polys = as_polynomials(system, V)
    if polys is None or result.certificate is None:
        return record | {"certified": None, "reason": "no exact certificate (numerical check only)"}
    document = certificates.certificate_document(polys[0], polys[1], check, result.certificate["conditions"])
    certificates.save(certificate_path, document)
    try:
        ok, why = certificates.recheck(certificates.load(certificate_path))
    except Exception as err:  # a re-check that cannot run proves nothing: not counted
        return record | {"certified": None, "recheck": f"re-check raised {type(err).__name__}: {err}",
                         "certificate": str(certificate_path)}
    return record | {"certified": bool(ok), "recheck": why, "certificate": str(certificate_path)}


def _tokens(V: Any) -> str:

    return " ".join(expression_tokens(from_poly(V) if isinstance(V, Poly) else as_expr(V)))


def search_candidates(method: str, system: list, check: str, time_limit: float, options: dict[str, Any]):
    """Candidate V, best first, of a non-model method for one check (a generator)."""
    if method == "findlyap":
        from seq2math.lyapunov.check import as_polynomials
        from seq2math.lyapunov.methods.findlyap import findlyap

        polys = as_polynomials(system, system[0])
        if polys is None:
            return
        result = findlyap(polys[0], options.get("max_degree", 6), time_limit, check)
        if result.V is not None:
            yield result.V
        return

    kwargs = {"check": check, "max_degree": options.get("max_degree", 6)} if method == "sos" else {}
    outcome = solve_system(system, [(method, make_method(method, **kwargs))], check, time_limit)
    if outcome.found:
        yield outcome.V


def run_cell(method: str, system: list, time_limit: float, certificate_stem: Path,
             hypotheses: list[tuple[list[str], float | None]] | None = None,
             options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Both checks of one method on one system: {"lyapunov": {...}, "barrier": {...}, ...}."""
    from seq2math.sos.sdp import is_solver_panic

    options = options or {}
    started = time.perf_counter()
    record: dict[str, Any] = {}
    if method == "neural":
        return _neural_cell(system, time_limit, certificate_stem, options)
    found_V = None
    for check in CHECKS:
        deadline = time.perf_counter() + time_limit
        path = certificate_stem.with_name(f"{certificate_stem.name}.{check}.json")
        if hypotheses is not None:
            candidates = _model_candidates(hypotheses, len(system), found_V)
        else:
            candidates = search_candidates(method, system, check, time_limit, options)
        try:
            outcome = _first_certified(candidates, system, check, deadline, path)
        except BaseException as err:  # a solver panic inside the search: this check stays undecided
            if not is_solver_panic(err):
                raise
            outcome = {"certified": None, "reason": f"undecided: the solver panicked ({err})"}
        if outcome.get("certified") and check == "lyapunov":
            found_V = outcome.get("V_object")
        outcome.pop("V_object", None)
        record[check] = outcome
    record["seconds"] = round(time.perf_counter() - started, 4)
    return record


def _model_candidates(hypotheses, nvars: int, first: Any = None):

    if first is not None:  # the V certified under lyapunov is a barrier function too: try it first
        yield first
    for proposal in read_hypotheses(hypotheses, nvars):
        if proposal.V is not None:
            yield proposal.V


def _first_certified(candidates, system: list, check: str, deadline: float, path: Path) -> dict[str, Any]:
    """Check candidates in order until one is certified or the time is up."""
    tried, undecided, last = 0, 0, None
    for V in candidates:
        tried += 1
        outcome = _certify(system, V, check, deadline, path)
        if outcome.get("certified"):
            return outcome | {"candidates": tried, "V": _tokens(V), "V_object": V}
        undecided += outcome.get("certified") is None
        last = outcome.get("reason")
        if time.perf_counter() > deadline:
            return {"certified": None if tried else False, "candidates": tried, "undecided": undecided,
                    "reason": "time limit reached"}
    reason = last or "no candidate"
    return {"certified": None if undecided else False, "candidates": tried, "undecided": undecided, "reason": reason}


def _neural_cell(system: list, time_limit: float, certificate_stem: Path, options: dict[str, Any]) -> dict:
    from seq2math.lyapunov.methods.neural.search import neural_lyapunov

    started = time.perf_counter()
    result = neural_lyapunov(system, time_limit=time_limit, seed=options.get("seed", 0))
    record: dict[str, Any] = {"region": result.found_region, "region_proof": result.region_proof}
    for check in CHECKS:
        path = certificate_stem.with_name(f"{certificate_stem.name}.{check}.json")
        if result.V_poly is None:
            record[check] = {"certified": False, "candidates": 0, "reason": result.reason[:300] or "no candidate"}
            continue
        outcome = _certify(system, result.V_poly, check, time.perf_counter() + time_limit, path)
        record[check] = outcome | {"candidates": 1, "V": _tokens(result.V_poly)}
    record["seconds"] = round(time.perf_counter() - started, 4)
    return record
