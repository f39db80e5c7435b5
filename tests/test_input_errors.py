"""Clear answers for what cannot be solved: a variable beyond the system and an origin that is
not an equilibrium are input errors naming the variable, the equation and the line
(seq2math.lyapunov.batch.check_system, docs/reliability.md)."""

from __future__ import annotations

import json

import pytest

from seq2math.cli import main
from seq2math.lyapunov.batch import InputError, check_system, parse_problem, summary
from seq2math.tokens.infix import parse_infix, parse_infix_system


@pytest.mark.parametrize("system, message", [
    ("x0' = -x5", "x5 in the equation of x0' (-x5) is not a variable of this system of 1 equation (x0..x0)"),
    ("x0' = -x0; x1' = -x1 + x0*x2", "x2 in the equation of x1'"),
    ("x0' = -x0 + 1; x1' = -x1", "the origin is not an equilibrium: f_0(0) = 1 (x0' = -x0 + 1)"),
    ("x0' = -x0; x1' = -x1 - 3/2", "the origin is not an equilibrium: f_1(0) = -3/2"),
    ("x0' = cos(x0) - x0", "the origin is not an equilibrium: f_0(0) = 1.0"),
])
def test_solve_rejects_a_system_it_cannot_mean(system, message, capsys):
    assert main(["solve", system, "--time-limit", "5"]) == 2
    err = capsys.readouterr().err
    assert "input error" in err and message in err


@pytest.mark.parametrize("system", ["x0' = -x0; x1' = -x1^3", "x0' = -sin(x0)", "x0' = cos(x0) - 1 - x0"])
def test_systems_with_the_origin_as_equilibrium_pass_the_checks(system):
    check_system(parse_infix_system(system))            # raises nothing


def test_a_variable_of_V_beyond_the_system_names_V_and_the_line():
    with pytest.raises(InputError, match=r"f\.txt:7: x3 in V \(x0\^2 \+ x3\^2\)"):
        parse_problem("x0' = -x0\tx0^2 + x3^2", infix=True, path="f.txt", line=7)
    assert check_system(parse_infix_system("x0' = -x0"), parse_infix("x0^2")) is None


def test_files_record_the_bad_lines_as_input_errors_and_go_on(tmp_path, capsys):
    data = tmp_path / "systems.txt"
    data.write_text("x0' = -x0\tx0^2\nx0' = -x0 + 2\tx0^2\nx0' = -x1\tx0^2\n")
    out = tmp_path / "verified.jsonl"
    assert main(["verify", str(data), "--infix", "--out", str(out), "--time-limit", "20"]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["valid"] for r in records] == [True, None, None]
    assert records[1]["reason"] == (f"input error: {data}:2: the origin is not an equilibrium: "
                                    "f_0(0) = 2 (x0' = -x0 + 2)")
    assert f"{data}:3: x1 in the equation of x0' (-x1)" in records[2]["reason"] and records[2]["error"]
    solved = tmp_path / "solved.jsonl"
    assert main(["solve", str(data), "--infix", "--out", str(solved), "--time-limit", "20"]) == 0
    found = [json.loads(line) for line in solved.read_text().splitlines()]
    assert found[0]["found"] is True and [r["found"] for r in found[1:]] == [None, None]
    assert "the origin is not an equilibrium" in found[1]["reason"]
    capsys.readouterr()


def test_a_summary_of_only_undecided_lines_has_counts_and_no_times():
    records = [{"line": i, "valid": None, "reason": "undecided: time limit (2 s)"} for i in (1, 2, 3)]
    data = summary(records)
    assert data["counts"] == {"null": 3} and data["median_seconds"] is None and data["total_seconds"] == 0
