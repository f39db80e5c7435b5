"""A fast necessary test for an SOS program: its conditions at sample points, as an LP.

``guided`` restricts findlyap's SOS program (``findlyap.build_program``) to the monomials of a
beam hypothesis. On BPoly-sized systems (V of degree 12, f of degree up to 15) one such SDP
takes 2–15 s on this CPU, and most of the model's supports are simply wrong: the program is
infeasible. An SOS polynomial is nonnegative everywhere, so if no parameters make every condition
of the program (``SOSProgram.conditions``) nonnegative at a few hundred points x while meeting its
linear inequalities, the SOS program is infeasible too. For findlyap's lyapunov program that is

    V(x) − Σᵢₖ εᵢₖ·xᵢ^2k ≥ 0   and   −V̇(x) ≥ 0,   εᵢₖ ≥ 0,   Σₖ εᵢₖ ≥ 0.1 for each i,

and for the barrier program V ≥ 0, −V̇ ≥ 0 with the pure even powers' coefficients summing to
≥ 0.1. The screen reads the program itself, so it tests exactly what the SDP would be asked. That
linear program takes milliseconds. It never proves anything: a program that passes still goes to
the SDP, and every V still goes through the exact check.

The points are the axes, the diagonals of each pair of axes and random directions (DIRECTIONS, or
as many as the program has parameters, whichever is more) on the sphere, at radii 0.2, 0.5, 1 and 2
(small radii test the low-degree terms, large radii the leading ones); each row of the LP is scaled
to max-norm 1, and each inequality gets a slack of ``SLACK`` so that a V whose −V̇ vanishes exactly
at a point (a singular solution, see ``findlyap.BOUNDARY_TOLERANCE``) is not screened out by
rounding. Measured on our bpoly test set in docs/baselines.md.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

from seq2math.sos.sdp import SOSCondition, SOSProgram

#: directions per radius, and the radii of the sample points
DIRECTIONS = 96
RADII = (0.2, 0.5, 1.0, 2.0)
#: each scaled inequality may be violated by this much (rounding in the LP and in the rows)
SLACK = 1e-7
#: V's coefficients are bounded by this in the LP (the conditions are a cone: any scale works)
BOUND = 1e3
#: seconds the LP solver may take (past it, the basis is not refuted)
LP_SECONDS = 1.0
#: programs with more parameters (V's monomials and the ε weights) are not screened (returned as not refuted):
#: with 5 variables and V of degree 6 (456 monomials) the LP ran to its limit, and it was feasible anyway (more
#: unknowns, weaker test)
MAX_PARAMETERS = 150


def sample_points(nvars: int, directions: int = DIRECTIONS, seed: int = 0) -> np.ndarray:
    """The axes ±eᵢ, the diagonals (±eᵢ ± eⱼ)/√2 and ``directions`` random directions on the unit sphere,
    each times every radius of RADII: shape [(2n + 2n(n−1) + directions)·len(RADII), n].

    The axes and diagonals matter: with random directions alone, V = −0.65x0² + 1000x1² passes for
    ẋ0 = x0 (no direction falls within 0.03 rad of the x0 axis), since the LP may scale V freely."""
    eye = np.eye(nvars)
    axes = np.concatenate([eye, -eye])
    diagonals = [(s * eye[i] + t * eye[j]) / np.sqrt(2.0) for i in range(nvars) for j in range(i + 1, nvars)
                 for s in (1.0, -1.0) for t in (1.0, -1.0)]
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((directions, nvars))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    u = np.concatenate([axes, np.array(diagonals).reshape(-1, nvars), u])
    return np.concatenate([r * u for r in RADII])


def _condition_rows(condition: SOSCondition, nparams: int, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(A, b) with A[j]·c + b[j] the condition's polynomial at point X[j], for parameters c."""
    monomials = sorted({m for terms in condition.parametric.values() for m in terms} | set(condition.constant))
    if not monomials:
        return np.zeros((len(X), nparams)), np.zeros(len(X))
    index = {m: j for j, m in enumerate(monomials)}
    exponents = np.array(monomials, dtype=np.int64)                                      # [M, n]
    values = np.ones((len(X), len(monomials)))
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(X.shape[1]):                    # powers of each variable from a table, not pow per entry
            powers = X[:, i:i + 1] ** np.arange(int(exponents[:, i].max()) + 1)          # [N, D+1]
            values *= powers[:, exponents[:, i]]                                          # [N, M]
    weights = np.zeros((len(monomials), nparams))
    for k, terms in condition.parametric.items():
        for m, c in terms.items():
            weights[index[m], k] += c
    constant = np.zeros(len(monomials))
    for m, c in condition.constant.items():
        constant[index[m]] += c
    return values @ weights, values @ constant


def may_be_feasible(program: SOSProgram, points: np.ndarray | None = None, time_limit: float | None = None) -> bool:
    """False when no parameters meet ``program``'s conditions at the sample points (each condition's
    polynomial ≥ 0 there) and its linear inequalities: then the SOS program is infeasible. True otherwise
    (also when the LP solver fails or stops at ``time_limit`` or LP_SECONDS, and for a program of more than
    MAX_PARAMETERS parameters: the screen must never drop a program it did not refute)."""
    P = program.nparams
    if P > MAX_PARAMETERS or (time_limit is not None and time_limit <= 0):
        return True
    X = sample_points(program.nvars, max(DIRECTIONS, P)) if points is None else points   # more unknowns, more points
    blocks = []
    for condition in program.conditions:
        A, b = _condition_rows(condition, P, X)
        rows = np.concatenate([A, b[:, None]], axis=1)
        rows = rows[np.all(np.isfinite(rows), axis=1)]
        norms = np.max(np.abs(rows), axis=1) if rows.size else np.zeros(0)
        keep = norms > 0
        blocks.append(rows[keep] / norms[keep, None])
    rows = np.concatenate(blocks) if blocks else np.zeros((0, P + 1))
    A_ub, b_ub = -rows[:, :P], rows[:, P] + SLACK                   # A·c + b ≥ −SLACK (rows scaled to max-norm 1)
    if program.inequalities:
        G = np.zeros((len(program.inequalities), P))
        for i, (terms, _) in enumerate(program.inequalities):
            for k, g in terms.items():
                G[i, k] = g
        A_ub = np.concatenate([A_ub, G])
        b_ub = np.concatenate([b_ub, [h for _, h in program.inequalities]])
    result = linprog(np.zeros(P), A_ub=A_ub, b_ub=b_ub, bounds=[(-BOUND, BOUND)] * P, method="highs",
                     options={"time_limit": LP_SECONDS if time_limit is None else min(LP_SECONDS, time_limit)})
    return result.status != 2                                              # 2: proved infeasible
