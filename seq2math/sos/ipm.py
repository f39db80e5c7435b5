"""A primal-dual interior-point solver for the SOS programs of ``seq2math.sos.sdp``.

Why a solver of our own: a general conic solver (Clarabel) factors the whole KKT system, whose
PSD-cone block is dense with one row per Gram entry: a 60 × 60 Gram matrix gives a dense block
of 1,830 rows, 0.3–0.4 s per iteration on one core, and a BPoly-sized check (two blocks of
about 95) does not finish in a minute. SOS programs have few equality constraints (one per
monomial) next to many Gram entries, so the classical SDP method is much cheaper: reduce every
Newton step to the Schur complement M (one row per monomial) and solve that.

The program (docs/verification.md, "the solver"):

    minimise Σ_j s_j  over  Q'_p ⪰ 0 (one per Gram block p), LP variables x ≥ 0
    subject to, for every monomial row r:  A_r • Q' + a_rᵀ x = b_r

where the margin of condition j is t_j = cap − s_j (Q = Q' + t_j·I, so "Q ⪰ t_j·I" becomes
"Q' ⪰ 0"), the parameters c with a sign constraint ``c_k ≥ 0`` are LP variables, every other
parameter is split c = c⁺ − c⁻, and every other inequality gets a slack. A_r has a 1 at every
ordered pair (a, b) of basis monomials with m_a + m_b = α_r. The margin is always attainable
(Q' = Q − t·I is positive definite for t small enough), so the optimum exists and is finite.

Method: the HKM search direction (Helmberg, Rendl, Vanderbei & Wolkowicz 1996; Kojima, Shindoh
& Hara 1997; Monteiro 1997) with Mehrotra's predictor–corrector, infeasible start. The Schur
complement M_rs = Σ_p A_r • (X_p A_s Z_p⁻¹) + Σ a_r x/z a_s is built per block with one
matrix product: X_p A_s for every row s at once is a dense–sparse product, then one GEMM with
Z_p⁻¹, then a sparse gather for A_r •. The answer goes through the same exact rounding as
Clarabel's, so a wrong or inaccurate answer can never become a certificate; it can only fail
to be one. ``solve_sos`` falls back to Clarabel when this solver does not converge.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp

#: stop when the relative gap and both relative infeasibilities are below this
TOLERANCE = 1e-9
#: accept as "almost solved" at this accuracy when the iterations run out or stall
LOOSE_TOLERANCE = 1e-6
MAX_ITERATIONS = 80
#: fraction of the step to the boundary of the cone
STEP_FRACTION = 0.95
#: memory for one block's batched product X·A_s·Z⁻¹ (floats): rows are processed in chunks of this size
CHUNK_FLOATS = 4_000_000
#: rounds of iterative refinement of each Newton direction
REFINEMENTS = 2
#: stop when the error has not improved for this many iterations
STALL_ITERATIONS = 3


@dataclass
class _Part:
    """One Gram block: its ordered matrix entries (row, a, b, coefficient) and the rows it touches."""

    size: int
    rows: np.ndarray          # global row indices this block appears in (sorted)
    gather: sp.csr_matrix     # (len(rows), size²): A_r as flattened matrices (both orders of an off-diagonal pair)
    _chunks: list | None = None

    def chunks(self) -> list:
        """[((start, stop), C)] over the rows, C the sparse ((stop − start)·size, size) matrix with
        C[(s, b), a] = A_s[a, b]: C @ X stacks (X A_s)ᵀ. Built once, in chunks of bounded memory."""
        if self._chunks is None:
            n, k = self.size, len(self.rows)
            step = max(1, CHUNK_FLOATS // (n * n))
            self._chunks = []
            for start in range(0, k, step):
                stop = min(k, start + step)
                coo = self.gather[start:stop].tocoo()
                a, b = np.divmod(coo.col, n)
                columns = sp.csr_matrix((coo.data, (coo.row * n + b, a)), shape=((stop - start) * n, n))
                self._chunks.append(((start, stop), columns))
        return self._chunks


@dataclass
class IPMResult:
    status: str               # "solved", "almost solved", "time limit", "failed"
    X: list[np.ndarray]       # the Q' of every block
    x: np.ndarray             # LP variables
    iterations: int
    detail: str = ""


class ConeProgram:
    """min cᵀx  s.t.  Σ_p A_p(X_p) + A_lp x = b, X_p ⪰ 0, x ≥ 0 (the parts' A_p given by ``_Part``)."""

    def __init__(self, parts: list[_Part], A_lp: sp.csr_matrix, c_lp: np.ndarray, b: np.ndarray):
        self.parts, self.A_lp, self.c_lp, self.b = parts, A_lp.tocsr(), c_lp, b
        self.A_lp_t = self.A_lp.T.tocsr()
        self.m = len(b)

    def apply(self, X: list[np.ndarray], x: np.ndarray) -> np.ndarray:
        """A(X, x): one value per row."""
        out = self.A_lp @ x
        for part, Xp in zip(self.parts, X):
            np.add.at(out, part.rows, part.gather @ Xp.ravel())
        return out

    def adjoint(self, y: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """Aᵀ(y): the symmetric matrix Σ y_r A_r per block, and the LP part."""
        mats = []
        for part in self.parts:
            mats.append((part.gather.T @ y[part.rows]).reshape(part.size, part.size))
        return mats, self.A_lp_t @ y


def _schur(program: ConeProgram, X: list[np.ndarray], Zinv: list[np.ndarray], d: np.ndarray) -> np.ndarray:
    """M_rs = Σ_p A_r • (X_p A_s Z_p⁻¹) + (A_lp diag(d) A_lpᵀ)_rs."""
    M = (program.A_lp @ sp.diags(d) @ program.A_lp_t).toarray() if program.A_lp.nnz else np.zeros((program.m,) * 2)
    for part, Xp, Zi in zip(program.parts, X, Zinv):
        n, k = part.size, len(part.rows)
        block = np.empty((k, k))
        for (start, stop), columns in part.chunks():
            # columns: rows (s, b), columns a, A_s[a, b]; so columns @ X = (X A_s)ᵀ stacked, as X is symmetric
            XA_t = columns @ Xp                                            # ((stop − start)·n, n): rows (s, b), cols i
            XA = XA_t.reshape(stop - start, n, n).transpose(0, 2, 1)       # [s, i, b] = (X A_s)[i, b]
            W = (XA.reshape((stop - start) * n, n) @ Zi).reshape(stop - start, n * n)   # vec(X A_s Z⁻¹)
            block[:, start:stop] = part.gather @ W.T                       # A_r • (X A_s Z⁻¹)
        M[np.ix_(part.rows, part.rows)] += 0.5 * (block + block.T)
    return M


def _max_step(L: np.ndarray, D: np.ndarray) -> float:
    """Largest α with L Lᵀ + α D ⪰ 0 (∞ when D ⪰ 0)."""
    if L.size == 0:
        return np.inf
    T = la.solve_triangular(L, D, lower=True)
    T = la.solve_triangular(L, T.T, lower=True)
    smallest = la.eigvalsh(0.5 * (T + T.T), subset_by_index=[0, 0])[0]
    return np.inf if smallest >= 0 else -1.0 / smallest


def _max_step_lp(x: np.ndarray, dx: np.ndarray) -> float:
    negative = dx < 0
    return float(np.min(-x[negative] / dx[negative])) if np.any(negative) else np.inf


def solve_cone(program: ConeProgram, deadline: float | None = None,
               loose_tolerance: float = LOOSE_TOLERANCE) -> IPMResult:
    """Mehrotra predictor–corrector with the HKM direction; see the module docstring.

    When the iterations run out or stall, the best iterate is "almost solved" if its error is below
    ``loose_tolerance``."""
    sizes = [part.size for part in program.parts]
    n_lp = program.A_lp.shape[1]
    N = sum(sizes) + n_lp
    b, c_lp = program.b, program.c_lp
    X = [np.eye(n) for n in sizes]
    Z = [np.eye(n) for n in sizes]
    x, z = np.ones(n_lp), np.ones(n_lp)
    y = np.zeros(program.m)
    norm_b, norm_c = 1.0 + np.linalg.norm(b), 1.0 + np.linalg.norm(c_lp)
    best = None
    for iteration in range(MAX_ITERATIONS):
        if deadline is not None and time.perf_counter() > deadline:
            return IPMResult("time limit", X, x, iteration, "time limit")
        rp = b - program.apply(X, x)
        AtY, aty = program.adjoint(y)
        Rd = [-Aty - Zp for Aty, Zp in zip(AtY, Z)]
        rd = c_lp - aty - z
        gap = sum(float(np.vdot(Xp, Zp)) for Xp, Zp in zip(X, Z)) + float(x @ z)
        mu = gap / N
        pobj, dobj = float(c_lp @ x), float(b @ y)
        pinf = np.linalg.norm(rp) / norm_b
        dinf = np.sqrt(sum(np.vdot(R, R) for R in Rd) + rd @ rd) / norm_c
        relgap = abs(pobj - dobj) / (1.0 + abs(pobj) + abs(dobj))
        error = max(pinf, dinf, relgap)
        if best is None or error < best[0]:
            best = (error, [Xp.copy() for Xp in X], x.copy(), iteration)
        if error < TOLERANCE:
            return IPMResult("solved", X, x, iteration)
        if iteration - best[3] >= STALL_ITERATIONS:
            break                                        # accuracy lost near a degenerate optimum: keep the best
        try:
            LX = [la.cholesky(Xp, lower=True) for Xp in X]
            LZ = [la.cholesky(Zp, lower=True) for Zp in Z]
        except la.LinAlgError:
            break
        Zinv = [la.cho_solve((L, True), np.eye(len(L))) for L in LZ]
        M = _schur(program, X, Zinv, x / z)
        M[np.diag_indices_from(M)] += 1e-14 * max(1.0, float(np.max(np.abs(np.diag(M)))))
        try:
            factor = la.cho_factor(M, lower=True)
        except la.LinAlgError:
            try:
                M[np.diag_indices_from(M)] += 1e-9 * max(1.0, float(np.max(np.abs(np.diag(M)))))
                factor = la.cho_factor(M, lower=True)
            except la.LinAlgError:
                break

        def direction(sigma, corr_mat, corr_lp):
            # ΔX = T + X Aᵀ(Δy) Z⁻¹ with T = σμZ⁻¹ − X − X R_d Z⁻¹ − corrector; A(ΔX) = r_p gives M Δy = r_p − A(T)
            T = [sigma * mu * Zi - Xp - Xp @ R @ Zi - C for Zi, Xp, R, C in zip(Zinv, X, Rd, corr_mat)]
            T_lp = sigma * mu / z - x - x * rd / z - corr_lp
            rhs = rp - program.apply(T, T_lp)
            dy = la.cho_solve(factor, rhs)
            for round_ in range(REFINEMENTS + 1):        # iterative refinement against the true operator
                AtD, atd = program.adjoint(dy)
                dX = []
                for Tp, Xp, D, Zi in zip(T, X, AtD, Zinv):
                    step = Tp + Xp @ D @ Zi
                    dX.append(0.5 * (step + step.T))
                dx = T_lp + x * atd / z
                residual = rp - program.apply(dX, dx)
                if round_ == REFINEMENTS or np.linalg.norm(residual) <= 1e-14 * norm_b:
                    break                                # AtD, dX and dx belong to this Δy
                dy = dy + la.cho_solve(factor, residual)
            dZ = [R - A for R, A in zip(Rd, AtD)]
            dz = rd - atd
            return dX, dx, dy, dZ, dz

        def steps(dX, dx, dZ, dz):
            ap = min([_max_step(L, D) for L, D in zip(LX, dX)] + [_max_step_lp(x, dx)])
            ad = min([_max_step(L, D) for L, D in zip(LZ, dZ)] + [_max_step_lp(z, dz)])
            return min(1.0, STEP_FRACTION * ap), min(1.0, STEP_FRACTION * ad)

        zero_mats = [np.zeros_like(Xp) for Xp in X]
        dX, dx, dy, dZ, dz = direction(0.0, zero_mats, np.zeros(n_lp))
        ap, ad = steps(dX, dx, dZ, dz)
        mu_aff = (sum(float(np.vdot(Xp + ap * D, Zp + ad * E)) for Xp, D, Zp, E in zip(X, dX, Z, dZ))
                  + float((x + ap * dx) @ (z + ad * dz))) / N
        sigma = min(1.0, (mu_aff / mu) ** 3) if mu > 0 else 0.0
        corr = [D @ E @ Zi for D, E, Zi in zip(dX, dZ, Zinv)]
        dX, dx, dy, dZ, dz = direction(sigma, corr, dx * dz / z)
        ap, ad = steps(dX, dx, dZ, dz)
        X = [Xp + ap * D for Xp, D in zip(X, dX)]
        x = x + ap * dx
        y = y + ad * dy
        Z = [Zp + ad * D for Zp, D in zip(Z, dZ)]
        z = z + ad * dz
    error, Xb, xb, iteration = best
    if error < loose_tolerance:
        return IPMResult("almost solved", Xb, xb, iteration)
    return IPMResult("failed", Xb, xb, iteration, f"no convergence (error {error:.1e})")


def program_from_blocks(program, blocks) -> tuple[ConeProgram, dict]:
    """The ``ConeProgram`` of an ``SOSProgram`` whose conditions were built into ``sdp._Block``s, and the
    layout needed to read the answer back (``read_answer``)."""
    P = program.nparams
    T = 1 if program.shared_margin else len(blocks)
    row_offsets = np.cumsum([0] + [block.A_q.shape[0] for block in blocks])
    nonneg = set()
    general = []
    for g, h in program.inequalities:
        if len(g) == 1 and h == 0 and next(iter(g.values())) < 0:
            nonneg.add(next(iter(g)))                      # −c_k ≤ 0: c_k is an LP variable
        else:
            general.append((g, h))
    # LP columns: s_1..s_T, then per parameter one (c_k ≥ 0) or two (c⁺, c⁻) columns, then one slack per inequality
    param_cols: dict[int, tuple[int, int | None]] = {}
    column = T
    for k in range(P):
        if k in nonneg:
            param_cols[k] = (column, None)
            column += 1
        else:
            param_cols[k] = (column, column + 1)
            column += 2
    slack0 = column
    n_lp = slack0 + len(general)
    m = int(row_offsets[-1]) + len(general)
    b = np.zeros(m)
    lp_rows, lp_cols, lp_vals = [], [], []
    parts: list[_Part] = []
    layout = {"T": T, "param_cols": param_cols, "parts": []}
    for j, block in enumerate(blocks):
        offset = int(row_offsets[j])
        b[offset:offset + len(block.b)] = block.b
        i_idx, j_idx = block.pairs
        coo = block.A_q.tocoo()
        pi, pj = i_idx[coo.col], j_idx[coo.col]
        diagonal = pi == pj
        coef = np.where(diagonal, coo.data, coo.data / np.sqrt(2.0))
        d = np.zeros(block.A_q.shape[0])                   # A_r • I per row: the margin's coefficient
        np.add.at(d, coo.row[diagonal], coef[diagonal])
        b[offset:offset + len(d)] -= program.margin_cap * d
        s_col = 0 if program.shared_margin else j
        nz = np.flatnonzero(d)
        lp_rows.append(offset + nz), lp_cols.append(np.full(len(nz), s_col)), lp_vals.append(-d[nz])
        part_of = np.empty(len(block.basis), np.int64)
        local = np.empty(len(block.basis), np.int64)
        for p, members in enumerate(block.parts):
            part_of[members] = p
            local[members] = np.arange(len(members))
        for p, members in enumerate(block.parts):
            n = len(members)
            mine = part_of[pi] == p
            rows, a, bb, v = coo.row[mine], local[pi[mine]], local[pj[mine]], coef[mine]
            off = a != bb
            rows = np.concatenate([rows, rows[off]])
            flat = np.concatenate([a * n + bb, bb[off] * n + a[off]])
            v = np.concatenate([v, v[off]])
            touched, local_row = np.unique(rows, return_inverse=True)
            gather = sp.csr_matrix((v, (local_row, flat)), shape=(len(touched), n * n))
            parts.append(_Part(n, touched + offset, gather))
            layout["parts"].append((j, members))
        A_c = block.A_c.tocoo()
        for r, k, v in zip(A_c.row, A_c.col, A_c.data):
            plus, minus = param_cols[int(k)]
            lp_rows.append([offset + r]), lp_cols.append([plus]), lp_vals.append([v])
            if minus is not None:
                lp_rows.append([offset + r]), lp_cols.append([minus]), lp_vals.append([-v])
    for i, (g, h) in enumerate(general):
        row = int(row_offsets[-1]) + i
        b[row] = h
        for k, v in g.items():
            plus, minus = param_cols[k]
            lp_rows.append([row]), lp_cols.append([plus]), lp_vals.append([v])
            if minus is not None:
                lp_rows.append([row]), lp_cols.append([minus]), lp_vals.append([-v])
        lp_rows.append([row]), lp_cols.append([slack0 + i]), lp_vals.append([1.0])
    A_lp = sp.csr_matrix((np.concatenate([np.asarray(v, float) for v in lp_vals]) if lp_vals else np.zeros(0),
                          (np.concatenate([np.asarray(r, np.int64) for r in lp_rows]) if lp_rows else np.zeros(0, np.int64),
                           np.concatenate([np.asarray(c, np.int64) for c in lp_cols]) if lp_cols else np.zeros(0, np.int64))),
                         shape=(m, n_lp))
    c_lp = np.zeros(n_lp)
    c_lp[:T] = 1.0
    return ConeProgram(parts, A_lp, c_lp, b), layout


def read_answer(program, blocks, layout: dict, result: IPMResult):
    """(margins t_j, parameters c, full Gram matrices Q_j), all in the units of ``sdp._unpack``."""
    T, x = layout["T"], result.x
    t = program.margin_cap - x[:T]
    params = np.zeros(program.nparams)
    for k, (plus, minus) in layout["param_cols"].items():
        params[k] = x[plus] - (x[minus] if minus is not None else 0.0)
    grams = [np.zeros((len(block.basis),) * 2) for block in blocks]
    for (j, members), Xp in zip(layout["parts"], result.X):
        tj = t[0 if program.shared_margin else j]
        grams[j][np.ix_(members, members)] = Xp + tj * np.eye(len(members))
    margins = [float(t[0 if program.shared_margin else j]) * block.scale for j, block in enumerate(blocks)]
    return margins, params, [G * block.scale for G, block in zip(grams, blocks)]
