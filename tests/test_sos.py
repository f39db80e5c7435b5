"""SOS machinery: Newton-polytope bases, the sparse SDP, and its agreement with known facts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from seq2math.sos.newton import diagonal_prune, full_basis, half_newton_basis, hull_membership
from seq2math.sos.sdp import SolverStatus, SOSCondition, SOSProgram, solve_sos
from seq2math.symbolic.poly import ring


def _terms(p):
    return {tuple(int(v) for v in e): float(c) for e, c in zip(p.monoms(), p.coeffs())}


def _solve_fixed(p):
    return solve_sos(SOSProgram(p.context().nvars(), 0, [SOSCondition("p", _terms(p))]))


def test_half_newton_basis_of_a_square_contains_the_root_monomials():
    x0, x1 = ring(2).gens()
    g = x0**3 - 2 * x0 * x1 + x1**2
    basis = {tuple(m) for m in half_newton_basis(np.array((g * g).monoms()))}
    assert {(3, 0), (1, 1), (0, 2)} <= basis
    # nothing outside half the polytope: every 2m must be a convex combination of the support
    assert all(sum(m) <= 3 for m in basis)
    assert (0, 0) not in basis and (0, 3) not in basis


def test_half_newton_basis_is_much_smaller_than_the_full_basis():
    x = ring(3).gens()
    p = sum(xi**6 for xi in x) + x[0] ** 2 * x[1] ** 2 * x[2] ** 2      # a form: the hull lies in a + b + c = 6
    newton = half_newton_basis(np.array(p.monoms()))
    full = full_basis(3, 3)
    assert len(full) == 20 and len(newton) == 10 and all(sum(m) == 3 for m in newton)
    assert {tuple(m) for m in newton} <= {tuple(m) for m in full}


def test_degenerate_support_on_a_line_and_a_point():
    # homogeneous binary form: the support lies on the line a + b = 4 (a rank-1 hull)
    basis = half_newton_basis(np.array([[4, 0], [2, 2], [0, 4]]))
    assert sorted(map(tuple, basis)) == [(0, 2), (1, 1), (2, 0)]
    assert [tuple(m) for m in half_newton_basis(np.array([[2, 4]]))] == [(1, 2)]


def _both_ways(points, queries, rank):
    """hull_membership decided by qhull's facets and by the linear programs used above HULL_MAX_RANK."""
    return hull_membership(points, queries, rank), hull_membership(points, queries, rank - 1)


@pytest.mark.parametrize("dimension, seed", [(3, 0), (4, 1), (6, 2), (7, 3)])
def test_hull_membership_by_separating_hyperplanes_agrees_with_the_facets(dimension, seed):
    # lattice points as a support gives them: the doubled points and sums of two on the hull or its faces, other
    # lattice points inside or out; both ways of deciding must give the same mask
    rng = np.random.default_rng(seed)
    points = rng.integers(0, 5, size=(4 * dimension, dimension))
    lattice = np.array(list(itertools.product(range(5), repeat=dimension)))
    others = lattice[rng.choice(len(lattice), min(400, len(lattice)), replace=False)]
    queries = np.vstack([2 * points, points[:-1] + points[1:], 2 * others])
    by_facets, by_programs = _both_ways(2 * points, queries, dimension)
    assert by_facets[: 2 * len(points) - 1].all() and by_facets.sum() < len(queries)
    assert (by_programs == by_facets).all()


def test_hull_membership_in_a_lower_dimensional_affine_hull_by_programs():
    # a form's support in 7 variables: points on the hyperplane sum = 6, affine dimension 6
    points = np.array([m for m in itertools.product(range(7), repeat=7) if sum(m) == 6 and max(m) <= 2])
    queries = np.array([m for m in itertools.product(range(4), repeat=7) if sum(m) in (5, 6)])
    by_facets, by_programs = _both_ways(points, queries, 6)
    assert (by_programs == by_facets).all()
    assert not by_facets[queries.sum(axis=1) == 5].any()              # off the affine hull
    on = queries.sum(axis=1) == 6
    assert (by_facets[on] == (queries[on].max(axis=1) <= 2)).all()      # on it: inside exactly when no exponent is 3


def test_diagonal_pruning_drops_monomials_only_the_diagonal_could_produce():
    # p = x0^4 + x1^4 + x0^2 x1^2 + x0^2: candidate x0*x1 keeps (its square is in p); (2,2) also from (2,0)+(0,2)
    exps = np.array([[4, 0], [0, 4], [2, 2], [2, 0]])
    basis = np.array([[2, 0], [0, 2], [1, 1], [1, 0], [0, 1]])
    pruned = {tuple(m) for m in diagonal_prune(basis, exps)}
    assert (0, 1) not in pruned          # x1^2 is not in p and no pair of others sums to (0, 2)
    assert {(2, 0), (0, 2), (1, 0)} <= pruned


