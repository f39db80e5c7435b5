"""Edge cases of the verifier: a zero -dV/dt certificate, a solver panic treated as a failed solve, and
the typed outcomes of the conditions (how each becomes the words of a CheckResult, never a false valid)."""

import json
import os
import time

import numpy as np
import pytest
import scipy.sparse as sp

from seq2math.cli import main
from seq2math.lyapunov.check import check_candidate
from seq2math.lyapunov.conditions import build_program, sign_conditions
from seq2math.lyapunov.options import CheckOptions
from seq2math.lyapunov.outcomes import Outcome, SettledCondition, left_open, proved, refuted
from seq2math.lyapunov.result import from_settled
from seq2math.lyapunov.settle import settle
from seq2math.sos import certificates, sdp
from seq2math.sos.prover import ProverAnswer, Verdict
from seq2math.sos.sdp import SolverStatus, SOSSolution
from seq2math.symbolic.poly import ring
from seq2math.tokens.infix import parse_infix, parse_infix_system


def test_zero_decrease_condition_has_a_recheckable_certificate(tmp_path, certificate_file_proves):
    # x0' = x1, x1' = -x0 conserves V = x0^2 + x1^2: -dV/dt = 0, an empty sum of squares.
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("x0' = x1; x1' = -x0\tx0^2 + x1^2\n")
    out = tmp_path / "out.jsonl"
    code = main(["verify", str(pairs), "--infix", "--check", "barrier", "--certificates",
                 str(tmp_path / "certs"), "--exact", "--out", str(out)])
    record = json.loads(out.read_text().splitlines()[0])
    assert code == 0
    assert record["valid"] is True and record["rechecked"] is True
    assert record["proof"] == "sos-exact"
    x0, x1 = ring(2).gens()
    certificate_file_proves(tmp_path / "certs" / "line-1.json", [x1, -x0], x0**2 + x1**2, "barrier")
    decrease = next(c for c in certificates.load(tmp_path / "certs" / "line-1.json")["conditions"]
                    if c["name"] == "decrease")
    assert decrease["polynomial"] == [] and decrease["basis"] == []       # the empty sum of squares


def test_solver_panic_is_a_failed_solve(monkeypatch):
    class PanicException(BaseException):  # the name pyo3 gives a Rust panic
        pass

    class Exploding:
        def __init__(self, *args):
            pass

        def solve(self):
            raise PanicException("Eigval error")

    import clarabel

    monkeypatch.setattr(clarabel, "DefaultSolver", Exploding)
    monkeypatch.setenv("RUST_BACKTRACE", "1")  # as some machines set it: a handled panic prints no backtrace
    monkeypatch.delenv("SEQ2MATH_RUST_BACKTRACE", raising=False)
    assert sdp.run_clarabel(sp.csc_matrix((1, 1)), np.zeros(1), sp.csc_matrix((0, 1)), np.zeros(0), [],
                            clarabel.DefaultSettings()) is None
    assert os.environ["RUST_BACKTRACE"] == "0"
    monkeypatch.setenv("SEQ2MATH_RUST_BACKTRACE", "full")  # asked for: it is kept
    sdp.run_clarabel(sp.csc_matrix((1, 1)), np.zeros(1), sp.csc_matrix((0, 1)), np.zeros(0), [],
                     clarabel.DefaultSettings())
    assert os.environ["RUST_BACKTRACE"] == "full"


def test_other_errors_are_not_swallowed(monkeypatch):
    class Broken:
        def __init__(self, *args):
            raise KeyboardInterrupt

    import clarabel

    monkeypatch.setattr(clarabel, "DefaultSolver", Broken)
    try:
        sdp.run_clarabel(None, None, None, None, [], None)
    except KeyboardInterrupt:
        pass
    else:  # pragma: no cover - the interrupt must reach the caller
        raise AssertionError("KeyboardInterrupt was swallowed")


# --- typed outcomes: how a settled condition becomes the answer ---------------------------------------------

SOS_PART = {"name": "positive", "method": "sos-exact", "polynomial": [], "basis": [], "gram": []}
WITNESS = {"condition": "decrease", "point": ["1/2", "-3"], "value": "-7/4",
           "statement": "-dV/dt = -7/4 < 0: x = (1/2, -3)"}


