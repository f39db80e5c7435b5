"""Certificates of one lifted condition p ≥ 0 (docs/verification.md, the substitution prover).

``_search_degrees(cond, deadline)`` tries, in order: a bound from the expression's form
(``signs.py``), the gradient form of −V̇ (``sos/gradient.py``), and Putinar-form SOS programs
p − Σⱼ σⱼ·gⱼ − Σₗ λₗ·hₗ = zᵀQz on the Newton basis, then at degrees D and D + 2 (first with every
r² replaced by q for r = √q). A found part is exact (rounded, LDLᵀ-checked) but not yet re-checked;
``substitution.check_part`` does that from scratch.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from fractions import Fraction

import flint
import numpy as np

from seq2math.lyapunov.provers.conditions import Condition
from seq2math.lyapunov.provers.lifting import uses
from seq2math.lyapunov.provers.signs import lower_bound
from seq2math.sos import exact as X
from seq2math.sos.gradient import gradient_certificate
from seq2math.sos.newton import exponent_vectors, half_newton_basis
from seq2math.sos.sdp import SolverStatus, SOSCondition, SOSProgram, solve_sos
from seq2math.symbolic import poly as P

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


def _monomials(nvars: int, degree: int) -> list[Exps]:
    """All exponent tuples of total degree ≤ degree (degree < 0: none)."""
    return exponent_vectors(nvars, degree)


def _fitting_shifts(h: P.Poly, sums: set[Exps], max_degree: int, n: int, min_x_degree: int) -> list[Exps]:
    """The monomials m of degree ≤ max_degree and x-degree ≥ min_x_degree with m·h inside the Gram products
    ``sums``, in ``_monomials`` order (degree, then exponents): read off ``sums`` shifted back by one monomial of h,
    not by walking every monomial of that degree (C(k + d, d) of them: millions for 12 lifted variables)."""
    shifts = [tuple(int(v) for v in m) for m in h.monoms()]
    if not shifts:
        return []
    found = set()
    for product in sums:
        m = tuple(a - b for a, b in zip(product, shifts[0]))
        if (min(m, default=0) >= 0 and sum(m) <= max_degree and _x_degree(m, n) >= min_x_degree
                and all(tuple(a + b for a, b in zip(m, shift)) in sums for shift in shifts[1:])):
            found.add(m)
    return sorted(found, key=lambda m: (sum(m), m))


def _float_terms(q: P.Poly) -> dict[Exps, float]:
    return {tuple(int(v) for v in m): float(c) for m, c in q.terms()}


def _monomial(R, exps: Exps) -> P.Poly:
    return R.from_dict({exps: 1})


def _degree(q: P.Poly) -> int:
    return P.total_degree(q)


def _x_degree(exps: Exps, n: int) -> int:
    return sum(exps[:n])


def _x_order(cond: Condition) -> int:
    """The least total degree in x of p's terms: 2 when p vanishes to second order at x = 0 for every
    value of the lifted variables (as −V̇ and V usually do)."""
    return min((_x_degree(tuple(int(v) for v in m), cond.n) for m in cond.target.monoms()), default=0)


def _epsilon_powers(cond: Condition, i: int, degree: int) -> list[int]:
    """The even powers k of the ε terms ε·xᵢ^k: those p itself holds as pure powers of xᵢ (so that
    the ε terms add no monomial to the Newton polytope: 2x1⁶ + 4x0⁴ gets ε on x0⁴ and x1⁶ alone, and
    a strictly positive Gram matrix on (x0², x1³)), else every even power from 2 to ``degree``."""
    k = len(cond.names)
    pure = sorted(int(m[i]) for m in cond.target.monoms()
                  if int(m[i]) >= 2 and int(m[i]) % 2 == 0 and int(m[i]) <= degree
                  and all(int(m[j]) == 0 for j in range(k) if j != i))
    return pure or list(range(2, degree + 1, 2))


def _newton_basis(cond: Condition) -> np.ndarray:
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


def _program(cond: Condition, degree: int, basis: np.ndarray | None):
    """The SOS program of one condition at degree D, and what each parameter stands for (``basis``: at degree 0,
    the Newton basis ``search`` built for its size check; None otherwise).

    When p vanishes to second order at x = 0 whatever the lifted variables are, every square of the
    certificate must vanish there too (on the lifted set): the Gram bases then keep only monomials
    with some x factor and the λ multipliers only terms of x-degree ≥ 2, which removes monomials
    that would force a zero margin (a cheap facial reduction) and shrinks the program.
    """
    R, k = cond.target.context(), len(cond.names)
    newton = degree == 0
    low = 1 if _x_order(cond) >= 2 else 0
    if degree == 0:                   # equalities only, on the Newton basis of p (no inequality multipliers)
        main_basis = basis
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
        for exps in _fitting_shifts(h, sums, degree - _degree(h), cond.n, 2 * low):
            main[count] = {e: -v for e, v in _float_terms(_monomial(R, exps) * h).items()}
            terms[count] = exps
            count += 1
        lambdas.append((h, terms))
    program = SOSProgram(k, count, [SOSCondition(cond.name, _float_terms(cond.target), main, basis=main_basis)] + sos_conditions,
                         inequalities)
    return program, epsilon, multipliers, lambdas


def search(cond: Condition, degree: int, deadline: float | None) -> dict | str:
    """A certificate part for the condition at this degree (exact, not yet re-checked), or why not."""
    k = len(cond.names)
    newton = _newton_basis(cond) if degree == 0 else None     # built once per search: a hull of many lifted dimensions costs
    basis_size = len(newton) if newton is not None else math.comb(k + degree // 2, k)
    if basis_size == 0:
        return f"{_label(degree)}: empty basis (no sum of squares has this support)"
    if basis_size > MAX_BASIS:
        return f"too large: {k} lifted variables at degree {degree} ({basis_size} monomials > {MAX_BASIS})"
    program, epsilon, multipliers, lambdas = _program(cond, degree, newton)
    remaining = None if deadline is None else max(0.05, deadline - time.perf_counter())
    solution = solve_sos(program, time_limit=remaining)
    if solution.status is not SolverStatus.SOLVED:
        return f"{_label(degree)}: {solution.status.value} ({solution.detail})"
    if solution.margins[0] <= 0:
        return f"{_label(degree)}: no certificate with a margin (margin {solution.margins[0]:.2e})"
    return (_exact_part(cond, solution, epsilon, multipliers, lambdas)
            or f"{_label(degree)}: exact rounding failed (margin {solution.margins[0]:.2e})")


def _syntactic_bound(cond: Condition) -> Fraction | None:
    """The lower bound of ``signs.bounds`` when it proves the condition (e ≥ c, or > c when strict), else None."""
    expression, threshold, strict = cond.syntactic
    low = lower_bound(expression)
    if low is None or low < threshold or (strict and low == threshold):
        return None
    return low


def _gradient_part(cond: Condition, deadline: float | None) -> dict | None:
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


def _exact_part(cond: Condition, solution, epsilon, multipliers, lambdas) -> dict | None:
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


def _search_degrees(cond: Condition, deadline: float | None) -> tuple[dict | None, list[str]]:
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


def _sos_degrees(cond: Condition, deadline: float | None) -> tuple[dict | None, list[str]]:
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