@pytest.mark.parametrize("negate", [False, True])
def test_sum_of_squares_is_found_and_a_negative_polynomial_is_not(negate):
    x0, x1 = ring(2).gens()
    p = (x0**2 - x1) ** 2 + (x0 * x1 + 3 * x1) ** 2 + x0**2 + x1**2
    solution = _solve_fixed(-p if negate else p)
    if negate:
        assert solution.status is SolverStatus.INFEASIBLE or solution.margins[0] < -1e-3
    else:
        assert solution.status is SolverStatus.SOLVED and solution.margins[0] > 1e-6
        Q, z = solution.grams[0], solution.bases[0]
        X = np.random.default_rng(0).standard_normal((20, 2))
        Z = np.prod(X[:, None, :] ** z[None, :, :], axis=2)                       # (20, s)
        values = np.einsum("ni,ij,nj->n", Z, Q, Z)
        from seq2math.symbolic.poly import NumericPoly

        assert np.allclose(values, NumericPoly(p)(X), rtol=1e-6, atol=1e-6)


def test_motzkin_polynomial_is_nonnegative_but_not_sos():
    x0, x1 = ring(2).gens()
    motzkin = x0**4 * x1**2 + x0**2 * x1**4 - 3 * x0**2 * x1**2 + 1
    solution = _solve_fixed(motzkin)
    assert solution.status is SolverStatus.INFEASIBLE or solution.margins[0] < -1e-6


def test_cvxpy_backend_agrees_with_the_native_clarabel_path():
    x0, x1 = ring(2).gens()
    p = 2 * x0**4 + 2 * x0**3 * x1 - x0**2 * x1**2 + 5 * x1**4      # Parrilo's classic SOS example
    native = _solve_fixed(p)
    through_cvxpy = solve_sos(SOSProgram(2, 0, [SOSCondition("p", _terms(p))]), backend="cvxpy:clarabel")
    assert native.status is through_cvxpy.status is SolverStatus.SOLVED
    assert native.margins[0] == pytest.approx(through_cvxpy.margins[0], rel=1e-4, abs=1e-6)


def test_parametric_program_finds_a_quadratic_lyapunov_function():
    """V = a x0^2 + b x1^2 for x0' = -x0 + x1, x1' = -x0 - x1: -V' SOS needs a = b."""
    nv = 2
    monos = [(2, 0), (0, 2)]
    positive = {k: {m: 1.0} for k, m in enumerate(monos)}
    # -V' = 2a x0^2 - 2a x0 x1 + 2b x0 x1 + 2b x1^2
    decrease = {0: {(2, 0): 2.0, (1, 1): -2.0}, 1: {(1, 1): 2.0, (0, 2): 2.0}}
    program = SOSProgram(nv, 2, [SOSCondition("positive", {}, positive), SOSCondition("decrease", {}, decrease)],
                         inequalities=[({0: -1.0}, -0.1), ({1: -1.0}, -0.1)])
    solution = solve_sos(program)
    assert solution.status is SolverStatus.SOLVED
    a, b = solution.params
    assert a == pytest.approx(b, rel=1e-5)
    for m, n in itertools.product(range(2), range(2)):
        assert np.all(np.linalg.eigvalsh(solution.grams[1]) > -1e-7)


def test_the_full_basis_is_every_monomial_in_its_degrees_in_order_even_with_many_variables():
    """Every exponent vector with min_degree ≤ |m| ≤ max_degree, once, by degree then by the largest exponents
    first; built degree by degree, so a lifted non-polynomial condition's 12 variables give C(16, 4) = 1,820
    monomials of degree ≤ 4 without walking the 5^12 vectors of [0, 4]^12."""
    import math

    for n, top, low in [(1, 3, 0), (2, 4, 0), (3, 3, 2), (4, 2, 1), (5, 3, 3), (3, 2, 4)]:
        expected = sorted((m for m in itertools.product(range(top + 1), repeat=n) if low <= sum(m) <= top),
                          key=lambda m: (sum(m), tuple(-x for x in m)))
        assert [tuple(int(v) for v in row) for row in full_basis(n, top, low)] == expected
    wide = full_basis(12, 4)
    assert wide.shape == (math.comb(16, 4), 12) and len({tuple(row) for row in wide.tolist()}) == len(wide)
    assert wide.sum(axis=1).max() == 4


def test_bench_newton_prints_both_ways_and_their_agreement(capsys):
    from seq2math.cli import main

    assert main(["bench", "newton", "--dimensions", "3,4", "--points", "20", "--queries", "200", "--repeats", "1"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| 3 ") or line.startswith("| 4 ")]
    assert len(rows) == 2 and all(row.rstrip().endswith("| yes |") and "x |" in row for row in rows)
