"""z3 as a second, complete prover for polynomial sign conditions (docs/verification.md).

z3's nonlinear real arithmetic (nlsat) decides ∃x: p(x) < 0 exactly: ``unsat`` proves
p ≥ 0 everywhere, ``sat`` comes with a model we re-check in rationals. It is used when
the SOS route cannot give an exact certificate (no margin, e.g. −V̇ that vanishes on a
curve) and as a counterexample finder; its own timeout is honoured (z3 polls for it).
"""

from __future__ import annotations

from dataclasses import dataclass

import flint

from seq2math.symbolic.polytools import Poly, rationalise


@dataclass
class ProverAnswer:
    verdict: str                       # "proved", "counterexample", "unknown"
    point: tuple | None = None         # exact rational counterexample (already re-checked by the caller)
    detail: str = ""


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
        return ProverAnswer("proved", detail="z3: unsat")
    if answer == z3.sat:
        return ProverAnswer("counterexample", _model_point(solver.model(), xs), "z3: sat")
    return ProverAnswer("unknown", detail=f"z3: {solver.reason_unknown()}")
