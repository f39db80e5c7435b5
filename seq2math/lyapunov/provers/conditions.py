"""The conditions of the substitution prover: what must be proved on the lifted set (docs/verification.md).

``condition_options(system, V, check)`` lifts V and V̇ once (``lifting.py``) and states, in order: the
domain of every partial function (ln, √, divisors), V's positivity (the ε form, or a core term
plus a rest: ``positivity_options``), and −V̇ ≥ 0. Each is a ``Condition`` p ≥ 0 in the compact
ring of the lifted variables it needs; ``putinar.py`` searches their certificates and
``substitution.py`` re-checks them.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import flint

from seq2math.lyapunov.provers.enclosure import lie_derivative
from seq2math.lyapunov.provers.lifting import Lifting, Unsupported, uses
from seq2math.symbolic import poly as P
from seq2math.symbolic.calculus import diff
from seq2math.symbolic.expr import (
    Binary,
    Expr,
    Unary,
    as_expr,
    chain,
    constant_value,
    from_poly,
    is_polynomial,
    operands,
)


@dataclass
class Condition:
    """One condition p ≥ 0 on the lifted set, in the compact ring of the variables it needs."""

    name: str                   # "positive" or "decrease"
    target: P.Poly              # p, in ring(len(names))
    definite: bool              # subtract Σ εᵢₖ xᵢ^(2k) with Σₖ εᵢₖ > 0 (the first n variables are x)
    n: int
    inequalities: list[P.Poly]  # g ≥ 0
    equalities: list[P.Poly]    # h = 0
    names: list[str]            # what each compact variable stands for
    alternative: "Condition | None" = None   # another target that proves the same (domain conditions)
    gradient: list[P.Poly] | None = None      # the lifted ∂ₖV in this ring (decrease: the gradient form)
    syntactic: tuple[Expr, Fraction, bool] | None = None   # (e, c, strict): target ≥ 0 follows from e ≥ c (> c)


def _as_exprs(system, V) -> tuple[list[Expr], Expr]:
    to_expr = lambda e: from_poly(e) if isinstance(e, P.Poly) else as_expr(e)    # noqa: E731
    return [to_expr(f) for f in system], to_expr(V)


def condition_options(system, V, check: str) -> list[list[Condition]]:
    """The lifted conditions of the check, one list per way of stating V's positivity
    (``positivity_options``; the domain and decrease conditions are the same objects in every list).
    Raises ``Unsupported`` (or ValueError on V(0) ≠ 0)."""
    if check not in ("lyapunov", "barrier"):
        raise ValueError(f"unknown check {check!r}; expected 'lyapunov' or 'barrier'")
    system, V = _as_exprs(system, V)
    n = len(system)
    vdot = lie_derivative(system, V)
    lifting = Lifting.for_expressions(n, [V, vdot])
    lifted_V, lifted_decrease = lifting.lift(V), -lifting.lift(vdot)
    if check == "lyapunov":
        at_zero = lifting.value_at_zero(lifted_V)
        if at_zero is None:
            raise Unsupported("V(0) is not a rational number the lifting can state exactly")
        if at_zero != 0:
            raise ValueError(f"V(0) = {at_zero} is not 0")
    options = positivity_options(V, lifted_V, check, lifting)
    gradient = [lifting.lift(diff(V, i)) for i in range(n)]
    domain, decrease = _domain(lifting), _compact("decrease", lifted_decrease, False, lifting, gradient)
    return [domain + option + [decrease] for option in options]


def conditions(system, V, check: str, option: int = 0) -> list[Condition]:
    """The conditions of ``condition_options`` for one way of stating V's positivity (0: the first)."""
    options = condition_options(system, V, check)
    if not 0 <= option < len(options):
        raise ValueError(f"positivity option {option} of {len(options)}")
    return options[option]


