"""Facial reduction: exact SOS certificates when no Gram matrix has a margin.

Rounding a numerical Gram matrix to an exact one needs λ_min(Q) > 0 (``exact.py``). Many
correct Lyapunov pairs have no such Q: the quadratic part of V = x0^4 + x1^4 + (x0 − 3x1)²
vanishes along x0 = 3x1, and the degree-1 block of a Gram matrix is that quadratic form,
so every Gram matrix of V (and of V − ε·Σ xᵢ^(2k)) has (x0, x1) ↦ (3, 1) in its kernel;
−V̇ = Σ h_k²(∂_kV)² of the backward generator is a sum of a few squares, so its Gram
matrices have rank 2–3 out of 30.
The SDP then has no interior point, the solver's answer is inaccurate, and rounding fails.

The fix (Borwein–Wolkowicz facial reduction, used for SOS by Permenter and Parrilo,
"Partial facial reduction", Math. Program. 2018): every feasible Q lies in a face
{B R Bᵀ : R ⪰ 0} of the PSD cone, and inside that face a strictly positive definite R
exists. We

1. read the face off a numerical Gram matrix: its eigenvalues split into a clear range
   and a clear (near-)kernel; the range is rewritten in reduced row-echelon form
   B = U·U[P]⁻¹ (identity on the pivot rows P) and its other entries are recognised as
   small-denominator rationals, because the faces of integer problems are rational;
2. solve the SDP again in the face (p = wᵀRw with the polynomials w = Bᵀz, R ⪰ t·I,
   maximise t), which now has an interior point and a margin;
3. round R, project it *exactly* onto the coefficient-matching equations A·r = p (an
   exact solve in python-flint ``fmpq_mat`` for a well-conditioned set of basic unknowns,
   the others kept at their rounded values: a minimal-norm correction Aᵀ(AAᵀ)⁻¹(…) gives
   entries of thousands of digits), prove R ⪰ 0 by exact LDLᵀ, and return Q = B R Bᵀ.

When the solver's Gram matrices show no clean gap, ``facial_lp.py`` finds the face by linear
programs (partial facial reduction with diagonally dominant certificates) and hands it back to
``face_certificate``; ``facial_lp.facial_part`` is the entry point of the check, both stages in turn.

Step 1 is a guess, and nothing rests on it: the result goes through ``verify_gram`` (the
identity zᵀQz = p and Q ⪰ 0 in exact rationals), the same check that certificate files get.
A wrong guess only means no certificate from this route.
"""

from __future__ import annotations

import time
from fractions import Fraction

import flint
import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from seq2math.sos import exact as X
from seq2math.sos.sdp import run_clarabel, svec_pairs
from seq2math.symbolic.poly import ring

Exps = tuple[int, ...]
QQ = flint.fmpq
SQRT2 = np.sqrt(2.0)
#: an eigenvalue below this fraction of the largest is a kernel candidate, above GAP times it a range one
KERNEL_LEVEL, GAP = 1e-4, 100.0
MAX_CANDIDATES = 3
#: a face solve whose dense coefficient-matching tensor (classes × r × r, and the s² r² products that build
#: it) would exceed this many entries is not attempted: at BPoly sizes (s ≈ 400) it asks for hundreds of GB
MAX_FACE_ENTRIES = 2 * 10 ** 7
#: time for facial reduction per condition, at least (it is a sequence of guesses; z3 gets the rest)
FACE_SECONDS = 1.0
def pair_classes(basis: np.ndarray) -> tuple[np.ndarray, list[Exps]]:
    """(class (s, s) int array, exponent of each class): Q[a, b] feeds the coefficient of x^(m_a+m_b)."""
    sums = basis[:, None, :] + basis[None, :, :]                       # (s, s, n)
    flat = sums.reshape(-1, basis.shape[1])
    keys, inverse = np.unique(flat, axis=0, return_inverse=True)
    return inverse.reshape(len(basis), len(basis)), [tuple(int(v) for v in k) for k in keys]


