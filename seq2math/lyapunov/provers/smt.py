"""Global proofs and refutations with cvc5's transcendental arithmetic (docs/provers.md).

``prove(system, V, check, time_limit)`` translates V and V̇ (exact derivatives,
``enclosure.lie_derivative``) into cvc5 terms over the reals — sin, cos, tan, exp, the inverse
trigonometric functions, ``abs``, powers, and, through fresh variables, sqrt (y ≥ 0, y² = a),
ln (exp(y) = a) and non-integer powers (exp(b·y) with exp(y) = a) — and asks cvc5 for a
counterexample to each condition:

- "lyapunov": V(0) = 0 (arb, exactly); ∃x ≠ 0: V(x) ≤ 0; ∃x: V̇(x) > 0; and, for radial
  unboundedness, ∃x: V(x) < ε(‖x‖² − 1) with ε = 1/100 (its unsat proves V ≥ ε(‖x‖² − 1), so
  V → ∞; a V that grows more slowly is not proved proper here and the verdict stays unknown);
- "barrier": ∃x: V(x) < 0; ∃x: V̇(x) > 0.

Where a partial function occurs (sqrt, ln, division, tan, asin, acos, negative or fractional
powers) cvc5 first proves that its argument is in its domain for every x, one function at a
time from the innermost (``∃x: earlier domains ∧ ¬this one`` is unsat), so that the answers
hold for every x ∈ ℝⁿ. ``unsat`` for every query is a global proof. ``sat`` gives a rational
model; it is re-checked in arb ball arithmetic at 128 bits and only then reported as
"refuted" (cvc5 checks models with transcendental functions approximately). ``unknown`` and
the time limit give "unknown" with the reason.

Each query runs in a forked child killed at the deadline (``jobs.workers.call_with_hard_limit``);
when forking is unsafe in this process (``can_fork_safely``) it runs here under cvc5's own
``tlimit-per``. Without cvc5 (``pip install cvc5``; a dependency of the package) every verdict is
"unknown: cvc5 not installed".
"""

from __future__ import annotations

import time
from fractions import Fraction
from typing import Sequence

from seq2math.jobs.workers import TIMED_OUT, JobError, call_with_hard_limit, can_fork_safely
from seq2math.lyapunov.provers.enclosure import (
    decimal_strings,
    lie_derivative,
    point_value,
    validated,
    violates,
    zero_at_origin,
)
from seq2math.lyapunov.provers.verdict import ProverVerdict
from seq2math.symbolic.expr import Const, Expr, Float, Int, Unary, Var, constant_value, operands

try:
    import cvc5
    from cvc5 import Kind
except ImportError:  # the optional "smt" extra
    cvc5 = None

PROVER = "cvc5"
#: V ≥ RADIAL_EPSILON·(‖x‖² − 1) is how radial unboundedness is proved
RADIAL_EPSILON = Fraction(1, 100)