def positivity_options(V: Expr, lifted_V: P.Poly, check: str, lifting: Lifting) -> list[list[Condition]]:
    """The ways to state V's positivity, tried in order: for a non-polynomial V under the lyapunov check,
    each core of ``_structural_positive``; then V − Σ εᵢₖ xᵢ^(2k) ≥ 0 (lyapunov; V ≥ 0 for a barrier),
    which a V growing like ln or √ of a polynomial can never satisfy."""
    structural = _structural_positive(V, lifting) if check == "lyapunov" and not is_polynomial(V) else []
    return structural + [[_compact("positive", lifted_V, check == "lyapunov", lifting)]]


def _structural_positive(V: Expr, lifting: Lifting) -> list[list[Condition]]:
    """V positive definite and proper from its form, where V − Σ εᵢₖ xᵢ^(2k) ≥ 0 cannot hold.

    V = ln(1 + x0²) + x1² grows more slowly than any ε·x0², so the ε condition fails for every
    V that composes a polynomial with ln or √. Instead V is split as a core term t plus a rest
    R = V − t, and the conditions are: the polynomial P inside t is positive definite and proper
    (P − Σ εᵢₖ xᵢ^(2k) ≥ 0, Σₖ εᵢₖ > 0, exactly as for polynomials), R ≥ 0, and for t = g·P also
    g − 1/2 ≥ 0 (strictly feasible for the generator's factors 2 + sin, 2 + cos, 1 + exp, which are
    ≥ 1, where g − 1 ≥ 0 would have no margin). The core forms and why they are enough (φ increasing
    on [0, ∞), φ(0) = 0, φ(t) → ∞; P ≥ 0):

    - t = c·ln(1 + P), c·(√(1 + P) − 1), c·(exp(P) − 1) with c > 0: t = c·φ(P);
    - t = c·g·P with g ≥ 1/2: t ≥ c·P/2;
    - t = P, a polynomial.

    Then V ≥ t ≥ 0, t = 0 only where P = 0, i.e. at x = 0, and t → ∞ as |x| → ∞. The candidates
    for t: the sum of V's polynomial terms, then each other term with such a form, in the order
    of V's sum; one option each (the certificate names the option, so ``recheck`` rebuilds it).
    """
    terms = operands(V, "+")
    polynomial = [k for k, t in enumerate(terms) if is_polynomial(t)]
    cores = ([(polynomial, (lifting.lift(chain("+", [terms[k] for k in polynomial])), None))] if polynomial else [])
    cores += [([k], core) for k, t in enumerate(terms) if k not in polynomial
              for core in [_core(t, lifting)] if core is not None]
    options = []
    for used, (core, factor) in cores:
        found = [_compact("positive core", core, True, lifting)]
        if factor is not None:
            found.append(_compact("positive factor", lifting.lift(factor) - flint.fmpq(1, 2), False, lifting))
            found[-1].syntactic = (factor, Fraction(1, 2), False)
        rest = [t for k, t in enumerate(terms) if k not in used]
        if rest:
            found.append(_compact("positive rest", lifting.lift(chain("+", rest)), False, lifting))
            found[-1].syntactic = (chain("+", rest), Fraction(0), False)
        options.append(found)
    return options


def _core(term: Expr, lifting: Lifting) -> tuple[P.Poly, Expr | None] | None:
    """(P, g) when ``term`` is c·φ(P) or c·g·P (g None for c·φ(P) and c·P); see ``_structural_positive``."""
    scale, rest = Fraction(1), []
    for factor in operands(term, "*"):
        value = constant_value(factor)
        if value is not None:
            scale *= value
        else:
            rest.append(factor)
    if scale <= 0 or not rest:
        return None
    polynomial = [f for f in rest if is_polynomial(f)]
    other = [f for f in rest if not is_polynomial(f)]
    c = flint.fmpq(scale.numerator, scale.denominator)
    if not other:
        return c * lifting.lift(chain("*", rest)), None
    if polynomial and len(other) >= 1:
        return c * lifting.lift(chain("*", polynomial)), chain("*", other)
    if len(other) != 1:
        return None
    inner = _monotone_argument(other[0])
    if inner is None or not is_polynomial(inner[0]):
        return None
    argument, shift = inner
    return c * (lifting.lift(argument) - shift), None