def solve_in_face(p: dict[Exps, float], basis: np.ndarray, B: np.ndarray, objective: str = "margin",
                  time_limit: float | None = None) -> tuple[np.ndarray, float] | None:
    """Numerical R (r, r) with p = (Bᵀz)ᵀR(Bᵀz): maximise t with R ⪰ tI (t ≤ 1) or minimise trace(R)."""
    r = B.shape[1]
    if len(basis) ** 2 * r * r > MAX_FACE_ENTRIES:
        return None                                                    # too large to state densely
    classes, keys = pair_classes(basis)
    row_of = {k: i for i, k in enumerate(keys)}
    if any(e not in row_of for e, v in p.items() if v != 0):
        return None
    T = np.zeros((len(keys), r, r))                                    # T[α] = Bᵀ M_α B
    np.add.at(T, classes, np.einsum("ac,bd->abcd", B, B))
    i_idx, j_idx = svec_pairs(r)
    off = i_idx != j_idx
    A_R = np.where(off, (T[:, i_idx, j_idx] + T[:, j_idx, i_idx]) / SQRT2, T[:, i_idx, j_idx])  # (m, pairs)
    b = np.zeros(len(keys))
    for e, v in p.items():
        b[row_of[e]] += v
    return solve_gram(A_R, b, r, objective, time_limit)


def solve_gram(A_R: np.ndarray, b: np.ndarray, r: int, objective: str = "margin", time_limit: float | None = None
               ) -> tuple[np.ndarray, float] | None:
    """Numerical R (r, r) ⪰ 0 with A_R·svec(R) = b (columns in ``svec_pairs`` order, off-diagonal entries
    weighted √2): maximise t with R ⪰ tI (t ≤ 1), minimise trace(R), or any feasible R ("center")."""
    import clarabel

    i_idx, j_idx = svec_pairs(r)
    off = i_idx != j_idx
    scale = float(np.max(np.abs(b))) or 1.0
    b = b / scale
    npairs = len(i_idx)
    diag = np.flatnonzero(~off)
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    if time_limit is not None:
        settings.time_limit = max(0.01, float(time_limit))
    if objective == "margin":                                          # x = [t, svec(R)]
        A = sp.vstack([sp.hstack([sp.csr_matrix((len(b), 1)), sp.csr_matrix(A_R)]),
                       sp.csr_matrix(([1.0], ([0], [0])), shape=(1, npairs + 1)),
                       sp.csr_matrix((np.concatenate([-np.ones(npairs), np.ones(len(diag))]),
                                      (np.concatenate([np.arange(npairs), diag]),
                                       np.concatenate([1 + np.arange(npairs), np.zeros(len(diag), int)]))),
                                     shape=(npairs, npairs + 1))]).tocsc()
        q = np.zeros(npairs + 1)
        q[0] = -1.0
        rhs = np.concatenate([b, [1.0], np.zeros(npairs)])
        cones = [clarabel.ZeroConeT(len(b)), clarabel.NonnegativeConeT(1), clarabel.PSDTriangleConeT(r)]
    else:                                                               # x = svec(R)
        A = sp.vstack([sp.csr_matrix(A_R), -sp.identity(npairs)]).tocsc()
        q = np.zeros(npairs)
        if objective == "trace":
            q[diag] = 1.0
        rhs = np.concatenate([b, np.zeros(npairs)])
        cones = [clarabel.ZeroConeT(len(b)), clarabel.PSDTriangleConeT(r)]
    result = run_clarabel(sp.csc_matrix((A.shape[1], A.shape[1])), q, A, rhs, cones, settings)
    if result is None or str(result.status) not in ("Solved", "AlmostSolved"):
        return None
    x = np.asarray(result.x)
    s_vec = x[1:] if objective == "margin" else x
    R = np.zeros((r, r))
    R[i_idx, j_idx] = np.where(off, s_vec / SQRT2, s_vec)
    R[j_idx, i_idx] = R[i_idx, j_idx]
    margin = float(x[0]) if objective == "margin" else float(np.linalg.eigvalsh(R)[0])
    return R * scale, margin * scale


