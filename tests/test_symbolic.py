"""Polynomials (flint) and expression trees: exact algebra, derivatives, evaluation, conversions."""

from fractions import Fraction

import numpy as np
import pytest
import sympy

from seq2math.symbolic import poly as P
from seq2math.symbolic.calculus import diff, evaluate, simplify
from seq2math.symbolic.display import to_sympy
from seq2math.symbolic.expr import (
    Binary,
    Const,
    Float,
    Int,
    NotPolynomialError,
    Unary,
    Var,
    from_poly,
    is_polynomial,
    size,
    to_poly,
    variables,
)
from seq2math.tokens.infix import parse_infix


def _random_poly(rng, n, terms=6, degree=4):
    items = [(tuple(int(e) for e in rng.multinomial(int(rng.integers(0, degree + 1)), [1 / n] * n)),
              Fraction(int(rng.integers(-9, 10)), int(rng.integers(1, 4)))) for _ in range(terms)]
    return P.from_terms(items, n)


def test_ring_is_cached_and_named():
    assert P.ring(3) is P.ring(3)
    assert P.ring(3).names() == ("x0", "x1", "x2")
    with pytest.raises(ValueError):
        P.ring(0)


def test_gradient_and_lie_derivative_of_a_textbook_system():
    x0, x1 = P.variables(2)
    V = x0 ** 2 + x1 ** 2
    f = [-x0 + x1, -x0 - x1 ** 3]
    assert P.gradient(V) == [2 * x0, 2 * x1]
    assert P.lie_derivative(V, f) == -2 * x0 ** 2 - 2 * x1 ** 4
    with pytest.raises(ValueError, match="equations"):
        P.lie_derivative(V, f[:1])


def test_terms_from_terms_round_trip_and_degree():
    rng = np.random.default_rng(0)
    for _ in range(50):
        p = _random_poly(rng, 3)
        assert P.from_terms(P.terms(p), 3) == p
        assert P.total_degree(p) == max((sum(m) for m, _ in P.terms(p)), default=-1)
    assert P.is_zero(P.from_terms([((1, 0), 1), ((1, 0), -1)], 2))
    assert P.total_degree(P.ring(2).constant(0)) == -1
    x0, x1 = P.variables(2)
    assert [m for m, _ in P.terms(x1 + x0 ** 3 + x0)] == [(3, 0), (1, 0), (0, 1)]  # deglex, highest first
    assert P.value_at_zero(x0 + 5) == 5


def test_evaluate_matches_exact_values():
    rng = np.random.default_rng(1)
    points = rng.integers(-3, 4, size=(20, 3)).astype(float)
    for _ in range(30):
        p = _random_poly(rng, 3)
        exact = [float(p(*[int(v) for v in row])) for row in points]
        assert np.allclose(P.evaluate(p, points), exact, rtol=1e-12, atol=1e-9)
    with pytest.raises(ValueError, match="shape"):
        P.evaluate(p, np.zeros((4, 2)))


def test_numeric_poly_magnitude_is_the_sum_of_absolute_terms():
    rng = np.random.default_rng(2)
    points = rng.integers(-3, 4, size=(20, 3)).astype(float)
    for _ in range(20):
        p = _random_poly(rng, 3)
        numeric = P.NumericPoly(p)
        assert np.array_equal(numeric(points), P.evaluate(p, points))
        size = [float(sum(abs(c) * np.prod([abs(v) ** e for v, e in zip(row, m)]) for m, c in P.terms(p)))
                for row in points]
        assert np.allclose(numeric.magnitude(points), size, rtol=1e-12)
        assert np.all(np.abs(numeric(points)) <= numeric.magnitude(points) * (1 + 1e-12))
    assert np.array_equal(P.NumericPoly(P.ring(2).constant(0))(np.ones((3, 2))), np.zeros(3))


def test_in_ring_pads_variables_and_rejects_extra_ones():
    x0, x1 = P.variables(2)
    padded = P.in_ring(x0 ** 2 - 3 * x1, 3)
    assert padded.context() is P.ring(3) and padded == P.variables(3)[0] ** 2 - 3 * P.variables(3)[1]
    assert P.in_ring(padded, 3) is padded
    assert P.in_ring(P.in_ring(x0 * x1, 3), 2) == x0 * x1
    with pytest.raises(ValueError, match="beyond x0"):
        P.in_ring(x1, 1)


def test_sympy_conversion_is_exact():
    rng = np.random.default_rng(2)
    for _ in range(20):
        p = _random_poly(rng, 3)
        assert P.from_sympy(P.to_sympy(p), 3) == p
        assert sympy.expand(to_sympy(from_poly(p)) - P.to_sympy(p)) == 0