def test_an_open_condition_gives_valid_none_with_its_reason_word_for_word():
    why = "SOS found numerically, exact rounding failed; facial reduction found no face with a margin"
    result = from_settled("lyapunov", [proved("positive", Outcome.SOS_EXACT, SOS_PART), left_open("decrease", why)])
    assert result.valid is None and result.proof == "" and result.counterexample is None
    assert result.reason == f"undecided: decrease: {why}"
    assert result.conditions == {"positive": "sos-exact", "decrease": f"open: {why}"}
    assert result.to_json() == {"valid": None, "check": "lyapunov", "reason": f"undecided: decrease: {why}",
                                "proof": "", "seconds": 0.0, "conditions": result.conditions}


def test_a_refuted_condition_carries_its_exact_counterexample():
    result = from_settled("barrier", [proved("positive", Outcome.Z3, {"name": "positive", "method": "z3"}),
                                      refuted("decrease", WITNESS)], want_certificate=True)
    assert result.valid is False and result.proof == "exact counterexample"
    assert result.counterexample == WITNESS and result.reason == "counterexample: " + WITNESS["statement"]
    assert result.conditions == {"positive": "z3", "decrease": "counterexample"}
    assert result.certificate is None and result.asymptotic is None


def test_proved_conditions_give_valid_true_and_the_asymptotic_flag_apart():
    why = "SOS with no margin to round"
    settled = [proved("positive", Outcome.SOS_EXACT, SOS_PART),
               proved("decrease", Outcome.Z3, {"name": "decrease", "method": "z3"}), left_open("asymptotic", why)]
    result = from_settled("lyapunov", settled, want_certificate=True)
    assert result.valid is True and result.proof == "sos-exact+z3" and result.asymptotic is None
    assert result.reason == "V(0) = 0, V - sum eps x^2k is SOS, -dV/dt is SOS"
    assert result.conditions["asymptotic"] == f"open: {why}"
    assert [part["name"] for part in result.certificate["conditions"]] == ["positive", "decrease"]
    numerical = from_settled("lyapunov", [proved("positive", Outcome.SOS_NUMERICAL), settled[1],
                                          refuted("asymptotic", dict(WITNESS, condition="asymptotic"))])
    assert numerical.valid is True and numerical.proof == "z3+sos (numerical)" and numerical.asymptotic is False


def test_outcomes_refuse_inconsistent_evidence():
    with pytest.raises(ValueError):
        SettledCondition("decrease", Outcome.COUNTEREXAMPLE)                   # refuted without a point
    with pytest.raises(ValueError):
        SettledCondition("decrease", Outcome.SOS_EXACT, witness=WITNESS)       # a point next to a proof
    with pytest.raises(ValueError):
        SettledCondition("decrease", Outcome.SOS_NUMERICAL, part=SOS_PART)     # a certificate without a proof
    with pytest.raises(ValueError):
        proved("decrease", Outcome.OPEN)
    with pytest.raises(ValueError):                                            # never valid from half the conditions
        from_settled("lyapunov", [proved("positive", Outcome.SOS_EXACT, SOS_PART)])
    assert [o.verdict for o in Outcome] == [True, True, True, False, None]
    assert [o.exact for o in Outcome] == [True, True, False, False, False]


def test_a_failed_solve_leaves_every_condition_open_never_valid():
    x0, x1 = ring(2).gens()
    system, V = [-x0 + x1, -x0 - x1**3], x0**2 + x1**2
    conditions = sign_conditions(system, V, "lyapunov", asymptotic=False)
    _, eps_index = build_program(conditions, 2)
    failed = SOSSolution("failed", "clarabel", [], np.zeros(0), [], [], 0.0, "status MaxTime")
    assert failed.status is SolverStatus.FAILED and f"{failed.status}" == "failed"
    for proof in ("exact", "numerical"):
        settled = settle(conditions, eps_index, failed, CheckOptions(proof=proof, use_z3=False))
        assert [c.outcome for c in settled] == [Outcome.OPEN, Outcome.OPEN]
        result = from_settled("lyapunov", settled)
        assert result.valid is None
        assert result.reason == "undecided: positive: solver: status MaxTime; decrease: solver: status MaxTime"


