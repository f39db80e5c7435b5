"""z3 as a second, complete prover for polynomial sign conditions (docs/verification.md).

z3's nonlinear real arithmetic (nlsat) decides ∃x: p(x) < 0 exactly: ``unsat`` proves
p ≥ 0 everywhere, ``sat`` comes with a model we re-check in rationals. It is used when
the SOS route cannot give an exact certificate (no margin, e.g. −V̇ that vanishes on a
curve) and as a counterexample finder. z3 polls its own timeout but does not always honour
it, so callers with a deadline run it in a killable child (``lyapunov/settle.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import flint

from seq2math.symbolic.poly import Poly
from seq2math.symbolic.polytools import rationalise


class Verdict(str, Enum):
    """What z3 answered about ∃x: p(x) < 0 (or ≤ 0). The values are the words records use."""

    PROVED = "proved"                  # unsat: the sign condition holds everywhere
    COUNTEREXAMPLE = "counterexample"  # sat: a model point (a candidate, re-checked exactly by the caller)
    UNKNOWN = "unknown"                # z3 gave up (timeout, incompleteness)

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


@dataclass(frozen=True)
class ProverAnswer:
    verdict: Verdict                   # a plain string is read as the Verdict of that value
    point: tuple | None = None         # rational model point of a sat answer: the caller re-checks it exactly
    detail: str = ""                   # z3's own word: "z3: unsat", "z3: sat", "z3: <reason unknown>"

    def __post_init__(self):
        object.__setattr__(self, "verdict", Verdict(self.verdict))


def _to_z3(p: Poly, xs):
    import z3

    terms = []
    for exps, coef in zip(p.monoms(), p.coeffs()):
        term = z3.RealVal(f"{coef.p}/{coef.q}")
        for x, e in zip(xs, exps):
            if e:
                term = term * (x ** int(e) if e > 1 else x)
        terms.append(term)
    return z3.Sum(terms) if terms else z3.RealVal(0)


def _model_point(model, xs) -> tuple[flint.fmpq, ...]:
    import z3

    values = []
    for x in xs:
        v = model.eval(x, model_completion=True)
        if z3.is_rational_value(v):
            fraction = v.as_fraction()
            values.append(flint.fmpq(fraction.numerator, fraction.denominator))
        else:                          # an algebraic number: a nearby rational, re-checked by the caller
            values.append(rationalise([float(v.approx(20).as_fraction())], 12)[0])
    return tuple(values)


def find_point(p: Poly, strict: bool, nonzero: bool, timeout: float) -> ProverAnswer:
    """Decide ∃x: p(x) < 0 (strict) or p(x) ≤ 0 (not strict), optionally with x ≠ 0."""
    import z3

    nvars = p.context().nvars()
    xs = [z3.Real(f"x{i}") for i in range(nvars)]
    solver = z3.SolverFor("QF_NRA")
    solver.set("timeout", max(1, int(timeout * 1000)))
    expression = _to_z3(p, xs)
    solver.add(expression < 0 if strict else expression <= 0)
    if nonzero:
        solver.add(z3.Or([x != 0 for x in xs]))
    answer = solver.check()
    if answer == z3.unsat:
        return ProverAnswer(Verdict.PROVED, detail="z3: unsat")
    if answer == z3.sat:
        return ProverAnswer(Verdict.COUNTEREXAMPLE, _model_point(solver.model(), xs), "z3: sat")
    return ProverAnswer(Verdict.UNKNOWN, detail=f"z3: {solver.reason_unknown()}")
