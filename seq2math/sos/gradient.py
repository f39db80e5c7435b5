"""Gradient-form SOS: −V̇ as a Gram form in the polynomials x^m·∂ₖV.

Why: when ẋ = −G(x)∇V(x) with sym(G) positive semidefinite (gradient-like dynamics plus
rotations, the shape of every backward-generated system, docs/generation.md), then
−V̇ = ∇Vᵀ sym(G) ∇V vanishes wherever ∇V's damped components do, on a whole curve or surface.
Every Gram matrix of −V̇ in the monomial basis is then singular, there is no margin to round
(docs/verification.md), and at BPoly sizes the monomial basis has hundreds of elements, so the
SDP itself takes minutes and facial reduction in it is out of reach.

The same polynomial is small in the right basis. With w = (x^m·∂ₖV) for k = 1..n and
monomials |m| ≤ d, we look for a Gram matrix R ⪰ 0 with −V̇ = wᵀRw: n·C(n+d, d) unknowns
(30 for n = 3, d = 2) instead of C(s+1, 2) for s ≈ 200. The steps, each only a guess that the
final exact check settles:

1. the coefficient matching of wᵀRw = −V̇, built from exact products w_c·w_d and reduced to
   independent rows; −V̇ must lie in their span (else this basis cannot work: None, quickly);
2. a minimum-trace solve (low rank: the spectrum of R shows the face, as in ``facial.py``);
3. a rational basis B of R's range (``facial.rational_range``) gives the face polynomials
   w' = Bᵀw, in which ``facial.solve_in_face`` finds a Gram matrix with a margin;
4. ``facial.exact_in_face`` rounds it, projects it exactly and proves it positive
   semidefinite in rationals, over the monomials of w': the result is an ordinary monomial
   Gram certificate Q = C R' Cᵀ (C the coefficients of w'), checked by ``exact.verify_gram``
   like every other one. Nothing in steps 1–3 is trusted.
"""

from __future__ import annotations

import time

import flint
import numpy as np
import scipy.linalg as sla

from seq2math.sos import exact as X
from seq2math.sos import facial
from seq2math.sos.newton import full_basis, hull_membership
from seq2math.sos.sdp import SQRT2, svec_pairs
from seq2math.symbolic.poly import Poly, beyond_float_range, ring

QQ = flint.fmpq
#: at most this many basis polynomials x^m·∂ₖV (the Gram matrix is this size; its dense coefficient matching
#: grows with the square of the number of pairs)
MAX_BASIS = 36
#: −V̇ must be in the span of the products w_c·w_d to this relative least-squares residual
SPAN_TOLERANCE = 1e-9


def _gradient(V: Poly) -> list[Poly]:
    return [V.derivative(i) for i in range(V.context().nvars())]


