"""Views of a polynomial system (signed permutations of its variables): exact algebra of the change of variables."""

from __future__ import annotations

import random

import pytest

from seq2math.lyapunov.methods.views import View, from_view, identity, substituted, system_in_view, views_of
from seq2math.symbolic.poly import from_terms, lie_derivative


def random_polynomial(rng: random.Random, n: int, terms: int = 6, degree: int = 4):
    items = []
    for _ in range(terms):
        exponents = [0] * n
        for _ in range(rng.randint(1, degree)):
            exponents[rng.randrange(n)] += 1
        items.append((exponents, rng.randint(-9, 9)))
    return from_terms(items, n)


def test_views_are_distinct_identity_first_and_as_many_as_asked():
    assert views_of(3, 1) == [identity(3)]
    three = views_of(3, 4)
    assert len(set(three)) == 4 and three[0].is_identity and not any(v.is_identity for v in three[1:])
    assert three[1] == View((2, 1, 0), (1, 1, 1)) and three[2] == View((1, 2, 0), (1, 1, 1))
    two = views_of(2, 9)           # reversed = shifted by one, shifted by two = identity: five distinct views
    assert len(two) == len(set(two)) == 5
    assert len(views_of(4, 9)) == 7
    assert views_of(1, 9) == [identity(1), View((0,), (-1,))]


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_a_function_of_a_view_maps_back_exactly_with_its_lie_derivative(n):
    """For every view P: V = W∘P and (L_f V)(x) = (L_{f'} W)(Px) exactly, f' the system in the view; and the
    inverse view undoes the substitution."""
    rng = random.Random(n)
    system = [random_polynomial(rng, n) for _ in range(n)]
    W = random_polynomial(rng, n)
    for view in views_of(n, 5):
        V = from_view(W, view, n)
        assert substituted(V, view.inverse(), n) == W
        assert lie_derivative(V, system) == from_view(lie_derivative(W, system_in_view(system, view)), view, n)
    assert system_in_view(system, identity(n)) == system


def test_reorderings_alone_when_signs_are_left_out():
    assert views_of(3, 9, signs=False) == [identity(3), View((2, 1, 0), (1, 1, 1)), View((1, 2, 0), (1, 1, 1)),
                                           View((2, 0, 1), (1, 1, 1))]
    assert views_of(2, 9, signs=False) == [identity(2), View((1, 0), (1, 1))]
    assert views_of(3, 2, signs=False) == views_of(3, 2)      # the first reordering comes first either way


def _expression(text: str):
    from seq2math.tokens.infix import parse_infix

    return parse_infix(text)


@pytest.mark.parametrize("view", [View((2, 0, 1), (1, 1, 1)), View((1, 2, 0), (1, -1, -1))])
def test_an_expression_tree_maps_like_a_function_of_the_view(view):
    """Non-polynomial trees: V = W∘P and, at y = Px, the system in the view is ẏ_i = signs[i]·f_{order[i]}(x)
    (values at random points); a polynomial tree maps as its polynomial does."""
    import numpy as np

    from seq2math.symbolic.calculus import evaluate
    from seq2math.symbolic.expr import to_poly

    n = 3
    W = _expression("(2 + sin(x0)) * x1^2 + exp(x2 - x0) - 1 + ln(1 + x0^2 * x2^2)")
    system = [_expression(t) for t in ("-x0 * (2 + cos(x1))", "-x1 + x0 * sin(x2)", "-x2 * exp(x1) + x0^3")]
    X = np.random.default_rng(0).normal(size=(20, n))
    Y = np.stack([view.signs[i] * X[:, view.order[i]] for i in range(n)], axis=1)     # y = Px
    assert np.allclose(evaluate(from_view(W, view, n), X), evaluate(W, Y))
    moved = system_in_view(system, view)
    for i in range(n):
        assert np.allclose(evaluate(moved[i], Y), view.signs[i] * evaluate(system[view.order[i]], X))
    polynomial = _expression("3*x0^2*x1 - x1*x2^3 + 5*x2 - x0^4")
    assert to_poly(from_view(polynomial, view, n), n) == from_view(to_poly(polynomial, n), view, n)


def test_a_long_expression_chain_is_renamed_without_recursion():
    from seq2math.symbolic.expr import Var, chain, operands

    long_sum = chain("+", [Var(i % 2) for i in range(20000)])
    renamed = from_view(long_sum, View((1, 0), (1, 1)), 2)
    assert [v.index for v in operands(renamed, "+")][:4] == [1, 0, 1, 0]
