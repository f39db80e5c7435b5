"""Sum-of-squares programs built as sparse matrices and solved by Clarabel (SCS fallback).

A program has free parameters c (for a fixed candidate: only the ε weights of the
positive definite term; for findlyap: also the coefficients of V) and conditions
"p_j(c) is SOS", each written as p_j(c) = z_jᵀ Q_j z_j with Q_j ⪰ t_j·I. Coefficient
matching is one sparse matrix per condition: row α collects the Gram entries (a, b)
with m_a + m_b = α. We maximise Σ t_j with t_j ≤ 1: the margin makes rounding to an
exact certificate possible (docs/verification.md) and the cap keeps the SDP bounded.

The default path hands the matrices straight to Clarabel's native API (no modelling
layer: for the small problems of 2–3 variables, cvxpy's compilation alone costs more
than the solve). ``backend="cvxpy"`` feeds the same matrices to cvxpy (Clarabel or SCS)
and is the fallback when the native solve fails. ``backend="ipm"`` is our Schur-complement
interior-point method (``seq2math.sos.ipm``, Clarabel as its fallback), much faster on large
Gram blocks; ``backend="auto"`` (the check's) picks it for blocks of IPM_MIN_BLOCK rows or more.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import scipy.sparse as sp

from seq2math.jobs.workers import note_thread_pool
from seq2math.sos.newton import half_newton_basis
from seq2math.sos.sparsity import SPARSITY_LEVELS, gram_blocks

Exps = tuple[int, ...]
SQRT2 = np.sqrt(2.0)
#: ``backend="auto"`` uses ``seq2math.sos.ipm`` when some Gram block has at least this many rows, Clarabel below:
#: Clarabel's dense cone block grows with the square of the block's entries (docs/performance.md), while for
#: small programs its compiled loop beats our Python iterations
IPM_MIN_BLOCK = 40


@dataclass
class SOSCondition:
    """p(c) = constant + Σ_k c_k·parametric[k] must be SOS. Coefficients are floats here."""

    name: str
    constant: dict[Exps, float]
    parametric: dict[int, dict[Exps, float]] = field(default_factory=dict)  # parameter index -> terms
    basis: np.ndarray | None = None         # forced Gram basis (benchmarks); default: half Newton polytope


@dataclass
class SOSProgram:
    nvars: int
    nparams: int
    conditions: list[SOSCondition]
    inequalities: list[tuple[dict[int, float], float]] = field(default_factory=list)  # Σ g_k c_k ≤ h
    margin_cap: float = 1.0
    #: one margin t for all conditions (maximise the smallest): needed when conditions share parameters,
    #: otherwise Σ t_j could trade one infeasible condition for a large margin elsewhere
    shared_margin: bool = False
    #: Gram matrix blocks (``seq2math.sos.sparsity``): "dense" (one block), "signs" (lossless sign-symmetry
    #: blocks) or "terms" (the first TSSOS step, sparser; ``solve_sos`` redoes a program that gets no
    #: positive margin with "signs", so the verdict is the dense one)
    sparsity: str = "dense"


class SolverStatus(str, Enum):
    """How a solve ended. The values are the words records and messages use."""

    SOLVED = "solved"                 # margins, parameters and Gram matrices are the solver's answer
    INFEASIBLE = "infeasible"         # no SOS decomposition exists: structurally (support) or primal infeasible
    FAILED = "failed"                 # numerical failure, solver error or time limit ("detail" says which)

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


@dataclass
class SOSSolution:
    status: SolverStatus              # a plain string is read as the SolverStatus of that value
    solver: str
    margins: list[float]              # t_j per condition
    params: np.ndarray                # c
    grams: list[np.ndarray]           # Q_j (unscaled), full symmetric
    bases: list[np.ndarray]           # z_j exponents (s_j, n)
    seconds: float
    detail: str = ""                  # why it failed or was infeasible ("status MaxTime", "solver panic ...")
    #: per condition, the diagonal blocks of its Gram matrix (index arrays into its basis; one block when dense);
    #: the entries of grams[j] outside them are 0
    blocks: list[list[np.ndarray]] = field(default_factory=list)
    sparsity: str = "dense"           # the level that gave this answer

    def __post_init__(self):
        self.status = SolverStatus(self.status)


def _no_answer(status: SolverStatus, solver: str, seconds: float = 0.0, detail: str = "") -> SOSSolution:
    """A solution without margins, parameters or Gram matrices (infeasible or failed)."""
    return SOSSolution(status, solver, [], np.zeros(0), [], [], seconds, detail)


@dataclass
class _Block:
    """Sparse coefficient matching for one condition: A_q q + A_c c = b (rows = monomials).

    q holds the svec of each diagonal block of the Gram matrix in turn (``parts``); ``pairs``
    are the (i, j) positions in the full basis of every entry of q, in that order."""

    basis: np.ndarray
    A_q: sp.csr_matrix
    A_c: sp.csr_matrix
    b: np.ndarray
    scale: float
    pairs: tuple[np.ndarray, np.ndarray]
    parts: list[np.ndarray]               # index arrays into basis: the Gram matrix's diagonal blocks


def svec_pairs(size: int) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) with i ≤ j in Clarabel's order: upper triangle, column by column."""
    rows, cols = np.tril_indices(size)
    return cols, rows