def test_z3_gets_only_a_short_budget_on_a_definite_condition_it_cannot_prove(monkeypatch):
    # z3's "unsat" on V > 0 would not show properness, so on the definite condition it can only refute: it gets
    # DEFINITE_Z3_SECONDS there, and the decrease condition (which z3 can prove) keeps the time left
    import seq2math.lyapunov.settle as settle_module

    asked = []

    def fake_find_point(polynomial, strict, nonzero, timeout):
        asked.append((nonzero, timeout))
        return ProverAnswer("unknown")

    monkeypatch.setattr(settle_module, "find_point", fake_find_point)
    x0, x1 = ring(2).gens()
    system, V = [-x0 + x1, -x0 - x1**3], x0**2 + x1**2
    conditions = sign_conditions(system, V, "lyapunov", asymptotic=False)
    _, eps_index = build_program(conditions, 2)
    failed = SOSSolution("failed", "clarabel", [], np.zeros(0), [], [], 0.0, "status MaxTime")
    options = CheckOptions(proof="exact", deadline=time.perf_counter() + 60, hard_limit=False)
    settled = settle(conditions, eps_index, failed, options)
    assert [c.outcome for c in settled] == [Outcome.OPEN, Outcome.OPEN]
    (definite, short), (plain, long) = asked
    assert definite and short == settle_module.DEFINITE_Z3_SECONDS
    assert not plain and long > 50


def test_prover_answers_and_options_are_typed_and_checked():
    assert ProverAnswer("proved").verdict is Verdict.PROVED and Verdict.PROVED == "proved"
    with pytest.raises(ValueError):
        ProverAnswer("maybe")
    with pytest.raises(ValueError, match="unknown check"):
        CheckOptions(check="stable")
    with pytest.raises(ValueError, match="unknown proof mode"):
        CheckOptions(proof="trust me")


def test_nonpolynomial_lyapunov_check_refutes_a_V_that_vanishes_off_the_origin():
    system = parse_infix_system("x0' = -x0 - sin(x0); x1' = -x1")
    degenerate = check_candidate(system, parse_infix("x0^2"), "lyapunov")
    assert degenerate.valid is False and degenerate.counterexample["condition"] == "positive"
    point = [float(v) for v in degenerate.counterexample["point"]]
    assert point[0] == 0 and point[1] != 0                                    # V = x0^2 is 0 there
    barrier = check_candidate(system, parse_infix("x0^2"), "barrier")                 # V ≥ 0 is enough: not refuted
    assert barrier.valid is not False and (barrier.valid is True or "no counterexample found" in barrier.numerical)
    valid = check_candidate(system, parse_infix("x0^2 + x1^2"), "lyapunov")       # true, but only sampled
    assert valid.valid is not False and (valid.valid is True or "no counterexample found" in valid.numerical)


def test_float_violations_are_refutations_only_when_ball_arithmetic_confirms_them():
    from seq2math.lyapunov.nonpoly import check_numerically

    rng = lambda: np.random.default_rng(0)                                            # noqa: E731
    # V = ln(1 + 2x1^6 + 4x0^4) > 0 off 0, but 1 + 2e-18 is 1 in floats: V = 0 at x = (0, 1e-3)
    system = parse_infix_system("x0' = -x0; x1' = -x1")
    log = check_numerically(system, parse_infix("ln(1 + 2*x1^6 + 4*x0^4)"), "lyapunov", rng())
    assert log.valid is None and "not confirmed in ball arithmetic" in log.numerical
    # V = x0^2 + x1^2 - exp(x0) + exp(x0): zero cancellation error far out, never a counterexample
    cancel = check_numerically(system, parse_infix("x0^2 + x1^2 + exp(x0) - exp(x0)"), "lyapunov", rng())
    assert cancel.valid is None
    # a real violation is kept, with an exact decimal point whose ball proves it
    wrong = check_numerically(parse_infix_system("x0' = -sin(x0); x1' = -x1"), parse_infix("x0^2 + x1^2"),
                              "lyapunov", rng())
    assert wrong.valid is False and wrong.counterexample["exact"] is True
    from fractions import Fraction

    from seq2math.lyapunov.provers.enclosure import point_value
    x = [Fraction(v) for v in wrong.counterexample["point"]]
    vdot = parse_infix("2*x0*(-sin(x0)) + 2*x1*(-x1)")
    assert point_value(vdot, x) > 0


