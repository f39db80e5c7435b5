"""The prefix benchmark format and the infix syntax: exact round trips and located errors."""

from pathlib import Path

import numpy as np
import pytest

from seq2math.lyapunov.batch import parse_benchmark_line
from seq2math.lyapunov.generation.backward import BackwardConfig, generate_backward
from seq2math.lyapunov.generation.nonpoly import generate_nonpoly
from seq2math.symbolic import poly as P
from seq2math.symbolic.calculus import evaluate
from seq2math.symbolic.expr import (
    Binary,
    Const,
    Float,
    Int,
    Unary,
    Var,
    from_poly,
    system_to_infix,
    to_infix,
    to_poly,
)
from seq2math.tasks.base import DataFormatError
from seq2math.tokens.infix import InfixParseError, parse_infix, parse_infix_system
from seq2math.tokens.prefix import (
    PREFIX_VOCABULARY,
    PrefixParseError,
    expression_tokens,
    format_benchmark_line,
    integer_tokens,
    parse_expression,
    parse_full_expression,
    parse_system,
    poly_tokens,
    system_tokens,
)

# a copy of shared/examples/prefix-format.txt (hand-written for this project), so a bare clone tests it
EXAMPLES = Path(__file__).resolve().parent / "data" / "prefix-format.txt"

# every token kind: all operators, constants, base-1000 integers, floats of both signs, 3 equations
HAND_WRITTEN = [
    "1|INT+ 2 <SPECIAL_3> + * INT- 2 x0 x1 <SPECIAL_3> + * INT- 1 x0 * INT- 1 x1\t+ ^ x0 INT+ 2 ^ x1 INT+ 2",
    "1|INT+ 2 <SPECIAL_3> * INT- 1 0 x0 <SPECIAL_3> * INT- 2 5 x1\t+ * INT+ 3 ^ x0 INT+ 2 ^ x1 INT+ 2",
    "1|INT+ 2 <SPECIAL_3> * INT- 1 x0 <SPECIAL_3> * INT- 3 x1\t+ * FLOAT+ 50 0 10^ INT- 5 ^ x0 INT+ 2 ^ x1 INT+ 2",
    "1|INT+ 2 <SPECIAL_3> * INT- 1 * x0 + INT+ 2 cos x1 <SPECIAL_3> * INT- 1 x1\t+ ^ x0 INT+ 2 ^ x1 INT+ 2",
    "7|INT+ 3 <SPECIAL_3> - / sin x0 sqrt + INT+ 1 ^ x1 INT+ 2 tan x2 <SPECIAL_3> * FLOAT- 1 250 10^ INT+ 3 "
    "Abs x1 <SPECIAL_3> + * pi asin atan x2 * E acos exp x0\t+ ln + INT+ 1 ^ x0 INT+ 2 + ^ x1 INT+ 1 2 x2",
]


def test_example_file_round_trips_token_for_token():
    lines = EXAMPLES.read_text().splitlines()
    assert len(lines) == 5
    for number, line in enumerate(lines, 1):
        count, system, V = parse_benchmark_line(line, str(EXAMPLES), number)
        assert format_benchmark_line(system, V, count) == line


@pytest.mark.parametrize("line", HAND_WRITTEN)
def test_hand_written_lines_round_trip(line):
    count, system, V = parse_benchmark_line(line)
    assert format_benchmark_line(system, V, count) == line
    assert set(" ".join(system_tokens(system) + expression_tokens(V)).split()) <= set(PREFIX_VOCABULARY)


def test_numbers_mean_what_the_format_says():
    _, system, V = parse_benchmark_line(HAND_WRITTEN[1])
    assert to_poly(system[0], 2) == -1000 * P.ring(2).gen(0)
    assert to_poly(system[1], 2) == -2005 * P.ring(2).gen(1)
    _, _, V = parse_benchmark_line(HAND_WRITTEN[2])
    x0, x1 = P.variables(2)
    assert to_poly(V, 2) == x0 ** 2 / 2 + x1 ** 2
    assert parse_full_expression("FLOAT- 1 250 10^ INT+ 3".split()) == Float(True, 1250, 3)
    assert Float(True, 1250, 3).value == -1_250_000
    assert integer_tokens(-1000) == ["INT-", "1", "0"] and integer_tokens(0) == ["INT+", "0"]
    assert integer_tokens(10 ** 9 + 7) == ["INT+", "1", "0", "0", "7"]


def test_example_file_means_the_documented_systems():
    lines = EXAMPLES.read_text().splitlines()
    _, system, V = parse_benchmark_line(lines[4])
    expected = parse_infix_system("x0' = -x0^3 + x1; x1' = -x0 - x1 + x2; x2' = -x1 - x2^3")
    assert [to_poly(f, 3) for f in system] == [to_poly(f, 3) for f in expected]
    _, system, _ = parse_benchmark_line(lines[3])
    assert system[0] == Binary("*", Int(-1), Binary("*", Var(0), Binary("+", Int(2), Unary("cos", Var(1)))))


