"""Repairing a hypothesis's coefficients through the gradient form ẋ = −G(x)∇V(x) (used by ``guided``).

A near miss of the model has the right monomials and wrong numbers. When the system has the
gradient form f = −G∇V with a polynomial matrix G (every backward-generated system does,
docs/generation.md; docs/verification.md, "the gradient form"), the right numbers solve

    f_i = −Σ_k G_ik ∂_k V(c)        for every equation i,

which is *bilinear*: linear in G for fixed coefficients c of V, linear in c for fixed G, with
G_ik of degree ≤ min(4, deg f − d_k), d_k the *lowest* degree of ∂ₖ over the support's monomials: a
support may hold monomials that V lacks (a hypothesis's extra terms, guided's completion up to x_i^D),
and the highest degree would leave G too few degrees for the V inside it (docs/baselines.md,
session 16). Starting from the hypothesis's own coefficients (the
warm start that an interior-point SOS solver cannot take) and the least-squares G for them, a
Levenberg–Marquardt fit moves (c, G) together: the G blocks share the matrix WᵀW (W: the
columns x^m·∂ₖV(c)), so they are eliminated from the normal equations, leaving one K × K
factorisation and one |support| × |support| solve per step. c is kept at unit norm (the pair
(λc, G/λ) is the same fit); ITERATIONS steps at most.

When the residual vanishes, the coefficients are scaled to small integers (or simple fractions)
and proposed. Nothing here is trusted: each proposal is checked exactly by the solve loop, whose
gradient-form stage proves −V̇ ≥ 0 in milliseconds when the fit is exact and sym(G) ⪰ 0.
A fit takes milliseconds for two variables and about a second for four.
"""

from __future__ import annotations

import time
from fractions import Fraction

import flint
import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.optimize import least_squares

from seq2math.sos.newton import full_basis
from seq2math.symbolic.poly import Poly, beyond_float_range, ring

#: Levenberg–Marquardt steps per fit (from random coefficients, 30 steps end exact about twice as often as 10:
#: docs/baselines.md, session 16), and the relative residual below which the fit is exact
ITERATIONS = 30
EXACT_RESIDUAL = 1e-9
#: G_ik has degree at most this (and deg f − d_k): the backward generator's damping h² and rotation
#: coefficients have degree ≤ 4 (docs/generation.md)
MAX_MULTIPLIER_DEGREE = 4
#: denominators tried when scaling the repaired coefficients to simple numbers
SCALES = (1, 2, 3, 4, 5, 6, 8, 10, 12)
#: a fitted coefficient below this share of the largest is first read as 0 (``_simple_polynomials``)
NEGLIGIBLE = 1e-4
#: the fit with a diagonal-plus-antisymmetric G (``antisymmetric_fitted_candidates``): up to this many
#: variables (two: 0.05–0.5 s per fit; three: about 4 s, where the unrestricted fit takes 0.3), and at most
#: this many residual evaluations
ANTISYMMETRIC_MAX_VARIABLES = 2
ANTISYMMETRIC_STEPS = 200


def repaired_candidates(system: list[Poly], hypothesis: Poly, deadline: float | None = None) -> list[Poly]:
    """Polynomials with the hypothesis's monomials whose coefficients fit f = −G∇V exactly, or [] (also when
    ``deadline``, a ``time.perf_counter()`` value, passes during the fit; and for a hypothesis with a coefficient
    past the float64 range, which the fit cannot start from)."""
    if beyond_float_range(hypothesis):
        return []
    return fitted_candidates(system, *_terms_of_degree_two_up(hypothesis), deadline)


def _terms_of_degree_two_up(V: Poly) -> tuple[list[tuple[int, ...]], np.ndarray]:
    """(the monomials of V of degree ≥ 2, their coefficients as floats): the support and numbers a fit starts from."""
    terms = [(tuple(int(v) for v in m), float(c)) for m, c in zip(V.monoms(), V.coeffs()) if sum(m) >= 2]
    return [m for m, _ in terms], np.array([c for _, c in terms])


def _least_squares_multipliers(W: sp.csr_matrix, F: np.ndarray, ridge: float) -> tuple[np.ndarray, np.ndarray]:
    """(WᵀW, the G that minimises ‖F + W·G‖ with a ridge of ``ridge`` times WᵀW's largest diagonal entry)."""
    WtW = (W.T @ W).toarray()
    G = -sla.solve(WtW + ridge * (np.max(np.diag(WtW)) + 1e-300) * np.eye(W.shape[1]), W.T @ F, assume_a="pos")
    return WtW, G


