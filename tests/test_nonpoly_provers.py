"""Non-polynomial verdicts: honest answers, the substitution prover, the prover chain, the nonpoly method."""

import time
import types

import pytest

from seq2math.lyapunov import check as C
from seq2math.lyapunov.check import check_candidate, check_nonpolynomial, prover_modules
from seq2math.lyapunov.methods.base import make_method
from seq2math.lyapunov.methods.solve import solve_system
from seq2math.lyapunov.provers import substitution as S
from seq2math.lyapunov.result import CheckResult, kind
from seq2math.tokens.infix import parse_infix, parse_infix_system

ISSUE = "x0' = -x0*(2 + sin(x1)); x1' = -x1*exp(x0)"
TRIG = "x0' = -x0 + x1*sin(x0)^2; x1' = -x1"               # hand-made: -dV/dt = 2x0^2 - 2x0x1 sin^2 + 2x1^2
FALSE_GLOBALLY = "x0' = -sin(x0); x1' = -x1"               # x0 sin x0 < 0 for x0 in (pi, 2 pi)
QUADRATIC = parse_infix("x0^2 + x1^2")


def test_substitution_proves_the_issue_example_and_rechecks_its_certificate():
    system = parse_infix_system(ISSUE)
    verdict = S.prove(system, QUADRATIC, "lyapunov", 30)
    assert verdict.is_global and verdict.prover == "substitution+sos"
    lifted = S.conditions(system, QUADRATIC, "lyapunov")
    parts = [S.search(cond, 0, None) for cond in lifted]
    assert all(isinstance(part, dict) for part in parts)
    certificate = {"prover": S.NAME, "check": "lyapunov", "conditions": parts}
    assert S.recheck(system, QUADRATIC, "lyapunov", certificate)[0]
    tampered = parts[1]["residual"]["gram"][0][0]                  # a changed Gram entry must fail the re-check
    parts[1]["residual"]["gram"][0][0] = str(int(tampered.split("/")[0]) + 1) + (
        "/" + tampered.split("/")[1] if "/" in tampered else "")
    assert not S.recheck(system, QUADRATIC, "lyapunov", certificate)[0]


def test_substitution_proves_a_trig_case_and_refuses_a_false_one():
    assert S.prove(parse_infix_system(TRIG), QUADRATIC, "lyapunov", 30).is_global
    refused = S.prove(parse_infix_system(FALSE_GLOBALLY), QUADRATIC, "lyapunov", 30)
    assert refused.status == "unknown" and not refused.proved


def test_substitution_proves_the_domain_of_ln_and_sqrt_before_anything_global():
    # x0' = -x0 - x0 ln(1 + x0)^2 is undefined for x0 <= -1: the lifted set alone would "prove" it
    partial = S.prove(parse_infix_system("x0' = -x0 - x0*ln(1 + x0)^2; x1' = -x1"), QUADRATIC, "lyapunov", 30)
    assert partial.status == "unknown" and "domain 0: ln argument > 0" in partial.detail
    rooted = S.prove(parse_infix_system("x0' = -x0 - x0*sqrt(x0)^2; x1' = -x1"), QUADRATIC, "lyapunov", 30)
    assert rooted.status == "unknown" and "sqrt argument >= 0" in rooted.detail
    total = parse_infix_system("x0' = -x0 - x0*ln(2 + x0^2)^2; x1' = -x1")   # 2 + x0^2 > 0 everywhere
    assert S.prove(total, QUADRATIC, "lyapunov", 30).is_global
    lifted = S.conditions(total, QUADRATIC, "lyapunov")
    assert [cond.name for cond in lifted] == ["domain 0: ln argument > 0", "positive", "decrease"]
    parts = [S.search(cond, 0, None) for cond in lifted]
    assert all(isinstance(part, dict) for part in parts)
    assert S.recheck(total, QUADRATIC, "lyapunov", {"prover": S.NAME, "check": "lyapunov", "conditions": parts})[0]
    without_domain = {"prover": S.NAME, "check": "lyapunov", "conditions": parts[1:]}
    assert not S.recheck(total, QUADRATIC, "lyapunov", without_domain)[0]


