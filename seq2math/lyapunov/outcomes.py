"""How each sign condition of a check was settled: typed outcomes, turned into words only in ``CheckResult``.

A polynomial check has two conditions that decide ``valid`` (docs/verification.md) and an
optional third that is reported apart:

- ``positive``: V ≥ 0 (barrier), or V − Σ εᵢₖ xᵢ^(2k) SOS with Σₖ εᵢₖ > 0 (lyapunov: V proper and
  positive definite);
- ``decrease``: −V̇ ≥ 0;
- ``asymptotic`` (only when asked): −V̇ − Σ δᵢₖ xᵢ^(2k) SOS, global asymptotic stability; it never
  changes ``valid``, only ``CheckResult.asymptotic``.

Each condition ends as one ``SettledCondition``. Its ``outcome`` says how, and
``Outcome.verdict`` what that means: ``True`` (proved exactly, or accepted on the solver's word
under ``proof="numerical"``), ``False`` (refuted by an exact rational point) or ``None`` (open).
``CheckResult.conditions`` records ``label``: the outcome's value, or ``"open: " + why``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

#: the condition names, as ``CheckResult.conditions`` and certificate files spell them
POSITIVE, DECREASE, ASYMPTOTIC = "positive", "decrease", "asymptotic"


class Outcome(Enum):
    """How one condition was settled. The value is the word ``CheckResult.conditions`` records."""

    SOS_EXACT = "sos-exact"                # proved: a rational Gram matrix checked by exact LDLᵀ
    Z3 = "z3"                              # proved: z3 found no point violating it (unsat)
    SOS_NUMERICAL = "sos (numerical)"      # accepted on the solver's word: only under proof="numerical"
    COUNTEREXAMPLE = "counterexample"      # refuted: an exact rational point violates it
    OPEN = "open"                          # none of the above (the settled condition says why)

    @property
    def verdict(self) -> bool | None:
        """True: holds (proved, or accepted numerically); False: refuted; None: open."""
        if self is Outcome.COUNTEREXAMPLE:
            return False
        return None if self is Outcome.OPEN else True

    @property
    def exact(self) -> bool:
        """Proved exactly (a certificate or z3), as opposed to accepted numerically."""
        return self in (Outcome.SOS_EXACT, Outcome.Z3)


@dataclass(frozen=True)
class SettledCondition:
    """One condition with its outcome and the evidence for it."""

    name: str                      # POSITIVE, DECREASE or ASYMPTOTIC
    outcome: Outcome               # how it was settled
    why: str = ""                  # OPEN only: why no exact answer ("not SOS numerically (margin -1e-3); ...")
    part: dict | None = None       # SOS_EXACT / Z3: the condition's entry of the certificate file
    witness: dict | None = None    # COUNTEREXAMPLE only: {"condition", "point", "value", "statement"}

    def __post_init__(self):
        if (self.outcome is Outcome.COUNTEREXAMPLE) != (self.witness is not None):
            raise ValueError(f"{self.name}: a counterexample outcome needs a witness, and only it has one")
        if self.why and self.outcome is not Outcome.OPEN:
            raise ValueError(f"{self.name}: only an open outcome has a reason why it is open")
        if self.part is not None and not self.outcome.exact:
            raise ValueError(f"{self.name}: a certificate part comes only with an exact proof")

    @property
    def decides_validity(self) -> bool:
        """Whether this condition counts for ``valid`` (the asymptotic one is reported apart)."""
        return self.name != ASYMPTOTIC

    @property
    def label(self) -> str:
        """The word ``CheckResult.conditions`` records: "sos-exact", "z3", ..., or "open: <why>"."""
        return f"open: {self.why}" if self.outcome is Outcome.OPEN else self.outcome.value


def proved(name: str, outcome: Outcome, part: dict | None = None) -> SettledCondition:
    """A condition that holds: ``outcome`` is SOS_EXACT, Z3 or SOS_NUMERICAL."""
    if outcome.verdict is not True:
        raise ValueError(f"{name}: {outcome.value} does not prove a condition")
    return SettledCondition(name, outcome, part=part)


def refuted(name: str, witness: dict) -> SettledCondition:
    """A condition violated at the exact point of ``witness``."""
    return SettledCondition(name, Outcome.COUNTEREXAMPLE, witness=witness)


def left_open(name: str, why: str) -> SettledCondition:
    """A condition with no exact answer, and why."""
    return SettledCondition(name, Outcome.OPEN, why=why)
