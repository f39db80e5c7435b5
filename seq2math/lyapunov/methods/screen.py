"""A fast necessary test for the SOS program on one basis: its conditions at sample points, as an LP.

``guided`` restricts findlyap's SOS program (``findlyap.build_program``) to the monomials of a
beam hypothesis. On BPoly-sized systems (V of degree 12, f of degree up to 15) one such SDP
takes 2–15 s on this CPU, and most of the model's supports are simply wrong: the program is
infeasible. An SOS polynomial is nonnegative everywhere, so if no V on the basis satisfies

    V(x) − Σᵢₖ εᵢₖ·xᵢ^2k ≥ 0   and   −V̇(x) ≥ 0   at a few hundred points x,

with εᵢₖ ≥ 0 and Σₖ εᵢₖ ≥ 0.1 for each i (the lyapunov program), or V ≥ 0, −V̇ ≥ 0 and the pure
even powers' coefficients summing to ≥ 0.1 (the barrier program), then the SOS program is
infeasible too. That linear program takes milliseconds. It never proves anything: a basis that
passes still goes to the SDP, and every V still goes through the exact check.

The points are the axes, the diagonals of each pair of axes and random directions (DIRECTIONS, or
as many as the basis has monomials, whichever is more) on the sphere, at radii 0.2, 0.5, 1 and 2 (small radii
test the low-degree terms, large radii the leading ones); each row of the LP is scaled to
max-norm 1, and each inequality gets a slack of ``SLACK`` so that a V whose −V̇ vanishes exactly
at a point (a singular solution, see ``findlyap.BOUNDARY_TOLERANCE``) is not screened out by
rounding. Measured on our bpoly test set in docs/baselines.md.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

from seq2math.symbolic.poly import NumericPoly, Poly, lie_derivative, ring

#: directions per radius, and the radii of the sample points
DIRECTIONS = 96
RADII = (0.2, 0.5, 1.0, 2.0)
#: each scaled inequality may be violated by this much (rounding in the LP and in the rows)
SLACK = 1e-7
#: V's coefficients are bounded by this in the LP (the conditions are a cone: any scale works)
BOUND = 1e3
#: seconds the LP solver may take (past it, the basis is not refuted)
LP_SECONDS = 1.0
#: larger bases are not screened (returned as not refuted): with 5 variables and V of degree 6 (456 monomials)
#: the rows alone took 2.6 s, the LP ran to its limit, and the LP was feasible anyway (more unknowns, weaker test)
MAX_BASIS = 120

Monomial = tuple[int, ...]


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


def _scaled(rows: np.ndarray) -> np.ndarray:
    """Each row divided by its largest magnitude (rows of zeros, and rows that overflowed, are dropped)."""
    rows = rows[np.all(np.isfinite(rows), axis=1)]
    norms = np.max(np.abs(rows), axis=1) if rows.size else np.zeros(0)
    keep = norms > 0
    return rows[keep] / norms[keep, None]


def may_be_feasible(system: list[Poly], basis: list[Monomial], degree: int, check: str = "lyapunov",
                    points: np.ndarray | None = None, time_limit: float | None = None) -> bool:
    """False when no V on ``basis`` meets the program's conditions at the sample points: then the SOS
    program of ``findlyap.build_program(system, degree, check, basis)`` is infeasible. True otherwise (also
    when the LP solver fails or stops at ``time_limit`` or LP_SECONDS, and for a basis of more than
    MAX_BASIS monomials: the screen must never drop a basis it did not refute)."""
    if len(basis) > MAX_BASIS or (time_limit is not None and time_limit <= 0):
        return True
    n = len(system)
    R = ring(n)
    X = sample_points(n, max(DIRECTIONS, len(basis))) if points is None else points    # more unknowns, more points
    monomial_values = np.stack([NumericPoly(R.from_dict({m: 1}))(X) for m in basis], axis=1)        # [N, B]
    decrease = np.stack([NumericPoly(-lie_derivative(R.from_dict({m: 1}), system))(X) if m else np.zeros(len(X))
                         for m in basis], axis=1)                                                    # [N, B]
    B = len(basis)
    if check == "lyapunov":
        pure = [(i, p) for i in range(n) for p in range(2, degree + 1, 2)]
        eps = np.stack([X[:, i] ** p for i, p in pure], axis=1) if pure else np.zeros((len(X), 0))  # [N, E]
        positive = np.concatenate([monomial_values, -eps], axis=1)
    else:
        pure = []
        positive = monomial_values
    E = len(pure)
    rows = np.concatenate([_scaled(positive), _scaled(np.concatenate([decrease, np.zeros((len(X), E))], axis=1))])
    A_ub, b_ub = -rows, np.full(len(rows), SLACK)                            # rows · (c, ε) ≥ −SLACK
    if check == "lyapunov":
        groups = np.zeros((n, B + E))
        for k, (i, _) in enumerate(pure):
            groups[i, B + k] = -1.0                                         # Σₖ εᵢₖ ≥ 0.1
        A_ub, b_ub = np.concatenate([A_ub, groups]), np.concatenate([b_ub, np.full(n, -0.1)])
        bounds = [(-BOUND, BOUND)] * B + [(0, BOUND)] * E
    else:
        row = np.array([-1.0 if sum(1 for e in m if e) == 1 and sum(m) % 2 == 0 else 0.0 for m in basis])
        if not row.any():
            return False                                                    # no pure even power: V = 0 only
        A_ub, b_ub = np.concatenate([A_ub, row[None]]), np.concatenate([b_ub, [-0.1]])
        bounds = [(-BOUND, BOUND)] * B
    result = linprog(np.zeros(B + E), A_ub=A_ub, b_ub=b_ub, bounds=bounds, method="highs",
                     options={"time_limit": LP_SECONDS if time_limit is None else min(LP_SECONDS, time_limit)})
    return result.status != 2                                              # 2: proved infeasible
