"""Coefficient repair through the gradient form f = −G∇V (``seq2math.lyapunov.methods.repair``)."""

from __future__ import annotations

import numpy as np
import pytest

from seq2math.lyapunov.check import check_candidate
from seq2math.lyapunov.methods.repair import repaired_candidates
from seq2math.symbolic.poly import ring

X0, X1 = ring(2).gens()
#: a backward-style pair (docs/generation.md): V proper plus a cross square; x0 damped by (1 + x1)², x1 by 2,
#: and a rotation with coefficient x0 that hides the gradient
V = X0**6 + 2 * X1**4 + (X0 - X1**2) ** 2
G0, G1 = V.derivative(0), V.derivative(1)
SYSTEM = [-(1 + X1) ** 2 * G0 + X0 * G1, -4 * G1 - X0 * G0]


def _same_up_to_scale(p, q):
    return p * q.coeffs()[0] == q * p.coeffs()[0]


@pytest.mark.parametrize("hypothesis", [
    V,                                                          # the right numbers: found again
    2 * X0**6 + 2 * X1**4 - X0 * X1**2 + X0**2,                 # three coefficients moved by one
])
def test_a_near_miss_on_the_right_monomials_is_repaired(hypothesis):
    assert set(hypothesis.monoms()) == set(V.monoms())
    candidates = repaired_candidates(SYSTEM, hypothesis)
    assert any(_same_up_to_scale(c, V) for c in candidates), candidates
    assert check_candidate(SYSTEM, next(c for c in candidates if _same_up_to_scale(c, V)), "lyapunov").valid is True


def test_a_support_that_cannot_work_gives_nothing():
    """Without x1 in V, ∂₁V = 0 and ẋ1 has terms that no G·∇V can make: nothing is proposed. Nor from a
    hypothesis with a coefficient past the float64 range, which the fit cannot start from (no OverflowError)."""
    assert repaired_candidates(SYSTEM, X0**6 + 3 * X0**2) == []
    assert repaired_candidates(SYSTEM, 10**400 * X0**6 + 2 * X1**4 - X0 * X1**2 + X0**2) == []


def test_numbers_near_v_on_a_completed_basis_are_fitted_to_the_exact_v():
    """guided fits f = −G∇V from an SOS program's numbers (``guided.sdp_fitted_candidates``): from V's
    coefficients moved by ±5% on guided's completed basis, with 0.01 on the pure powers V lacks, the fit
    drops those powers and gives V itself, which the exact checker proves."""
    from seq2math.lyapunov.methods.guided import completed_basis, sdp_fitted_candidates

    terms = {tuple(int(e) for e in m): float(c) for m, c in zip(V.monoms(), V.coeffs())}
    basis = completed_basis(frozenset(terms), 2)
    assert len(basis) > len(terms)                               # x1², x0⁴, x1⁶ are V's completion
    numbers = [terms.get(m, 0.01) * (1 + 0.05 * (-1) ** i) for i, m in enumerate(basis)]
    candidates = sdp_fitted_candidates(SYSTEM, basis, numbers, None)
    assert any(_same_up_to_scale(c, V) for c in candidates), candidates
    assert check_candidate(SYSTEM, next(c for c in candidates if _same_up_to_scale(c, V)), "lyapunov").valid is True


def test_random_starts_on_a_completed_basis_find_v_without_its_numbers():
    """guided's fits from random coefficients (``guided.random_start_fits``): only the completed support of V
    is given, with a hypothesis's x0⁸ and the pure powers up to degree 8 that V lacks; within twenty rounds a fit
    lands on V, which the checker proves. f has degree 7 and G = [[(1 + x1)², −x0], [x0, 4]] degree 2: a
    multiplier degree taken from the basis's highest gradient (∂x0⁸ → 7) would leave G constant, so the fit
    takes it from the lowest."""
    from seq2math.lyapunov.methods.guided import completed_basis, random_start_fits

    basis = completed_basis(frozenset(tuple(int(e) for e in m) for m in V.monoms()) | {(8, 0)}, 2)
    assert (0, 8) in basis and (2, 0) in basis
    candidates = list(random_start_fits(SYSTEM, [basis], None, rounds=20))
    assert any(_same_up_to_scale(c, V) for c in candidates), candidates
    assert check_candidate(SYSTEM, next(c for c in candidates if _same_up_to_scale(c, V)), "lyapunov").valid is True


def test_a_trace_of_a_monomial_v_lacks_is_read_as_zero():
    """An exact fit on a larger support may keep 10⁻⁵ of a monomial V lacks; scaled to 1, it would turn V's
    own coefficients into large numbers. The rounding reads it as 0 first and gives V."""
    from seq2math.lyapunov.methods.repair import _simple_polynomials

    support = [(0, 2), (0, 6), (1, 3), (2, 0)]                   # 19x1⁶ + 24x0x1³ + 9x0², and x1²
    c = np.array([1e-5, 19.0, 24.0, 9.0]) / 31.0
    X = ring(2).gens()
    assert _same_up_to_scale(_simple_polynomials(c, support, 2)[0], 19 * X[1]**6 + 24 * X[0] * X[1]**3 + 9 * X[0]**2)


def test_a_separable_v_is_pinned_by_the_antisymmetric_fit():
    """V = V₀(x0) + V₁(x1): every a·V₀ + b·V₁ fits f = −G∇V for some G, and only the generator's ratio is a
    Lyapunov function. With G = diagonal + antisymmetric, the generator's shape, the fit gives V back."""
    from seq2math.lyapunov.methods.repair import antisymmetric_fitted_candidates

    x0, x1 = ring(2).gens()
    V_sep = 3 * x0**2 + x1**4
    d0, d1 = V_sep.derivative(0), V_sep.derivative(1)
    system = [-(x1**2 + 1) * d0 + (2 + x0) * d1, -(2 + x0) * d0 - 4 * d1]     # D = diag(x1² + 1, 4), A01 = −(2 + x0)
    wrong_ratio = 3 * x0**2 + 2 * x1**4
    assert check_candidate(system, wrong_ratio, "lyapunov").valid is False   # a fit need not be a V
    support = [(0, 4), (2, 0)]
    rng = np.random.default_rng(3)
    found = [c for _ in range(5) for c in antisymmetric_fitted_candidates(system, support, rng.standard_normal(2))]
    assert any(_same_up_to_scale(c, V_sep) for c in found), found
    assert check_candidate(system, next(c for c in found if _same_up_to_scale(c, V_sep)), "lyapunov").valid is True
