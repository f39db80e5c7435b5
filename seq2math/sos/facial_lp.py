"""Partial facial reduction by linear programs, and ``facial_part``: facial reduction for one condition.

When the solver's Gram matrices show no clean gap (the minimal face is deep: BPoly Vs built as a
proper part plus squares of cross polynomials, whose Gram matrices have rank 4–9 out of 20–60), the
face is found instead by *partial facial reduction with diagonally dominant certificates*
(Permenter and Parrilo, same paper; ``dd_kernel``): a linear program finds S ⪰ 0 (diagonally
dominant, so S ⪰ 0 is linear) in the span of the coefficient-matching matrices, with ⟨S, Q⟩ = 0 for
every Gram matrix Q of p. Then QS = 0, so range(S) lies in the kernel of every feasible Q. Each round
adds the kernel found so far to S's span (S may add v·wᵀ + w·vᵀ for a known kernel vector v, since
⟨v·wᵀ + w·vᵀ, Q⟩ = 2wᵀQv = 0) and asks for a new direction, until the LP is infeasible. The face left
is then read as in step 1 of ``facial.py`` through the solver's Gram matrix projected off the kernel, then through a
minimum-trace and a feasibility solve in it; failing that, the LP runs again with D·S·D diagonally
dominant for D = diag(√Q_aa). On the six pairs of our bpoly test set whose own V was undecided at
60–150 s, this proves V's positivity on all six, in 0.2–3 s each (docs/verification.md, session 22).

Nothing rests on the LP: a wrong rounding gives a face without a certificate, and every certificate
goes through ``exact.verify_gram`` (docs/verification.md, step 4, "the diagonally dominant stage").
"""

from __future__ import annotations

import time
from fractions import Fraction

import flint
import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from seq2math.sos import exact as X
from seq2math.sos.facial import FACE_SECONDS, QQ, Exps, echelon_form, expired, face_certificate, simple_rational

#: the diagonally dominant stage (``dd_face_certificate``): LP rounds at most, seconds at least per condition,
#: and the largest Gram basis it takes on (its LP has one unknown per basis pair)
DD_ROUNDS = 60
DD_SECONDS = 8.0
#: ... and at most this share of the time left before the check's deadline
DD_SHARE = 0.6
DD_MAX_BASIS = 120
#: an eigenvalue of S above this fraction of its largest is in S's range
DD_RANGE_LEVEL = 1e-7


def rational_nullspace(rows: list[list[QQ]], size: int) -> list[list[QQ]]:
    """A basis of {x : rows·x = 0} (each vector of length ``size``), read off the reduced row-echelon form."""
    if not rows:
        return [[QQ(int(a == c)) for a in range(size)] for c in range(size)]
    reduced, rank = flint.fmpq_mat(rows).rref()
    pivots, row = [], 0
    for column in range(size):
        if row < rank and reduced[row, column] != 0:
            pivots.append(column)
            row += 1
    basis = []
    for free in (c for c in range(size) if c not in pivots):
        vector = [QQ(0)] * size
        vector[free] = QQ(1)
        for i, pivot in enumerate(pivots):
            vector[pivot] = -reduced[i, free]
        basis.append(vector)
    return basis


def _rational_span(vectors: np.ndarray, tolerance: float = 1e-6) -> list[list[QQ]] | None:
    """The column space of ``vectors`` (s, d), orthonormal, as d rational vectors in reduced row-echelon form
    (small-denominator entries), or None when an entry is not such a rational."""
    size, dimension = vectors.shape
    echelon = echelon_form(vectors)
    if echelon is None:
        return None
    C, _ = echelon
    out = []
    for c in range(dimension):
        vector = []
        for a in range(size):
            value = float(C[a, c])
            closest = tolerance * max(1.0, abs(value))
            f = Fraction(0) if abs(value) < tolerance else simple_rational(value, closest, 1000)
            if f is None:
                return None
            vector.append(QQ(f.numerator, f.denominator))
        out.append(vector)
    return out


