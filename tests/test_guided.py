"""The ``guided`` method: SOS on the monomials of the model's hypotheses, proved by the solve loop.

The decoder is a stub in most tests (the hypotheses are chosen here, not by a model's luck);
the last test runs the shipped checkpoint.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

import seq2math.lyapunov.methods.guided as guided
import seq2math.lyapunov.methods.model as mm
from seq2math.api import solve
from seq2math.lyapunov.check import check_candidate
from seq2math.lyapunov.methods import make_method, solve_system
from seq2math.lyapunov.methods.findlyap import Attempt, build_program, solve_program
from seq2math.lyapunov.methods.guided import completed_basis, gram_closure, guided_bases, hypothesis_supports
from seq2math.lyapunov.methods.hypotheses import read_hypotheses
from seq2math.lyapunov.methods.screen import may_be_feasible
from seq2math.lyapunov.report import ReportOptions, parse_methods, run_report
from seq2math.sos import certificates
from seq2math.symbolic.expr import from_poly
from seq2math.symbolic.poly import ring
from seq2math.tokens.prefix import expression_tokens, format_benchmark_line

pytestmark = pytest.mark.usefixtures("one_torch_thread")

X0, X1 = ring(2).gens()
#: the near miss of the issue: the monomials of x0^2 + x1^2 are there, the coefficients are wrong
NEAR_MISS = 3 * X1**4 + 2 * X0**2 + 2 * X0 * X1 + X1**2
#: ẋ0 = x0 − 3x1, ẋ1 = 2x0 − 2x1 is stable, but the positive x0 in ẋ0 rules out every V without x0·x1
NEEDS_CROSS_TERM = [X0 - 3 * X1, 2 * X0 - 2 * X1]


def tokens(V) -> list[str]:
    return expression_tokens(from_poly(V))


@pytest.fixture
def stub_beam(monkeypatch):
    """Replace the decoder by one that returns the given polynomials for every system; records each source decoded."""
    calls = []

    def install(*hypotheses):
        def decode(loaded, sources, beam, **_):
            calls.extend(tuple(source) for source in sources)
            return [[(tokens(V), -0.1 * (k + 1)) for k, V in enumerate(hypotheses)] for _ in sources]

        monkeypatch.setattr(mm, "decode_hypotheses", decode)
        return calls

    return install


def test_supports_are_completed_with_pure_even_powers_and_the_union_comes_first():
    proposals = read_hypotheses([(tokens(NEAR_MISS), -0.1), (tokens(X0**2 + X0 * X1), -0.2),
                                 (["+", "x0"], -0.3), (tokens(NEAR_MISS), -0.4)], 2)
    supports = hypothesis_supports(proposals, 2)
    assert supports == [frozenset({(0, 4), (2, 0), (1, 1), (0, 2)}), frozenset({(2, 0), (1, 1)})]
    assert completed_basis(supports[1], 2) == [(0, 2), (1, 1), (2, 0)]            # x1^2 added: it was missing
    assert completed_basis(frozenset({(2, 1)}), 2) == [(0, 2), (0, 4), (2, 0), (2, 1), (4, 0)]  # degree 3 -> 4
    bases = guided_bases(supports, 2)
    assert bases[0] == completed_basis(supports[0] | supports[1], 2)             # the union first
    assert bases[1:] == [completed_basis(supports[1], 2)]       # the first support completed is the union: skipped


def test_the_gram_closure_puts_back_the_cross_terms_of_squares():
    # (x0 + x1²)² = x0² + 2x0x1² + x1⁴ written without its cross term, and a gᵀPg part x0⁴ + x1⁶ without x0²x1³
    assert gram_closure(frozenset({(2, 0), (0, 4)})) == {(2, 0), (0, 4), (1, 2)}
    assert gram_closure(frozenset({(4, 0), (0, 6)})) == {(4, 0), (0, 6), (2, 3)}
    # only squares have halves: odd monomials add nothing
    odd = frozenset({(1, 1), (3, 1), (2, 0)})
    assert gram_closure(odd) == odd
    closed = gram_closure(frozenset({(2, 0, 0), (0, 2, 0), (0, 0, 4)}))
    assert closed == {(2, 0, 0), (0, 2, 0), (0, 0, 4), (1, 1, 0), (1, 0, 2), (0, 1, 2)}
    assert gram_closure(closed) == closed               # its new monomials are no squares


def test_the_fits_try_the_union_of_every_support_and_its_closure_first(monkeypatch):
    # x0 x1 and x0^3 x1 spread over a beam: no single completed support holds both, the union of all of them does
    supports = [frozenset({(4, 0), (1, 1)}), frozenset({(0, 4)}), frozenset({(2, 0)}), frozenset({(3, 1)})]
    unions = guided.union_bases(supports, 2)
    assert unions[0] == completed_basis(supports[0] | supports[1] | supports[2], 2)       # the top three's union
    assert (3, 1) not in unions[0] and {(1, 1), (3, 1)} <= set(unions[1])         # every support's union
    assert set(unions[1]) < set(unions[2]) and (2, 2) in unions[2]     # its Gram closure adds x0^2 x1^2
    assert not any({(1, 1), (3, 1)} <= set(completed_basis(s, 2)) for s in supports)
    assert len(unions) == 4 and set(unions[2]) < set(unions[3]) and (1, 2) in unions[3]   # the completed union's closure
    bases = guided.fit_bases(unions, supports, 2)
    assert bases[:4] == unions and len(bases) == len(set(map(tuple, bases)))             # then the rest, no repeats
    assert guided.union_bases(supports, 2, large=False) == unions[:3]                    # small systems: not the 4th
    monkeypatch.setattr(guided, "CLOSURE_OF_ALL_MAX", len(unions[2]) - 1)                # a closure too large: left out
    assert guided.union_bases(supports, 2) == unions[:2]


def test_the_system_bases_hold_the_gradient_terms_of_a_backward_system(monkeypatch):
    # V = x0^2 + x0^2 x1^2 + x1^4, f = -G grad V (G = diag(1, 2)) + (∂1V, -∂0V), which leaves V alone: fᵢ carries ∂ᵢV
    V = X0**2 + X0**2 * X1**2 + X1**4
    d0, d1 = 2 * X0 + 2 * X0 * X1**2, 2 * X0**2 * X1 + 4 * X1**3
    system = [-d0 + d1, -2 * d1 - d0]
    bases = guided.system_bases(system)
    assert len(bases) == 1                                   # here every k gives no monomial that ∂ᵢ alone does not
    assert {(2, 0), (2, 2), (0, 4)} <= set(bases[0]) and (1, 1) in bases[0]      # V's monomials, and x0 x1 (from x0)
    assert bases[0] == completed_basis(frozenset(bases[0]), 2)                    # completed with the pure powers
    mixed = guided.system_bases([system[0] + X1**2, system[1]])                   # x1^2 in f0: x0 x1^2 only with k = 0
    assert len(mixed) == 2 and (1, 2) in mixed[0] and (0, 3) not in mixed[0] and (0, 3) in mixed[1]
    unions = [[(2, 0), (0, 2)]]
    support = frozenset({(1, 1)})
    fits = guided.fit_bases([unions[0], bases[0]], [support], 2)
    assert fits[:2] == [unions[0], bases[0]] and completed_basis(support, 2) in fits[2:]   # the first ones, then supports
    beam = frozenset({(3, 3), (2, 0)})                                            # x0^3 x1^3: no gradient term has it
    joined = guided.system_bases(system, beam)
    assert joined[:1] == bases and joined[1] == completed_basis(frozenset(bases[0]) | beam, 2)
    assert guided.system_bases(system, frozenset({(2, 0)})) == bases              # the beam adds nothing: no new basis
    monkeypatch.setattr(guided, "SYSTEM_BASES_MAX", len(bases[0]) - 1)            # a basis too large: left out
    assert guided.system_bases(system) == []
    monkeypatch.undo()
    fits = guided.random_start_fits(system, bases[:1], time.perf_counter() + 30, rounds=20)
    assert any(check_candidate(system, V, "lyapunov", timeout=10).valid for V in fits)   # from random numbers


def test_random_starts_repeat_by_system_and_differ_by_salt(monkeypatch):
    seen = []
    monkeypatch.setattr(guided, "fitted_candidates", lambda system, basis, start, deadline: seen.append(tuple(start)) or [])
    monkeypatch.setattr(guided, "antisymmetric_fitted_candidates", lambda *args: [])
    runs = []
    for salt in (0, 0, 1):
        seen.clear()
        list(guided.random_start_fits(NEEDS_CROSS_TERM, [[(2, 0), (1, 1), (0, 2)]], None, rounds=2, salt=salt))
        runs.append(list(seen))
    assert len(runs[0]) == 2 and runs[0][0] != runs[0][1]       # one start per round, each new
    assert runs[0] == runs[1]                                   # reproducible
    assert runs[2][0] != runs[0][0]                             # another salt, other numbers


def test_a_near_miss_is_repaired_and_proved_exactly(lyapunov_run, stub_beam, textbook):
    calls = stub_beam(NEAR_MISS)
    assert check_candidate(textbook.system, NEAR_MISS, "lyapunov").valid is False   # the hypothesis itself fails
    model_only = solve_system(textbook.system, [make_method("model", model=str(lyapunov_run), beam=1)], time_limit=20)
    assert not model_only.found
    outcome = solve_system(textbook.system, [make_method("guided", model=str(lyapunov_run), beam=1)], time_limit=20,
                           require_certificate=True)
    assert outcome.found and outcome.method == "guided" and outcome.verification.proof == "sos-exact"
    assert certificates.recheck(outcome.certificate)[0]
    V = outcome.V
    assert set(V.monoms()) <= set(completed_basis(frozenset(NEAR_MISS.monoms()), 2))
    assert check_candidate(textbook.system, V, "lyapunov").valid is True
    own = tuple(mm.system_source(textbook.system))
    assert calls.count(own) == 1             # guided reused the beam decoded for model (one decoding per process)
    assert len(calls) == len(set(calls))     # the model's other views of the system, each decoded once too


def test_model_and_guided_share_one_decoding(lyapunov_run, stub_beam, textbook):
    calls = stub_beam(NEAR_MISS, X0**2)
    methods = [make_method(name, model=str(lyapunov_run), beam=2) for name in ("model", "guided")]
    outcome = solve_system(textbook.system, methods, time_limit=20)
    assert outcome.found and outcome.method == "guided" and len(outcome.tried) == 2
    assert calls.count(tuple(mm.system_source(textbook.system))) == 1


def test_guided_never_gets_a_rejected_V_certified(lyapunov_run, stub_beam, textbook, monkeypatch):
    """A solver that lies (x0^2 − x1^2 'feasible'): the solve loop refutes every rounding of it."""
    stub_beam(NEAR_MISS)

    def liar(system, degree, check, basis, time_limit=None, backend="clarabel", memory_limit=None, sparsity="dense",
             built=None, loose_tolerance=None):
        coefficients = np.array([{(2, 0): 1.0, (0, 2): -1.0}.get(m, 0.0) for m in basis])
        return Attempt(degree, "feasible", 0.0), coefficients, basis

    monkeypatch.setattr(guided, "solve_program", liar)
    # only the liar's answers reach the loop: the fits (which find x0^2 + x1^2 on the near miss's bases) are off
    monkeypatch.setattr(guided, "repaired_candidates", lambda *args: [])
    monkeypatch.setattr(guided, "random_start_fits", lambda *args, **kwargs: iter(()))
    for check in ("lyapunov", "barrier"):
        outcome = solve_system(textbook.system, [make_method("guided", model=str(lyapunov_run), beam=1)], check,
                               time_limit=20)
        attempt = outcome.tried[0]
        assert not outcome.found and attempt.candidates >= 1 and attempt.certified is False
        V, proof = attempt.last
        assert V == X0**2 - X1**2 and proof.result.valid is False and proof.certified is False


def test_a_support_that_cannot_work_is_not_found_quickly(lyapunov_run, stub_beam, monkeypatch):
    stub_beam(X0**2 + X1**4, X0**2)                          # diagonal supports: no x0·x1
    sdps = []

    def no_sdp(*args, **kwargs):                             # the screen refutes every basis first
        sdps.append(args)
        return solve_program(*args, **kwargs)

    monkeypatch.setattr(guided, "solve_program", no_sdp)
    started = time.perf_counter()
    outcome = solve_system(NEEDS_CROSS_TERM, [make_method("guided", model=str(lyapunov_run), beam=2)], time_limit=20)
    assert not outcome.found and time.perf_counter() - started < 10
    attempt = outcome.tried[0]
    # no SDP was needed; an exact gradient-form fit on the supports (random_start_fits) may be proposed, and is refuted
    assert sdps == [] and attempt.undecided == 0
    # the system itself has a quadratic V, so the support was what failed
    assert solve_system(NEEDS_CROSS_TERM, [make_method("sos", max_degree=2)], time_limit=20).found


def test_guided_respects_the_deadline(lyapunov_run, stub_beam, textbook):
    stub_beam(NEAR_MISS)
    method = make_method("guided", model=str(lyapunov_run), beam=1)
    search = method.start(textbook.system, None)
    assert list(method.propose(search, "lyapunov", time.perf_counter() - 1)) == []


def test_report_has_a_guided_column_with_rechecked_certificates(lyapunov_run, stub_beam, tmp_path):
    stub_beam(X0**2 + X1**4)                                 # fits the first system, not the second
    test_file = tmp_path / "two.txt"
    systems = [([-X0 + X1, -X0 - X1**3], X0**2 + X1**2), (NEEDS_CROSS_TERM, X0**2)]
    test_file.write_text("".join(format_benchmark_line([from_poly(f) for f in s], from_poly(V)) + "\n"
                                 for s, V in systems))
    report = run_report([str(test_file)], parse_methods("guided"), ReportOptions(time_limit=20, beam=1),
                        tmp_path / "out", progress=False)
    assert report["methods"] == ["guided"]
    cell = report["cells"]["two"]["guided"]
    assert cell["lyapunov"] == 1 and cell["barrier"] == 1 and cell["total"] == 2
    records = {r["line"]: r for r in map(json.loads, (tmp_path / "out" / "records.jsonl").read_text().splitlines())}
    proved = records[1]["lyapunov"]
    assert proved["certified"] is True and proved["proof"] == "sos-exact"
    assert certificates.recheck(certificates.load(proved["certificate"]))[0]
    assert records[2]["lyapunov"]["certified"] is False


def test_the_shipped_checkpoint_with_guided_certifies_the_textbook_system(textbook):
    solution = solve(textbook.infix, methods="model,guided", beam=5, time_limit=60, require_certificate=True)
    assert solution.found and solution.proof == "sos-exact"
    assert solution.certificate is not None and certificates.recheck(solution.certificate)[0]
    if solution.method == "guided":     # the model's own hypotheses failed: guided repaired one of them
        assert solution.tried[0].method == "model" and not solution.tried[0].found


def test_guided_repairs_the_coefficients_of_a_gradient_form_near_miss(lyapunov_run, stub_beam):
    """A backward-style system (f = −G∇V, docs/generation.md) and a hypothesis with V's monomials but three
    coefficients off by one: the repair (``repair.py``) finds V's own numbers, and the solve loop proves them."""
    V = X0**6 + 2 * X1**4 + (X0 - X1**2) ** 2
    G0, G1 = V.derivative(0), V.derivative(1)
    system = [-(1 + X1) ** 2 * G0 + X0 * G1, -4 * G1 - X0 * G0]
    near_miss = 2 * X0**6 + 2 * X1**4 - X0 * X1**2 + X0**2
    stub_beam(near_miss)
    assert check_candidate(system, near_miss, "lyapunov").valid is False
    outcome = solve_system(system, [make_method("guided", model=str(lyapunov_run), beam=1)], time_limit=20,
                           require_certificate=True)
    assert outcome.found and outcome.method == "guided"
    assert outcome.V * V.coeffs()[0] == V * outcome.V.coeffs()[0]          # V itself, up to a positive factor
    assert certificates.recheck(outcome.certificate)[0]