def gradient_form_residual(system: list[Poly], V: Poly) -> float | None:
    """How far f is from −G∇V for the best polynomial G, with V's own coefficients: ‖f + G∇V‖ / ‖f‖ for the
    least-squares G (``MAX_MULTIPLIER_DEGREE``), or None when the fit cannot be set up (f = 0, no gradient,
    a coefficient past the float range).

    Every backward-generated system has this form for its V, so a hypothesis with residual ≈ 0 is very
    likely the right one, and the solve loop's gradient-form stage proves its decrease in milliseconds;
    the ``model`` method proposes such hypotheses first (``EXACT_FIT``). A single least-squares solve:
    about a millisecond for two variables, 0.1 s for five. Nothing is decided by it: it only orders the proposals."""
    if beyond_float_range(V) or any(beyond_float_range(f) for f in system):
        return None
    support, coefficients = _terms_of_degree_two_up(V)
    if not support:
        return None
    problem = _fit_problem(system, support)
    if problem is None:
        return None
    rows, alphas, cols, vals, F, K = problem
    W = _assemble((F.shape[0], K), rows, cols, vals * coefficients[alphas])
    try:
        _, G = _least_squares_multipliers(W, F, 1e-12)
    except (np.linalg.LinAlgError, ValueError):
        return None
    return float(np.sqrt(_cost(F, W, G)) / np.linalg.norm(F))


def fitted_candidates(system: list[Poly], support: list[tuple[int, ...]], start: np.ndarray,
                      deadline: float | None = None) -> list[Poly]:
    """``repaired_candidates`` from the coefficients ``start`` of V on ``support`` (monomials of degree ≥ 2),
    e.g. an SOS program's numerical solution, whose rounding alone missed the exact V."""
    n = len(system)
    if not support or not np.any(start):
        return []
    problem = _fit_problem(system, support)
    if problem is None:
        return []
    rows, alphas, cols, vals, F, K = problem
    M, S, norm_f = F.shape[0], len(support), np.linalg.norm(F)
    c = start / np.linalg.norm(start)
    W = _assemble((M, K), rows, cols, vals * c[alphas])        # sparse: a few terms per column
    WtW, G = _least_squares_multipliers(W, F, 1e-10)           # the best G for the starting numbers
    damping = 1e-3
    cost = _cost(F, W, G)
    for _ in range(ITERATIONS):                                # Levenberg–Marquardt on (c, G) together
        if cost < (EXACT_RESIDUAL * norm_f) ** 2:
            break
        if deadline is not None and time.perf_counter() > deadline:
            return []
        E = F + W @ G                                          # (M, n): the residual of each equation
        B = [_assemble((M, S), rows, alphas, vals * G[cols, i]) for i in range(n)]
        # normal equations of (Δc, ΔG) with the G blocks eliminated (they share WᵀW): a K × K and an |S| × |S| solve
        if WtW is None:                                        # W moved with the last accepted step
            WtW = (W.T @ W).toarray()
        WtE = W.T @ E
        BtW = [(b.T @ W).toarray() for b in B]
        cc = sum((b.T @ b).toarray() for b in B)
        gc = sum(b.T @ E[:, i] for i, b in enumerate(B))
        while damping < 1e8:
            H = WtW + damping * np.diag(np.diag(WtW) + 1e-12)
            try:
                factor = sla.cho_factor(H)
            except np.linalg.LinAlgError:
                damping *= 10
                continue
            # H⁻¹ Wᵀ B_i for every i and H⁻¹ Wᵀ E (one column per equation), in one solve
            solved = sla.cho_solve(factor, np.hstack([BtW[i].T for i in range(n)] + [WtE]))
            HB = [solved[:, i * S:(i + 1) * S] for i in range(n)]
            HE = solved[:, n * S:]
            reduced = cc + damping * np.diag(np.diag(cc) + 1e-12) - sum(BtW[i] @ HB[i] for i in range(n))
            rhs = -gc + sum(BtW[i] @ HE[:, i] for i in range(n))
            try:
                dc = np.linalg.solve(reduced, rhs)
            except np.linalg.LinAlgError:
                damping *= 10
                continue
            dG = np.column_stack([-HE[:, i] - HB[i] @ dc for i in range(n)])
            c_new, G_new = c + dc, G + dG
            W_new = _assemble((M, K), rows, cols, vals * c_new[alphas])
            new_cost = _cost(F, W_new, G_new)
            if new_cost < cost:
                scale = np.linalg.norm(c_new)
                c, G, W, cost, WtW = c_new / scale, G_new * scale, W_new / scale, new_cost, None
                damping = max(damping / 10, 1e-12)
                break
            damping *= 10
        else:
            return []
    if cost >= (EXACT_RESIDUAL * norm_f) ** 2:
        return []
    return _simple_polynomials(c, support, n)


