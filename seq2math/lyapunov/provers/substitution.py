"""The substitution prover ("substitution+sos"): lift, then prove on a semialgebraic set by SOS, exactly.

``prove(system, V, check, time_limit) -> ProverVerdict`` (docs/verification.md):

1. V and V̇ = Σ ∂ᵢV·fᵢ are lifted to polynomials in x and new variables for sin/cos/exp/...
   (``lifting.py``), with side facts g ≥ 0 and h = 0 that every real x satisfies.
2. Each condition p ≥ 0 (the domain first: p = q − q(0)/2, or q² − q(0)²/2, for every ln q and
   every divisor q, and p = q for every sqrt q, so that V and f are defined at every x; then p = V − Σ εᵢₖ xᵢ^(2k) with Σₖ εᵢₖ > 0 for
   a lyapunov check, p = V for a barrier, and p = −V̇) is proved on that set by a Positivstellensatz certificate of degree D:
   p − Σⱼ σⱼ·gⱼ − Σₗ λₗ·hₗ = zᵀQz with SOS multipliers σⱼ, polynomial multipliers λₗ, Q ⪰ 0
   (Putinar's form; one SOS program solved by the project's solver, ``sos/sdp.py``).
3. The answer is made exact: ε rounded down to rationals, each σⱼ's Gram matrix clipped to its
   PSD part and rounded (then checked by exact LDLᵀ), λₗ rounded, the residual computed in
   rationals and its Gram matrix rounded and projected (``sos/exact.py``).
4. ``recheck`` re-derives the lifted conditions and facts from the expressions and re-proves the
   whole certificate in rationals; only then is the verdict "proved" (globally: no region).

Anything that fails (an unliftable function, a program too large, no certificate found, rounding
failed) gives "unknown" with the reason; this prover never refutes.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, replace
from fractions import Fraction

import flint
import numpy as np

from seq2math.lyapunov.provers.lifting import Lifting, Unsupported, uses
from seq2math.lyapunov.provers.signs import lower_bound
from seq2math.lyapunov.provers.verdict import ProverVerdict
from seq2math.sos import exact as X
from seq2math.sos.gradient import gradient_certificate
from seq2math.sos.newton import half_newton_basis
from seq2math.sos.sdp import SolverStatus, SOSCondition, SOSProgram, solve_sos
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

NAME = "substitution+sos"
#: the largest Gram basis tried (monomials of degree ≤ D/2 in the lifted variables)
MAX_BASIS = 84
#: degrees tried above the smallest even degree of the condition, after the Newton-basis program (degree 0)
EXTRA_DEGREES = (0, 2)
#: multipliers enter the program scaled by this: the shared margin then asks little of them
MULTIPLIER_WEIGHT = 1e-2
#: the ε terms must add up to at least this fraction of the largest coefficient (as the polynomial check)
EPSILON_FLOOR = 1e-6
LAMBDA_GRID, GRAM_GRID = 10 ** 12, 10 ** 12
#: the share of the time left that the gradient form of −V̇ may take before the SOS search
GRADIENT_SHARE = 0.3
Exps = tuple[int, ...]


@dataclass
class _Condition:
    """One condition p ≥ 0 on the lifted set, in the compact ring of the variables it needs."""

    name: str                   # "positive" or "decrease"
    target: P.Poly              # p, in ring(len(names))
    definite: bool              # subtract Σ εᵢₖ xᵢ^(2k) with Σₖ εᵢₖ > 0 (the first n variables are x)
    n: int
    inequalities: list[P.Poly]  # g ≥ 0
    equalities: list[P.Poly]    # h = 0
    names: list[str]            # what each compact variable stands for
    alternative: "_Condition | None" = None   # another target that proves the same (domain conditions)
    gradient: list[P.Poly] | None = None      # the lifted ∂ₖV in this ring (decrease: the gradient form)
    syntactic: tuple[Expr, Fraction, bool] | None = None   # (e, c, strict): target ≥ 0 follows from e ≥ c (> c)


def vdot_expression(system: list[Expr], V: Expr) -> Expr:
    """V̇ = Σ ∂ᵢV·fᵢ as an expression tree (exact symbolic derivatives)."""
    total = None
    for i, fi in enumerate(system):
        term = diff(V, i) * fi
        total = term if total is None else total + term
    return total


def _as_exprs(system, V) -> tuple[list[Expr], Expr]:
    to_expr = lambda e: from_poly(e) if isinstance(e, P.Poly) else as_expr(e)    # noqa: E731
    return [to_expr(f) for f in system], to_expr(V)


def conditions(system, V, check: str, option: int = 0) -> list[_Condition]:
    """The lifted conditions of the check; raises ``Unsupported`` (or ValueError on V(0) ≠ 0).

    ``option`` picks the way V's positivity is stated (``positivity_options``): 0 is the first."""
    if check not in ("lyapunov", "barrier"):
        raise ValueError(f"unknown check {check!r}; expected 'lyapunov' or 'barrier'")
    system, V = _as_exprs(system, V)
    n = len(system)
    vdot = vdot_expression(system, V)
    lifting = Lifting.for_expressions(n, [V, vdot])
    lifted_V, lifted_decrease = lifting.lift(V), -lifting.lift(vdot)
    if check == "lyapunov":
        at_zero = lifting.value_at_zero(lifted_V)
        if at_zero is None:
            raise Unsupported("V(0) is not a rational number the lifting can state exactly")
        if at_zero != 0:
            raise ValueError(f"V(0) = {at_zero} is not 0")
    options = positivity_options(V, lifted_V, check, lifting)
    if not 0 <= option < len(options):
        raise ValueError(f"positivity option {option} of {len(options)}")
    gradient = [lifting.lift(diff(V, i)) for i in range(n)]
    return _domain(lifting) + options[option] + [_compact("decrease", lifted_decrease, False, lifting, gradient)]