def multiplier_degrees(p: Poly, V: Poly | None, gradient: list[Poly] | None = None) -> range:
    """Degrees d of the monomial multipliers x^m (|m| ≤ d) that can give deg p from the products."""
    gradient = _gradient(V) if gradient is None else gradient
    degrees = [g.total_degree() for g in gradient if not g.is_zero()]
    if not degrees or p.is_zero():
        return range(0)
    low = max(0, -(-(p.total_degree() - 2 * max(degrees)) // 2))
    high = max(low, -(-(p.total_degree() - 2 * min(degrees)) // 2))
    return range(low, high + 1)


def gradient_basis(V: Poly | None, degree: int, gradient: list[Poly] | None = None) -> list[Poly]:
    """w = (x^m·∂ₖV) for every k with ∂ₖV ≠ 0 and every monomial m with |m| ≤ degree (``gradient``:
    the ∂ₖV given, e.g. lifted non-polynomial derivatives, with m over all variables of their ring)."""
    gradient = _gradient(V) if gradient is None else gradient
    n = gradient[0].context().nvars()
    R = ring(n)
    basis = []
    for g in gradient:
        if g.is_zero():
            continue
        for m in map(tuple, full_basis(n, degree).tolist()):
            basis.append(g * R.from_dict({m: 1}))
    return basis


def _coefficients(polys: list[Poly]) -> tuple[np.ndarray, list[list[QQ]]]:
    """(monomial basis (s, n) of the polynomials, exact coefficient matrix C (s, len(polys)))."""
    keys = sorted({tuple(int(v) for v in e) for q in polys for e in q.monoms()})
    row_of = {k: a for a, k in enumerate(keys)}
    C = [[QQ(0)] * len(polys) for _ in keys]
    for c, q in enumerate(polys):
        for e, v in zip(q.monoms(), q.coeffs()):
            C[row_of[tuple(int(u) for u in e)]][c] = v
    return np.array(keys, dtype=np.int64).reshape(len(keys), -1), C


def _gram_program(p: dict, w: list[Poly]) -> tuple[np.ndarray, np.ndarray] | None:
    """(A, b): A·svec(R) = b states wᵀRw = p on independent rows; None when p is not in the span."""
    i_idx, j_idx = svec_pairs(len(w))                                  # the column order of ``facial.solve_gram``
    columns = []
    for c, d in zip(i_idx, j_idx):
        product = w[c] * w[d]
        if beyond_float_range(product):
            return None                                                # no float program (a V of 10^200·x1²)
        weight = 1.0 if c == d else SQRT2                              # svec: off-diagonal entries carry √2
        columns.append({tuple(int(v) for v in e): float(v) * weight for e, v in zip(product.monoms(), product.coeffs())})
    keys = sorted(set(p) | {k for column in columns for k in column})
    row_of = {k: a for a, k in enumerate(keys)}
    A = np.zeros((len(keys), len(columns)))
    for j, column in enumerate(columns):
        for k, v in column.items():
            A[row_of[k], j] = v
    b = np.zeros(len(keys))
    for k, v in p.items():
        b[row_of[k]] = float(v)
    solution, *_ = np.linalg.lstsq(A, b, rcond=None)
    if np.linalg.norm(A @ solution - b) > SPAN_TOLERANCE * max(1.0, np.linalg.norm(b)):
        return None
    _, R_qr, order = sla.qr(A.T, pivoting=True, mode="economic")      # independent rows
    diagonal = np.abs(np.diag(R_qr))
    rank = int(np.sum(diagonal > 1e-10 * diagonal[0])) if len(diagonal) else 0
    rows = np.sort(order[:rank])
    return A[rows], b[rows]


def gradient_certificate(p: Poly, V: Poly | None, deadline: float | None = None,
                         gradient: list[Poly] | None = None) -> dict | None:
    """A monomial Gram certificate of p (= −V̇) found in the gradient basis, or None.

    ``gradient``: the polynomials ∂ₖV to use instead of V's derivatives (the substitution prover
    passes the lifted derivatives of a non-polynomial V, in p's ring).
    Returns ``{"polynomial": ..., "basis": ..., "gram": ..., "reduction": "gradient"}`` (``exact.poly_to_json``
    and ``exact.gram_to_json``), already re-proved by ``exact.verify_gram``."""
    target = {tuple(int(v) for v in e): c for e, c in zip(p.monoms(), p.coeffs()) if c != 0}
    if not target or beyond_float_range(p):
        return None                                                # nothing to prove, or no float program
    gradient = _gradient(V) if gradient is None else gradient
    p_float = {k: float(v) for k, v in target.items()}
    n = p.context().nvars()
    exponents = np.array(list(target), dtype=np.int64)
    for degree in multiplier_degrees(p, None, gradient):
        for w in _bases(gradient, degree, exponents):
            found = _certificate_in_basis(target, p_float, w, n, deadline)
            if found is not None:
                return {"polynomial": X.poly_to_json(target)} | found
            if deadline is not None and time.perf_counter() > deadline:
                return None
    return None


def _bases(gradient: list[Poly], degree: int, exponents: np.ndarray):
    """The gradient basis of this degree restricted to the polynomials inside ½·Newt(p), then in full."""
    w = gradient_basis(None, degree, gradient)
    inside = newton_filter(w, exponents)
    if 0 < len(inside) <= MAX_BASIS:
        yield inside
    if len(inside) < len(w) <= MAX_BASIS:
        yield w


def newton_filter(w: list[Poly], exponents: np.ndarray) -> list[Poly]:
    """The w_c whose every monomial m has 2m in the Newton polytope of p (the exponents): what a
    square in an SOS of p can contain (Reznick); a combination of the others could still cancel."""
    if not w:
        return []
    exps = [np.array([[int(v) for v in e] for e in q.monoms()], dtype=np.int64) for q in w]
    inside = hull_membership(exponents, 2 * np.concatenate(exps))
    bounds = np.cumsum([0] + [len(e) for e in exps])
    return [q for c, q in enumerate(w) if inside[bounds[c]:bounds[c + 1]].all()]


def _certificate_in_basis(target: dict, p_float: dict, w: list[Poly], n: int, deadline: float | None) -> dict | None:
    """Steps 1–4 of the module docstring in the basis w."""
    program = _gram_program(p_float, w)
    if program is None:
        return None                                                # p is not in this span
    left = None if deadline is None else max(0.05, deadline - time.perf_counter())
    solved = facial.solve_gram(*program, len(w), "trace", left)
    if solved is None:
        return None
    R = solved[0]
    identity = [[QQ(int(a == c)) for c in range(len(w))] for a in range(len(w))]
    for B in [*facial.face_guesses(R, set()), identity]:       # the faces R shows, then the whole basis
        rank = len(B[0])
        face = [sum((w[a] * B[a][c] for a in range(len(w)) if B[a][c] != 0), ring(n).from_dict({}))
                for c in range(rank)]
        basis, C = _coefficients(face)
        if len(basis) ** 2 * rank * rank > facial.MAX_FACE_ENTRIES:
            continue
        left = None if deadline is None else max(0.05, deadline - time.perf_counter())
        solved = facial.solve_in_face(p_float, basis, np.array([[float(v) for v in row] for row in C]),
                                      "margin", left)
        if solved is None or solved[1] <= 1e-7 * max(1.0, float(np.max(np.abs(solved[0])))):
            continue
        gram = facial.exact_in_face(target, basis, C, solved[0], solved[1])
        if gram is not None and X.verify_gram(target, basis, gram)[0]:
            return X.gram_to_json(basis, gram) | {"reduction": "gradient"}
    return None

