"""Methods that propose Lyapunov functions, and the loop that proves their proposals.

A method is a callable ``(system, time_limit) -> iterable of candidate V`` (polynomials or
expression trees). Methods never decide validity: ``solve_system`` verifies every
candidate with ``check_candidate`` (exact proofs) and stops at the first valid one, so a
method that proposes nonsense costs time but can never produce a false certificate.

Add a method with ``register_method("name", factory)`` where ``factory(**options)`` returns
the callable — e.g. the ``model`` method (trained transformer + beam search) of issue 6.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from seq2math.lyapunov.methods.model import model_method
from seq2math.symbolic.poly import in_ring

Method = Callable[[list, float | None], Iterable[Any]]
METHODS: dict[str, Callable[..., Method]] = {}


def register_method(name: str, factory: Callable[..., Method]) -> None:
    """Make ``name`` available to ``seq2math solve --methods`` (factory(**options) -> method)."""
    METHODS[name] = factory


def make_method(name: str, **options) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; available: {', '.join(sorted(METHODS))}")
    return METHODS[name](**options)


def _sos_method(max_degree: int = 6, check: str = "lyapunov") -> Method:
    """findlyap-style SOS search: the rounded V of degrees 2, 4, … ≤ max_degree."""
    from seq2math.lyapunov.methods.findlyap import candidates

    def propose(system, time_limit):
        from seq2math.lyapunov.check import as_polynomials

        polys = as_polynomials(system, system[0])
        if polys is None:                 # SOS needs polynomials; propose nothing for other systems
            return
        deadline = None if time_limit is None else time.perf_counter() + time_limit
        n = len(system)
        for V, _ in candidates([in_ring(f, n) for f in polys[0]], max_degree, deadline, check):
            yield V

    return propose


register_method("sos", _sos_method)


def _model_method(**options) -> Method:
    """A trained transformer proposing V by beam search (``seq2math.lyapunov.methods.model``)."""

    return model_method(**options)


register_method("model", _model_method)


@dataclass
class SolveOutcome:
    found: bool
    V: Any = None
    method: str | None = None
    verification: Any = None
    tried: list[dict] = field(default_factory=list)   # per method: candidates proposed, time, last reason
    seconds: float = 0.0


def solve_system(system, methods: list[tuple[str, Method]], check: str = "lyapunov",
                 time_limit: float | None = None) -> SolveOutcome:
    """Try each method in order within the time limit; return the first candidate proved valid."""
    from seq2math.lyapunov.check import check_candidate

    start = time.perf_counter()
    deadline = None if time_limit is None else start + time_limit
    tried = []
    for name, method in methods:
        record = {"method": name, "candidates": 0, "seconds": 0.0, "last_reason": None}
        method_start = time.perf_counter()
        remaining = None if deadline is None else deadline - method_start
        if remaining is not None and remaining <= 0:
            record["last_reason"] = "no time left"
            tried.append(record)
            continue
        for V in method(system, remaining):
            record["candidates"] += 1
            left = None if deadline is None else max(0.1, deadline - time.perf_counter())
            result = check_candidate(system, V, check, timeout=left)
            if result.valid:
                record["seconds"] = round(time.perf_counter() - method_start, 6)
                tried.append(record)
                return SolveOutcome(True, V, name, result, tried, time.perf_counter() - start)
            record["last_reason"] = result.reason
            if deadline is not None and time.perf_counter() > deadline:
                record["last_reason"] = "time limit reached"
                break
        record["seconds"] = round(time.perf_counter() - method_start, 6)
        tried.append(record)
    return SolveOutcome(False, None, None, None, tried, time.perf_counter() - start)
