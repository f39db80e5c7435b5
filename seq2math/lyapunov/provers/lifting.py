"""Lifting a non-polynomial expression to a polynomial in more variables, with the facts that bind them.

Each function application ("atom") becomes new variables of a lifted ring, and true facts
about it become polynomial side constraints (docs/verification.md):

=========  ==============  =====================================================================
atom       new variables   facts (q is the lifted argument, itself a polynomial)
=========  ==============  =====================================================================
sin, cos   s, c (shared)   s² + c² = 1;  q² − s² ≥ 0 (|sin q| ≤ |q|);  c − 1 + q²/2 ≥ 0
exp        w (exp q = w²)  w ≥ 0;  (w² − 1)·q ≥ 0 (exp is increasing);  w² − 1 − q ≥ 0 (convexity)
sqrt       r               r ≥ 0;  r² − q = 0
ln         l               q ≥ 0;  q − 1 − l ≥ 0;  q·l − q + 1 ≥ 0 (1 − 1/q ≤ ln q ≤ q − 1)
atan       t               t·q ≥ 0;  q² − t² ≥ 0;  5/2 − t² ≥ 0 ((π/2)² < 5/2)
Abs        a               a ≥ 0;  a² − q² = 0
1/q        d               d·q − 1 = 0;  d ≥ 0 (q > 0 at every x is proved first: ``domain``)
=========  ==============  =====================================================================

Soundness: every real point x maps to a lifted point (x, sin q(x), cos q(x), ...) that
satisfies all the facts, so a polynomial inequality proved on the lifted set holds at every x
where the expression is defined. ln, sqrt and 1/q are partial: their facts also cut out the
points where they are undefined, so ``domain`` lists what must be proved separately (q > 0 for
ln and for a divisor, q ≥ 0 for sqrt, at every x) before a result on the lifted set is a global
one. A divisor is asked to be positive: 1/q with q < 0 everywhere is left unproved. The lifting
is a relaxation: it may lose what makes a condition true, never make a false one true. The same
function of the same lifted argument gets the same variables (sin x1 and cos x1 share one pair).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import flint

from seq2math.symbolic import poly as P
from seq2math.symbolic.expr import Const, Expr, Float, Int, Unary, Var, constant_value, operands, walk

#: the functions the lifting knows, and how many variables each gets
FAMILIES = {"sin": ("trig", 2), "cos": ("trig", 2), "exp": ("exp", 1), "sqrt": ("sqrt", 1), "ln": ("ln", 1),
            "atan": ("atan", 1), "Abs": ("abs", 1)}
#: integer powers above this are not expanded (the lifted polynomial would be too large to prove anything)
MAX_POWER = 16


class Unsupported(ValueError):
    """The expression has something the lifting cannot state exactly (tan, pi, a non-constant divisor...)."""


@dataclass(frozen=True)
class Atom:
    """One function application and the lifted variables that stand for it."""

    family: str                       # "trig", "exp", "sqrt", "ln", "atan", "abs"
    argument: str                     # the lifted argument q, as text
    variables: tuple[int, ...]        # (s, c) for trig, else one variable
    argument_variables: frozenset     # lifted variables q depends on


@dataclass
class Lifting:
    """The lifted ring of one problem: x0..x{n-1} first, then the atoms' variables in creation order."""

    n: int
    capacity: int                                     # variables of the working ring (n + 2 per function node)
    atoms: list[Atom] = field(default_factory=list)
    equalities: list[tuple[int, P.Poly]] = field(default_factory=list)     # (atom index, h): h = 0
    inequalities: list[tuple[int, P.Poly]] = field(default_factory=list)   # (atom index, g): g ≥ 0
    at_zero: list[Fraction | None] = field(default_factory=list)           # each variable's value at x = 0
    #: what the partial functions need, (function, lifted argument q, strict, the argument as an expression):
    #: q > 0 (ln, a divisor), q ≥ 0 (sqrt)
    domain: list[tuple[str, P.Poly, bool, Expr]] = field(default_factory=list)
    _by_key: dict = field(default_factory=dict)

    @classmethod
    def for_expressions(cls, n: int, expressions: list[Expr]) -> "Lifting":
        functions = sum(1 for e in expressions for node in walk(e)
                        if isinstance(node, Unary) or getattr(node, "op", None) == "/")
        return cls(n, n + 2 * functions, at_zero=[Fraction(0)] * n)

    @property
    def ring(self):
        return P.ring(self.capacity)

    @property
    def used(self) -> int:
        """How many variables are in use (x's and atoms)."""
        return self.n + sum(len(atom.variables) for atom in self.atoms)

    def lift(self, e: Expr) -> P.Poly:
        """The lifted polynomial of ``e``; raises ``Unsupported`` with what it cannot lift."""
        R = self.ring
        if isinstance(e, (Int, Float)):
            return R.constant(flint.fmpq(e.value.numerator, e.value.denominator) if isinstance(e, Float)
                              else flint.fmpq(e.value))
        if isinstance(e, Var):
            if e.index >= self.n:
                raise Unsupported(f"variable x{e.index} does not exist with {self.n} variables")
            return R.gen(e.index)
        if isinstance(e, Const):
            raise Unsupported(f"the constant {e.name} is not rational")
        if isinstance(e, Unary):
            return self._atom(e)
        if e.op in ("+", "*"):
            items = [self.lift(item) for item in operands(e, e.op)]
            result = items[-1]
            for item in reversed(items[:-1]):
                result = item + result if e.op == "+" else item * result
            return result
        if e.op == "-":
            return self.lift(e.left) - self.lift(e.right)
        if e.op == "/":
            divisor = constant_value(e.right)
            if divisor is None:
                return self.lift(e.left) * self._inverse(self.lift(e.right), e.right)
            if divisor == 0:
                raise Unsupported(f"division by zero ({e})")
            return self.lift(e.left) / flint.fmpq(divisor.numerator, divisor.denominator)
        exponent = constant_value(e.right)
        if exponent is None or exponent.denominator != 1 or not 0 <= exponent <= MAX_POWER:
            raise Unsupported(f"power {e.right} is not a small non-negative integer")
        return self.lift(e.left) ** int(exponent)

    def _atom(self, e: Unary) -> P.Poly:
        if e.op not in FAMILIES:
            raise Unsupported(f"the function {e.op} has no exact substitution")
        family, count = FAMILIES[e.op]
        q = self.lift(e.arg)
        key = (family, str(q))
        if key not in self._by_key:
            self._by_key[key] = self._new_atom(family, count, q, e.arg)
        atom = self.atoms[self._by_key[key]]
        variable = self.ring.gen(atom.variables[1] if e.op == "cos" else atom.variables[0])
        return variable * variable if family == "exp" else variable       # exp q = w², w = exp(q/2) > 0

    def _inverse(self, q: P.Poly, expression: Expr) -> P.Poly:
        """1/q for a non-constant lifted q: a variable d with d·q = 1 and d ≥ 0 (q > 0 is in ``domain``)."""
        if q.is_zero():
            raise Unsupported("division by zero")
        key = ("inv", str(q))
        if key not in self._by_key:
            self._by_key[key] = self._new_atom("inv", 1, q, expression)
        return self.ring.gen(self.atoms[self._by_key[key]].variables[0])

    def _new_atom(self, family: str, count: int, q: P.Poly, expression: Expr) -> int:
        first = self.used
        R = self.ring
        new = tuple(range(first, first + count))
        depends = frozenset(uses(q))
        index = len(self.atoms)
        self.atoms.append(Atom(family, str(q), new, depends))
        v = R.gen(new[0])
        one, half = R.constant(1), flint.fmpq(1, 2)
        facts: list[tuple[str, P.Poly]] = []
        if family == "trig":
            c = R.gen(new[1])
            facts = [("=", v * v + c * c - one), (">", q * q - v * v), (">", c - one + half * q * q)]
        elif family == "exp":
            facts = [(">", v), (">", (v * v - one) * q), (">", v * v - one - q)]
        elif family == "sqrt":
            facts = [(">", v), ("=", v * v - q)]
        elif family == "ln":
            facts = [(">", q), (">", q - one - v), (">", q * v - q + one)]
        elif family == "atan":
            facts = [(">", v * q), (">", q * q - v * v), (">", R.constant(flint.fmpq(5, 2)) - v * v)]
        elif family == "inv":
            facts = [("=", v * q - one), (">", v)]
        else:                                                                   # abs
            facts = [(">", v), ("=", v * v - q * q)]
        for kind, fact in facts:
            (self.equalities if kind == "=" else self.inequalities).append((index, fact))
        if family in ("ln", "sqrt", "inv"):   # the facts above hold only where the function is defined
            self.domain.append(("divisor" if family == "inv" else family, q, family != "sqrt", expression))
        self.at_zero += _values_at_zero(family, self._value_at_zero(q), count)
        return index

    def _value_at_zero(self, q: P.Poly) -> Fraction | None:
        """q at the lifted origin, exactly, or None when a variable it uses has no rational value there."""
        point, used = [], uses(q)
        for i in range(self.capacity):
            value = self.at_zero[i] if i < len(self.at_zero) else None
            if value is None:
                if i in used:
                    return None
                value = Fraction(0)
            point.append(flint.fmpq(value.numerator, value.denominator))
        return P.fmpq_to_fraction(flint.fmpq(q(*point))) if not q.is_zero() else Fraction(0)

    def value_at_zero(self, p: P.Poly) -> Fraction | None:
        """p at the lifted image of x = 0, exactly; None when that is not a rational number."""
        return self._value_at_zero(p)

    def relevant_atoms(self, p: P.Poly) -> list[int]:
        """The atoms whose facts can matter for p: those p uses, and the atoms their arguments use."""
        owner = {v: k for k, atom in enumerate(self.atoms) for v in atom.variables}
        todo = [owner[i] for i in uses(p) if i in owner]
        found: set[int] = set()
        while todo:
            k = todo.pop()
            if k in found:
                continue
            found.add(k)
            todo += [owner[i] for i in self.atoms[k].argument_variables if i in owner]
        return sorted(found)