class _Translator:
    """Expression trees to cvc5 terms; partial functions leave (domain atom, definition) pairs."""

    def __init__(self, solver, n: int):
        self.solver = solver
        self.xs = [solver.mkConst(solver.getRealSort(), f"x{i}") for i in range(n)]
        self.entries: list[tuple[object, object | None]] = []   # innermost first
        self.cache: dict[Expr, object] = {}
        self.fresh = 0

    def real(self, value: Fraction | int):
        value = Fraction(value)
        return self.solver.mkReal(f"{value.numerator}/{value.denominator}")

    def _new(self):
        self.fresh += 1
        return self.solver.mkConst(self.solver.getRealSort(), f"y{self.fresh}")

    def _partial(self, atom, definition=None) -> None:
        self.entries.append((atom, definition))

    def term(self, e: Expr):
        if e not in self.cache:
            self.cache[e] = self._build(e)
        return self.cache[e]

    def _build(self, e: Expr):
        s, mk = self.solver, self.solver.mkTerm
        if isinstance(e, (Int, Float)):
            return self.real(Fraction(e.value))
        if isinstance(e, Var):
            return self.xs[e.index]
        if isinstance(e, Const):
            return s.mkPi() if e.name == "pi" else mk(Kind.EXPONENTIAL, self.real(1))
        if isinstance(e, Unary):
            return self._unary(e.op, self.term(e.arg))
        if e.op in ("+", "*"):
            return mk(Kind.ADD if e.op == "+" else Kind.MULT, *[self.term(item) for item in operands(e, e.op)])
        left = self.term(e.left)
        if e.op == "-":
            return mk(Kind.SUB, left, self.term(e.right))
        if e.op == "/":
            divisor = constant_value(e.right)
            if divisor is not None and divisor != 0:
                return mk(Kind.MULT, left, self.real(1 / divisor))
            right = self.term(e.right)
            self._partial(mk(Kind.DISTINCT, right, self.real(0)))
            return mk(Kind.DIVISION, left, right)
        exponent = constant_value(e.right)                                  # "^"
        if exponent is not None and exponent.denominator == 1:
            k = int(exponent)
            product = self.real(1) if k == 0 else left if abs(k) == 1 else mk(Kind.MULT, *[left] * abs(k))
            if k >= 0:
                return product
            self._partial(mk(Kind.DISTINCT, left, self.real(0)))
            return mk(Kind.DIVISION, self.real(1), product)
        logarithm = self._unary("ln", left)                                 # a^b = exp(b·ln a), a > 0
        return mk(Kind.EXPONENTIAL, mk(Kind.MULT, self.term(e.right), logarithm))

    def _unary(self, op: str, a):
        mk, zero = self.solver.mkTerm, self.real(0)
        simple = {"exp": Kind.EXPONENTIAL, "sin": Kind.SINE, "cos": Kind.COSINE, "atan": Kind.ARCTANGENT,
                  "Abs": Kind.ABS}
        if op in simple:
            return mk(simple[op], a)
        if op == "sqrt":
            y = self._new()
            self._partial(mk(Kind.GEQ, a, zero), mk(Kind.AND, mk(Kind.GEQ, y, zero), mk(Kind.EQUAL, mk(Kind.MULT, y, y), a)))
            return y
        if op == "ln":
            y = self._new()
            self._partial(mk(Kind.GT, a, zero), mk(Kind.EQUAL, mk(Kind.EXPONENTIAL, y), a))
            return y
        if op == "tan":
            self._partial(mk(Kind.DISTINCT, mk(Kind.COSINE, a), zero))
            return mk(Kind.TANGENT, a)
        if op in ("asin", "acos"):
            self._partial(mk(Kind.AND, mk(Kind.GEQ, a, self.real(-1)), mk(Kind.LEQ, a, self.real(1))))
            return mk(Kind.ARCSINE if op == "asin" else Kind.ARCCOSINE, a)
        raise ValueError(f"unknown function {op!r}")


def _queries(check: str) -> list[str]:
    return ["V > 0", "dV/dt <= 0", "V proper"] if check == "lyapunov" else ["V >= 0", "dV/dt <= 0"]


def _negation(name: str, tr: _Translator, V, vdot):
    """The formula whose models are counterexamples to condition ``name``."""
    mk, zero = tr.solver.mkTerm, tr.real(0)
    if name == "V > 0":
        nonzero = mk(Kind.OR, *[mk(Kind.DISTINCT, x, zero) for x in tr.xs]) if len(tr.xs) > 1 else \
            mk(Kind.DISTINCT, tr.xs[0], zero)
        return mk(Kind.AND, nonzero, mk(Kind.LEQ, V, zero))
    if name == "V >= 0":
        return mk(Kind.LT, V, zero)
    if name == "dV/dt <= 0":
        return mk(Kind.GT, vdot, zero)
    squares = [mk(Kind.MULT, x, x) for x in tr.xs]                           # "V proper"
    norm = mk(Kind.ADD, *squares) if len(squares) > 1 else squares[0]
    return mk(Kind.LT, V, mk(Kind.MULT, tr.real(RADIAL_EPSILON), mk(Kind.SUB, norm, tr.real(1))))


def _solve(V: Expr, vdot: Expr, n: int, query: str | int, milliseconds: int) -> tuple:
    """One cvc5 query (picklable answer): ("unsat",) | ("sat", point) | ("unknown", why).

    ``query`` is a condition's name, or the index of a domain atom to prove.
    """
    solver = cvc5.Solver()
    solver.setOption("produce-models", "true")
    solver.setOption("tlimit-per", str(max(1, milliseconds)))
    solver.setLogic("ALL")
    tr = _Translator(solver, n)
    V_term, vdot_term = tr.term(V), tr.term(vdot)
    entries = tr.entries if isinstance(query, str) else tr.entries[:query]
    for atom, definition in entries:
        solver.assertFormula(atom)
        if definition is not None:
            solver.assertFormula(definition)
    if isinstance(query, str):
        solver.assertFormula(_negation(query, tr, V_term, vdot_term))
    else:
        solver.assertFormula(solver.mkTerm(Kind.NOT, tr.entries[query][0]))
    result = solver.checkSat()
    if result.isUnsat():
        return ("unsat",)
    if result.isSat():
        values = [solver.getValue(x) for x in tr.xs]
        if not all(v.isRealValue() for v in values):
            return ("unknown", "cvc5's model is not rational")
        return ("sat", tuple(str(v.getRealValue()) for v in values))
    return ("unknown", f"cvc5: {result.getUnknownExplanation()}")


