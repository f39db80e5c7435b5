"""``seq2math solve``: certified answers, honest "not found", method registry, --file."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from seq2math.cli import main
from seq2math.lyapunov.methods import METHODS, Method, make_method, register_method, solve_system
from seq2math.lyapunov.methods.base import Search
from seq2math.lyapunov.result import CheckResult
from seq2math.symbolic.poly import ring
from seq2math.tokens.infix import parse_infix_system

X0, X1 = ring(2).gens()


#: none of these is a barrier for x0' = -x0, x1' = x1: -x0^2 - x1^2 and x0 + x1 take negative values,
#: and x1^2 grows along the flow (dV/dt = 2 x1^2 > 0)
LIES = [-(X0**2) - X1**2, X1**2, X0 + X1]


class Liar(Method):
    """Proposes only wrong functions: none is a Lyapunov or barrier function of ẋ = (-x0, x1)."""

    name = "liar"

    def propose(self, search, check, deadline):
        yield from LIES


def test_solve_prints_a_certified_v(capsys):
    assert main(["solve", "x0' = -x0 + x1; x1' = -x0 - x1^3", "--methods", "sos"]) == 0
    out = capsys.readouterr().out
    assert "V = x0^2 + x1^2" in out and "prefix: + ^ x0 INT+ 2 ^ x1 INT+ 2" in out
    assert "lyapunov passed (proof: sos-exact)" in out and "method sos" in out


def test_ahmadi_krstic_parrilo_system_is_not_found(capsys):
    assert main(["solve", "x0' = -x0 + x0*x1; x1' = -x1", "--json", "--max-degree", "4", "--methods", "sos"]) == 1
    record = json.loads(capsys.readouterr().out)
    assert record["found"] is False and "V" not in record
    [tried] = record["tried"]
    # no polynomial V exists: degree 2 is infeasible, and degree 4 approaches margin 0 from below (−1.5e-7, a
    # "boundary" solution), so its rounded V are proposed, and every one is refuted by an exact counterexample
    assert tried["method"] == "sos" and tried["candidates"] > 0 and tried["last_reason"].startswith("counterexample")


def test_a_lying_method_cannot_produce_a_false_certificate():
    """Methods only propose: a method that proposes wrong V gets 'not found', never a certificate."""
    register_method(Liar)
    try:
        system = parse_infix_system("x0' = -x0; x1' = x1")
        outcome = solve_system(system, [make_method("liar")])
        assert not outcome.found and outcome.tried[0].candidates == 3
        assert outcome.tried[0].reason.startswith("counterexample")
        # the real method after the liar still gets its turn, and it is the one that finds V
        outcome = solve_system(system, [make_method("liar"), make_method("sos")], check="barrier")
        assert outcome.found and outcome.method == "sos"
        assert [t.method for t in outcome.tried] == ["liar", "sos"] and outcome.tried[0].candidates == 3
        assert outcome.V not in LIES and outcome.verification.valid is True
        from seq2math.sos.certificates import recheck

        assert recheck(outcome.certificate) == (True, "every condition re-proved exactly")
    finally:
        METHODS.pop("liar")


def test_solve_file_writes_per_line_results(tmp_path):
    from seq2math.symbolic.expr import from_poly
    from seq2math.symbolic.poly import ring
    from seq2math.tokens.prefix import format_benchmark_line

    x0, x1 = ring(2).gens()
    data, out = tmp_path / "systems.txt", tmp_path / "solved.jsonl"
    lines = [format_benchmark_line([from_poly(-x0**3 + x1), from_poly(-x0 - x1)], from_poly(x0)),   # target ignored
             format_benchmark_line([from_poly(-x0 + x0 * x1), from_poly(-x1)], from_poly(x1))]
    data.write_text("\n".join(lines) + "\n")
    assert main(["solve", "--file", str(data), "--out", str(out), "--max-degree", "4", "--time-limit", "30",
                 "--methods", "sos"]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["found"] for r in records] == [True, False]
    assert records[0]["proof"].startswith("sos-exact")
    assert main(["solve", "--file", str(data), "--methods", "nonsense"]) == 2


def test_the_default_is_quadratic_then_model_then_guided_then_sos_with_each_method_timed(capsys):
    """The default settles the textbook system's quadratic V at once; without ``quadratic``, with a beam of 2,
    the model's hypotheses fail and guided repairs them."""
    assert main(["solve", "x0' = -x0 + x1; x1' = -x0 - x1^3"]) == 0
    out = capsys.readouterr().out
    assert "found by method quadratic" in out and "V = x0^2 + x1^2" in out
    assert [line.strip().split(":")[0] for line in out.splitlines() if line.startswith("  ")] == ["quadratic"]
    assert main(["solve", "x0' = -x0 + x1; x1' = -x0 - x1^3", "--methods", "model,guided,sos", "--beam", "2",
                 "--time-limit", "60"]) == 0
    out = capsys.readouterr().out
    lines = [line.strip() for line in out.splitlines() if line.startswith("  ")]
    assert [line.split(":")[0] for line in lines] == ["model", "guided"][: len(lines)] and len(lines) >= 1
    assert all(" candidate(s) in " in line and " s" in line for line in lines)
    found_by = out.split("found by method ")[1].split()[0]
    assert lines[-1].startswith(found_by) and lines[-1].endswith("found V")
    assert "lyapunov passed (proof: sos-exact)" in out