def uses(q: P.Poly) -> set[int]:
    """The variables q depends on."""
    return {i for i, degree in enumerate(q.degrees()) if degree > 0} if not q.is_zero() else set()


def _values_at_zero(family: str, q0: Fraction | None, count: int) -> list[Fraction | None]:
    """The atom's variables at x = 0 when they are rational (sin 0, cos 0, exp 0, ...), else None."""
    if q0 is None:
        return [None] * count
    if family == "trig":
        return [Fraction(0), Fraction(1)] if q0 == 0 else [None, None]
    if family == "exp":
        return [Fraction(1) if q0 == 0 else None]
    if family == "ln":
        return [Fraction(0) if q0 == 1 else None]
    if family == "atan":
        return [Fraction(0) if q0 == 0 else None]
    if family == "abs":
        return [abs(q0)]
    if family == "inv":
        return [1 / q0 if q0 != 0 else None]
    root = _rational_sqrt(q0)                                                 # sqrt
    return [root]


def _rational_sqrt(value: Fraction) -> Fraction | None:
    if value < 0:
        return None
    num, den = flint.fmpz(value.numerator), flint.fmpz(value.denominator)
    rn, rd = num.isqrt(), den.isqrt()
    return Fraction(int(rn), int(rd)) if rn * rn == num and rd * rd == den else None