def positivity_options(V: Expr, lifted_V: P.Poly, check: str, lifting: Lifting) -> list[list[_Condition]]:
    """The ways to state V's positivity, tried in order: for a non-polynomial V under the lyapunov check,
    each core of ``_structural_positive``; then V − Σ εᵢₖ xᵢ^(2k) ≥ 0 (lyapunov; V ≥ 0 for a barrier),
    which a V growing like ln or √ of a polynomial can never satisfy."""
    structural = _structural_positive(V, lifting) if check == "lyapunov" and not is_polynomial(V) else []
    return structural + [[_compact("positive", lifted_V, check == "lyapunov", lifting)]]


def _structural_positive(V: Expr, lifting: Lifting) -> list[list[_Condition]]:
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


def _domain(lifting: Lifting) -> list[_Condition]:
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
             gradient: list[P.Poly] | None = None) -> _Condition:
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
        return R.from_dict({tuple(int(m[i]) for i in keep): c for m, c in q.terms()}) if not q.is_zero() else R.from_dict({})

    inside = set(keep)
    if gradient is not None:                 # a derivative with a variable −V̇ lacks: not in its Gram form
        gradient = [g for g in gradient if uses(g) <= inside] or None
    return _Condition(name, squeeze(p), definite, lifting.n,
                      [squeeze(g) for k, g in lifting.inequalities if k in atoms],
                      [squeeze(h) for k, h in lifting.equalities if k in atoms], names,
                      gradient=None if gradient is None else [squeeze(g) for g in gradient])


def _monomials(nvars: int, degree: int) -> list[Exps]:
    """All exponent tuples of total degree ≤ degree (degree < 0: none)."""
    found = []
    for total in range(max(degree, -1) + 1):
        for cut in itertools.combinations(range(total + nvars - 1), nvars - 1):
            bounds = (-1,) + cut + (total + nvars - 1,)
            found.append(tuple(bounds[i + 1] - bounds[i] - 1 for i in range(nvars)))
    return found


def _float_terms(q: P.Poly) -> dict[Exps, float]:
    return {tuple(int(v) for v in m): float(c) for m, c in q.terms()}


def _monomial(R, exps: Exps) -> P.Poly:
    return R.from_dict({exps: 1})