def test_generated_files_round_trip():
    config = BackwardConfig(max_variables=4)
    for index in range(200):
        result = generate_backward(np.random.default_rng([2, index]), config)
        if result is None:
            continue
        example, source, target = result
        line = "1|" + " ".join(source) + "\t" + " ".join(target)
        count, system, V = parse_benchmark_line(line)
        assert format_benchmark_line(system, V, count) == line
        assert poly_tokens(example.V) == expression_tokens(from_poly(example.V))
    for index in range(40):
        result = generate_nonpoly(np.random.default_rng([2, index]), config)
        if result is not None:
            line = "1|" + " ".join(result[1]) + "\t" + " ".join(result[2])
            assert format_benchmark_line(*parse_benchmark_line(line)[1:]) == line


def test_parse_expression_reports_next_index():
    tokens = "+ x0 x1 <SPECIAL_3> x2".split()
    expression, end = parse_expression(tokens)
    assert expression == Binary("+", Var(0), Var(1)) and end == 3
    assert parse_expression(tokens, 4) == (Var(2), 5)


@pytest.mark.parametrize("tokens, message, index", [
    ("+ x0", "ends too early", 2),
    ("* INT+ x0", "without digits", 2),
    ("INT+ 05", "bad base-1000 digit", 1),
    ("INT+ 0 5", "leading zero", 1),
    ("INT- 0", "negative zero", 0),
    ("FLOAT+ 5 INT- 1", "not followed by its exponent", 2),
    ("foo", "unexpected token", 0),
    ("x0 x1", "extra tokens", 1),
    ("INT+ 1000", "bad base-1000 digit", 1),
])
def test_parse_errors_name_token_and_expectation(tokens, message, index):
    with pytest.raises(PrefixParseError, match=message) as info:
        parse_full_expression(tokens.split())
    assert info.value.index == index
    assert "expected" in str(info.value)


def test_system_errors_name_the_line():
    with pytest.raises(PrefixParseError, match=r"data.txt:7: .*equation 2 of 2 missing.*token 4"):
        parse_benchmark_line("1|INT+ 2 <SPECIAL_3> x0\tx0", "data.txt", 7)
    with pytest.raises(PrefixParseError, match="uses x2 but the system has 2 variables"):
        parse_system("INT+ 2 <SPECIAL_3> x0 <SPECIAL_3> x2".split())
    with pytest.raises(PrefixParseError, match=r"f.txt:3: in the target"):
        parse_benchmark_line("1|INT+ 1 <SPECIAL_3> x0\t+ x0", "f.txt", 3)
    with pytest.raises(DataFormatError, match="no tab"):          # the line format: data.files
        parse_benchmark_line("1|INT+ 1 <SPECIAL_3> x0")
    with pytest.raises(DataFormatError, match="g.txt:2: the count before '|' is not a number"):
        parse_benchmark_line("x|INT+ 1 <SPECIAL_3> x0\tx0", "g.txt", 2)
    assert parse_benchmark_line("INT+ 1 <SPECIAL_3> x0\tx0")[0] == 1  # COUNT| is optional


def test_infix_builds_the_files_convention():
    system = parse_infix_system("x0' = -x0; x1' = -2*x1 + x0^3")
    assert " ".join(system_tokens(system)) == "INT+ 2 <SPECIAL_3> * INT- 1 x0 <SPECIAL_3> + * INT- 2 x1 ^ x0 INT+ 3"
    assert system_to_infix(system) == "x0' = -x0; x1' = -2*x1 + x0^3"
    assert parse_infix_system("x1' = -x1\nx0' = x1") == [Var(1), Binary("*", Int(-1), Var(1))]
    assert parse_infix("2x0 (x1 + 1)") == parse_infix("2*x0*(x1 + 1)")
    assert parse_infix("0.50") == Float(False, 50, -2)


def test_infix_round_trip_of_every_node_kind():
    rng = np.random.default_rng(0)
    points = rng.uniform(0.1, 0.9, size=(50, 3))
    for line in HAND_WRITTEN:
        _, system, V = parse_benchmark_line(line)
        for expression in [*system, V]:
            text = to_infix(expression)
            back = parse_infix(text)
            assert to_infix(back) == text
            assert np.allclose(evaluate(back, points), evaluate(expression, points), rtol=1e-12, equal_nan=True)
    assert parse_infix("pi*E") == Binary("*", Const("pi"), Const("E"))


def test_infix_of_polynomials_is_exact():
    checked = 0
    for index in range(50):
        result = generate_backward(np.random.default_rng([9, index]), BackwardConfig(max_variables=3))
        if result is None:
            continue
        for p in [result[0].V, *result[0].system]:
            expression = from_poly(p)
            assert parse_infix(to_infix(expression)) == expression
            checked += 1
    assert checked >= 100       # most of the 50 draws are accepted, each with V and 2 or 3 equations


@pytest.mark.parametrize("text, position", [("x0 + * 2", 5), ("sin x0", 4), ("x0 + (x1", 8), ("x0 $ 1", 3),
                                            ("foo(x0)", 0)])
def test_infix_errors_name_the_position(text, position):
    with pytest.raises(InfixParseError) as info:
        parse_infix(text)
    assert info.value.position == position
    assert f"position {position}" in str(info.value)


def test_infix_system_errors():
    with pytest.raises(InfixParseError, match="defined twice"):
        parse_infix_system("x0' = x0; x0' = x1")
    with pytest.raises(InfixParseError, match="missing"):
        parse_infix_system("x1' = x0")
    with pytest.raises(InfixParseError, match="position 20"):
        parse_infix_system("x0' = x0; x1' = x0 +")
