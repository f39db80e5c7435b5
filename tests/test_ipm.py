"""The Schur-complement interior-point method (``seq2math.sos.ipm``) against Clarabel on the same programs."""

from __future__ import annotations

import numpy as np
import pytest

import seq2math.lyapunov.check as check_module
from seq2math.lyapunov.check import as_polynomials, check_candidate
from seq2math.lyapunov.conditions import build_program, sign_conditions
from seq2math.lyapunov.methods.findlyap import build_program as findlyap_program
from seq2math.sos import certificates as C
from seq2math.sos.sdp import SolverStatus, solve_sos
from seq2math.tokens.infix import parse_infix, parse_infix_system

PAIRS = [
    ("x0' = -x0 + x1; x1' = -x0 - x1^3", "x0^2 + x1^2"),
    ("x0' = -x0^3 + x0*x1^2; x1' = -x1 - x0^2*x1", "x0^2 + x1^2"),
    ("x0' = -x0 + x1; x1' = -x0 - x1 + x2; x2' = -x1 - x2^3", "x0^2 + x1^2 + x2^2"),
    ("x0' = -x0^3 - x1; x1' = x0 - x1^3", "x0^2 + x1^2"),
]


def _program(system_text, V_text):
    system, V = as_polynomials(parse_infix_system(system_text), parse_infix(V_text))
    program, _ = build_program(sign_conditions(system, V, "lyapunov", False), len(system))
    return program


@pytest.mark.parametrize("system_text, V_text", PAIRS)
def test_ipm_finds_the_margins_clarabel_finds(system_text, V_text):
    program = _program(system_text, V_text)
    ours, theirs = solve_sos(program, backend="ipm"), solve_sos(program, backend="clarabel")
    assert ours.status is SolverStatus.SOLVED and ours.solver.startswith("ipm"), ours.detail
    assert theirs.status is SolverStatus.SOLVED
    # the objective is the sum of the margins: the same optimum whatever the solver
    assert sum(ours.margins) == pytest.approx(sum(theirs.margins), rel=1e-4, abs=1e-5)
    for gram, basis in zip(ours.grams, ours.bases):
        assert gram.shape == (len(basis), len(basis)) and np.allclose(gram, gram.T)


@pytest.mark.parametrize("system_text, V_text", PAIRS[:3])
def test_the_coefficient_matching_holds_at_the_ipm_answer(system_text, V_text):
    """z^T Q z reproduces the condition's polynomial (minus its ε terms) at the solver's accuracy."""
    system, V = as_polynomials(parse_infix_system(system_text), parse_infix(V_text))
    conditions = sign_conditions(system, V, "lyapunov", False)
    program, eps_index = build_program(conditions, len(system))
    solution = solve_sos(program, backend="ipm")
    for j, cond in enumerate(program.conditions):
        basis, gram = solution.bases[j], solution.grams[j]
        produced = {}
        for a in range(len(basis)):
            for b in range(len(basis)):
                key = tuple(int(v) for v in basis[a] + basis[b])
                produced[key] = produced.get(key, 0.0) + gram[a, b]
        expected = dict(cond.constant)
        for k, (i, e) in eps_index[j].items():
            key = tuple(e if v == i else 0 for v in range(len(system)))
            expected[key] = expected.get(key, 0.0) - solution.params[k]
        scale = max(abs(v) for v in expected.values())
        for key in set(produced) | set(expected):
            assert produced.get(key, 0.0) == pytest.approx(expected.get(key, 0.0), abs=1e-6 * scale)


def test_free_parameters_are_split_and_findlyap_programs_solve():
    """findlyap's unknowns (V's coefficients) are free variables: the IPM finds a V with a positive margin."""
    system = as_polynomials(parse_infix_system("x0' = -x0 + x1; x1' = -x0 - x1"), parse_infix("x0"))[0]
    program, _ = findlyap_program(system, 2)
    ours, theirs = solve_sos(program, backend="ipm"), solve_sos(program, backend="clarabel")
    assert ours.status is SolverStatus.SOLVED, ours.detail
    assert min(ours.margins) > 1e-3 and min(theirs.margins) > 1e-3


@pytest.mark.parametrize("system_text, V_text", PAIRS)
def test_the_check_through_the_ipm_proves_exactly_and_rechecks(tmp_path, monkeypatch, system_text, V_text):
    monkeypatch.setattr(check_module, "SOLVER", "ipm")
    monkeypatch.setattr(check_module, "GRADIENT_SECONDS", 0.0)         # every condition through the IPM's answer
    system, V = as_polynomials(parse_infix_system(system_text), parse_infix(V_text))
    result = check_candidate(system, V, "lyapunov", certificate=True)
    assert result.valid is True, result.reason
    document = C.certificate_document(system, V, "lyapunov", result.certificate["conditions"])
    assert C.recheck(C.load(C.save(tmp_path / "c.json", document)))[0]


def test_a_wrong_candidate_is_not_proved_through_the_ipm(monkeypatch):
    monkeypatch.setattr(check_module, "SOLVER", "ipm")
    system, V = as_polynomials(parse_infix_system("x0' = x0 - x1^3; x1' = -x1"), parse_infix("x0^2 + x1^2"))
    assert check_candidate(system, V, "lyapunov").valid is not True


def test_a_looser_tolerance_accepts_the_best_iterate_and_only_when_asked(monkeypatch):
    """Cut short after 4 iterations, the IPM's best iterate is a failure at the default accuracy and an
    "almost solved" answer at a looser one (what ``guided`` asks for: its answers are only proposals)."""
    from seq2math.sos import ipm

    program = _program(*PAIRS[0])
    monkeypatch.setattr(ipm, "MAX_ITERATIONS", 4)
    strict = solve_sos(program, backend="ipm")
    # the IPM gives up (error about 4e-3 after 4 iterations) and Clarabel answers instead
    assert strict.solver == "clarabel" and strict.detail.startswith("ipm: no convergence"), strict.detail
    loose = solve_sos(program, backend="ipm", loose_tolerance=1.0)
    assert loose.status is SolverStatus.SOLVED and loose.solver == "ipm (almost solved)", loose.detail
    assert len(loose.margins) == len(program.conditions)
