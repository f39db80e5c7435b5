"""Bounds of expressions from their form (seq2math/lyapunov/provers/signs.py) and their use by the
substitution prover on the generator's own non-polynomial pairs."""

from fractions import Fraction

import pytest

from seq2math.lyapunov.provers import substitution as S
from seq2math.lyapunov.provers.signs import bounds, lower_bound
from seq2math.tokens.infix import parse_infix
from seq2math.tokens.prefix import parse_full_expression, parse_system

NONPOLY = "tests/data/lyapunov-nonpoly-test200.txt"


@pytest.mark.parametrize("text, low", [
    ("1 + (3*x1 - 3*x3^2)^2", 1),                 # a square is >= 0
    ("sin(x0*x1)^2 + 1 - cos(x0 + x1)", 0),        # sin^2 >= 0, cos <= 1
    ("(exp(-2*x0*x1) - 1)^2", 0),
    ("ln(1 + x0^2)", 0),                           # ln t >= 1 - 1/t >= 0 for t >= 1
    ("2*sqrt(1 + x0^2)", 2),                       # sqrt t >= min(t, 1)
    ("exp(x0^2)", 1),                              # exp t >= 1 + t
    ("(2 + cos(2*x0))", 1),
    ("3/(2 + sin(x0))", 0),                        # 1/b in (0, 1]
    ("atan(x0) + 2", 0),
])
def test_bounds_from_the_form_are_true_lower_bounds(text, low):
    assert lower_bound(parse_infix(text)) == Fraction(low)


@pytest.mark.parametrize("text", ["x0", "x0^3", "sin(x0)*x1^2", "ln(x0^2)", "1 - x0^2", "x0*x1"])
def test_no_bound_where_the_form_gives_none(text):
    assert lower_bound(parse_infix(text)) is None


def test_upper_bounds_and_negation():
    assert bounds(parse_infix("-cos(x0)")) == (Fraction(-1), Fraction(1))
    assert bounds(parse_infix("1 - cos(x0)")) == (Fraction(0), Fraction(2))
    assert bounds(parse_infix("sin(x0)^2")) == (Fraction(0), Fraction(1))


def _pair(line: int):
    text = open(NONPOLY).read().splitlines()[line - 1]
    source, target = text.split("\t")
    return parse_system(source.split("|", 1)[1].split()), parse_full_expression(target.split())


@pytest.mark.parametrize("line", [1, 6, 7])           # ln(1 + P); sqrt(1 + P) - 1; (2 + cos)·P + squares + ln
def test_generator_pairs_are_proved_and_the_reversed_system_is_not(line):
    system, V = _pair(line)
    assert S.prove(system, V, "lyapunov", 30).is_global
    reversed_system = [-1 * f for f in system]
    assert not S.prove(reversed_system, V, "lyapunov", 5).proved


def test_a_bound_from_the_form_is_rechecked_and_cannot_be_claimed_where_there_is_none():
    system, V = _pair(7)
    lifted = S.conditions(system, V, "lyapunov")
    parts = [S._search_degrees(cond, None)[0] for cond in lifted]
    assert all(parts) and any("syntactic" in part for part in parts)
    certificate = {"prover": S.NAME, "check": "lyapunov", "positivity": 0, "conditions": parts}
    assert S.recheck(system, V, "lyapunov", certificate)[0]
    decrease = next(k for k, cond in enumerate(lifted) if cond.name == "decrease")
    forged = dict(parts[decrease], syntactic="0")   # the decrease has no bound from its form
    parts[decrease] = forged
    ok, why = S.recheck(system, V, "lyapunov", certificate)
    assert not ok and "no bound" in why