def _fit_problem(system: list[Poly], support: list[tuple[int, ...]], common: bool = False):
    """The data of the fit f = −G∇V on ``support``, or None when f is 0 or no monomial has a gradient:
    (rows, alphas, cols, vals, F, K) such that W(c) = ``_assemble((M, K), rows, cols, vals * c[alphas])``
    has the columns x^m·∂ₖV(c) for each gradient k and multiplier monomial m of G_ik (K of them), and
    F (M × n) holds f's coefficients on the same M monomials. With ``common``, every k gets the same
    multipliers, those of the lowest gradient degree (the antisymmetric fit pairs G_ij with G_ji)."""
    n = len(system)
    f_degree = max((p.total_degree() for p in system if not p.is_zero()), default=0)
    gradient_degrees = [min((sum(m) - 1 for m in support if m[k]), default=0) for k in range(n)]
    if common:
        gradient_degrees = [min(gradient_degrees)] * n
    multipliers = [list(map(tuple, full_basis(n, min(MAX_MULTIPLIER_DEGREE, max(0, f_degree - d))).tolist()))
                   for d in gradient_degrees]
    offsets = np.cumsum([0] + [len(m) for m in multipliers])
    # T: the monomial x^(m + α − e_k) with coefficient α_k, for each (α, k, m): the polynomial ∂_k(x^α)·x^m
    rows, alphas, cols, vals, index = [], [], [], [], {}
    for a, alpha in enumerate(support):
        for k in range(n):
            if alpha[k] == 0:
                continue
            base = tuple(alpha[j] - (j == k) for j in range(n))
            for t, m in enumerate(multipliers[k]):
                key = tuple(b + e for b, e in zip(base, m))
                rows.append(index.setdefault(key, len(index))), alphas.append(a)
                cols.append(offsets[k] + t), vals.append(float(alpha[k]))
    F_terms = [dict(zip((tuple(int(v) for v in e) for e in p.monoms()), (float(c) for c in p.coeffs()))) for p in system]
    for terms in F_terms:
        for key in terms:
            index.setdefault(key, len(index))
    F = np.zeros((len(index), n))
    for i, terms in enumerate(F_terms):
        for key, value in terms.items():
            F[index[key], i] = value
    if not np.any(F) or not rows:
        return None
    rows, alphas, cols, vals = map(np.asarray, (rows, alphas, cols, vals))
    return rows, alphas, cols, vals, F, int(offsets[-1])