def _degree(q: P.Poly) -> int:
    return P.total_degree(q)


def _x_degree(exps: Exps, n: int) -> int:
    return sum(exps[:n])


def _x_order(cond: _Condition) -> int:
    """The least total degree in x of p's terms: 2 when p vanishes to second order at x = 0 for every
    value of the lifted variables (as −V̇ and V usually do)."""
    return min((_x_degree(tuple(int(v) for v in m), cond.n) for m in cond.target.monoms()), default=0)


def _epsilon_powers(cond: _Condition, i: int, degree: int) -> list[int]:
    """The even powers k of the ε terms ε·xᵢ^k: those p itself holds as pure powers of xᵢ (so that
    the ε terms add no monomial to the Newton polytope: 2x1⁶ + 4x0⁴ gets ε on x0⁴ and x1⁶ alone, and
    a strictly positive Gram matrix on (x0², x1³)), else every even power from 2 to ``degree``."""
    k = len(cond.names)
    pure = sorted(int(m[i]) for m in cond.target.monoms()
                  if int(m[i]) >= 2 and int(m[i]) % 2 == 0 and int(m[i]) <= degree
                  and all(int(m[j]) == 0 for j in range(k) if j != i))
    return pure or list(range(2, degree + 1, 2))


def _newton_basis(cond: _Condition) -> np.ndarray:
    """The half Newton polytope of p's support closed under the equalities (p·(terms of h)) and the ε terms."""
    support = {tuple(int(v) for v in m) for m in cond.target.monoms()}
    k = len(cond.names)
    if cond.definite:
        degree = P.total_degree(cond.target) + 1
        support |= {tuple(power if j == i else 0 for j in range(k)) for i in range(cond.n)
                    for power in _epsilon_powers(cond, i, degree - 1)}
    for h in cond.equalities:
        shifts = [tuple(int(v) for v in m) for m in h.monoms()]
        support |= {tuple(a + b for a, b in zip(alpha, shift)) for alpha in list(support) for shift in shifts}
    return half_newton_basis(np.array(sorted(support), dtype=np.int64).reshape(-1, k))