def test_to_poly_from_poly_round_trip():
    rng = np.random.default_rng(3)
    for _ in range(50):
        p = _random_poly(rng, 3)
        assert to_poly(from_poly(p), 3) == p
    x0, x1 = P.variables(2)
    assert to_poly(parse_infix("(x0 + x1)^2 / 4 - x0*x1/2"), 2) == (x0 ** 2 + x1 ** 2) / 4
    assert to_poly(Float(False, 5, -1) * Var(0), 2) == x0 / 2


@pytest.mark.parametrize("text", ["sin(x0)", "x0^(-1)", "x0^(1/2)", "1/x0", "pi*x0", "x0^x1"])
def test_not_polynomial(text):
    expression = parse_infix(text)
    assert not is_polynomial(expression)
    with pytest.raises(NotPolynomialError):
        to_poly(expression, 2)


def test_diff_matches_flint_on_polynomials():
    rng = np.random.default_rng(4)
    for _ in range(30):
        p = _random_poly(rng, 3)
        for i in range(3):
            assert to_poly(diff(from_poly(p), i), 3) == p.derivative(i)


FUNCTIONS = ["sin(x0*x1) + x0^3", "exp(x0 - x1^2)*cos(x1)", "ln(1 + x0^2) / (2 + x1)", "sqrt(1 + x0^2 + x1^4) - 1",
             "tan(x0/3) + atan(x1)", "asin(x0/2)*acos(x1/2)", "Abs(x0)*x1 + x0^x1", "x0^(1/3) + E^x1 + pi*x0"]


@pytest.mark.parametrize("text", FUNCTIONS)
def test_diff_matches_finite_differences_and_sympy(text):
    expression = parse_infix(text)
    rng = np.random.default_rng(5)
    points = rng.uniform(0.2, 0.9, size=(40, 2))  # inside every domain used above
    step = 1e-6
    for i in range(2):
        shift = np.zeros(2)
        shift[i] = step
        numeric = (evaluate(expression, points + shift) - evaluate(expression, points - shift)) / (2 * step)
        assert np.allclose(evaluate(diff(expression, i), points), numeric, rtol=1e-5, atol=1e-6)
        positive = {sympy.Symbol(f"x{k}"): sympy.Symbol(f"x{k}", positive=True) for k in range(2)}
        symbolic = sympy.diff(to_sympy(expression).subs(positive), positive[sympy.Symbol(f"x{i}")])
        assert sympy.simplify(to_sympy(diff(expression, i)).subs(positive) - symbolic) == 0


def test_evaluate_matches_sympy():
    rng = np.random.default_rng(6)
    points = rng.uniform(0.2, 0.9, size=(5, 2))
    for text in FUNCTIONS:
        expression = parse_infix(text)
        function = sympy.lambdify(sympy.symbols("x0:2"), to_sympy(expression), "numpy")
        assert np.allclose(evaluate(expression, points), function(points[:, 0], points[:, 1]), rtol=1e-12)


def test_simplify_folds_constants_and_neutral_elements():
    x0 = Var(0)
    assert simplify(Binary("+", Binary("*", Int(1), x0), Int(0))) == x0
    assert simplify(Binary("*", Int(2), Binary("*", Int(3), x0))) == Binary("*", Int(6), x0)
    assert simplify(Binary("^", Int(2), Int(10))) == Int(1024)
    assert simplify(Binary("/", Int(2), Int(4))) == Binary("/", Int(1), Int(2))
    assert simplify(Binary("*", Int(0), Unary("sin", x0))) == Int(0)
    assert simplify(Binary("-", x0, Int(0))) == x0


def test_tree_helpers():
    expression = parse_infix("sin(x0) + x2*pi")
    assert variables(expression) == {0, 2}
    assert size(expression) == 6
    assert Const("pi") in set(_nodes(expression))
    # long right-nested sums do not hit the recursion limit
    long_sum = from_poly(sum((P.variables(1)[0] ** k for k in range(1, 3000)), P.ring(1).constant(0)))
    assert to_poly(long_sum, 1).total_degree() == 2999
    assert evaluate(long_sum, np.array([[0.5]]))[0] == pytest.approx(1.0, rel=1e-9)


def _nodes(e):
    from seq2math.symbolic.expr import walk

    return list(walk(e))


def test_powers_too_large_to_build_are_refused_not_run():
    # python-flint aborts the whole process (SIGFPE) or asks for gigabytes on these: found by bench fuzz
    from seq2math.symbolic.expr import NotPolynomialError, to_poly
    from seq2math.tokens.infix import parse_infix

    for text, why in [("(-0.000000000794698)^711513e8", "at most 10000"), ("x0^99999999999999", "at most 10000"),
                      ("(x0 + x1 + x2)^5000", "more than 1,000,000")]:
        with pytest.raises(NotPolynomialError, match=why):
            to_poly(parse_infix(text), 3)
    assert to_poly(parse_infix("1^99999999999999 + (x0 + x1)^3"), 2) == to_poly(parse_infix("1 + (x0 + x1)^3"), 2)
