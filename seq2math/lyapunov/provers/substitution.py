"""The substitution prover ("substitution+sos"): lift, then prove on a semialgebraic set by SOS, exactly.

``prove(system, V, check, time_limit) -> ProverVerdict`` (docs/verification.md):

1. V and V̇ = Σ ∂ᵢV·fᵢ are lifted to polynomials in x and new variables for sin/cos/exp/...
   (``lifting.py``), with side facts g ≥ 0 and h = 0 that every real x satisfies.
2. Each condition p ≥ 0 (the domain first: p = q − q(0)/2 for every ln q and p = q for every
   sqrt q, so that V and f are defined at every x; then p = V − Σ εᵢₖ xᵢ^(2k) with Σₖ εᵢₖ > 0 for
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
from dataclasses import dataclass

import flint
import numpy as np

from seq2math.lyapunov.provers.lifting import Lifting, Unsupported
from seq2math.lyapunov.provers.verdict import ProverVerdict
from seq2math.sos import exact as X
from seq2math.sos.newton import half_newton_basis
from seq2math.sos.sdp import SolverStatus, SOSCondition, SOSProgram, solve_sos
from seq2math.symbolic import poly as P
from seq2math.symbolic.calculus import diff
from seq2math.symbolic.expr import Expr, as_expr, from_poly

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


def conditions(system, V, check: str) -> list[_Condition]:
    """The lifted conditions of the check; raises ``Unsupported`` (or ValueError on V(0) ≠ 0)."""
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
    return _domain(lifting) + [_compact(name, p, check == "lyapunov" and name == "positive", lifting)
                               for name, p in (("positive", lifted_V), ("decrease", lifted_decrease))]


def _domain(lifting: Lifting) -> list[_Condition]:
    """Conditions that V and f are defined at every x: q − q(0)/2 ≥ 0 for ln q, q ≥ 0 for sqrt q.

    The lifting's facts for ln and sqrt (q ≥ 0) also hold where the function is undefined, so
    without these a certificate on the lifted set would say nothing about the points where
    ẋ0 = −x0 − x0·ln(1 + x0)² is undefined (x0 ≤ −1) and still read as global. A strict bound
    is asked with the margin q(0)/2, which q(0) > 0 makes rational and exact."""
    found = []
    for k, (function, q, strict) in enumerate(lifting.domain):
        target = q
        if strict:
            q0 = lifting.value_at_zero(q)
            if q0 is None or q0 <= 0:
                raise Unsupported(f"cannot state that the argument of {function}, {q}, stays positive")
            target = q - flint.fmpq(q0.numerator, 2 * q0.denominator)
        found.append(_compact(f"domain {k}: {function} argument {'>' if strict else '>='} 0", target, False, lifting))
    return found


def _compact(name: str, p: P.Poly, definite: bool, lifting: Lifting) -> _Condition:
    atoms = lifting.relevant_atoms(p)
    keep = list(range(lifting.n)) + [v for k in atoms for v in lifting.atoms[k].variables]
    names = [f"x{i}" for i in range(lifting.n)]
    for k in atoms:
        atom = lifting.atoms[k]
        if atom.family == "trig":
            names += [f"sin({atom.argument})", f"cos({atom.argument})"]
        else:
            names.append(f"exp(({atom.argument})/2)" if atom.family == "exp" else f"{atom.family}({atom.argument})")
    R = P.ring(len(keep))

    def squeeze(q: P.Poly) -> P.Poly:
        return R.from_dict({tuple(int(m[i]) for i in keep): c for m, c in q.terms()}) if not q.is_zero() else R(0)

    return _Condition(name, squeeze(p), definite, lifting.n,
                      [squeeze(g) for k, g in lifting.inequalities if k in atoms],
                      [squeeze(h) for k, h in lifting.equalities if k in atoms], names)


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


def _newton_basis(cond: _Condition) -> np.ndarray:
    """The half Newton polytope of p's support closed under the equalities (p·(terms of h)) and the ε terms."""
    support = {tuple(int(v) for v in m) for m in cond.target.monoms()}
    k = len(cond.names)
    if cond.definite:
        degree = P.total_degree(cond.target) + 1
        support |= {tuple(power if j == i else 0 for j in range(k)) for i in range(cond.n)
                    for power in range(2, degree, 2)}
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
            for power in range(2, degree + 1, 2):
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
        lifted = conditions(system, V, check)
    except ValueError as error:
        return False, str(error)
    parts = certificate.get("conditions", [])
    if certificate.get("prover") != NAME or [p.get("name") for p in parts] != [c.name for c in lifted]:
        return False, "not a substitution certificate for these conditions"
    for cond, part in zip(lifted, parts):
        ok, why = check_part(cond, part)
        if not ok:
            return False, why
    return True, "every condition re-proved exactly"


def prove(system, V, check: str, time_limit: float | None) -> ProverVerdict:
    """See the module docstring. ``time_limit`` (seconds) bounds the SOS solves."""
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    try:
        lifted = conditions(system, V, check)
    except Unsupported as error:
        return ProverVerdict("unknown", NAME, f"no exact substitution: {error}")
    except ValueError as error:
        return ProverVerdict("unknown", NAME, str(error))
    parts = []
    for cond in lifted:
        lowest = max(2, _degree(cond.target) + _degree(cond.target) % 2)
        reasons, found = [], None
        for degree in (0,) + tuple(lowest + extra for extra in EXTRA_DEGREES):
            if deadline is not None and time.perf_counter() > deadline:
                reasons.append("time limit reached")
                break
            found = search(cond, degree, deadline)
            if isinstance(found, dict):
                break
            reasons.append(found)
        if not isinstance(found, dict):
            return ProverVerdict("unknown", NAME, f"{cond.name}: " + "; ".join(reasons))
        parts.append(found)
    certificate = {"prover": NAME, "check": check, "conditions": parts}
    ok, why = recheck(system, V, check, certificate)
    if not ok:
        return ProverVerdict("unknown", NAME, f"the certificate did not re-check: {why}")
    variables = sorted({name for part in parts for name in part["variables"]})
    return ProverVerdict("proved", NAME, f"positivstellensatz certificates re-checked in rationals, "
                         f"lifted variables {', '.join(variables)}")