def _program(cond: _Condition, degree: int):
    """The SOS program of one condition at degree D, and what each parameter stands for.

    When p vanishes to second order at x = 0 whatever the lifted variables are, every square of the
    certificate must vanish there too (on the lifted set): the Gram bases then keep only monomials
    with some x factor and the λ multipliers only terms of x-degree ≥ 2, which removes monomials
    that would force a zero margin (a cheap facial reduction) and shrinks the program.
    """
    R, k = cond.target.context(), len(cond.names)
    newton = degree == 0
    low = 1 if _x_order(cond) >= 2 else 0
    if degree == 0:                   # equalities only, on the Newton basis of p (no inequality multipliers)
        main_basis = _newton_basis(cond)
        degree = int(main_basis.sum(axis=1).max()) * 2
    else:
        main_basis = np.array([m for m in _monomials(k, degree // 2) if _x_degree(m, cond.n) >= low],
                              dtype=np.int64).reshape(-1, k)
    sums = {tuple(int(v) for v in a + b) for a in main_basis for b in main_basis}
    main: dict[int, dict[Exps, float]] = {}
    sos_conditions, inequalities = [], []
    epsilon, multipliers, lambdas = {}, [], []
    count = 0
    if cond.definite:
        floor = EPSILON_FLOOR * max(abs(float(c)) for c in cond.target.coeffs())
        for i in range(cond.n):
            group = {}
            for power in _epsilon_powers(cond, i, degree):
                exps = tuple(power if j == i else 0 for j in range(k))
                main[count] = {exps: -1.0}
                epsilon[count] = (i, power)
                inequalities.append(({count: -1.0}, 0.0))
                group[count] = -1.0
                count += 1
            inequalities.append((group, -floor))
    for g in cond.inequalities if not newton else []:
        half = (degree - _degree(g)) // 2
        if half < 0:
            continue
        basis = np.array([m for m in _monomials(k, half) if _x_degree(m, cond.n) >= low],
                         dtype=np.int64).reshape(-1, k)
        if len(basis) == 0:
            continue
        parametric, indices = {}, {}
        for exps in sorted({tuple(int(v) for v in a + b) for a in basis for b in basis}):
            parametric[count] = {exps: MULTIPLIER_WEIGHT}
            main[count] = {e: -v for e, v in _float_terms(_monomial(R, exps) * g).items()}
            indices[count] = exps
            count += 1
        sos_conditions.append(SOSCondition(f"multiplier {len(multipliers)}", {}, parametric, basis=basis))
        multipliers.append((g, basis))
    for h in cond.equalities:
        if degree - _degree(h) < 0:
            continue
        terms = {}
        shifts = [tuple(int(v) for v in m) for m in h.monoms()]
        fits = [m for m in _monomials(k, degree - _degree(h)) if _x_degree(m, cond.n) >= 2 * low
                and all(tuple(a + b for a, b in zip(m, shift)) in sums for shift in shifts)]
        for exps in fits:
            main[count] = {e: -v for e, v in _float_terms(_monomial(R, exps) * h).items()}
            terms[count] = exps
            count += 1
        lambdas.append((h, terms))
    program = SOSProgram(k, count, [SOSCondition(cond.name, _float_terms(cond.target), main, basis=main_basis)] + sos_conditions,
                         inequalities)
    return program, epsilon, multipliers, lambdas


def search(cond: _Condition, degree: int, deadline: float | None) -> dict | str:
    """A certificate part for the condition at this degree (exact, not yet re-checked), or why not."""
    k = len(cond.names)
    basis_size = len(_newton_basis(cond)) if degree == 0 else len(_monomials(k, degree // 2))
    if basis_size == 0:
        return f"{_label(degree)}: empty basis (no sum of squares has this support)"
    if basis_size > MAX_BASIS:
        return f"too large: {k} lifted variables at degree {degree} ({basis_size} monomials > {MAX_BASIS})"
    program, epsilon, multipliers, lambdas = _program(cond, degree)
    remaining = None if deadline is None else max(0.05, deadline - time.perf_counter())
    solution = solve_sos(program, time_limit=remaining)
    if solution.status is not SolverStatus.SOLVED:
        return f"{_label(degree)}: {solution.status.value} ({solution.detail})"
    if solution.margins[0] <= 0:
        return f"{_label(degree)}: no certificate with a margin (margin {solution.margins[0]:.2e})"
    return (_exact_part(cond, solution, epsilon, multipliers, lambdas)
            or f"{_label(degree)}: exact rounding failed (margin {solution.margins[0]:.2e})")


def _syntactic_bound(cond: _Condition) -> Fraction | None:
    """The lower bound of ``signs.bounds`` when it proves the condition (e ≥ c, or > c when strict), else None."""
    expression, threshold, strict = cond.syntactic
    low = lower_bound(expression)
    if low is None or low < threshold or (strict and low == threshold):
        return None
    return low


def _gradient_part(cond: _Condition, deadline: float | None) -> dict | None:
    """−V̇ = wᵀRw over w = (m·∂ₖV lifted), as for polynomial systems (``sos/gradient.py``, docs/verification.md
    stage 1b): where ẋ = −G∇V + rotations, −V̇ is ∇Vᵀ sym(G) ∇V exactly in the lifted ring, and its
    monomial Gram matrices are singular. The part has no multipliers: its residual is −V̇ itself."""
    budget = None if deadline is None else deadline - time.perf_counter()
    if budget is not None and budget <= 0.05:
        return None
    found = gradient_certificate(cond.target, None, None if deadline is None else
                                 time.perf_counter() + GRADIENT_SHARE * budget, gradient=cond.gradient)
    if found is None:
        return None
    return {"name": cond.name, "variables": cond.names, "polynomial": X.poly_to_json(_as_dict(cond.target)),
            "epsilon": {}, "multipliers": [], "equalities": [],
            "residual": {"basis": found["basis"], "gram": found["gram"]}, "reduction": "gradient"}


def _label(degree: int) -> str:
    return "newton basis" if degree == 0 else f"degree {degree}"


def _rational(value: float, grid: int) -> flint.fmpq:
    return flint.fmpq(int(round(float(value) * grid)), grid)


def _psd_rational(gram: np.ndarray) -> list[list[flint.fmpq]] | None:
    """A rational PSD matrix near ``gram``: its PSD part, rounded, nudged up the diagonal until exact LDLᵀ holds."""
    values, vectors = np.linalg.eigh((gram + gram.T) / 2)
    clipped = (vectors * np.maximum(values, 0.0)) @ vectors.T
    size = len(gram)
    for nudge in (0, 10 ** 9, 10 ** 7, 10 ** 5):
        G = [[_rational(clipped[a][b] if a <= b else clipped[b][a], GRAM_GRID) for b in range(size)]
             for a in range(size)]
        if nudge:
            for a in range(size):
                G[a][a] += flint.fmpq(1, nudge)
        if X.is_psd_exact(G):
            return G
    return None


def _exact_part(cond: _Condition, solution, epsilon, multipliers, lambdas) -> dict | None:
    R = cond.target.context()
    residual = cond.target
    part = {"name": cond.name, "variables": cond.names, "polynomial": X.poly_to_json(_as_dict(cond.target)),
            "epsilon": {}, "multipliers": [], "equalities": []}
    if cond.definite:
        totals = {}
        for index, (i, power) in epsilon.items():
            eps = flint.fmpq(int(np.floor(max(solution.params[index], 0.0) * 1e9)), 10 ** 9)
            if eps:
                part["epsilon"][f"x{i}^{power}"] = str(eps)
                residual -= eps * R.gen(i) ** power
            totals[i] = totals.get(i, 0) + eps
        if any(total <= 0 for total in totals.values()):
            return None
    for j, (g, basis) in enumerate(multipliers):
        gram = _psd_rational(solution.grams[j + 1] / MULTIPLIER_WEIGHT)
        if gram is None:
            return None
        residual -= _from_dict(R, X.gram_polynomial(basis, gram)) * g
        part["multipliers"].append({"constraint": X.poly_to_json(_as_dict(g))} | X.gram_to_json(basis, gram))
    for h, terms in lambdas:
        lam = R.from_dict({exps: _rational(solution.params[index], LAMBDA_GRID) for index, exps in terms.items()
                           if _rational(solution.params[index], LAMBDA_GRID) != 0}) if terms else R.from_dict({})
        residual -= lam * h
        part["equalities"].append({"constraint": X.poly_to_json(_as_dict(h)), "multiplier": X.poly_to_json(_as_dict(lam))})
    gram = X.exact_certificate(_as_dict(residual), solution.bases[0], solution.grams[0], solution.margins[0])
    if gram is None:
        return None
    part["residual"] = X.gram_to_json(solution.bases[0], gram)
    return part


def _as_dict(q: P.Poly) -> dict[Exps, flint.fmpq]:
    return {tuple(int(v) for v in m): c for m, c in q.terms()}


def _from_dict(R, terms: dict[Exps, flint.fmpq]) -> P.Poly:
    return R.from_dict({e: c for e, c in terms.items() if c != 0}) if terms else R.from_dict({})


def check_part(cond: _Condition, part: dict) -> tuple[bool, str]:
    """Exact re-check of one condition's certificate part against the freshly lifted condition."""
    R = cond.target.context()
    if part.get("name") != cond.name or X.poly_from_json(part["polynomial"]) != _as_dict(cond.target):
        return False, f"{cond.name}: the certificate is for another polynomial"
    if "syntactic" in part:
        if cond.syntactic is None or _syntactic_bound(cond) is None:
            return False, f"{cond.name}: its form gives no bound that proves it"
        return True, f"{cond.name}: bounded below by its form"
    residual = cond.target
    if cond.definite:
        totals = {i: flint.fmpq(0) for i in range(cond.n)}
        for label, text in part["epsilon"].items():
            i, power = (int(v) for v in label[1:].split("^"))
            eps = X._parse_q(text)
            if eps < 0 or power % 2 or power < 2 or not 0 <= i < cond.n:
                return False, f"{cond.name}: bad epsilon term {label} = {text}"
            totals[i] += eps
            residual -= eps * R.gen(i) ** power
        if any(total <= 0 for total in totals.values()):
            return False, f"{cond.name}: the epsilon terms do not make V definite in every variable"
    facts = {str(sorted(X.poly_to_json(_as_dict(g)))) for g in cond.inequalities}
    for entry in part["multipliers"]:
        g = X.poly_from_json(entry["constraint"])
        if str(sorted(X.poly_to_json(g))) not in facts:
            return False, f"{cond.name}: a multiplier's constraint is not a fact of the lifting"
        basis, gram = X.gram_from_json(entry)
        if any(gram[a][b] != gram[b][a] for a in range(len(gram)) for b in range(a)) or not X.is_psd_exact(gram):
            return False, f"{cond.name}: a multiplier is not a sum of squares (exact LDLᵀ)"
        residual -= _from_dict(R, X.gram_polynomial(basis, gram)) * _from_dict(R, g)
    equalities = {str(sorted(X.poly_to_json(_as_dict(h)))) for h in cond.equalities}
    for entry in part["equalities"]:
        h = X.poly_from_json(entry["constraint"])
        if str(sorted(X.poly_to_json(h))) not in equalities:
            return False, f"{cond.name}: an equality is not a fact of the lifting"
        residual -= _from_dict(R, X.poly_from_json(entry["multiplier"])) * _from_dict(R, h)
    basis, gram = X.gram_from_json(part["residual"])
    ok, why = X.verify_gram(_as_dict(residual), basis, gram)
    return ok, f"{cond.name}: {why}"


def recheck(system, V, check: str, certificate: dict) -> tuple[bool, str]:
    """Re-prove a substitution certificate from the expressions, in rationals: (ok, reason)."""
    try:
        lifted = conditions(system, V, check, int(certificate.get("positivity", 0)))
    except ValueError as error:
        return False, str(error)
    parts = certificate.get("conditions", [])
    if certificate.get("prover") != NAME or [p.get("name") for p in parts] != [c.name for c in lifted]:
        return False, "not a substitution certificate for these conditions"
    for cond, part in zip(lifted, parts):
        ok, why = check_part(cond, part)
        if not ok and cond.alternative is not None:
            ok, why = check_part(cond.alternative, part)
        if not ok:
            return False, why
    return True, "every condition re-proved exactly"


def _search_degrees(cond: _Condition, deadline: float | None) -> tuple[dict | None, list[str]]:
    """The first certificate part found: a bound from the form, the gradient form (decrease), then the
    SOS searches (after replacing every r² by q for r = √q, then as it is); or why none."""
    reasons = []
    if cond.syntactic is not None:
        low = _syntactic_bound(cond)
        if low is not None:
            return {"name": cond.name, "variables": cond.names, "polynomial": X.poly_to_json(_as_dict(cond.target)),
                    "syntactic": str(low)}, reasons
        reasons.append("no bound from the form")
    if cond.gradient is not None:
        found = _gradient_part(cond, deadline)
        if found is not None:
            return found, reasons
        reasons.append("gradient form: none")
    reduced, explicit = _reduce_squares(cond.target, cond.equalities)
    if explicit:                       # r² → q first (√q = r): 4r² − 2 becomes 2 + 4P, with a margin
        used = uses(reduced)                 # facts about variables the reduced p lost would only pad the basis
        found, more = _sos_degrees(replace(cond, target=reduced, equalities=[h for h in cond.equalities if uses(h) <= used],
                                           inequalities=[g for g in cond.inequalities if uses(g) <= used]), deadline)
        if found is not None:
            found["polynomial"] = X.poly_to_json(_as_dict(cond.target))
            found["equalities"] += [{"constraint": X.poly_to_json(_as_dict(h)), "multiplier": X.poly_to_json(_as_dict(lam))}
                                    for h, lam in explicit]
            return found, reasons
        reasons += ["with √ squares replaced:"] + more
    found, more = _sos_degrees(cond, deadline)
    return found, reasons + more


def _reduce_squares(p: P.Poly, equalities: list[P.Poly]) -> tuple[P.Poly, list[tuple[P.Poly, P.Poly]]]:
    """p with every r² replaced by q for the equalities h = r² − q where q does not use r (the √ facts):
    (the reduced p, [(h, λ)]) with p = reduced + Σ λ·h exactly."""
    explicit = []
    for h in equalities:
        r = _square_variable(h)
        if r is None:
            continue
        R, lam = p.context(), None
        while True:
            high = [(tuple(int(v) for v in m), c) for m, c in p.terms() if int(m[r]) >= 2]
            if not high:
                break
            step = R.from_dict({tuple(e - 2 if j == r else e for j, e in enumerate(m)): c for m, c in high})
            p = p - step * h
            lam = step if lam is None else lam + step
        if lam is not None:
            explicit.append((h, lam))
    return p, explicit


def _square_variable(h: P.Poly) -> int | None:
    """r when h = r² − q with q free of r, else None."""
    terms = [(tuple(int(v) for v in m), c) for m, c in h.terms()]
    for r in range(h.context().nvars()):
        with_r = [(m, c) for m, c in terms if m[r]]
        if len(with_r) == 1 and with_r[0][1] == 1 and with_r[0][0][r] == 2 and sum(with_r[0][0]) == 2:
            return r
    return None


def _sos_degrees(cond: _Condition, deadline: float | None) -> tuple[dict | None, list[str]]:
    """The Newton basis, then degrees D and D + 2."""
    lowest = max(2, _degree(cond.target) + _degree(cond.target) % 2)
    reasons = []
    for degree in (0,) + tuple(lowest + extra for extra in EXTRA_DEGREES):
        if deadline is not None and time.perf_counter() > deadline:
            reasons.append("time limit reached")
            break
        found = search(cond, degree, deadline)
        if isinstance(found, dict):
            return found, reasons
        reasons.append(found)
    return None, reasons


def prove(system, V, check: str, time_limit: float | None) -> ProverVerdict:
    """See the module docstring. ``time_limit`` (seconds) bounds the SOS solves."""
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    try:
        lifted = conditions(system, V, check)
        count = _option_count(system, V, check)
    except Unsupported as error:
        return ProverVerdict("unknown", NAME, f"no exact substitution: {error}")
    except ValueError as error:
        return ProverVerdict("unknown", NAME, str(error))
    found_parts: dict[tuple[str, str], dict] = {}      # conditions shared by the options are searched once
    failures = []
    for option in range(count):
        if option:
            lifted = conditions(system, V, check, option)
        parts, why = [], None
        for cond in lifted:
            key = (cond.name, str(cond.target))
            if key not in found_parts:
                found, reasons = _search_degrees(cond, deadline)
                if not isinstance(found, dict) and cond.alternative is not None:
                    found, more = _search_degrees(cond.alternative, deadline)
                    reasons += ["squared:"] + more
                if not isinstance(found, dict):
                    why = f"{cond.name}: " + "; ".join(reasons)
                    if cond.name.startswith("domain") or cond.name == "decrease":
                        return ProverVerdict("unknown", NAME, "; ".join(failures + [why]))
                    break
                found_parts[key] = found
            parts.append(found_parts[key])
        if why is not None:
            failures.append(why)
            continue
        certificate = {"prover": NAME, "check": check, "positivity": option, "conditions": parts}
        ok, why = recheck(system, V, check, certificate)
        if not ok:
            return ProverVerdict("unknown", NAME, f"the certificate did not re-check: {why}")
        variables = sorted({name for part in parts for name in part["variables"]})
        return ProverVerdict("proved", NAME, f"positivstellensatz certificates re-checked in rationals, "
                             f"lifted variables {', '.join(variables)}")
    return ProverVerdict("unknown", NAME, "; ".join(failures))


def _option_count(system, V, check: str) -> int:
    system, V = _as_exprs(system, V)
    lifting = Lifting.for_expressions(len(system), [V, vdot_expression(system, V)])
    return len(positivity_options(V, lifting.lift(V), check, lifting))
