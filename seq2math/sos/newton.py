"""Monomial bases for Gram matrices: half the Newton polytope, then diagonal pruning.

If p = Σ gⱼ² then every monomial of every gⱼ lies in ½·N(p), where N(p) is the convex
hull of the exponents of p (Reznick, "Extremal PSD forms with few terms", 1978). So the
Gram basis only needs the lattice points m with 2m ∈ N(p), usually far fewer than all
monomials of degree ≤ deg(p)/2. A second, cheap pruning removes m when 2m is neither an
exponent of p nor a sum m_a + m_b of two *other* basis monomials: then the diagonal Gram
entry Q_mm would be the only contribution to the coefficient of x^(2m), which is 0, and
Q ⪰ 0 forces the whole row m to vanish (Löfberg, "Pre- and post-processing sum-of-squares
programs in practice", IEEE TAC 2009).
"""

from __future__ import annotations

import itertools

import numpy as np

_TOL = 1e-9
#: above this affine dimension the hull's facets are not listed: their number grows like m^(r/2) for m points of
#: dimension r (216 support points of a lifted non-polynomial condition, dimension 9: 245,570 facets, 37–51 s in
#: qhull, which no time limit interrupts); membership is then decided by linear programs (``_separated``)
HULL_MAX_RANK = 5


def hull_membership(points: np.ndarray, queries: np.ndarray, facets_up_to: int | None = None) -> np.ndarray:
    """Boolean mask: which rows of ``queries`` lie in conv(points) (any dimension, degenerate too): by the facets
    of the hull up to dimension ``facets_up_to`` (default ``HULL_MAX_RANK``), by separating hyperplanes above it."""
    points = points.astype(float)
    queries = queries.astype(float)
    center = points.mean(axis=0)
    centered = points - center                                      # (m, n)
    _, singular, vt = np.linalg.svd(centered, full_matrices=False)
    rank = int(np.sum(singular > 1e-9 * max(1.0, singular[0] if len(singular) else 1.0)))
    q_centered = queries - center                                   # (k, n)
    if rank == 0:
        return np.all(np.abs(q_centered) < _TOL, axis=1)
    axes = vt[:rank]                                                # (r, n) orthonormal rows
    p_coords = centered @ axes.T                                    # (m, r)
    q_coords = q_centered @ axes.T                                  # (k, r)
    in_affine_hull = np.linalg.norm(q_centered - q_coords @ axes, axis=1) < 1e-7
    if rank == 1:
        lo, hi = p_coords.min(), p_coords.max()
        inside = (q_coords[:, 0] >= lo - 1e-7) & (q_coords[:, 0] <= hi + 1e-7)
        return in_affine_hull & inside
    if rank > (HULL_MAX_RANK if facets_up_to is None else facets_up_to):
        return in_affine_hull & ~_separated(p_coords, q_coords, in_affine_hull)
    from scipy.spatial import ConvexHull, QhullError  # here: qhull costs import time only when needed

    try:
        hull = ConvexHull(p_coords)
    except QhullError:
        hull = ConvexHull(p_coords, qhull_options="QJ")
    normals, offsets = hull.equations[:, :-1], hull.equations[:, -1]  # facets: normal·y + offset ≤ 0
    inside = np.all(q_coords @ normals.T + offsets <= 1e-7, axis=1)
    return in_affine_hull & inside


def _separated(points: np.ndarray, queries: np.ndarray, todo: np.ndarray) -> np.ndarray:
    """Boolean mask: which of the ``todo`` rows of ``queries`` a hyperplane separates from conv(points), found one
    linear program at a time (points of full dimension r). For a query q the program maximizes d·q − s over
    d ∈ [−1, 1]^r with d·p ≤ s for every point p: optimum 0 means q is in the hull; a positive optimum gives a
    hyperplane d·y = max_p d·p that also separates every other query beyond it, so one program settles many
    (216 points of dimension 9, 3,066 queries: 266 programs, under a second). Farthest queries first: their
    hyperplanes cut the most."""
    from scipy.optimize import linprog  # here: only conditions of many lifted variables get this far

    m, r = points.shape
    outside = np.zeros(len(queries), dtype=bool)
    settled = ~todo
    A = np.hstack([points, -np.ones((m, 1))])
    bounds = [(-1.0, 1.0)] * r + [(None, None)]
    for i in np.argsort(-np.linalg.norm(queries, axis=1), kind="stable"):
        if settled[i]:
            continue
        result = linprog(np.append(-queries[i], 1.0), A_ub=A, b_ub=np.zeros(m), bounds=bounds, method="highs")
        d = result.x[:r]
        beyond = queries @ d - (points @ d).max() > 1e-7     # the hyperplane's exact level, not the solver's s
        if result.status != 0 or not beyond[i]:
            settled[i] = True                                 # in the hull (or undecidable: kept, the safe side)
            continue
        cut = beyond & ~settled
        outside |= cut
        settled |= cut
    return outside