def candidate_ranks(gram: np.ndarray) -> list[int]:
    """Plausible ranks of the face: cuts in the spectrum with a gap of at least GAP, largest rank first."""
    values = np.sort(np.linalg.eigvalsh((gram + gram.T) / 2))[::-1]
    top = values[0]
    if top <= 0:
        return []
    ranks = []
    for r in range(len(values) - 1, 0, -1):
        small = max(values[r], 0.0)
        if small < KERNEL_LEVEL * top and values[r - 1] > GAP * small and values[r - 1] > 1e-6 * top:
            ranks.append(r)
    return ranks[:MAX_CANDIDATES]


def simple_rational(value: float, tolerance: float, max_denominator: int) -> Fraction | None:
    """The rational with the smallest denominator found within ``tolerance`` (continued fractions)."""
    for limit in (1, 2, 3, 4, 6, 8, 12, 16, 24, 36, 60, 100, 1000, 10000):
        if limit > max_denominator:
            break
        guess = Fraction(value).limit_denominator(limit)
        if abs(float(guess) - value) <= tolerance:
            return guess
    return None


def echelon_form(U: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The column space of ``U`` (s, d) as C = U·U[p]⁻¹ (s, d), the identity on the d pivot rows p (sorted,
    chosen by a pivoted QR for conditioning): the reduced row-echelon basis, in floats; None when U[p] is
    singular."""
    _, _, pivots = sla.qr(U.T, pivoting=True)
    pivots = np.sort(pivots[:U.shape[1]])
    try:
        return U @ np.linalg.inv(U[pivots]), pivots
    except np.linalg.LinAlgError:
        return None


def rational_range(gram: np.ndarray, rank: int, tolerance: float = 1e-6, max_denominator: int = 10000
                   ) -> list[list[QQ]] | None:
    """A rational basis B (s, rank) of the top-``rank`` eigenspace, in reduced row-echelon form."""
    values, vectors = np.linalg.eigh((gram + gram.T) / 2)
    echelon = echelon_form(vectors[:, ::-1][:, :rank])                 # of the top eigenvectors, largest first
    if echelon is None:
        return None
    B, pivots = echelon
    tolerance *= max(1.0, float(np.max(np.abs(B))))
    rows = []
    for a in range(len(B)):
        row = []
        for c in range(rank):
            f = (Fraction(int(a == pivots[c])) if a in pivots
                 else simple_rational(float(B[a, c]), tolerance, max_denominator))
            if f is None:          # no small-denominator rational: not a face of an integer problem
                return None
            row.append(QQ(f.numerator, f.denominator))
        rows.append(row)
    return rows


def kernel_range(gram: np.ndarray, rank: int, tolerance: float = 1e-3, max_denominator: int = 100
                 ) -> list[list[QQ]] | None:
    """A rational basis B (s, rank) of the orthogonal complement of a rational kernel read off ``gram``'s
    bottom ``s − rank`` eigenvectors: each written in reduced row-echelon form (1 on its pivot), entries below
    ``tolerance`` read as 0 and the others as small-denominator rationals.

    ``rational_range`` rationalises the range, whose entries carry the solver's error in every row. A face
    forced by a few coefficients has a kernel of few, simple entries: bpoly system 19 of our test set has V ⊇
    (x3 − 2x2³)², so every Gram matrix sends x3 + x2³/2 to 0, which the solver's answer gave as
    (1, 0.499997) on those two monomials and errors of 10⁻⁴ on two others, too large for the range's 10⁻⁶
    but clearly apart from the kernel's own entries (session 20)."""
    values, vectors = np.linalg.eigh((gram + gram.T) / 2)
    size, dimension = len(values), len(values) - rank
    if dimension <= 0 or rank <= 0:
        return None
    echelon = echelon_form(vectors[:, :dimension])                     # of the kernel, smallest eigenvalues first
    if echelon is None:
        return None
    C, pivots = echelon
    pivots = [int(v) for v in pivots]
    is_pivot = set(pivots)
    others = [a for a in range(size) if a not in is_pivot]
    B = [[QQ(0)] * len(others) for _ in range(size)]
    for column, a in enumerate(others):                                # e_a − Σ_c C[a, c]·e_(pivot c): ⊥ every kernel vector
        B[a][column] = QQ(1)
        for c, pivot in enumerate(pivots):
            value = float(C[a, c])
            f = Fraction(0) if abs(value) < tolerance else simple_rational(value, tolerance, max_denominator)
            if f is None:
                return None
            B[pivot][column] = QQ(-f.numerator, f.denominator)
    return B


def _face_polynomials(B: list[list[QQ]], basis: np.ndarray):
    """w_c = Σ_a B[a][c]·z_a as python-flint polynomials."""

    R = ring(basis.shape[1])
    monomials = [tuple(int(v) for v in m) for m in basis]
    return [R.from_dict({m: B[a][c] for a, m in enumerate(monomials) if B[a][c] != 0})
            for c in range(len(B[0]))]


def exact_in_face(p: dict[Exps, QQ], basis: np.ndarray, B: list[list[QQ]], R_num: np.ndarray, margin: float
                  ) -> list[list[QQ]] | None:
    """Q = B R Bᵀ exact with zᵀQz = p and R ⪰ 0 proved, or None. R is R_num rounded and projected."""
    r = len(B[0])
    w = _face_polynomials(B, basis)
    i_idx, j_idx = np.triu_indices(r)                                  # unknowns R[c, d], c ≤ d
    columns = []
    for c, d in zip(i_idx, j_idx):
        product = w[c] * w[d] * (1 if c == d else 2)
        columns.append(dict(zip(map(tuple, product.monoms()), product.coeffs())))
    keys = sorted(set(p) | {k for col in columns for k in col})
    row_of = {k: i for i, k in enumerate(keys)}
    A_float = np.zeros((len(keys), len(columns)))
    entries = [[QQ(0)] * len(columns) for _ in keys]
    for j, col in enumerate(columns):
        for k, v in col.items():
            entries[row_of[k]][j] = v
            A_float[row_of[k], j] = float(v)
    if not np.any(A_float):
        return None
    _, R_qr, order = sla.qr(A_float.T, pivoting=True, mode="economic")  # independent rows of A
    diagonal = np.abs(np.diag(R_qr))
    rank = int(np.sum(diagonal > 1e-10 * diagonal[0]))
    rows = sorted(order[:rank])
    _, _, column_order = sla.qr(A_float[rows], pivoting=True, mode="economic")
    basic = sorted(column_order[:rank])                                # unknowns solved for; the rest stay rounded
    A_basic = flint.fmpq_mat([[entries[i][j] for j in basic] for i in rows])           # (rank, rank)
    A_all = flint.fmpq_mat([entries[i] for i in rows])                                 # (rank, unknowns)
    target = flint.fmpq_mat([[p.get(keys[i], QQ(0))] for i in rows])
    size = max(1, len(basis))
    first = int(np.clip(np.ceil(np.log10(20 * size / max(margin, 1e-12))), 2, 12))
    for digits in sorted({first, 6, 9}):
        if digits < first:
            continue
        denominator = 10 ** digits
        rounded = [QQ(int(round(R_num[c, d] * denominator)), denominator) for c, d in zip(i_idx, j_idx)]
        r0 = flint.fmpq_mat([[v] for v in rounded])
        try:   # basic unknowns absorb the residual: small denominators, unlike a minimal-norm correction
            shift = A_basic.solve(target - A_all * r0)
        except ZeroDivisionError:
            return None
        values = list(rounded)
        for position, j in enumerate(basic):
            values[j] += shift[position, 0]
        R = [[QQ(0)] * r for _ in range(r)]
        for k, (c, d) in enumerate(zip(i_idx, j_idx)):
            R[c][d] = R[d][c] = values[k]
        R_float = np.array([[float(v) for v in row] for row in R])
        if np.linalg.eigvalsh(R_float)[0] < -1e-9 * np.max(np.abs(R_float)):
            continue               # clearly indefinite: a finer grid may help, exact arithmetic cannot
        if X.is_psd_exact(R):
            Bm = flint.fmpq_mat(B)
            Q = Bm * flint.fmpq_mat(R) * Bm.transpose()
            gram = [[Q[a, b] for b in range(len(basis))] for a in range(len(basis))]
            ok, _ = X.verify_gram(p, basis, gram)
            return gram if ok else None
    return None


def face_certificate(p: dict[Exps, QQ], basis: np.ndarray, hints: list[np.ndarray],
                     deadline: float | None = None, max_solves: int = 8, low_rank_first: bool = False,
                     face: np.ndarray | None = None, fallbacks: tuple[str, ...] = ("center", "trace")
                     ) -> list[list[QQ]] | None:
    """An exact Gram matrix of p (monomial basis ``basis``) through a face read off a hint, or None.

    ``hints`` are numerical Gram matrices (s, s) of p or of a nearby polynomial. When they run
    out, two more come from solves without a margin: a feasibility solve (an interior-point
    method ends near the relative interior of the feasible set, so the spectrum shows the
    minimal face) and a minimum-trace solve (low rank: a clean gap when p is a sum of a
    few squares; ``low_rank_first`` runs it before the hints, for conditions such as −V̇
    that are expected to be such sums). A face whose solve still has no margin yields its
    own Gram matrix as a new hint, so faces are reduced repeatedly. ``face`` (s, r), when known to hold every
    Gram matrix (``dd_face_certificate``), is where those two solves run instead of the whole cone, in the
    order of ``fallbacks``.
    """
    p = {k: v for k, v in p.items() if v != 0}
    p_float = {k: float(v) for k, v in p.items()}
    tried: set[tuple] = set()
    pending = list(hints)
    fallbacks = list(fallbacks)
    face = np.eye(len(basis)) if face is None else face
    solves = 0
    if low_rank_first and "trace" in fallbacks:
        fallbacks.remove("trace")
        pending.insert(0, None)
    while solves < max_solves and not expired(deadline):
        if pending and pending[0] is None:                           # the low-rank solve, first
            pending.pop(0)
            solved = solve_in_face(p_float, basis, face, "trace", time_left(deadline))
            solves += 1
            if solved is not None:
                pending.insert(0, face @ solved[0] @ face.T)
            continue
        if not pending:
            if not fallbacks:
                return None
            solved = solve_in_face(p_float, basis, face, fallbacks.pop(0), time_left(deadline))
            solves += 1
            if solved is not None:
                pending.append(face @ solved[0] @ face.T)
            continue
        gram = pending.pop(0)
        for B in face_guesses(gram, tried):
            if solves >= max_solves or expired(deadline):
                return None
            B_float = np.array([[float(v) for v in row] for row in B])
            solved = solve_in_face(p_float, basis, B_float, "margin", time_left(deadline))
            solves += 1
            if solved is None:
                continue
            R, margin = solved
            if has_margin(R, margin):
                certificate = exact_in_face(p, basis, B, R, margin)
                if certificate is not None:
                    return certificate
            else:                                                   # a face, but not the minimal one
                pending.append(B_float @ R @ B_float.T)
    return None


def face_guesses(gram: np.ndarray, tried: set[tuple]):
    """Rational range bases of ``gram`` for each plausible rank and rounding tolerance, then the complements of
    its rational kernels (``kernel_range``), new ones only."""
    ranks = candidate_ranks(gram)
    guesses = [(rational_range, rank, tolerance, max_denominator) for rank in ranks
               for tolerance, max_denominator in ((1e-6, 10000), (1e-4, 100))]
    guesses += [(kernel_range, rank, 1e-3, 100) for rank in ranks]          # the kernel's few entries, after
    for guess, rank, tolerance, max_denominator in guesses:
        B = guess(gram, rank, tolerance, max_denominator)
        if B is None:
            continue
        key = tuple(str(v) for row in B for v in row)
        if key not in tried:
            tried.add(key)
            yield B


def has_margin(R: np.ndarray, margin: float) -> bool:
    """A face solve's margin is large enough to round R to an exact positive semidefinite matrix."""
    return margin > 1e-7 * max(1.0, float(np.max(np.abs(R))))


def expired(deadline: float | None) -> bool:
    return deadline is not None and time.perf_counter() > deadline


def time_left(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.05, deadline - time.perf_counter())
