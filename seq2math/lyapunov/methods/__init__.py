"""Methods that propose Lyapunov functions, and the one loop that proves their proposals.

Files, in reading order:

- ``base.py``: the ``Method`` protocol (prepare / start / propose), ``MethodOptions``, the
  registry (``register_method``, ``make_method``, ``method_names``);
- ``solve.py``: the solve loop: ``prove`` (check, certificate, re-check of one candidate),
  ``attempt_method`` (one method under one check), ``solve_system`` (methods in order);
- ``model.py``: ``model``, a trained transformer's beam;
- ``ensemble.py``: which of several models proposes first for a system (``routed``) and which reads
  past its trained positions (``longest_reader``);
- ``findlyap.py``: ``findlyap`` (the SOSTOOLS-style baseline) and ``sos`` (its rounded V);
- ``guided.py``: ``guided``, the findlyap program on the monomials of the model's hypotheses;
- ``neural/``: ``neural``, the learner–verifier baseline (``neural/method.py`` registers it).

Usage::

    from seq2math.lyapunov.methods import make_method, solve_system
    from seq2math.tokens.infix import parse_infix_system

    system = parse_infix_system("x0' = -x0 + x1; x1' = -x0 - x1^3")
    outcome = solve_system(system, [make_method("sos", max_degree=4)], "lyapunov", time_limit=30)
    outcome.found, outcome.V, outcome.verification.proof    # True, x0^2 + x1^2, 'sos-exact'

The names below load on first use, so importing this package imports no solver and no torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Method": "base", "MethodOptions": "base", "Search": "base", "METHODS": "base",
    "register_method": "base", "make_method": "base", "method_names": "base",
    "Attempt": "solve", "Proof": "solve", "SolveOutcome": "solve", "attempt_method": "solve",
    "prove": "solve", "solve_system": "solve",
    "GuidedMethod": "guided",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
