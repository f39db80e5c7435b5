"""The Python API (``from seq2math import solve, verify, generate, load_model``): the examples of
its docstrings, each checked by mathematics (exact certificates, exact counterexamples)."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction

import pytest

from seq2math import generate, load_model, solve, verify
from seq2math.cli import main
from seq2math.lyapunov.check import as_polynomials
from seq2math.sos import certificates
from seq2math.symbolic.poly import lie_derivative
from seq2math.tokens.infix import parse_infix, parse_infix_system
from seq2math.tokens.prefix import parse_full_expression
from seq2math.training.config import DEFAULT_MODEL

SYSTEM = "x0' = -x0 + x1; x1' = -x0 - x1^3"


def exact_certificate(system, V, check="lyapunov") -> dict:
    """The certificate document of a proved V, built from a fresh check."""
    result = verify(system, V, check, certificate=True)
    assert result.valid is True and result.proof.startswith("sos-exact"), result.reason
    polys = as_polynomials(parse_infix_system(system), parse_infix(str(V)))
    return certificates.certificate_document(polys[0], polys[1], check, result.certificate["conditions"])


def test_importing_a_light_module_loads_no_api_and_no_torch():
    code = ("import sys, seq2math.tokens.numbers; "
            "print(any(m in sys.modules for m in ('seq2math.api', 'torch', 'cvxpy')))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


def test_solve_returns_a_v_that_re_verifies_with_an_exact_certificate():
    solution = solve(SYSTEM, methods="sos", time_limit=60)
    assert solution.found and solution.method == "sos" and solution.proof == "sos-exact"
    assert str(solution.V) == "x0^2 + x1^2" and solution.V.tokens == "+ ^ x0 INT+ 2 ^ x1 INT+ 2".split()
    assert parse_full_expression(solution.V.tokens) == solution.V.tree            # prefix round trip
    assert str(solution.V.sympy()) == "x0**2 + x1**2"
    assert certificates.recheck(solution.certificate) == (True, "every condition re-proved exactly")
    assert certificates.recheck(exact_certificate(SYSTEM, solution.V))[0]       # and again, from scratch
    assert solution.to_json()["V_prefix"] == solution.V.prefix and solution.tried[0].candidates == 1
    with pytest.raises(AttributeError):
        solution.found = False                                                # frozen


def test_solve_not_found_is_honest_and_the_cli_prints_the_same_record(capsys):
    """ẋ0 = -x0 + x0·x1, ẋ1 = -x1 is stable but has no polynomial Lyapunov function (Ahmadi et al.)."""
    solution = solve("x0' = -x0 + x0*x1; x1' = -x1", methods="sos", max_degree=4, time_limit=60)
    assert not solution.found and solution.V is None and solution.proof is None
    assert [a.method for a in solution.tried] == ["sos"]
    assert main(["solve", SYSTEM, "--json", "--methods", "sos"]) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = solve(SYSTEM, methods="sos").to_json()
    for record in (printed, expected):
        record.pop("seconds"), [t.pop("seconds") for t in record["tried"]]
    assert printed == expected


def test_solve_rejects_bad_input_clearly():
    with pytest.raises(ValueError, match="cannot read the system"):
        solve("x0' = -x0 +")
    with pytest.raises(ValueError, match="unknown method 'nonsense'"):
        solve(SYSTEM, methods="nonsense")
    with pytest.raises(ValueError, match="unknown check"):
        solve(SYSTEM, check="global")


def test_verify_a_wrong_v_is_false_with_an_exact_counterexample():
    system = "x0' = -x0; x1' = x1"                           # unstable along x1
    result = verify(system, "x0^2 + x1^2")
    assert result.valid is False and result.counterexample is not None
    point = [Fraction(v) for v in result.counterexample["point"]]
    polys, V = as_polynomials(parse_infix_system(system), parse_infix("x0^2 + x1^2"))
    dV = lie_derivative(V, polys)                                # 2·x1² − 2·x0² must be > 0 there
    value = sum(Fraction(int(c.p), int(c.q)) * point[0] ** int(m[0]) * point[1] ** int(m[1])
                for m, c in zip(dV.monoms(), dV.coeffs()))
    assert value > 0
    good = verify(SYSTEM, "x0^2 + x1^2")
    assert good.valid is True and good.proof == "sos-exact" and good.check == "lyapunov"
    assert verify(system, "x0^2", "barrier").valid is True     # V = x0^2 ≥ 0 and dV/dt = -2·x0^2 ≤ 0
    assert verify(system, "x0^2").valid is not True            # but V is not positive definite


def test_verify_takes_trees_and_polynomials_and_matches_the_cli(tmp_path):
    system = parse_infix_system(SYSTEM)
    polys, V = as_polynomials(system, parse_infix("x0^2 + x1^2"))
    assert verify(system, parse_infix("x0^2 + x1^2")).valid is True
    assert verify(polys, V).valid is True
    pairs, out = tmp_path / "pairs.tsv", tmp_path / "checked.jsonl"
    pairs.write_text(f"{SYSTEM}\tx0^2 + x1^2\nx0' = -x0; x1' = x1\tx0^2 + x1^2\n")
    assert main(["verify", str(pairs), "--infix", "--out", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["valid"] for r in records] == [True, False]
    api = verify("x0' = -x0; x1' = x1", "x0^2 + x1^2", seed=2)   # the CLI seeds line k with seed + k
    assert records[1]["counterexample"] == api.counterexample and records[1]["reason"] == api.reason


def test_verify_takes_time_limit_like_the_cli_and_timeout_only_as_a_deprecated_alias():
    proved = verify(SYSTEM, "x0^2 + x1^2", time_limit=30)
    assert proved.valid is True and proved.proof == "sos-exact"
    with pytest.warns(DeprecationWarning, match="time_limit"):
        old = verify(SYSTEM, "x0^2 + x1^2", timeout=30)
    assert (old.valid, old.proof) == (proved.valid, proved.proof)
    with pytest.raises(TypeError, match="both time_limit and its old name timeout"):
        verify(SYSTEM, "x0^2 + x1^2", time_limit=30, timeout=30)
    with pytest.raises(ValueError, match="time_limit must be positive"):
        verify(SYSTEM, "x0^2 + x1^2", time_limit=0)


def test_generate_gives_the_examples_the_file_generator_writes(tmp_path):
    out = tmp_path / "lyap.txt"
    assert main(["generate", "lyapunov", "--max-variables", "2", "--count", "6", "--seed", "3", "--out", str(out),
                 "--quiet"]) == 0
    examples = list(generate("lyapunov", count=6, seed=3, max_variables=2))
    assert [e.line for e in examples] == out.read_text().splitlines()
    assert [e.index for e in examples] == list(range(6))
    assert examples[0].line.split("\t")[1] == " ".join(examples[0].target)
    assert [e.line for e in generate("lyapunov", count=6, seed=3, start=4, max_variables=2)] == \
        [e.line for e in examples[4:]]
    assert [e.line for e in generate("lyapunov", count=6, seed=4, max_variables=2)] != [e.line for e in examples]
    with pytest.raises(ValueError, match="max_varables"):
        next(generate("lyapunov", count=1, max_varables=2))


@pytest.mark.skipif(not (DEFAULT_MODEL / "config.json").exists(), reason="no shipped checkpoint")
def test_the_shipped_model_beam_gives_ranked_hypotheses_that_re_check():
    model = load_model()
    easy = "x0' = -x0; x1' = -x1"
    hypotheses = model.beam(easy, size=3)
    assert [h.rank for h in hypotheses] == [1, 2, 3]
    scores = [h.score for h in hypotheses]
    assert scores == sorted(scores, reverse=True)
    certified = [h for h in hypotheses if h.certified]
    assert certified, [str(h.V) for h in hypotheses]
    for hypothesis in certified:                                   # a certified V really is one
        assert certificates.recheck(exact_certificate(easy, hypothesis.V))[0]
    best = model.predict(easy)
    assert best.rank == 1 and best.score is None and best.V is not None
    assert best.valid == (verify(easy, best.V).valid is True)
    hard = model.beam("x0' = -2*x0 + x1; x1' = -x0 - x1^3", size=2)
    for hypothesis in hard:                                        # the verdicts are the verifier's, not the model's
        assert hypothesis.valid == (verify("x0' = -2*x0 + x1; x1' = -x0 - x1^3", hypothesis.V).valid is True)