def _domain_size(V: Expr, vdot: Expr, n: int) -> int:
    tr = _Translator(cvc5.Solver(), n)
    tr.term(V)
    tr.term(vdot)
    return len(tr.entries)


def _run(V: Expr, vdot: Expr, n: int, query: str | int, deadline: float) -> tuple:
    left = deadline - time.monotonic()
    if left <= 0:
        return ("unknown", "time limit reached")
    milliseconds = int(left * 1000)
    if not can_fork_safely():
        return _solve(V, vdot, n, query, milliseconds)
    answer = call_with_hard_limit(lambda: _solve(V, vdot, n, query, milliseconds), left)
    if answer is TIMED_OUT:
        return ("unknown", f"time limit reached (cvc5 killed after {left:.3g} s)")
    if isinstance(answer, JobError):
        return ("unknown", f"cvc5 failed: {answer.message}")
    return answer


def _refutation(name: str, V: Expr, vdot: Expr, point: Sequence[Fraction]) -> ProverVerdict | None:
    """A verdict "refuted" if arb confirms that the model violates condition ``name``."""
    strings = decimal_strings(point)[0] if any(p.denominator > 10**17 for p in point) else None
    if name in ("V > 0", "V >= 0"):
        bad = any(point) or name == "V >= 0"
        bad = bad and violates(point_value(V, point), strict=name == "V > 0")
    else:
        bad = violates(-point_value(vdot, point), strict=False)
    if not bad:
        return None
    text = tuple(str(p) for p in point) if strings is None else strings
    if strings is not None:                          # report the rounded point only if it still fails
        return _refutation(name, V, vdot, [Fraction(s) for s in strings])
    return ProverVerdict("refuted", PROVER, f"{name} fails at x = ({', '.join(text)}) "
                         "(cvc5's model, re-checked in arb)", counterexample=text)


def prove(system, V, check: str, time_limit: float) -> ProverVerdict:
    """A global proof, a re-checked counterexample or "unknown" with the reason (module docstring)."""
    system, V = validated(system, V, check)
    if cvc5 is None:
        return ProverVerdict("unknown", PROVER, "cvc5 not installed (pip install cvc5)")
    n = len(system)
    deadline = time.monotonic() + time_limit
    vdot = lie_derivative(system, V)
    if check == "lyapunov":
        at_zero = zero_at_origin(V, n, PROVER)
        if at_zero is not None:
            return at_zero
    for index in range(_domain_size(V, vdot, n)):
        answer = _run(V, vdot, n, index, deadline)
        if answer[0] != "unsat":
            why = answer[1] if answer[0] == "unknown" else f"x = ({', '.join(answer[1])})"
            return ProverVerdict("unknown", PROVER, f"V or dV/dt may be undefined somewhere: {why}")
    proved = []
    for name in _queries(check):
        answer = _run(V, vdot, n, name, deadline)
        if answer[0] == "unsat":
            proved.append(name)
            continue
        if answer[0] == "sat" and name != "V proper":
            verdict = _refutation(name, V, vdot, [Fraction(c) for c in answer[1]])
            if verdict is not None:
                return verdict
            why = f"cvc5's model x = ({', '.join(answer[1])}) does not violate {name} under the arb re-check"
        elif answer[0] == "sat":
            why = f"V >= {RADIAL_EPSILON}(|x|^2 - 1) fails at x = ({', '.join(answer[1])})"
        else:
            why = answer[1]
        done = f" ({', '.join(proved)} proved)" if proved else ""
        return ProverVerdict("unknown", PROVER, f"{name} not decided: {why}{done}")
    return ProverVerdict("proved", PROVER, f"{check} conditions proved globally by cvc5 (unsat): {', '.join(proved)}")
