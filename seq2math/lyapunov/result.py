"""What a check answers: ``CheckResult``, shared by the polynomial and the numerical checkers.

``valid`` is ``True`` only when every condition was proved (``proof`` says how), ``False`` only
with a counterexample (or V(0) ≠ 0), and ``None`` (undecided) otherwise, with the reason.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: the two checks (docs/verification.md): global Lyapunov (proper, positive definite) and barrier
CHECKS = ("lyapunov", "barrier")


@dataclass
class CheckResult:
    valid: bool | None
    check: str
    reason: str
    proof: str = ""                      # "sos-exact", "sos-exact+z3", "sos (numerical)", "none (numerical)", ...
    counterexample: dict | None = None   # {"condition", "point": ["p/q", ...], "value": "p/q"}
    seconds: float = 0.0
    asymptotic: bool | None = None
    conditions: dict[str, str] = field(default_factory=dict)   # condition -> how it was settled
    certificate: dict | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("certificate")
        data["seconds"] = round(self.seconds, 6)
        return {k: v for k, v in data.items() if v is not None or k == "valid"}