def test_sos_methods_say_why_they_do_not_apply_to_a_non_polynomial_system(capsys):
    # unstable (x0 grows), so the nonpoly method, tried first on such systems, finds nothing either
    assert main(["solve", "x0' = x0 + sin(x1); x1' = -x1", "--methods", "sos,findlyap", "--json",
                 "--time-limit", "20"]) == 1
    record = json.loads(capsys.readouterr().out)
    assert [t["method"] for t in record["tried"]] == ["nonpoly", "sos", "findlyap"]
    assert record["tried"][0]["candidates"] >= 1 and "counterexample" in record["tried"][0]["last_reason"]
    for t in record["tried"][1:]:
        assert t["candidates"] == 0 and "does not apply" in t["last_reason"] and "sin(x1)" in t["last_reason"]


def test_sos_methods_are_not_started_on_a_non_polynomial_system(monkeypatch):
    """guided would decode a beam for nothing: on a non-polynomial system the loop never starts it, and
    nonpoly and model share the time between them."""
    import seq2math.lyapunov.methods.solve as loop

    started, deadlines = [], []

    class Recorder(Method):
        name = "recorder"

        def start(self, system, time_limit, prepared=None):
            started.append(self.name)
            return Search(system)

        def propose(self, search, check, deadline):
            deadlines.append(deadline - time.perf_counter())
            return iter(())

    guided = make_method("guided")
    monkeypatch.setattr(guided, "start", lambda *args: started.append("guided"))
    system = parse_infix_system("x0' = x0 + sin(x1); x1' = -x1")          # unstable: nonpoly finds nothing
    recorder = Recorder()
    outcome = loop.solve_system(system, [make_method("nonpoly"), recorder, guided], time_limit=10, shared=True)
    assert [t.method for t in outcome.tried] == ["nonpoly", "recorder", "guided"] and started == ["recorder"]
    assert "does not apply" in outcome.tried[2].reason and "sin(x1)" in outcome.tried[2].reason
    # the recorder is the last method that applies, so it gets all the time nonpoly left (guided weighs nothing)
    assert not outcome.found and len(deadlines) == 1
    assert deadlines[0] > 10 - outcome.tried[0].seconds - 1



def test_each_method_gets_its_share_of_the_time_left():
    import time

    from seq2math.lyapunov.methods.solve import SHARES, method_deadline

    methods = [make_method(name) for name in ("sos", "findlyap")]
    now = time.perf_counter()
    first = method_deadline(methods, 0, now + 100, shared=True) - now
    weights = SHARES["sos"], SHARES.get("findlyap", 0.3)
    assert abs(first - 100 * weights[0] / sum(weights)) < 1.0
    assert method_deadline(methods, 1, now + 100, shared=True) == now + 100        # the last one gets the rest
    assert method_deadline(methods, 0, now + 100, shared=False) == now + 100