def antisymmetric_fitted_candidates(system: list[Poly], support: list[tuple[int, ...]], start: np.ndarray,
                                    deadline: float | None = None) -> list[Poly]:
    """``fitted_candidates`` with G restricted to the backward generator's shape: a diagonal (the dampings h_k²)
    plus an antisymmetric part (each rotation puts c at (i, j) and −c at (j, i); docs/generation.md).

    Where V is separable (V₀(x0) + V₁(x1)), every a·V₀ + b·V₁ fits f = −G∇V with an unrestricted G, and
    the fit lands on an arbitrary ratio; G_ij = −G_ji pins the generator's. The G blocks of the equations are
    coupled, so (c, G) is one joint Levenberg–Marquardt problem (MINPACK through scipy, the exact Jacobian of
    the bilinear residual): for at most ``ANTISYMMETRIC_MAX_VARIABLES`` variables."""
    n = len(system)
    if n > ANTISYMMETRIC_MAX_VARIABLES or not support or not np.any(start) or (
            deadline is not None and time.perf_counter() > deadline):
        return []
    problem = _fit_problem(system, support, common=True)
    if problem is None:
        return []
    rows, alphas, cols, vals, F, K = problem
    M, S, T = F.shape[0], len(support), K // n
    norm_f = np.linalg.norm(F)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    # E[i] (K × P): G[:, i] = E[i] @ g, with g = (D_0, …, D_{n−1}, A_01, A_02, …), T coefficients each
    P = (n + len(pairs)) * T
    E = [np.zeros((K, P)) for _ in range(n)]
    for i in range(n):
        E[i][i * T:(i + 1) * T, i * T:(i + 1) * T] = np.eye(T)
    for p, (i, j) in enumerate(pairs):
        block = slice((n + p) * T, (n + p + 1) * T)
        E[i][j * T:(j + 1) * T, block] = np.eye(T)           # G_ij = A_ij multiplies ∂_jV in equation i
        E[j][i * T:(i + 1) * T, block] = -np.eye(T)          # G_ji = −A_ij multiplies ∂_iV in equation j

    def residual(x):
        W = _assemble((M, K), rows, cols, vals * x[:S][alphas])
        R = F + np.column_stack([W @ (E[i] @ x[S:]) for i in range(n)])
        return np.concatenate([R.T.ravel() / norm_f, [x[:S] @ x[:S] - 1.0]])

    def jacobian(x):
        W = _assemble((M, K), rows, cols, vals * x[:S][alphas])
        J = np.zeros((n * M + 1, S + P))
        for i in range(n):
            G_i = E[i] @ x[S:]
            J[i * M:(i + 1) * M, :S] = _assemble((M, S), rows, alphas, vals * G_i[cols]).toarray() / norm_f
            J[i * M:(i + 1) * M, S:] = (W @ E[i]) / norm_f
        J[-1, :S] = 2 * x[:S]
        return J

    c = start / np.linalg.norm(start)
    W = _assemble((M, K), rows, cols, vals * c[alphas])
    A = np.vstack([(W @ E[i]) for i in range(n)])           # the best g for the starting numbers
    g, *_ = np.linalg.lstsq(A, -F.T.ravel(), rcond=None)
    x0 = np.concatenate([c, g])
    method = "lm" if n * M + 1 >= len(x0) else "trf"         # MINPACK wants no more unknowns than residuals
    answer = least_squares(residual, x0, jac=jacobian, method=method, max_nfev=ANTISYMMETRIC_STEPS)
    if deadline is not None and time.perf_counter() > deadline:
        return []
    if np.linalg.norm(answer.fun[:-1]) >= EXACT_RESIDUAL or abs(answer.fun[-1]) > 1e-6:
        return []
    return _simple_polynomials(answer.x[:S], support, n)


def _assemble(shape: tuple[int, int], rows: np.ndarray, cols: np.ndarray, values: np.ndarray) -> sp.csr_matrix:
    return sp.csr_matrix((values, (rows, cols)), shape=shape)           # duplicates are summed


def _cost(F: np.ndarray, W: sp.csr_matrix, G: np.ndarray) -> float:
    return float(np.sum((F + W @ G) ** 2))


def _simple_polynomials(c: np.ndarray, support: list[tuple[int, ...]], n: int) -> list[Poly]:
    """c scaled so that its smallest entry is k/d for small k, d, when that makes every entry a simple rational.

    Entries below ``NEGLIGIBLE`` of the largest are first read as 0: an exact fit on a support larger than V's
    can keep a trace of a monomial V lacks (bpoly system 11: x1² at 10⁻⁵ of the largest coefficient), which,
    scaled to 1, would make every other entry a large number that passes as "simple". Then, in case such an
    entry was V's own, with only the entries below 10⁻⁹ read as 0."""
    R = ring(n)
    found, seen = [], set()
    for threshold in (NEGLIGIBLE, 1e-9):
        nonzero = np.abs(c) > threshold * np.max(np.abs(c))
        d = np.where(nonzero, c, 0.0)
        pure = [a for a, m in enumerate(support)
                if nonzero[a] and sum(1 for e in m if e) == 1 and all(e % 2 == 0 for e in m)]
        if pure and np.mean(np.sign(d[pure])) < 0:
            d = -d              # V, not −V: its pure even powers are positive (those the fit set to 0 do not vote)
        smallest = float(np.min(np.abs(d[nonzero])))
        for numerator in SCALES:
            scaled = d / smallest * numerator
            values = [Fraction(float(v)).limit_denominator(max(SCALES)) for v in scaled]
            if max(abs(float(v) - s) for v, s in zip(values, scaled)) > 1e-6 * max(1.0, float(np.max(np.abs(scaled)))):
                continue
            terms = {m: v for m, v in zip(support, values) if v != 0}
            key = tuple(sorted(terms.items()))
            if terms and key not in seen:
                seen.add(key)
                found.append(R.from_dict({m: flint.fmpq(v.numerator, v.denominator) for m, v in terms.items()}))
            if len(found) >= 2:
                return found
    return found
