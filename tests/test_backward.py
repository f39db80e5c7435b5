"""Backward generation: every pair is a Lyapunov function by construction, checked exactly."""

from dataclasses import replace

import numpy as np
import pytest

from seq2math.data.generation import generate_example, iter_lines
from seq2math.lyapunov.generation.backward import (
    BackwardConfig,
    build_polynomial,
    draw_recipe,
    expected_count_weights,
    generate_backward,
    weighted_count,
)
from seq2math.lyapunov.generation.nonpoly import generate_nonpoly, lie_derivative_values
from seq2math.symbolic import poly as P
from seq2math.symbolic.calculus import evaluate
from seq2math.symbolic.expr import to_poly
from seq2math.tasks.base import make_task
from seq2math.tokens.prefix import parse_full_expression, parse_system


def _examples(count, seed=0, config=None):
    config = config or BackwardConfig()
    out = []
    index = 0
    while len(out) < count:
        result = generate_backward(np.random.default_rng([seed, index]), config)
        index += 1
        if result is not None:
            out.append(result)
    return out


@pytest.fixture(scope="module")
def examples():
    return _examples(2000)


def test_lie_derivative_is_minus_sum_of_squares_exactly(examples):
    for example, source, target in examples:
        n, V = example.n, example.V
        derivative = P.lie_derivative(V, example.system)
        expected = P.ring(n).constant(0)
        for k, h in example.damping.items():
            expected -= (h * V.derivative(k)) ** 2
        assert derivative == expected, (source, target)
        # V(0) = 0 and ∇V(0) = 0: no term of degree < 2
        assert all(sum(monom) >= 2 for monom, _ in P.terms(V))
        # the system vanishes at the origin
        assert all(sum(monom) >= 1 for f in example.system for monom, _ in P.terms(f))


def test_tokens_describe_the_constructed_pair(examples):
    for example, source, target in examples[:300]:
        system = parse_system(source)
        assert [to_poly(f, example.n) for f in system] == example.system
        assert to_poly(parse_full_expression(target), example.n) == example.V


def test_lyapunov_function_is_positive_and_grows(examples):
    rng = np.random.default_rng(1)
    for example, _, _ in examples[:500]:
        n = example.n
        directions = rng.standard_normal((64, n))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        radii = np.array([0.05, 0.5, 2.0, 8.0])
        points = (directions[:, None, :] * radii[None, :, None]).reshape(-1, n)  # [64*4, n]
        values = P.evaluate(example.V, points).reshape(64, len(radii))
        assert np.all(values > 0)
        # properness: V on the sphere of radius 8 exceeds its maximum on the sphere of radius 0.05
        assert values[:, -1].min() > values[:, 0].max()
        # V = proper part + Σ q² is bounded below by its proper part
        assert np.all(P.evaluate(example.proper, points) <= P.evaluate(example.V, points) + 1e-9)


def test_sizes_and_degrees_respect_the_config():
    config = BackwardConfig(min_variables=2, max_variables=3, max_source_tokens=200, max_target_tokens=60,
                            max_system_degree=9)
    for example, source, target in _examples(300, seed=3, config=config):
        assert 2 <= example.n <= 3
        assert len(source) <= 200 and len(target) <= 60
        assert max(P.total_degree(f) for f in example.system) <= 9
        assert not any(f.is_zero() for f in example.system)


def test_small_counts_are_favoured():
    rng = np.random.default_rng(0)
    draws = np.array([weighted_count(rng, 0, 4, 1.5) for _ in range(4000)])
    frequencies = np.bincount(draws, minlength=5) / len(draws)
    assert np.allclose(frequencies, expected_count_weights(4), atol=0.03)
    assert frequencies[0] > frequencies[1] > frequencies[2]


def test_both_proper_parts_occur_and_are_positive_definite():
    config = BackwardConfig()
    kinds = set()
    for index in range(200):
        recipe = draw_recipe(np.random.default_rng([7, index]), config)
        kinds.add("diagonal" if recipe.diagonal is not None else "matrix")
        if recipe.matrix is not None:
            assert np.linalg.eigvalsh(np.array(recipe.matrix, dtype=float)).min() >= 1 - 1e-9  # AAᵀ + I
        example = build_polynomial(recipe)
        assert example.proper.total_degree() <= 2 * config.max_half_degree
    assert kinds == {"diagonal", "matrix"}


def test_deterministic_per_seed_whatever_workers():
    task = make_task("lyapunov", {"max_variables": 3})
    one = [line for chunk in iter_lines(task, 40, seed=5, workers=1, chunk=7) for line in chunk]
    two = [line for chunk in iter_lines(task, 40, seed=5, workers=2, chunk=7) for line in chunk]
    assert one == two
    assert generate_example(task, 5, 3) == generate_example(task, 5, 3)
    assert generate_example(task, 5, 3) != generate_example(task, 6, 3)


