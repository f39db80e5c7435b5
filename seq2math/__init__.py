"""seq2math: mathematics with transformers.

Generate mathematical data sets, train transformers on them, decode with beam search,
and check every answer mathematically (tolerances for numbers, SOS certificates for
Lyapunov functions).

The Python API (``seq2math.api``, docs/api.md); the command line calls the same functions::

    from seq2math import solve, verify, generate, load_model

    solution = solve("x0' = -x0 + x1; x1' = -x0 - x1^3")
    print(solution.V, solution.proof)                      # x0^2 + x1^2 sos-exact
    print(verify("x0' = -x0; x1' = x1", "x0^2 + x1^2").valid)   # False (with a counterexample)

The four names load on first use, so ``import seq2math.tokens.numbers`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["solve", "verify", "generate", "load_model"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("seq2math.api"), name)
    raise AttributeError(f"module 'seq2math' has no attribute {name!r}")
