"""The interval prover: region certificates on boxes, re-checked counterexamples, honest unknowns."""

from fractions import Fraction

import numpy as np
import pytest

from seq2math.lyapunov.provers import interval
from seq2math.lyapunov.provers.enclosure import enclose_at, lie_derivative, point_value
from seq2math.lyapunov.provers.taylor import TaylorBound, quadratic_model
from seq2math.symbolic.calculus import evaluate
from seq2math.symbolic.expr import Int, Unary, Var

x0, x1 = Var(0), Var(1)
SIN_SYSTEM = [Int(-1) * Unary("sin", x0), Int(-1) * x1]     # V̇ = −2x0 sin x0 − 2x1² ≤ 0 only for |x0| ≤ π
V = x0**2 + x1**2


def test_enclosure_contains_sampled_values():
    g = Unary("exp", x0) * Unary("sin", x1) - x0**3 + Unary("ln", Int(2) + x1**2) / (Int(1) + x0**2)
    box = [interval.ball(Fraction(-1, 3), Fraction(1, 2)), interval.ball(Fraction(1), Fraction(5, 4))]
    enclosure = enclose_at(g, box)
    rng = np.random.default_rng(0)
    points = np.column_stack([rng.uniform(-1 / 3, 1 / 2, 200), rng.uniform(1, 5 / 4, 200)])
    values = evaluate(g, points)
    assert float(enclosure.lower()) <= values.min() and values.max() <= float(enclosure.upper())


def test_even_power_of_a_ball_around_zero_is_nearly_nonnegative():
    box = [interval.ball(Fraction(-1), Fraction(1))]
    square, product = enclose_at(x0**2, box), enclose_at(x0 * x0, box)
    assert -1e-6 < float(square.lower()) <= 0 and float(square.upper()) >= 1   # [0, 1] up to outward rounding
    assert float(product.lower()) <= -1                                        # plain ball product: [−1, 1]


def test_proves_sin_system_on_a_box_inside_pi():
    verdict = interval.prove(SIN_SYSTEM, V, "lyapunov", time_limit=20, radius=3)
    assert verdict.proved and not verdict.is_global
    assert verdict.region == "the box |x_i| <= 3"


def test_refutes_sin_system_on_a_box_beyond_pi():
    verdict = interval.prove(SIN_SYSTEM, V, "lyapunov", time_limit=20, radius=4)
    assert verdict.status == "refuted" and not verdict.proved
    point = [Fraction(c) for c in verdict.counterexample]
    assert abs(point[0]) > Fraction(314159, 100000)             # the decrease fails only for |x0| > π
    vdot = point_value(lie_derivative(SIN_SYSTEM, V), point)
    assert vdot > 0                                             # re-checked here, in arb


def test_refutes_a_planted_wrong_V_and_the_point_is_a_counterexample():
    wrong = x0**2 - x1**2 / Int(4)                             # ≤ 0 on |x1| ≥ 2|x0|
    verdict = interval.prove([Int(-1) * x0, Int(-1) * x1], wrong, "lyapunov", time_limit=20, radius=2)
    assert verdict.status == "refuted"
    point = [Fraction(c) for c in verdict.counterexample]
    assert any(point) and all(abs(c) <= 2 for c in point)
    assert point[0] ** 2 - point[1] ** 2 / 4 <= 0              # exactly, in rationals


def test_without_a_radius_the_largest_proved_box_is_named():
    verdict = interval.prove(SIN_SYSTEM, V, "lyapunov", time_limit=20)
    assert verdict.proved and verdict.region == "the box |x_i| <= 2"   # 8 and 4 contain |x0| > π


def test_semidefinite_decrease_leaves_out_a_named_box_around_zero():
    system = [Int(-1) * x0**3, Int(-1) * x1]                    # V̇ = −2x0⁴ − 2x1²: no definite quadratic part
    verdict = interval.prove(system, V, "lyapunov", time_limit=20, radius=1)
    assert verdict.proved and "minus the box |x_i| <= 1/64" in verdict.region


def test_taylor_model_bounds_a_nonpolynomial_condition_near_zero():
    g = Int(2) * x0 * Unary("sin", x0) + Int(2) * x1**2          # −V̇ of the sin system
    model = quadratic_model(g, 2, Fraction(2), deadline=float("inf"))
    assert isinstance(model, TaylorBound) and 0 < model.radius <= 2 and model.margin > 0
    not_definite = quadratic_model(x0**2 - x1**2, 2, Fraction(1), deadline=float("inf"))
    assert isinstance(not_definite, str) and "not positive definite" in not_definite


def test_barrier_check_and_nonzero_value_at_origin():
    verdict = interval.prove([Int(-1) * x0, Int(-1) * x1], V + Int(1), "barrier", time_limit=20, radius=2)
    assert verdict.proved and verdict.region == "the box |x_i| <= 2"
    shifted = interval.prove([Int(-1) * x0, Int(-1) * x1], V + Int(1), "lyapunov", time_limit=20, radius=2)
    assert shifted.status == "refuted" and "V(0)" in shifted.detail


def test_out_of_time_is_unknown_never_proved():
    # V < 0 where x0 x1 is near pi/7 and |x| is small: many boxes to decide, and a refutation to find
    hard = Unary("cos", Int(7) * x0 * x1) + x0**2 + x1**2
    system = [Int(-1) * x0, Int(-1) * x1]
    verdict = interval.prove(system, hard, "barrier", time_limit=0.01, radius=8)
    assert verdict.status != "proved"
    if verdict.status == "unknown":
        assert "out of time" in verdict.detail
    else:                       # a fast machine may find the counterexample in time: it must be one
        point = [Fraction(value) for value in verdict.counterexample]
        V, vdot = point_value(hard, point), point_value(lie_derivative(system, hard), point)
        assert V < 0 or vdot > 0


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="lyapunov"):
        interval.prove(SIN_SYSTEM, V, "stability", time_limit=1, radius=1)
    with pytest.raises(ValueError, match="uses x2"):
        interval.prove(SIN_SYSTEM, V + Var(2), "lyapunov", time_limit=1, radius=1)
    with pytest.raises(ValueError, match="radius"):
        interval.prove(SIN_SYSTEM, V, "lyapunov", time_limit=1, radius=0)