def half_newton_basis(exponents: np.ndarray, prune: bool = True) -> np.ndarray:
    """Gram basis (s, n) for a polynomial whose (possible) exponents are the rows of ``exponents``.

    ``exponents`` should hold every exponent that may appear, including those of unknown
    parametric terms. Returns monomials sorted by degree then lexicographically.
    """
    exponents = np.asarray(exponents, dtype=np.int64)
    if exponents.size == 0:
        return np.zeros((0, exponents.shape[1] if exponents.ndim == 2 else 0), dtype=np.int64)
    nvars = exponents.shape[1]
    lo = -(-exponents.min(axis=0) // 2)                              # ceil(min/2) per variable
    hi = exponents.max(axis=0) // 2
    degrees = exponents.sum(axis=1)
    deg_lo, deg_hi = -(-degrees.min() // 2), degrees.max() // 2
    ranges = [range(int(a), int(b) + 1) for a, b in zip(lo, hi)]
    candidates = np.array([m for m in itertools.product(*ranges) if deg_lo <= sum(m) <= deg_hi],
                          dtype=np.int64).reshape(-1, nvars)
    if len(candidates) == 0:
        return candidates
    candidates = candidates[hull_membership(np.unique(exponents, axis=0), 2 * candidates)]
    if prune:
        candidates = diagonal_prune(candidates, exponents)
    order = np.lexsort(tuple(candidates[:, ::-1].T) + (candidates.sum(axis=1),))
    return candidates[order]


def diagonal_prune(basis: np.ndarray, exponents: np.ndarray) -> np.ndarray:
    """Drop monomials m whose square 2m can be produced by nothing but the diagonal entry Q_mm."""
    present = {tuple(e) for e in exponents}
    basis = [tuple(m) for m in basis]
    while True:
        sums: dict[tuple[int, ...], int] = {}
        for a, b in itertools.combinations(range(len(basis)), 2):
            key = tuple(x + y for x, y in zip(basis[a], basis[b]))
            sums[key] = sums.get(key, 0) + 1
        keep = [m for m in basis if tuple(2 * x for x in m) in present or tuple(2 * x for x in m) in sums]
        if len(keep) == len(basis):
            return np.array(keep, dtype=np.int64).reshape(-1, exponents.shape[1])
        basis = keep


def full_basis(nvars: int, max_degree: int, min_degree: int = 0) -> np.ndarray:
    """Every monomial of degree min_degree..max_degree (the straightforward basis, for benchmarks), built degree
    by degree: C(n + d, d) rows, not the (d + 1)^n of every exponent vector (a lifted non-polynomial condition has
    10–15 variables: 5^12 = 244 million vectors for 1,820 monomials of degree ≤ 4)."""
    rows = exponent_vectors(nvars, max_degree, min_degree)
    rows.sort(key=lambda m: (sum(m), tuple(-x for x in m)))
    return np.array(rows, dtype=np.int64).reshape(-1, nvars)


def exponent_vectors(nvars: int, max_degree: int, min_degree: int = 0) -> list[tuple[int, ...]]:
    """Every exponent vector of ``nvars`` entries with min_degree ≤ sum ≤ max_degree (none when max_degree < 0), by
    total degree: C(n + d, d) of them, each a placement of n − 1 bars among the total plus n − 1 slots."""
    if nvars == 0:
        return [()] if min_degree <= 0 <= max_degree else []
    found = []
    for total in range(max(min_degree, 0), max(max_degree, -1) + 1):
        for cut in itertools.combinations(range(total + nvars - 1), nvars - 1):
            bounds = (-1,) + cut + (total + nvars - 1,)
            found.append(tuple(bounds[i + 1] - bounds[i] - 1 for i in range(nvars)))
    return found