def dd_kernel(p: dict[Exps, float], basis: np.ndarray, deadline: float | None = None,
              scale: np.ndarray | None = None) -> list[list[QQ]] | None:
    """Rational vectors (reduced row-echelon form) that every Gram matrix of p in ``basis`` sends to 0, found by
    partial facial reduction with diagonally dominant certificates (module docstring), or None if none is found.

    ``scale`` (s,), positive: ask D·S·D to be diagonally dominant instead, D = diag(scale) (S ⪰ 0 all the same).
    Each round solves one LP (HiGHS) in y (one unknown per exponent m_a + m_b), w_k (one vector per known kernel
    vector v_k) and t (|S[a, b]| for a < b): S[a, b] = y[m_a + m_b] + Σ_k (v_k[a]·w_k[b] + w_k[a]·v_k[b]),
    S[a, a] ≥ Σ_(b≠a) t[a, b], Σ_α y_α·p_α = 0, and ⟨P, S⟩ = 1 for the projector P off the known kernel (so
    that S brings a new direction). The LP's vertex is rounded to small rationals; a wrong rounding only
    means a face with no certificate (``verify_gram`` has the last word)."""
    s = len(basis)
    if s < 2 or s > DD_MAX_BASIS:
        return None
    iu, ju = np.triu_indices(s)
    keys, pair_class = np.unique(basis[iu] + basis[ju], axis=0, return_inverse=True)
    pair_class = pair_class.ravel()
    fed = {tuple(int(v) for v in k) for k in keys}
    if any(e not in fed for e, c in p.items() if c != 0):
        return None                                                     # a term no Gram entry feeds: not SOS here
    m, pairs = len(keys), len(iu)
    values = np.array([p.get(tuple(int(v) for v in k), 0.0) for k in keys], dtype=float)
    values /= float(np.max(np.abs(values))) or 1.0
    off, diag = np.flatnonzero(iu != ju), np.flatnonzero(iu == ju)
    d = np.ones(s) if scale is None else np.asarray(scale, dtype=float)
    kernel = np.zeros((s, 0))                                           # orthonormal basis of the kernel found
    found = None
    for _ in range(DD_ROUNDS):
        if expired(deadline):
            break
        known = kernel.shape[1]
        t0 = m + known * s                                              # first t unknown
        size = t0 + len(off)
        rows, cols, vals = [np.arange(pairs)], [pair_class], [np.ones(pairs)]
        for k in range(known):                                          # v_k·w_kᵀ + w_k·v_kᵀ on each pair (a, b)
            for first, second in ((iu, ju), (ju, iu)):
                rows.append(np.arange(pairs))
                cols.append(m + k * s + second)
                vals.append(kernel[first, k])
        S_of = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(pairs, size))
        T = sp.csr_matrix((np.ones(len(off)), (np.arange(len(off)), t0 + np.arange(len(off)))), shape=(len(off), size))
        row_sums = sp.csr_matrix((np.concatenate([d[ju[off]], d[iu[off]]]), (np.concatenate([iu[off], ju[off]]),
                                                          t0 + np.tile(np.arange(len(off)), 2))), shape=(s, size))
        A_ub = sp.vstack([S_of[off] - T, -S_of[off] - T, row_sums - sp.diags(d) @ S_of[diag]]).tocsc()
        projector = np.eye(s) - kernel @ kernel.T
        weights = np.where(iu == ju, projector[iu, ju], 2 * projector[iu, ju])
        A_eq = np.vstack([np.concatenate([values, np.zeros(size - m)]), np.asarray(S_of.T @ weights).ravel()])
        bounds = [(None, None)] * t0 + [(0, None)] * len(off)
        options = {} if deadline is None else {"time_limit": max(0.05, deadline - time.perf_counter())}
        result = linprog(np.zeros(size), A_ub=A_ub, b_ub=np.zeros(A_ub.shape[0]), A_eq=A_eq, b_eq=[0.0, 1.0],
                         bounds=bounds, method="highs", options=options)
        if result.status != 0:
            break                                                       # no new direction (infeasible), or out of time
        S = np.zeros((s, s))
        S[iu, ju] = S_of @ result.x
        S[ju, iu] = S[iu, ju]
        eigenvalues, eigenvectors = np.linalg.eigh(S)
        span = np.hstack([kernel, eigenvectors[:, eigenvalues > DD_RANGE_LEVEL * max(float(eigenvalues[-1]), 1e-12)]])
        U, singular, _ = np.linalg.svd(span, full_matrices=False)
        U = U[:, singular > 1e-6 * singular[0]]
        if U.shape[1] <= known:
            break
        rational = _rational_span(U)
        if rational is None:
            break
        found = rational
        kernel, _ = np.linalg.qr(np.array([[float(v) for v in vector] for vector in rational]).T)
    return found


