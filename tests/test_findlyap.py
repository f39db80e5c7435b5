"""The findlyap baseline: finds textbook V, refuses the Ahmadi–Krstić–Parrilo system, CLI."""

from __future__ import annotations

import json

from seq2math.cli import main
from seq2math.lyapunov.check import check_candidate
from seq2math.lyapunov.methods.findlyap import (
    build_program,
    findlyap,
    rounded_candidates,
)
from seq2math.symbolic.poly import lie_derivative, ring


def test_findlyap_finds_and_proves_a_textbook_lyapunov_function(textbook):
    system = textbook.system
    result = findlyap(system, max_degree=4)
    assert result.status == "found" and result.degree == 2
    assert result.verification.valid is True and result.verification.proof.startswith("sos-exact")
    # independent re-check: V is a positive definite quadratic form and -V' has no positive value on a grid
    again = check_candidate(system, result.V, "lyapunov")
    assert again.valid is True
    vdot = lie_derivative(result.V, system)
    assert all(vdot(a, b) <= 0 for a in range(-3, 4) for b in range(-3, 4))


def test_findlyap_needs_a_higher_degree_when_quadratics_fail():
    x0, x1 = ring(2).gens()
    system = [-x0 + 2 * x1**3, -x1]
    result = findlyap(system, max_degree=6)
    assert result.status == "found" and result.degree in (4, 6)
    assert [a.degree for a in result.attempts][0] == 2 and result.attempts[0].status == "infeasible"


def test_ahmadi_krstic_parrilo_system_gets_not_found():
    """x0' = -x0 + x0 x1, x1' = -x1 is globally asymptotically stable with no polynomial V."""
    x0, x1 = ring(2).gens()
    result = findlyap([-x0 + x0 * x1, -x1], max_degree=6)
    assert result.status == "not found" and result.V is None
    assert [a.degree for a in result.attempts] == [2, 4, 6]


def test_rounded_candidates_have_small_integer_coefficients_first():
    basis = [(2, 0), (1, 1), (0, 2)]
    import numpy as np

    first = next(rounded_candidates(np.array([0.5, 0.01, 0.49]), basis, 2))
    assert {int(c) for c in first.coeffs()} == {1}


def test_barrier_program_excludes_the_zero_function():
    x0, x1 = ring(2).gens()
    program, basis = build_program([-x0, x1], 2, "barrier")
    assert len(program.inequalities) == 1 and program.inequalities[0][1] == -0.1
    result = findlyap([-x0, x1], max_degree=2, check="barrier")
    assert result.status == "found" and check_candidate([-x0, x1], result.V, "barrier").valid


def test_baseline_command_reports_each_line(tmp_path, textbook):
    data, out = tmp_path / "systems.tsv", tmp_path / "out.jsonl"
    data.write_text(f"{textbook.infix}\t\nx0' = -x0 + x0*x1; x1' = -x1\t\n")
    assert main(["baseline", "findlyap", str(data), "--infix", "--max-degree", "4", "--out", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["status"] for r in records] == ["found", "not found"]
    assert records[0]["V"] and records[0]["proof"].startswith("sos-exact")
    assert json.loads((tmp_path / "out.jsonl.summary.json").read_text())["counts"] == {"found": 1, "not found": 1}