def _monotone_argument(e: Expr) -> tuple[Expr, int] | None:
    """(A, a) with e = φ(A) for φ increasing and φ(a) = 0: ln(A) (a = 1), √A − 1 (a = 1), exp(A) − 1 (a = 0)."""
    if isinstance(e, Unary) and e.op == "ln":
        return e.arg, 1
    if isinstance(e, Binary) and e.op == "-" and constant_value(e.right) == 1 and isinstance(e.left, Unary):
        if e.left.op == "sqrt":
            return e.left.arg, 1
        if e.left.op == "exp":
            return e.left.arg, 0
    return None


def _domain(lifting: Lifting) -> list[Condition]:
    """Conditions that V and f are defined at every x: q > 0 for ln q and for a divisor q, q ≥ 0 for sqrt q.

    The lifting's facts for ln, sqrt and 1/q also hold where these are undefined, so without these
    a certificate on the lifted set would say nothing about the points where
    ẋ0 = −x0 − x0·ln(1 + x0)² is undefined (x0 ≤ −1) and still read as global. q > 0 is proved as
    q − q(0)/2 ≥ 0 or, failing that, as q² − q(0)²/2 ≥ 0: then q never vanishes, and since it is
    continuous on the connected ℝⁿ (the domains of the functions inside it come earlier in the
    list) and q(0) > 0, it is positive everywhere. q(0) > 0 rational makes both targets exact."""
    found = []
    for k, (function, q, strict, expression) in enumerate(lifting.domain):
        name = f"domain {k}: {function} {'argument ' if function != 'divisor' else ''}{'>' if strict else '>='} 0"
        if not strict:
            found.append(_compact(name, q, False, lifting))
            found[-1].syntactic = (expression, Fraction(0), False)
            continue
        q0 = lifting.value_at_zero(q)
        if q0 is None or q0 <= 0:
            raise Unsupported(f"cannot state that the {function} {q} stays positive")
        half = flint.fmpq(q0.numerator, 2 * q0.denominator)
        cond = _compact(name, q - half, False, lifting)
        cond.syntactic = (expression, Fraction(0), True)
        cond.alternative = _compact(name, q * q - half * flint.fmpq(q0.numerator, q0.denominator), False, lifting)
        found.append(cond)
    return found


def _compact(name: str, p: P.Poly, definite: bool, lifting: Lifting,
             gradient: list[P.Poly] | None = None) -> Condition:
    """The condition p ≥ 0 in the ring of x and the variables of the atoms p needs, with their facts."""
    atoms = lifting.relevant_atoms(p)
    keep = list(range(lifting.n)) + [v for k in atoms for v in lifting.atoms[k].variables]
    names = [f"x{i}" for i in range(lifting.n)]
    for k in atoms:
        atom = lifting.atoms[k]
        if atom.family == "trig":
            names += [f"sin({atom.argument})", f"cos({atom.argument})"]
        else:
            names.append(f"exp(({atom.argument})/2)" if atom.family == "exp" else
                         f"1/({atom.argument})" if atom.family == "inv" else f"{atom.family}({atom.argument})")
    R = P.ring(len(keep))

    def squeeze(q: P.Poly) -> P.Poly:
        return R.from_dict({tuple(int(m[i]) for i in keep): c for m, c in q.terms()})

    inside = set(keep)
    if gradient is not None:                 # a derivative with a variable −V̇ lacks: not in its Gram form
        gradient = [g for g in gradient if uses(g) <= inside] or None
    return Condition(name, squeeze(p), definite, lifting.n,
                     [squeeze(g) for k, g in lifting.inequalities if k in atoms],
                     [squeeze(h) for k, h in lifting.equalities if k in atoms], names,
                     gradient=None if gradient is None else [squeeze(g) for g in gradient])