def test_a_logarithmic_V_is_proved_through_its_core_and_a_lifted_divisor():
    # V = ln(1 + x0^2 + x1^4) grows more slowly than any eps*x0^2; the gradient flow of V (the
    # generator's form) has f and dV/dt with 1/(1 + x0^2 + x1^4)
    system = parse_infix_system("x0' = -2*x0/(1 + x0^2 + x1^4); x1' = -4*x1^3/(1 + x0^2 + x1^4)")
    logarithmic = parse_infix("ln(1 + x0^2 + x1^4)")
    verdict = S.prove(system, logarithmic, "lyapunov", 30)
    assert verdict.is_global and "1/(" in verdict.detail
    names = [cond.name for cond in S.conditions(system, logarithmic, "lyapunov")]
    assert names == ["domain 0: ln argument > 0", "domain 1: divisor > 0", "positive core", "decrease"]
    # a core that is not definite in x1 proves nothing: ln(1 + x0^2) + sin(x1)^2 vanishes at (0, pi)
    flat = S.prove(system, parse_infix("ln(1 + x0^2) + sin(x1)^2"), "lyapunov", 30)
    assert not flat.proved
    # a factor g = 2 + cos(x1) >= 1 times P, with a rest sin(x0)^2 >= 0
    factor = parse_infix("(2 + cos(x1))*(x0^2 + x1^2) + sin(x0)^2")
    lifted = S.conditions(system, factor, "lyapunov")
    assert [cond.name for cond in lifted] == ["domain 0: divisor > 0", "positive core", "positive factor",
                                              "positive rest", "decrease"]
    for cond in lifted[1:4]:                         # x0^2 + x1^2 definite, 3/2 + cos(x1) >= 0, sin(x0)^2 >= 0
        assert S._search_degrees(cond, None)[0] is not None, cond.name


def test_substitution_refuses_what_it_cannot_lift():
    verdict = S.prove(parse_infix_system("x0' = -tan(x0); x1' = -x1"), QUADRATIC, "lyapunov", 10)
    assert verdict.status == "unknown" and "tan" in verdict.detail


def test_check_proves_the_issue_example_and_refutes_the_false_one():
    proved = check_candidate(parse_infix_system(ISSUE), QUADRATIC, timeout=30)
    assert proved.valid is True and proved.proof == "substitution+sos"
    refuted = check_candidate(parse_infix_system(FALSE_GLOBALLY), QUADRATIC, timeout=30)
    assert refuted.valid is False and refuted.counterexample is not None


def test_sampling_alone_never_gives_valid_true():
    # V = 2(1 - cos x0) + x1^2 is not positive definite (0 at x0 = 2 pi) and sampling does not see it:
    # the answer must be undecided with what was searched, never valid
    system, V = parse_infix_system(FALSE_GLOBALLY), parse_infix("2*(1 - cos(x0)) + x1^2")
    result = check_candidate(system, V, timeout=20)
    assert result.valid is None and "no counterexample found" in result.numerical
    assert kind(result) == "region" and result.region.startswith("the box")       # the interval prover's box
    alone = check_nonpolynomial(system, V, "lyapunov", provers=("seq2math.lyapunov.provers.substitution",))
    assert alone.valid is None and alone.to_json()["numerical"] == alone.numerical and kind(alone) == "numerical"
    with pytest.raises(ValueError, match="named proof"):
        CheckResult(True, "lyapunov", "sampled", "none (numerical)")
    with pytest.raises(ValueError, match="named proof"):
        CheckResult(True, "lyapunov", "sampled", "")


def test_valid_true_always_names_a_proof():
    for text in (ISSUE, TRIG, FALSE_GLOBALLY):
        data = check_candidate(parse_infix_system(text), QUADRATIC, timeout=30).to_json()
        assert data["valid"] is not True or data["proof"] in ("substitution+sos", "cvc5")


