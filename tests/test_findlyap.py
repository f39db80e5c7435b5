"""The findlyap baseline: finds textbook V, refuses the Ahmadi–Krstić–Parrilo system, CLI."""

from __future__ import annotations

import json

from seq2math.cli import main
from seq2math.lyapunov.check import check_candidate
from seq2math.lyapunov.methods.findlyap import (
    build_program,
    candidates,
    findlyap,
    integer_directions,
    rounded_candidates,
    solve_program,
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


def test_integer_directions_recover_the_exact_vector_behind_solver_floats():
    import numpy as np

    floats = np.array([19.0, 24.0, 9.0, 0.0]) * 0.13649 + np.array([3e-9, -2e-9, 1e-9, 4e-10])
    assert [list(v) for v in integer_directions(floats)][0] == [19, 24, 9, 0]
    assert list(integer_directions(np.array([0.31415, 0.27183, 0.57722]))) == []   # no small integer ratio
    assert list(integer_directions(np.zeros(3))) == []


def test_a_singular_solution_is_matched_exactly_where_simple_scales_miss_it():
    # V = (3x0 + 4x1³)² + 3x1⁶ and f = −A∇V with A = [[1, −1], [1, 0]]: −V̇ = (∂V/∂x0)² vanishes on a whole
    # curve, so the Gram matrix of −V̇ is singular and the best margin is 0; the solver's V is exactly
    # proportional to (19, 24, 9), which no simple scale of its floats gives
    R = ring(2)
    x0, x1 = R.gens()
    V = 9 * x0**2 + 24 * x0 * x1**3 + 19 * x1**6
    d0, d1 = 18 * x0 + 24 * x1**3, 72 * x0 * x1**2 + 114 * x1**5
    system = [-d0 + d1, -d0]
    assert lie_derivative(V, system) == -(d0**2)
    attempt, coefficients, basis = solve_program(system, 6, "lyapunov", [(0, 6), (1, 3), (2, 0)], time_limit=20)
    assert attempt.status in ("feasible", "boundary") and coefficients is not None
    plain = list(rounded_candidates(coefficients, basis, 2))
    assert V not in plain and not any(check_candidate(system, W, "lyapunov").valid for W in plain)
    exact = list(rounded_candidates(coefficients, basis, 2, exact_directions=True))
    assert V in exact and check_candidate(system, V, "lyapunov").valid
    assert exact.index(V) <= 6                                   # right after the five simple scales


def test_a_margin_far_below_zero_is_still_infeasible():
    x0, x1 = ring(2).gens()
    attempt, coefficients, _ = solve_program([x0, -x1], 2, "lyapunov", [(2, 0), (0, 2)], time_limit=20)
    assert attempt.status == "infeasible" and coefficients is None


def test_the_sos_search_skips_the_sdp_of_a_degree_refuted_at_sample_points():
    x0, x1 = ring(2).gens()
    unstable = [x0, -x1]
    screened, plain = [], []
    assert list(candidates(unstable, 4, None, "lyapunov", screened, screen=True)) == []
    assert list(candidates(unstable, 4, None, "lyapunov", plain)) == []
    assert [(a.degree, a.status) for a in screened] == [(2, "refuted at sample points"), (4, "refuted at sample points")]
    assert [(a.degree, a.status) for a in plain] == [(2, "infeasible"), (4, "infeasible")]     # the SDPs agree


def test_bench_sos_times_the_screened_search_next_to_dense_and_sparse(capsys):
    from seq2math.cli import main

    assert main(["bench", "sos", "--variables", "2", "--degrees", "4", "--time-limit", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header, row, total = lines[1].split(), lines[2].split(), lines[-1]
    assert header[:9] == ["n", "d", "dense", "s", "sparse", "s", "ratio", "screened", "s"]
    dense, screened, ratio = float(row[2]), float(row[5]), float(row[6])
    low, high = (dense - 0.005) / (screened + 0.005), (dense + 0.005) / max(screened - 0.005, 1e-9)
    assert row[:2] == ["2", "4"] and low - 0.005 <= ratio <= high + 0.005             # printed to 2 decimals
    assert "screened " in total and total.count("/1") == 5
