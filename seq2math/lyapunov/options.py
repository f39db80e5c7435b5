"""``CheckOptions``: what one call of ``check_candidate`` asks for, validated once.

``check_candidate`` keeps its keyword arguments (docs/api.md); it builds one ``CheckOptions``
and the stages of the polynomial check (``check.py``, ``settle.py``) read from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from seq2math.lyapunov.result import CHECKS

#: "exact": valid=True needs an exact proof of every condition; "numerical": a solver's SOS answer is enough
PROOF_MODES = ("exact", "numerical")


@dataclass(frozen=True)
class CheckOptions:
    """The settings of one check; see ``check_candidate`` for what each one changes."""

    check: str = "lyapunov"          # one of CHECKS
    deadline: float | None = None    # time.perf_counter() value when the call must end; None: no limit
    proof: str = "exact"             # one of PROOF_MODES
    asymptotic: bool = False         # also try −V̇ − Σ δ x^(2k) SOS (reported as CheckResult.asymptotic)
    use_z3: bool = True              # z3 as the last prover of a condition SOS could not settle exactly
    want_certificate: bool = False   # attach the certificate (one part per condition) to the result
    seed: int = 0                    # seeds the numerical falsification: same seed, same answer
    hard_limit: bool = True          # with a deadline, run the check in a child process killed at the deadline
    memory_limit: int | None = None  # bytes the check may allocate (RLIMIT_AS in the child); None: no limit
    falsified: bool = False          # the caller already ran ``falsify_exactly`` with this seed and found nothing

    def __post_init__(self):
        if self.check not in CHECKS:
            raise ValueError(f"unknown check {self.check!r}; expected one of {CHECKS}")
        if self.proof not in PROOF_MODES:
            raise ValueError(f"unknown proof mode {self.proof!r}; expected 'exact' or 'numerical'")
        if self.memory_limit is not None and self.memory_limit <= 0:
            raise ValueError(f"memory_limit must be a positive number of bytes, got {self.memory_limit}")

    @property
    def numerical_proof(self) -> bool:
        """Whether a solver's SOS answer counts (``proof="numerical"``)."""
        return self.proof == "numerical"