def test_the_chain_skips_absent_modules_and_raises_on_broken_ones(monkeypatch):
    present = prover_modules(("seq2math.lyapunov.provers.substitution", "seq2math.lyapunov.provers.no_such_prover"))
    assert [m.__name__ for m in present] == ["seq2math.lyapunov.provers.substitution"]
    def broken(path):                                  # the module exists but one of its own imports is missing
        raise ModuleNotFoundError("No module named 'cvc5'", name="cvc5")
    monkeypatch.setattr(C.importlib, "import_module", broken)
    with pytest.raises(ModuleNotFoundError):
        prover_modules(("seq2math.lyapunov.provers.smt",))
    monkeypatch.undo()
    region = types.SimpleNamespace(prove=lambda system, V, check, seconds: __import__(
        "seq2math.lyapunov.provers.verdict", fromlist=["ProverVerdict"]).ProverVerdict(
        "proved", "interval", "box", region="[-1, 1]^2 minus a ball of radius 0.01"))
    monkeypatch.setattr(C, "prover_modules", lambda paths: [region])
    result = check_nonpolynomial(parse_infix_system(FALSE_GLOBALLY), parse_infix("2*(1 - cos(x0)) + x1^2"),
                                 "lyapunov")
    assert result.valid is None and result.region.startswith("[-1, 1]^2") and kind(result) == "region"


def test_solve_certifies_the_issue_systems_and_proves_the_pendulum_on_a_region():
    for text in (ISSUE, "x0' = -x0 + x1*cos(x0); x1' = -x1 - x0*cos(x0)"):
        outcome = solve_system(parse_infix_system(text), [make_method("sos", max_degree=2)], time_limit=60)
        assert outcome.found and outcome.verification.valid is True
        assert outcome.verification.proof == "substitution+sos" and outcome.method == "nonpoly"
    outcome = solve_system(parse_infix_system(FALSE_GLOBALLY), [], time_limit=30)
    assert not outcome.found and outcome.tried[0].method == "nonpoly" and outcome.tried[0].candidates >= 2
    # V̇ > 0 beyond |x0| = π: no global proof, but the interval prover proves a candidate on a named box
    assert "undecided globally; proved on the box |x_i| <= " in outcome.tried[0].reason
    region = outcome.tried[0].summary()["region"]                 # what solve prints: the V and its region
    assert region["region"].startswith("the box |x_i| <= ") and region["proof"] == "interval" and "x0" in region["V"]


def test_the_report_loop_keeps_the_first_proved_candidate_and_its_barrier_is_implied(tmp_path):
    """With require_certificate (the report's rule) a non-polynomial V proved by the chain is accepted: a later
    candidate that fails must not replace it (it used to, so a proved first hypothesis was reported as lost)."""
    from seq2math.lyapunov.methods.base import Method, Search
    from seq2math.lyapunov.methods.solve import attempt_method

    class TwoCandidates(Method):
        name = "two"

        def propose(self, search, check, deadline):
            yield parse_infix("x0^2 + x1^2")           # proved by substitution + SOS
            yield parse_infix("x0^2 - x1^2")           # refuted

    system = parse_infix_system(ISSUE)
    attempt = attempt_method(TwoCandidates(), Search(system), "lyapunov", time.perf_counter() + 60,
                             tmp_path / "cert", require_certificate=True)
    assert attempt.found and attempt.candidates == 1 and attempt.certified is True
    record = attempt.record()
    assert record["proof"] == "substitution+sos" and record["certified"] is True and record["valid"] is True
    # the report's barrier column: the V proved under the lyapunov check is proposed first and is a barrier
    # function by what was proved (V >= 0, dV/dt <= 0), without running the chain again
    search = Search(system, proved={"lyapunov": attempt.V}, proofs={"lyapunov": attempt.proof})

    class ProvedFirst(TwoCandidates):
        def propose(self, search, check, deadline):
            yield search.proved["lyapunov"]
            yield from super().propose(search, check, deadline)

    barrier = attempt_method(ProvedFirst(), search, "barrier", time.perf_counter() + 60, tmp_path / "cert",
                             require_certificate=True)
    assert barrier.found and barrier.candidates == 1 and barrier.proof.reason.startswith("implied by the lyapunov")
    assert barrier.record()["proof"] == "substitution+sos" and barrier.record()["certified"] is True
    from seq2math.lyapunov.methods.solve import implied_barrier

    assert implied_barrier(search, "lyapunov", attempt.V) is None
    assert implied_barrier(Search(system, proved={"lyapunov": attempt.V}), "barrier", attempt.V) is None
    # a polynomial V is not taken on trust: its barrier certificate is built and re-checked as usual
    textbook = parse_infix_system("x0' = -x0 + x1; x1' = -x0 - x1^3")
    polynomial = attempt_method(TwoCandidates(), Search(textbook), "lyapunov", time.perf_counter() + 60,
                                tmp_path / "poly", require_certificate=True)
    assert polynomial.found and polynomial.proof.document is not None
    search = Search(textbook, proved={"lyapunov": polynomial.V}, proofs={"lyapunov": polynomial.proof})
    assert implied_barrier(search, "barrier", polynomial.V) is None


