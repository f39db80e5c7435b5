"""What a check answers: ``CheckResult``, shared by the polynomial and the numerical checkers.

``valid`` is ``True`` only when every condition was proved (``proof`` names the proof), ``False``
only with a counterexample (or V(0) ≠ 0), and ``None`` (undecided) otherwise, with the reason.
Sampling never proves anything: a non-polynomial candidate that no prover settles but that
dense sampling could not refute is ``valid=None`` with ``numerical`` saying what was searched;
one proved only on a region is ``valid=None`` with ``region`` naming it (docs/verification.md).
The polynomial checker settles its conditions as typed outcomes (``outcomes.py``);
``from_settled`` is the one place they become the words of ``CheckResult`` (its JSON form
is what the CLI prints and records store, docs/verification.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from seq2math.lyapunov.outcomes import DECREASE, POSITIVE, Outcome, SettledCondition

#: the two checks (docs/verification.md): global Lyapunov (proper, positive definite) and barrier
CHECKS = ("lyapunov", "barrier")
#: what ``valid=True`` states for each check
PROVED_STATEMENT = {"lyapunov": "V(0) = 0, V - sum eps x^2k is SOS, -dV/dt is SOS",
                    "barrier": "V is SOS, -dV/dt is SOS"}
#: the order of the methods in a ``proof`` label such as "sos-exact+z3"
PROOF_ORDER = (Outcome.SOS_EXACT, Outcome.Z3, Outcome.SOS_NUMERICAL)


@dataclass
class CheckResult:
    valid: bool | None
    check: str
    reason: str
    proof: str = ""                      # "sos-exact", "sos-exact+z3", "substitution+sos", "sos (numerical)", ...
    counterexample: dict | None = None   # {"condition", "point": ["p/q", ...], "value": "p/q"}
    seconds: float = 0.0
    asymptotic: bool | None = None
    conditions: dict[str, str] = field(default_factory=dict)   # condition -> how it was settled
    certificate: dict | None = None
    limit: str | None = None             # "time" or "memory" when that limit ended the check (not in to_json)
    numerical: str | None = None         # valid=None only: "no counterexample found (N points, radii ...)"
    region: str | None = None            # valid=None only: the region a prover proved the conditions on

    def __post_init__(self):
        if self.valid is True and (not self.proof or self.proof.startswith("none")):
            raise ValueError(f"valid=True needs a named proof, got proof={self.proof!r}")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("certificate")
        data.pop("limit")
        data["seconds"] = round(self.seconds, 6)
        return {k: v for k, v in data.items() if v is not None or k == "valid"}


def kind(result: dict | CheckResult) -> str:
    """How a check ended, as the columns of ``report`` and ``evaluate`` count it: "proved" (valid true),
    "region" (proved on a region only), "numerical" (sampling found no counterexample: not a proof),
    "refuted" or "open"."""
    data = result.to_json() if isinstance(result, CheckResult) else result
    if data.get("valid") is True:
        return "proved"
    if data.get("valid") is False:
        return "refuted"
    if data.get("region"):
        return "region"
    return "numerical" if data.get("numerical") else "open"


def from_settled(check: str, settled: list[SettledCondition], want_certificate: bool = False) -> CheckResult:
    """The answer of a polynomial check from its settled conditions.

    ``settled`` is in condition order and ends at the first refuted condition that decides
    validity (what comes after it does not matter). ``valid`` is False with that condition's
    exact witness, else None while a deciding condition is open (the reason lists each open
    one and why), else True; the asymptotic condition only sets ``asymptotic``.
    """
    labels = {condition.name: condition.label for condition in settled}
    deciding = [condition for condition in settled if condition.decides_validity]
    refutation = next((c for c in deciding if c.outcome.verdict is False), None)
    if refutation is not None:
        return CheckResult(False, check, "counterexample: " + refutation.witness["statement"], "exact counterexample",
                           refutation.witness, conditions=labels)
    if sorted(c.name for c in deciding) != sorted((POSITIVE, DECREASE)):
        raise ValueError(f"a {check} check needs {POSITIVE} and {DECREASE} settled, got {sorted(labels)}")
    asymptotic = next((c.outcome.verdict for c in settled if not c.decides_validity), None)
    still_open = [f"{c.name}: {c.why}" for c in deciding if c.outcome.verdict is None]
    if still_open:
        return CheckResult(None, check, "undecided: " + "; ".join(still_open), "", None, asymptotic=asymptotic,
                           conditions=labels)
    methods = sorted({c.outcome for c in deciding}, key=PROOF_ORDER.index)
    parts = [c.part for c in settled if c.part is not None]
    certificate = {"check": check, "conditions": parts} if want_certificate else None
    return CheckResult(True, check, PROVED_STATEMENT[check], "+".join(m.value for m in methods), None,
                       asymptotic=asymptotic, conditions=labels, certificate=certificate)