def _encode(exps: np.ndarray, radix: int) -> np.ndarray:
    return exps @ (radix ** np.arange(exps.shape[1], dtype=np.int64))


def block_pairs(parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The full-basis positions (i, j) of the svec entries of each block, blocks one after another."""
    firsts, seconds = [], []
    for part in parts:
        i_local, j_local = svec_pairs(len(part))
        firsts.append(part[i_local]), seconds.append(part[j_local])
    if not firsts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(firsts), np.concatenate(seconds)


def _terms_arrays(terms: dict[Exps, float], nvars: int) -> tuple[np.ndarray, np.ndarray]:
    exps = np.array(list(terms), dtype=np.int64).reshape(-1, nvars)
    return exps, np.fromiter(terms.values(), dtype=float, count=len(terms))


def _build_block(cond: SOSCondition, nvars: int, nparams: int, sparsity: str = "dense") -> _Block | str:
    const_exps, const_vals = _terms_arrays(cond.constant, nvars)
    param_exps, param_vals, param_cols = [const_exps[:0]], [const_vals[:0]], [np.zeros(0, np.int64)]
    for k, terms in cond.parametric.items():
        exps, vals = _terms_arrays(terms, nvars)
        param_exps.append(exps), param_vals.append(vals), param_cols.append(np.full(len(vals), k))
    param_exps, param_vals, param_cols = (np.concatenate(param_exps), np.concatenate(param_vals),
                                          np.concatenate(param_cols))
    support = np.unique(np.concatenate([const_exps[const_vals != 0], param_exps]), axis=0).reshape(-1, nvars)
    basis = cond.basis if cond.basis is not None else half_newton_basis(support)
    parts = gram_blocks(support, basis, sparsity)
    i_idx, j_idx = block_pairs(parts)
    sums = basis[i_idx] + basis[j_idx]                                          # (pairs, n)
    radix = int(max(sums.max(initial=0), support.max(initial=0), const_exps.max(initial=0))) + 1
    codes = np.concatenate([_encode(sums, radix), _encode(support, radix)])
    unique, inverse = np.unique(codes, return_inverse=True)
    pair_rows, support_rows = inverse[: len(sums)], inverse[len(sums):]
    if (cond.basis is None and not cond.parametric) or sparsity == "terms":
        produced = np.zeros(len(unique), bool)
        produced[pair_rows] = True
        missing = np.flatnonzero(~produced[support_rows])
        if len(missing):
            exponent = tuple(int(v) for v in support[missing[0]])
            return f"{cond.name}: monomial exponent {exponent} cannot appear in any SOS of this support"
    weights = np.where(i_idx == j_idx, 1.0, SQRT2)
    A_q = sp.csr_matrix((weights, (pair_rows, np.arange(len(sums)))), shape=(len(unique), len(sums)))
    b = np.zeros(len(unique))
    kept = const_vals != 0
    np.add.at(b, np.searchsorted(unique, _encode(const_exps[kept], radix)), const_vals[kept])
    A_c = sp.csr_matrix((-param_vals, (np.searchsorted(unique, _encode(param_exps, radix)), param_cols)),
                        shape=(len(unique), nparams))
    scale = float(np.max(np.abs(b))) if not cond.parametric and np.any(b) else 1.0
    return _Block(basis, A_q, A_c / scale, b / scale, scale, (i_idx, j_idx), parts)


def _unsvec(q: np.ndarray, pairs, size: int) -> np.ndarray:
    i_idx, j_idx = pairs
    values = np.where(i_idx == j_idx, q, q / SQRT2)
    Q = np.zeros((size, size))
    Q[i_idx, j_idx] = values
    Q[j_idx, i_idx] = values
    return Q


def solve_sos(program: SOSProgram, time_limit: float | None = None, backend: str = "clarabel",
              loose_tolerance: float | None = None) -> SOSSolution:
    """Maximise the Gram margins subject to the SOS conditions; see the module docstring.

    ``loose_tolerance`` (the "ipm" and "auto" backends): accept our IPM's best iterate as "almost solved"
    at this accuracy when it stalls near a degenerate optimum (default ``ipm.LOOSE_TOLERANCE``). Only a
    caller whose answer is a *proposal*, rounded and then checked exactly, should loosen it (``guided``).

    With ``program.sparsity == "terms"`` the sparse program is solved first; when it is infeasible or
    its smallest margin is not positive, the lossless "signs" program is solved in the time left."""
    if program.sparsity not in SPARSITY_LEVELS:
        raise ValueError(f"unknown sparsity {program.sparsity!r}; expected one of {', '.join(SPARSITY_LEVELS)}")
    start = time.perf_counter()
    if program.sparsity != "terms":
        return _solve_level(program, program.sparsity, time_limit, backend, loose_tolerance)
    first = _solve_level(program, "terms", time_limit, backend, loose_tolerance)
    if first.status is SolverStatus.SOLVED and min(first.margins, default=1.0) > 0:
        return first
    left = None if time_limit is None else time_limit - (time.perf_counter() - start)
    if left is not None and left <= 0:
        return first
    solution = _solve_level(program, "signs", left, backend, loose_tolerance)
    solution.seconds = time.perf_counter() - start
    return solution


def _solve_level(program: SOSProgram, sparsity: str, time_limit: float | None, backend: str,
                 loose_tolerance: float | None = None) -> SOSSolution:
    """``solve_sos`` with the Gram blocks of one sparsity level."""
    start = time.perf_counter()
    blocks = []
    for cond in program.conditions:
        block = _build_block(cond, program.nvars, program.nparams, sparsity)
        if isinstance(block, str):
            return _no_answer(SolverStatus.INFEASIBLE, "structure", seconds=time.perf_counter() - start, detail=block)
        blocks.append(block)
    if backend == "auto":
        largest = max((len(part) for block in blocks for part in block.parts), default=0)
        backend = "ipm" if largest >= IPM_MIN_BLOCK else "clarabel"
    if backend == "ipm":
        solution = _solve_ipm(program, blocks, time_limit, loose_tolerance)
        if solution.status is SolverStatus.FAILED and not solution.detail.endswith("MaxTime"):
            left = None if time_limit is None else time_limit - (time.perf_counter() - start)
            fallback = _solve_clarabel(program, blocks, left) if left is None or left > 0 else solution
            if fallback is not solution:
                fallback.detail = f"ipm: {solution.detail}; " + fallback.detail
            solution = fallback
    elif backend == "clarabel":
        solution = _solve_clarabel(program, blocks, time_limit)
        if solution.status is SolverStatus.FAILED and not solution.detail.endswith("MaxTime"):
            fallback = _solve_cvxpy(program, blocks, time_limit, "SCS")
            fallback.detail = f"clarabel: {solution.detail}; " + fallback.detail
            solution = fallback
    else:
        solution = _solve_cvxpy(program, blocks, time_limit, backend.split(":")[-1].upper())
    solution.seconds = time.perf_counter() - start
    solution.sparsity = sparsity
    if solution.status is SolverStatus.SOLVED:
        solution.blocks = [block.parts for block in blocks]
    return solution


def _margin_count(program: SOSProgram, blocks: list[_Block]) -> int:
    return 1 if program.shared_margin else len(blocks)


def _layout(program: SOSProgram, blocks: list[_Block]) -> tuple[int, list[int]]:
    """Variable vector: [c (nparams), t_1..t_T, q_1, ..., q_K]; returns (size, offsets of q_j)."""
    offset = program.nparams + _margin_count(program, blocks)
    offsets = []
    for block in blocks:
        offsets.append(offset)
        offset += block.A_q.shape[1]
    return offset, offsets


def _solve_clarabel(program: SOSProgram, blocks: list[_Block], time_limit: float | None) -> SOSSolution:
    import clarabel

    nvar, offsets = _layout(program, blocks)
    P, T = program.nparams, _margin_count(program, blocks)
    eq_rows, eq_b = [], []
    for block, off in zip(blocks, offsets):
        m = block.A_q.shape[0]
        left = sp.hstack([block.A_c, sp.csr_matrix((m, off - P)), block.A_q,
                          sp.csr_matrix((m, nvar - off - block.A_q.shape[1]))])
        eq_rows.append(left), eq_b.append(block.b)
    ineq_rows, ineq_b = [], []
    if program.inequalities:                                           # Σ g_k c_k ≤ h, one sparse matrix
        rows = np.concatenate([np.full(len(g), r) for r, (g, _) in enumerate(program.inequalities)])
        cols = np.concatenate([np.fromiter(g, np.int64, len(g)) for g, _ in program.inequalities])
        vals = np.concatenate([np.fromiter(g.values(), float, len(g)) for g, _ in program.inequalities])
        ineq_rows.append(sp.csr_matrix((vals, (rows, cols)), shape=(len(program.inequalities), nvar)))
        ineq_b.append(np.array([h for _, h in program.inequalities], dtype=float))
    for j in range(T):                                                 # t_j ≤ cap
        row = sp.csr_matrix(([1.0], ([0], [P + j])), shape=(1, nvar))
        ineq_rows.append(row), ineq_b.append([program.margin_cap])
    psd_rows, psd_b, cones = [], [], [clarabel.ZeroConeT(sum(b.A_q.shape[0] for b in blocks)),
                                      clarabel.NonnegativeConeT(sum(r.shape[0] for r in ineq_rows))]
    for j, (block, off) in enumerate(zip(blocks, offsets)):            # s = q_j − t_j·svec(I) ∈ PSD
        npairs = block.A_q.shape[1]
        i_idx, j_idx = block.pairs
        diag = np.flatnonzero(i_idx == j_idx)
        rows = np.concatenate([np.arange(npairs), diag])
        cols = np.concatenate([off + np.arange(npairs), np.full(len(diag), P + (0 if program.shared_margin else j))])
        vals = np.concatenate([-np.ones(npairs), np.ones(len(diag))])
        psd_rows.append(sp.csr_matrix((vals, (rows, cols)), shape=(npairs, nvar)))
        psd_b.append(np.zeros(npairs))
        cones.extend(clarabel.PSDTriangleConeT(len(part)) for part in block.parts)
    A = sp.vstack(eq_rows + ineq_rows + psd_rows).tocsc()
    b = np.concatenate(eq_b + [np.concatenate(ineq_b) if ineq_b else np.zeros(0)] + psd_b)
    q = np.zeros(nvar)
    q[P:P + T] = -1.0
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    note_thread_pool()             # Clarabel starts a thread pool: a child forked from now on could hang in it
    if time_limit is not None:
        settings.time_limit = max(0.01, float(time_limit))
    result = run_clarabel(sp.csc_matrix((nvar, nvar)), q, A, b, cones, settings)
    if result is None:
        return _no_answer(SolverStatus.FAILED, "clarabel", detail="solver panic (numerical failure)")
    status = str(result.status)
    if status == "PrimalInfeasible":
        return _no_answer(SolverStatus.INFEASIBLE, "clarabel", detail="solver: primal infeasible")
    if status not in ("Solved", "AlmostSolved"):
        return _no_answer(SolverStatus.FAILED, "clarabel", detail=f"status {status}")
    x = np.asarray(result.x)
    return _unpack(x, program, blocks, offsets, "clarabel" + ("" if status == "Solved" else " (almost solved)"))


def _solve_ipm(program: SOSProgram, blocks: list[_Block], time_limit: float | None,
               loose_tolerance: float | None = None) -> SOSSolution:
    """The program through ``seq2math.sos.ipm`` (the Schur-complement interior-point method)."""
    from seq2math.sos import ipm

    cone, layout = ipm.program_from_blocks(program, blocks)
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    result = ipm.solve_cone(cone, deadline, ipm.LOOSE_TOLERANCE if loose_tolerance is None else loose_tolerance)
    if result.status == "time limit":
        return _no_answer(SolverStatus.FAILED, "ipm", detail="status MaxTime")
    if result.status == "failed":
        return _no_answer(SolverStatus.FAILED, "ipm", detail=result.detail)
    margins, params, grams = ipm.read_answer(program, blocks, layout, result)
    solver = "ipm" if result.status == "solved" else "ipm (almost solved)"
    return SOSSolution(SolverStatus.SOLVED, solver, margins, params, grams, [b.basis for b in blocks], 0.0)


def run_clarabel(P, q, A, b, cones, settings):
    """Clarabel's solve, or None when the solver panics.

    A Rust panic inside Clarabel (e.g. "Eigval error" on a badly conditioned KKT system) reaches
    Python as pyo3's PanicException, which derives from BaseException: ``except Exception`` does
    not stop it and it would end the whole process (a generation or evaluation run). It is a
    numerical failure of this one solve, so the caller treats it like any failed solve.

    Rust prints the panic's message before Python sees it, and with ``RUST_BACKTRACE=1`` in the
    environment a 60-line backtrace too, for a failure that is handled: the backtrace goes to
    ``SEQ2MATH_RUST_BACKTRACE`` (unset: none), read by Rust at the process's first panic.
    """
    import clarabel

    os.environ["RUST_BACKTRACE"] = os.environ.get("SEQ2MATH_RUST_BACKTRACE", "0")
    try:
        return clarabel.DefaultSolver(P, q, A, b, cones, settings).solve()
    except BaseException as err:  # noqa: B902 - only the solver's panic is swallowed
        if is_solver_panic(err):
            return None
        raise


def _unpack(x, program, blocks, offsets, solver: str) -> SOSSolution:
    P, K = program.nparams, len(blocks)
    grams = [_unsvec(x[off:off + blk.A_q.shape[1]], blk.pairs, len(blk.basis)) * blk.scale
             for blk, off in zip(blocks, offsets)]
    margins = [float(x[P + (0 if program.shared_margin else j)]) * blocks[j].scale for j in range(K)]
    return SOSSolution(SolverStatus.SOLVED, solver, margins, x[:P].copy(), grams, [b.basis for b in blocks], 0.0)


def _solve_cvxpy(program: SOSProgram, blocks: list[_Block], time_limit: float | None, solver: str) -> SOSSolution:
    """The same program through cvxpy: one sparse equality per condition, PSD variables per Gram matrix."""
    import cvxpy as cp

    c = cp.Variable(program.nparams) if program.nparams else None
    t = cp.Variable(_margin_count(program, blocks))
    constraints, grams = [t <= program.margin_cap], []
    for j, block in enumerate(blocks):
        lhs = block.A_c @ c if c is not None else 0
        offset, parts = 0, []
        for part in block.parts:
            k = len(part)
            Q = cp.Variable((k, k), symmetric=True)
            parts.append(Q)
            i_idx, j_idx = svec_pairs(k)
            # svec entry = w·Q[i, j] over the upper triangle (column-major vec)
            weights = np.where(i_idx == j_idx, 1.0, SQRT2)
            select = sp.csr_matrix((weights, (np.arange(len(i_idx)), j_idx * k + i_idx)), shape=(len(i_idx), k * k))
            lhs = lhs + (block.A_q[:, offset:offset + len(i_idx)] @ select) @ cp.vec(Q, order="F")
            offset += len(i_idx)
            constraints.append(Q - t[0 if program.shared_margin else j] * np.eye(k) >> 0)
        grams.append(parts)
        constraints.append(lhs == block.b)
    for g, h in program.inequalities:
        constraints.append(sum(v * c[k] for k, v in g.items()) <= h)
    problem = cp.Problem(cp.Maximize(cp.sum(t)), constraints)
    options = {"time_limit_secs": time_limit} if (time_limit and solver == "SCS") else {}
    try:
        problem.solve(solver=solver, **options)
    except cp.error.SolverError as err:
        return _no_answer(SolverStatus.FAILED, f"cvxpy/{solver}", detail=str(err))
    if problem.status not in ("optimal", "optimal_inaccurate"):
        return _no_answer(SolverStatus.FAILED, f"cvxpy/{solver}", detail=f"status {problem.status}")
    x = [np.atleast_1d(c.value) if c is not None else np.zeros(0), np.atleast_1d(t.value)]
    t_values = np.resize(np.atleast_1d(t.value), len(blocks))
    return SOSSolution(SolverStatus.SOLVED, f"cvxpy/{solver}", [float(v) * b.scale for v, b in zip(t_values, blocks)],
                       x[0], [_assemble([np.asarray(Q.value) for Q in parts], b) * b.scale for parts, b in zip(grams, blocks)],
                       [b.basis for b in blocks], 0.0)


def _assemble(part_grams: list[np.ndarray], block: _Block) -> np.ndarray:
    """The full Gram matrix over ``block.basis`` with the given diagonal blocks (0 elsewhere)."""
    Q = np.zeros((len(block.basis), len(block.basis)))
    for part, gram in zip(block.parts, part_grams):
        Q[np.ix_(part, part)] = gram
    return Q


def is_solver_panic(error: BaseException) -> bool:
    """A Rust solver's panic (Clarabel's "Eigval error") reaches Python as pyo3's PanicException,
    which derives from BaseException, so ``except Exception`` lets it kill the process."""
    return type(error).__name__ == "PanicException"