def dd_face_certificate(p: dict[Exps, QQ], basis: np.ndarray, grams: list[np.ndarray],
                        deadline: float | None = None) -> list[list[QQ]] | None:
    """An exact Gram matrix of p through the face left by ``dd_kernel``, or None.

    ``grams`` are the solver's numerical Gram matrices of p: projected off the kernel found, their spectra
    show the face left inside it (which the LP's diagonally dominant S cannot reach) with a clean gap,
    and they are ``face_certificate``'s hints; then a minimum-trace and a feasibility solve in the face
    (slow when the face is large: bpoly system 129's 55 of 58 monomials, 13 s per solve, session 22).
    The LP runs as it is, then, if that gave no certificate, with S scaled by d_a = √Q_aa of the first
    Gram matrix (D·S·D diagonally dominant: a kernel vector (3, 1) of the block (x0 − 3x1)² is
    diagonally dominant only at such a scale; bpoly line 76 needs it, line 129 needs the plain LP)."""
    p = {k: v for k, v in p.items() if v != 0}
    p_float = {k: float(v) for k, v in p.items()}
    diagonal = np.abs(np.diag(grams[0])) if grams else np.ones(len(basis))
    scaled = np.sqrt(np.maximum(diagonal, 1e-9 * max(float(diagonal.max()), 1e-300)))
    for scale in (None, scaled):
        if expired(deadline):
            return None
        kernel = dd_kernel(p_float, basis, deadline, scale)
        if not kernel:
            continue
        B = [list(row) for row in zip(*rational_nullspace(kernel, len(basis)))]   # (s, r): ⊥ every kernel vector
        if not B or not B[0]:
            continue
        B_float = np.array([[float(v) for v in row] for row in B])
        off_kernel, _ = np.linalg.qr(B_float)
        projector = off_kernel @ off_kernel.T
        certificate = face_certificate(p, basis, [projector @ gram @ projector for gram in grams], deadline,
                                       face=B_float, fallbacks=("trace", "center"))
        if certificate is not None:
            return certificate
    return None


def fixed_epsilon(params: dict[int, tuple[int, int]], values: np.ndarray) -> dict[int, tuple[int, flint.fmpq]]:
    """Variable -> (exponent 2k, ε): one pure power per variable, the one the solver weighted most.

    ε is the power of two in (w/4, w/2] for the solver's weight w: half-way towards 0 keeps
    V − ε·xᵢ^(2k) inside the set of SOS polynomials (convex, and V itself is in it), and a
    single term per variable keeps ε off the powers that V does not dominate (such as xᵢ²
    when V's quadratic part is degenerate), which no margin could absorb.
    """
    best: dict[int, int] = {}
    for k, (i, _) in params.items():
        if i not in best or values[k] > values[best[i]]:
            best[i] = k
    chosen = {}
    for i, k in best.items():
        if not values[k] > 0:
            return {}
        chosen[i] = (params[k][1], flint.fmpq(2) ** int(np.floor(np.log2(values[k] / 2))))
    return chosen


def facial_part(j: int, cond, params: dict[int, tuple[int, int]], solution, deadline: float | None) -> dict | None:
    """The certificate part of condition ``j`` of a solved SOS program through facial reduction, or None.

    ``cond`` has ``name``, ``polynomial`` (exact) and ``definite`` (ε terms to subtract: the
    solver's ε weights ``params`` are replaced by ``fixed_epsilon``); the budget is a few
    solves of the original program's size.
    """
    target = dict(zip(map(tuple, cond.polynomial.monoms()), cond.polynomial.coeffs()))
    epsilons = {}
    if cond.definite:
        chosen = fixed_epsilon(params, solution.params)
        if not chosen:
            return None
        for i, (e, eps) in chosen.items():
            key = tuple(e if v == i else 0 for v in range(len(next(iter(target)))))
            target[key] = target.get(key, flint.fmpq(0)) - eps
            epsilons[f"x{i}^{e}"] = str(eps)
    target = {tuple(int(v) for v in k): c for k, c in target.items() if c != 0}
    budget = time.perf_counter() + max(FACE_SECONDS, 2.5 * solution.seconds)   # a few solves of this size
    gram = face_certificate(target, solution.bases[j], [solution.grams[j]],
                            budget if deadline is None else min(deadline, budget), low_rank_first=not cond.definite)
    if gram is None:                     # no clean gap in the solver's spectra: the diagonally dominant stage
        seconds = max(DD_SECONDS, 2.5 * solution.seconds)
        if deadline is not None:         # z3, after it, keeps a share of the time (it proves a few −V̇ ≥ 0)
            seconds = min(seconds, DD_SHARE * (deadline - time.perf_counter()))
        gram = dd_face_certificate(target, solution.bases[j], [solution.grams[j]], time.perf_counter() + seconds)
    if gram is None:
        return None
    return {"name": cond.name, "method": "sos-exact", "polynomial": X.poly_to_json(target),
            "epsilon": epsilons, "reduction": "facial"} | X.gram_to_json(solution.bases[j], gram)
