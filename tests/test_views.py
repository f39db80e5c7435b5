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