def test_nonpoly_pairs_pass_a_numerical_check():
    config = BackwardConfig(max_variables=3)
    checked = 0
    rng = np.random.default_rng(0)
    for index in range(150):
        result = generate_nonpoly(np.random.default_rng([11, index]), config)
        if result is None:
            continue
        example, source, target = result
        assert parse_system(source) == example.system and parse_full_expression(target) == example.V
        points = rng.standard_normal((1500, example.n)) * np.logspace(-3, 0.3, 1500)[:, None]  # [1500, n]
        values = evaluate(example.V, points)
        derivative, scale = lie_derivative_values(example, points)
        finite = np.isfinite(values) & np.isfinite(derivative)
        assert finite.mean() > 0.5
        assert abs(evaluate(example.V, np.zeros((1, example.n)))[0]) < 1e-12
        assert np.all(values[finite] >= 0)
        assert np.all(derivative[finite] <= 1e-9 * scale[finite] + 1e-300)
        checked += 1
    assert checked >= 100


def test_nonpoly_flag_makes_non_polynomial_pairs():
    task = make_task("lyapunov", {"nonpoly": True, "max_variables": 3})
    functions = 0
    for index in range(30):
        source, target = generate_example(task, 0, index)
        functions += any(t in ("exp", "sin", "cos", "ln", "sqrt", "atan") for t in source + target)
    assert functions >= 20


def test_bad_options_are_rejected():
    from seq2math.config import ConfigError

    with pytest.raises(ConfigError, match="max_variables"):
        make_task("lyapunov", {"min_variables": 4, "max_variables": 3})
    with pytest.raises(ConfigError, match="max_lyapunov_degree"):
        replace(BackwardConfig(), max_half_degree=7).validate()


def test_task_lines_human_form_and_verify(tmp_path):
    from seq2math.data.files import format_line, parse_line, task_records
    from seq2math.tasks.base import DataFormatError

    task = make_task("lyapunov", {"max_variables": 2})
    source = task.from_human("x0' = -x0 + x1; x1' = -x0 - x1^3")
    assert task.to_human(source) == "x0' = -x0 + x1; x1' = -x0 - x1^3"
    assert task.size_key(source) == "n=2"
    line = format_line(source, ["x0"], task.default_format)
    record = parse_line(line)
    assert line.startswith("1|") and (record.source, record.target, record.count) == (source, ["x0"], 1)
    assert parse_line(line.split("|", 1)[1]).source == source  # COUNT| optional
    with pytest.raises(DataFormatError, match="f.txt:4: expected SOURCE<TAB>TARGET, found no tab"):
        parse_line("1|INT+ 2 x0", "f.txt", 4)
    bad = tmp_path / "f.txt"
    bad.write_text(line + "\n" + "1|INT+ 2 <SPECIAL_3> x0\tx0\n")     # line 2: the second equation is missing
    with pytest.raises(DataFormatError, match="f.txt:2: .*missing"):
        list(task_records(task, bad))
    good = "+ ^ x0 INT+ 2 ^ x1 INT+ 2".split()
    assert task.verify(source, good).scores == {"barrier": True, "lyapunov": True}
    assert task.verify(source, ["*", "INT-", "1", *good]).scores == {"barrier": False, "lyapunov": False}
    assert not task.verify(source, ["+", "x0"]).valid
    assert not task.verify(source, "^ x2 INT+ 2".split()).valid
    generated_source, generated_target = generate_example(task, 0, 0)
    assert task.verify(generated_source, generated_target).scores["lyapunov"] is True
    assert set(task.vocabulary()) >= {"x11", "999", "<SPECIAL_3>", "FLOAT+", "10^", "Abs"}


def test_paper_knobs_counted_rotations_and_gcd_reduced_matrices():
    config = BackwardConfig(max_variables=4, coefficient_draw="paper", reduce_matrix_gcd=True, rotation_draw="count",
                            allow_zero_equations=True, diagonal_probability=0.0, max_matrix_entry=1)
    zero_equations = 0
    for index in range(60):
        recipe = draw_recipe(np.random.default_rng([31, index]), config)
        assert len(recipe.rotations) <= recipe.n - 1
        assert np.gcd.reduce(np.array(recipe.matrix).ravel()) == 1
        example = build_polynomial(recipe)
        zero_equations += any(f.is_zero() for f in example.system)
        grad = [example.V.derivative(i) for i in range(example.n)]
        vdot = sum((f * g for f, g in zip(example.system, grad)), P.ring(example.n).constant(0))
        assert vdot == sum((-h * h * grad[k] ** 2 for k, h in example.damping.items()), P.ring(example.n).constant(0))
    assert zero_equations > 0      # without covering rotations an undamped coordinate can stay still