def test_the_repair_starts_from_the_best_hypothesis_of_each_distinct_support():
    hypotheses = [2 * X0**2 + X1**2, X0**2 + 3 * X1**2, X0**2 + X0 * X1 + X1**2, 5 * X0**2 + 5 * X1**2]
    assert guided.distinct_supports(hypotheses) == [2 * X0**2 + X1**2, X0**2 + X0 * X1 + X1**2]


@pytest.mark.parametrize("check", ["lyapunov", "barrier"])
def test_the_sample_screen_refutes_only_bases_whose_sdp_is_infeasible(textbook, check):
    """The LP at sample points is a necessary condition: refuted means the SOS program is infeasible,
    and a basis whose SOS program has a solution is never refuted."""
    x0, x1 = X0, X1
    # V = 9x0² + 24x0x1³ + 19x1⁶ with −V̇ = (∂V/∂x0)²: a singular solution (tests/test_findlyap.py)
    d0, d1 = 18 * x0 + 24 * x1**3, 72 * x0 * x1**2 + 114 * x1**5
    singular = [-d0 + d1, -d0]
    cases = [(NEEDS_CROSS_TERM, [(2, 0), (0, 2)]), (NEEDS_CROSS_TERM, [(2, 0), (1, 1), (0, 2)]),
             (NEEDS_CROSS_TERM, [(4, 0), (2, 0), (0, 4), (0, 2)]), (textbook.system, [(2, 0), (0, 2)]),
             (textbook.system, [(2, 0), (0, 4), (0, 2)]), (textbook.system, [(2, 0), (1, 1)]),
             (singular, [(0, 6), (1, 3), (2, 0), (0, 2)]), (singular, [(0, 6), (2, 0), (0, 2)]),
             ([x0, -x1], [(2, 0), (0, 2)])]
    verdicts = []
    for system, basis in cases:
        degree = max(sum(m) for m in basis)
        degree += degree % 2
        screened = may_be_feasible(build_program(system, degree, check, basis)[0])
        attempt, coefficients, _ = solve_program(system, degree, check, basis, time_limit=20)
        verdicts.append((screened, attempt.status))
        if not screened:
            assert attempt.status == "infeasible", (basis, attempt)
        if coefficients is not None:
            assert screened, (basis, attempt)
    assert any(not screened for screened, _ in verdicts)                 # the screen does refute some
    assert any(status in ("feasible", "boundary") for _, status in verdicts)