def test_a_coefficient_past_the_float_range_is_undecided_or_refuted_never_a_crash():
    """A model once proposed V = 1601603203...(hundreds of digits): flint refuses to turn such a rational into a
    float. The numerical search reads the condition scaled to coefficients of at most 1 (``NumericPoly`` alone reads
    them as ±inf), an exact refutation still stands, and otherwise the check says why it cannot go on (the SOS
    programs are solved in floats) instead of raising OverflowError."""
    from seq2math.symbolic.poly import FLOAT_LIMIT, NumericPoly, beyond_float_range, saturated_float

    huge = 10 ** 400
    x0, x1 = ring(2).gens()
    assert saturated_float(FLOAT_LIMIT * 2) == np.inf and saturated_float(-FLOAT_LIMIT) == -np.inf
    assert saturated_float(ring(1).constant(3).coeffs()[0]) == 3.0
    assert beyond_float_range(huge * x0 ** 2 + x1 ** 2) and not beyond_float_range(10 ** 300 * x0 ** 2)
    assert np.array_equal(NumericPoly(huge * x0 ** 2 - huge * x1).coefficients, [np.inf, -np.inf])
    assert NumericPoly(huge * x0 ** 2)(np.array([[0.5, 3.0]]))[0] == np.inf
    system = parse_infix_system("x0' = -x0; x1' = -x1")
    for check in ("lyapunov", "barrier"):
        result = check_candidate(system, huge * x0 ** 2 + x1 ** 2, check)
        assert result.valid is None and "float64 range" in result.reason
        refuted = check_candidate(system, x1 ** 2 - huge * x0 ** 2, check)     # -inf off x0 = 0: confirmed exactly
        assert refuted.valid is False and "counterexample" in refuted.reason
    assert check_candidate(system, ring(2).constant(huge), "lyapunov").valid is False       # V(0) != 0


def test_a_system_past_the_float_range_is_not_found_with_the_reason_by_every_method(tmp_path, capsys):
    """``solve`` (and ``report``, through ``run_cell``) on such a system: every method says why, none raises."""
    from seq2math.lyapunov.methods import make_method
    from seq2math.lyapunov.report import run_cell

    text = "x0' = -10^400*x0; x1' = -x1"
    code = main(["solve", text, "--methods", "quadratic,findlyap,sos", "--json", "--time-limit", "20"])
    assert code == 1                                                                   # not found
    record = json.loads(capsys.readouterr().out)
    assert record["found"] is False and [t["method"] for t in record["tried"]] == ["quadratic", "findlyap", "sos"]
    assert all("equation 1 (x0') has a coefficient past the float64 range" in t["last_reason"] for t in record["tried"])
    cell = run_cell(make_method("findlyap"), parse_infix_system(text), 5.0, tmp_path / "line-1")
    assert [cell[check]["certified"] for check in ("lyapunov", "barrier")] == [None, None]
    assert "float64 range" in cell["barrier"]["reason"]


def test_a_V_whose_gradient_squares_leave_the_float_range_is_checked_not_crashed():
    """V = x0^2 + 10^200·x1^2: the gradient-form stage's Gram columns (products of ∂V) pass 10^308, which
    no float program holds. The check goes on without that stage (a model's beam proposed such a V on a
    forward development system and the report counted an error): never an exception, never a false answer."""
    system = parse_infix_system("x0' = -x0; x1' = -x1")
    V = parse_infix("x0^2 + 1" + "0" * 200 + "*x1^2")
    lyapunov = check_candidate(system, V, "lyapunov", timeout=20, hard_timeout=False)
    barrier = check_candidate(system, V, "barrier", timeout=20, hard_timeout=False)
    assert lyapunov.valid in (True, None) and barrier.valid is True
