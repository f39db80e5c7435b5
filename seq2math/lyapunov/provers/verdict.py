"""``ProverVerdict``: what one prover of a non-polynomial condition answers.

Every prover of ``seq2math.lyapunov.provers`` has the signature
``prove(system, V, check: str, time_limit: float) -> ProverVerdict`` where ``system`` and ``V``
are expression trees (``seq2math.symbolic.expr``) and ``check`` is "lyapunov" or "barrier".
``status="proved"`` is a proof (``region`` None: globally; else only on the named region);
``"refuted"`` carries a counterexample that the prover checked rigorously; ``"unknown"`` says why
in ``detail``.
"""

from __future__ import annotations

from dataclasses import dataclass

STATUSES = ("proved", "refuted", "unknown")


@dataclass(frozen=True)
class ProverVerdict:
    status: str                                    # "proved" | "refuted" | "unknown"
    prover: str                                    # "substitution+sos", "cvc5", "interval", ...
    detail: str                                    # what was proved, or why not
    region: str | None = None                      # None: global; else the region proved, in words
    counterexample: tuple[str, ...] | None = None  # a point where a condition fails (decimal strings)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"a prover's status is one of {', '.join(STATUSES)}, got {self.status!r}")

    @property
    def proved(self) -> bool:
        return self.status == "proved"

    @property
    def is_global(self) -> bool:
        return self.proved and self.region is None