class _Fixed(Method):
    """Proposes the given candidates in order (not registered: a test double)."""

    name = "fixed"

    def __init__(self, candidates):
        super().__init__()
        self.candidates = candidates

    def propose(self, search, check, deadline):
        yield from self.candidates


def test_a_slow_candidate_does_not_take_the_whole_share(monkeypatch):
    """Under a deadline a first check is capped at CANDIDATE_SECONDS; the cut one is checked again at the end."""
    import seq2math.lyapunov.methods.solve as loop

    calls = []

    def fake_prove(system, V, check, deadline, certificate_path=None, memory_limit=None):
        seconds = deadline - time.perf_counter()
        calls.append((V, round(seconds)))
        needs = {"slow": 3.0, "wrong": 0.0, "good": 0.0}[V]
        if seconds < needs:
            return loop.Proof(CheckResult(None, check, "undecided: time limit", limit="time"), "time limit", None)
        valid = V != "wrong"
        return loop.Proof(CheckResult(valid, check, "fake", "sos-exact" if valid else "exact counterexample"), "fake",
                          valid)

    monkeypatch.setattr(loop, "prove", fake_prove)
    monkeypatch.setattr(loop, "CANDIDATE_SECONDS", 1.0)
    attempt = loop.attempt_method(_Fixed(["slow", "wrong"]), Search([]), "lyapunov", time.perf_counter() + 20)
    assert attempt.V == "slow" and [v for v, _ in calls] == ["slow", "wrong", "slow"]
    assert calls[0][1] == 1 and calls[2][1] >= 3          # capped first, then the time left
    calls.clear()
    attempt = loop.attempt_method(_Fixed(["slow", "good"]), Search([]), "lyapunov", time.perf_counter() + 20)
    assert attempt.V == "good" and [v for v, _ in calls] == ["slow", "good"]   # found before any second pass


def test_the_default_settles_a_quadratic_v_first_without_importing_torch():
    """``quadratic`` leads the default: the textbook system's V = x0^2 + x1^2 comes from it, certified, and the
    process never imports torch (what makes a fresh process answer in about a second, docs/api.md)."""
    code = ("import sys; from seq2math.api import solve; "
            "s = solve(\"x0' = -x0 + x1; x1' = -x0 - x1^3\", require_certificate=True); "
            "print(s.found, s.method, s.proof, 'torch' in sys.modules, str(s.V), sep='|')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "True|quadratic|sos-exact|False|x0^2 + x1^2"


def test_quadratic_passes_on_what_it_cannot_prove_and_what_is_too_large():
    # dV/dt of any quadratic V has the quartic cross terms 60 x0 x1 (x1^2 - x0^2) that -8(x0^4 + x1^4) cannot
    # dominate; V = x0^4 + x1^4 works (f = -grad V + a rotation), and sos finds it after quadratic gave up
    system = parse_infix_system("x0' = -4*x0^3 + 30*x1^3; x1' = -4*x1^3 - 30*x0^3")
    outcome = solve_system(system, [make_method("quadratic"), make_method("sos", max_degree=4)], "lyapunov",
                           time_limit=30)
    assert outcome.found and outcome.method == "sos" and outcome.V == X0**4 + X1**4
    assert outcome.tried[0].method == "quadratic" and outcome.tried[0].candidates == 0
    assert outcome.tried[0].reason.startswith("quadratic: degree 2")
    # three variables of degree 7: a Gram basis of 35 monomials, over QUADRATIC_MAX_BASIS; no SDP is built
    large = parse_infix_system("x0' = -x0^7 + x1; x1' = -x0 - x1; x2' = -x2")
    started = time.perf_counter()
    outcome = solve_system(large, [make_method("quadratic")], "lyapunov", time_limit=30)
    assert not outcome.found and "not tried" in outcome.tried[0].reason and "35 monomials" in outcome.tried[0].reason
    assert time.perf_counter() - started < 5