def test_report_counts_chain_proofs_as_certified_and_numerical_or_region_apart():
    from seq2math.lyapunov.report import markdown, tabulate
    base = {"method": "nonpoly", "test": "t"}
    records = [base | {"line": 1, "lyapunov": {"valid": True, "proof": "substitution+sos", "certified": None}},
               base | {"line": 2, "lyapunov": {"valid": None, "certified": None, "numerical": "no counterexample found"}},
               base | {"line": 3, "lyapunov": {"valid": None, "certified": None, "region": "[-1, 1]^2"}},
               base | {"line": 4, "lyapunov": {"valid": True, "proof": "none (numerical)", "certified": None}}]
    table = tabulate(records, ["t"], ["nonpoly"], {"t": 4})
    cell = table["cells"]["t"]["nonpoly"]
    assert cell["lyapunov"] == 1 and cell["lyapunov_numerical"] == 1 and cell["lyapunov_region"] == 1
    text = markdown(table)            # the report's own table: global / region / numerical, one column per method
    assert "### lyapunov check: certified globally / proved on a region only / numerical only" in text
    assert "| t | 1 / 1 / 1 |" in text and "### barrier check" not in text


def test_evaluate_counts_numerical_only_apart():
    from seq2math.evaluation.metrics import example_record, format_table, summarize
    from seq2math.tasks.base import Verdict

    task = types.SimpleNamespace(metrics=("lyapunov",), primary_metric="lyapunov", name="lyapunov",
                                 size_key=lambda source: "n2")
    numerical = Verdict(True, {"lyapunov": None}, reason="lyapunov: undecided: no counterexample found by sampling")
    proved = Verdict(True, {"lyapunov": True}, reason="proved")
    records = [example_record(task, i, ["a"], ["b"], [], [v]) for i, v in enumerate((numerical, proved))]
    report = summarize(task, records, beam=1)
    assert report["numerical_top1"] == 0.5 and report["top1"]["lyapunov"] == 0.5
    assert "numerical only" in format_table(report)


def test_putinar_equality_multipliers_are_read_off_the_gram_products():
    # the λ multipliers m of an equality h are the monomials with m·h inside the Gram products: the shortcut
    # (shift the products back by one monomial of h) finds exactly what walking every monomial of the degree finds,
    # in the same order (the program's columns)
    import random

    from seq2math.lyapunov.provers import putinar
    from seq2math.symbolic.poly import ring

    rng = random.Random(1)
    checked = 0
    for _ in range(200):
        k = rng.randint(2, 5)
        n = rng.randint(1, k)
        R = ring(k)
        basis = [tuple(rng.randint(0, 3) for _ in range(k)) for _ in range(rng.randint(1, 8))]
        sums = {tuple(a + b for a, b in zip(u, v)) for u in basis for v in basis}
        h = sum(rng.randint(1, 3) * R.from_dict({tuple(rng.randint(0, 2) for _ in range(k)): 1})
                for _ in range(rng.randint(1, 3)))
        max_degree, low = rng.randint(0, 8), rng.choice([0, 2])
        shifts = [tuple(int(v) for v in m) for m in h.monoms()]
        walked = [m for m in putinar._monomials(k, max_degree) if putinar._x_degree(m, n) >= low
                  and all(tuple(a + b for a, b in zip(m, s)) in sums for s in shifts)]
        assert putinar._fitting_shifts(h, sums, max_degree, n, low) == walked
        checked += bool(walked)
    assert checked > 20                                       # many cases have multipliers to find
