"""Soundness and completeness of ``check_candidate`` and the ``seq2math verify`` command.

Soundness: wrong candidates built from correct pairs (negated V, V without its dominant
term, V + x0, V paired with another system) are first *proven* wrong here, by an exact
rational point found with the test's own grid search; the verifier must then answer
false or null, never true, and any counterexample it gives must check out exactly.
"""

from __future__ import annotations

import itertools
import json

import flint
import numpy as np
import pytest

from seq2math.cli import main
from seq2math.lyapunov.check import check_candidate
from seq2math.symbolic.expr import from_poly
from seq2math.symbolic.poly import lie_derivative, ring
from seq2math.tokens.prefix import format_benchmark_line

GRID = [flint.fmpq(v) for v in (0, 1, -1, 2, -2, 10, -10, 100, -100)] + [flint.fmpq(1, 10), flint.fmpq(-1, 10),
                                                                          flint.fmpq(1, 2), flint.fmpq(-1, 2)]


def exact_violation(system, V, check="lyapunov"):
    """A rational point proving (system, V) wrong under ``check``, found independently of the verifier."""
    n = len(system)
    zero = (flint.fmpq(0),) * n
    if check == "lyapunov" and V(*zero) != 0:
        return zero
    vdot = lie_derivative(V, system)
    for point in itertools.product(GRID, repeat=n):
        if vdot(*point) > 0:
            return point
        value = V(*point)
        if value < 0 or (check == "lyapunov" and value == 0 and any(point)):
            return point
    return None


def correct_pairs():
    from seq2math.lyapunov.generation.backward import BackwardConfig, generate_backward

    R = ring(2)
    x0, x1 = R.gens()
    pairs = [([-x0 + x1, -x0 - x1**3], x0**2 + x1**2), ([-x0**3, -x1**3 - x0**2 * x1], x0**2 + x1**2),
             ([-x0**3 + x1, -x0 - x1], x0**2 + x1**2)]
    config = BackwardConfig(min_variables=2, max_variables=3, max_half_degree=2, max_cross_degree=1,
                            max_rotation_degree=1)
    for i in range(40):
        generated = generate_backward(np.random.default_rng([7, i]), config)
        if generated is not None:
            pairs.append((generated[0].system, generated[0].V))
        if len(pairs) >= 12:
            break
    return pairs


def wrong_candidates(pairs):
    for k, (system, V) in enumerate(pairs):
        x0 = V.context().gen(0)
        top = max(V.terms(), key=lambda t: (sum(t[0]), abs(t[1])))
        yield "negated", system, -V
        yield "dominant term removed", system, V - V.context().from_dict({tuple(top[0]): top[1]})
        yield "V + x0", system, V + x0
        other = next((s for s, _ in pairs[k + 1:] + pairs[:k] if len(s) == len(system) and s != system), None)
        if other is not None:
            yield "other system", other, V


def test_wrong_candidates_are_never_certified():
    pairs = correct_pairs()
    proven_wrong = 0
    for kind, system, V in wrong_candidates(pairs):
        witness = exact_violation(system, V)
        if witness is None:          # not proven wrong by the test: it does not belong in the suite
            continue
        proven_wrong += 1
        result = check_candidate(system, V, "lyapunov", timeout=3)
        assert result.valid is not True, f"{kind}: V = {V} certified for a wrong pair"
        if result.valid is False and result.counterexample and "point" in result.counterexample:
            point = tuple(flint.fmpq(*map(int, (s.split("/") + ["1"])[:2])) for s in result.counterexample["point"])
            assert exact_violation_at(system, V, point), f"{kind}: the verifier's counterexample is not one"
    assert proven_wrong >= 35


def exact_violation_at(system, V, point) -> bool:
    value = V(*point)
    return lie_derivative(V, system)(*point) > 0 or value < 0 or (value == 0 and any(point))


def test_correct_pairs_are_proved_and_mostly_exactly():
    results = [check_candidate(system, V, "lyapunov") for system, V in correct_pairs()]
    assert all(r.valid is not False for r in results)
    assert sum(r.valid is True for r in results) >= 0.8 * len(results)
    assert all(r.proof in ("sos-exact", "sos-exact+z3", "z3") for r in results if r.valid)


def test_textbook_system_is_lyapunov_stable_with_the_squared_norm(textbook):
    result = check_candidate(textbook.system, textbook.V, "lyapunov", asymptotic=True)
    assert result.valid is True and result.proof == "sos-exact"
    assert result.asymptotic is True                     # -dV/dt = 2 x0^2 + 2 x1^4 >= 2 x0^2 + ... : definite
    assert result.conditions["asymptotic"] == "sos-exact"


def test_a_centre_is_not_asymptotically_stable():
    """x0' = x1, x1' = -x0 turns on circles: V = x0^2 + x1^2 is conserved (-dV/dt = 0), so the origin
    is stable but not asymptotically stable; the asymptotic flag must not say True."""
    x0, x1 = ring(2).gens()
    centre, V = [x1, -x0], x0**2 + x1**2
    assert lie_derivative(V, centre) == 0
    result = check_candidate(centre, V, "lyapunov", asymptotic=True)
    assert result.valid is not False and result.asymptotic is not True
    assert check_candidate(centre, V, "lyapunov").valid is True


def test_a_failed_asymptotic_condition_leaves_the_stability_verdict_alone():
    x0, x1 = ring(2).gens()
    result = check_candidate([x1, -x0], x0**2 + x1**2, "lyapunov", asymptotic=True)
    assert result.valid is True and result.asymptotic is not True


def test_barrier_is_weaker_than_lyapunov():
    """x0' = -x0, x1' = x1: the origin is unstable (x1 grows), so no Lyapunov function exists;
    V = x0^2 still satisfies the barrier conditions (V >= 0, V' = -2 x0^2 <= 0)."""
    x0, x1 = ring(2).gens()
    system, V = [-x0, x1], x0**2
    assert check_candidate(system, V, "barrier").valid is True
    lyapunov = check_candidate(system, V, "lyapunov")
    assert lyapunov.valid is False
    point = tuple(flint.fmpq(p) for p in lyapunov.counterexample["point"][0:1]) + \
        tuple(flint.fmpq(int(p)) for p in lyapunov.counterexample["point"][1:])
    assert V(*point) == 0 and any(point)


def test_a_constant_is_no_barrier_function_even_with_a_valid_looking_certificate():
    """V = 5 meets both barrier conditions of every system (5 >= 0, -dV/dt = 0), so it would certify an
    unstable system; the check refutes it outright, for polynomial and non-polynomial systems, and the
    re-check of a certificate file whose every condition is otherwise exact refuses it too."""
    from seq2math.sos import certificates
    from seq2math.tokens.infix import parse_infix, parse_infix_system
    x0, x1 = ring(2).gens()
    unstable = [x0, x1]
    five = 0 * x0 + 5
    result = check_candidate(unstable, five, "barrier")
    assert result.valid is False and "constant" in result.reason and result.proof == "exact"
    assert check_candidate(unstable, x0**2, "barrier").valid is False       # a non-constant V is still refuted
    sine = parse_infix_system("x0' = sin(x0); x1' = x1")
    assert check_candidate(sine, parse_infix("5"), "barrier").valid is False
    conditions = [{"name": "positive", "method": "sos-exact", "polynomial": [[[0, 0], "5"]],
                   "basis": [[0, 0]], "gram": [["5"]]},
                  {"name": "decrease", "method": "sos-exact", "polynomial": [], "basis": [], "gram": []}]
    document = certificates.certificate_document(unstable, five, "barrier", conditions)
    for part in conditions:                              # each condition alone is exactly right ...
        assert certificates._recheck_condition(part, unstable, five, definite=False)[0]
    ok, why = certificates.recheck(document)             # ... but the certificate proves nothing
    assert not ok and "constant" in why


def test_non_polynomial_pairs_unproved_get_numerical_answers_never_valid():
    from seq2math.lyapunov.check import check_nonpolynomial
    from seq2math.tokens.infix import parse_infix, parse_infix_system

    system = parse_infix_system("x0' = -x0; x1' = -x1")
    V = parse_infix("exp(x0^2 + x1^2) - 1")
    # a true V the substitution prover does not settle (its residual has no margin): sampling is no proof
    alone = check_nonpolynomial(system, V, "lyapunov", provers=("seq2math.lyapunov.provers.substitution",))
    assert alone.valid is None and "no counterexample found" in alone.numerical
    good = check_candidate(system, V, "lyapunov")            # the whole chain: cvc5 proves it (unsat)
    assert good.valid is True and good.proof == "cvc5"
    bad = check_candidate(system, parse_infix("1 - cos(x0) + x1^2 - x0^2"), "lyapunov")
    assert bad.valid is False


def _write_prefix_file(path, pairs):
    path.write_text("".join(format_benchmark_line([from_poly(f) for f in s], from_poly(V)) + "\n" for s, V in pairs))


def test_verify_command_writes_records_certificates_and_resumes(tmp_path, capsys, certificate_file_proves):
    x0, x1 = ring(2).gens()
    pairs = [([-x0 + x1, -x0 - x1**3], x0**2 + x1**2), ([-x0 + x1, -x0 - x1**3], -(x0**2) - x1**2),
             ([-x0, x1], x0**2)]
    data, out, certs = tmp_path / "pairs.txt", tmp_path / "out.jsonl", tmp_path / "certs"
    _write_prefix_file(data, pairs)
    with open(data, "a") as handle:
        handle.write("1|INT+ 2 <SPECIAL_3> x0\tx0\n")                      # malformed system: one equation
    assert main(["verify", str(data), "--out", str(out), "--certificates", str(certs), "--exact"]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["valid"] for r in records] == [True, False, False, None]
    assert records[0]["rechecked"] is True and records[0]["proof"] == "sos-exact"
    assert sorted(p.name for p in certs.iterdir()) == ["line-1.json"]      # only the proved pair has one
    certificate_file_proves(certs / "line-1.json", *pairs[0], "lyapunov")
    assert records[1]["counterexample"] and records[2]["counterexample"]
    assert "line 4" in capsys.readouterr().err or records[3].get("error")
    out.write_text("".join(line + "\n" for line in out.read_text().splitlines()[:2]) + '{"line": 3, "val')
    assert main(["verify", str(data), "--out", str(out), "--resume"]) == 0
    resumed = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["line"] for r in resumed] == [1, 2, 3, 4] and [r["valid"] for r in resumed] == [True, False, False, None]
    with pytest.raises(SystemExit):
        main(["verify", str(data), "--check", "nonsense"])


def test_verify_command_infix_barrier_workers_and_timeout(tmp_path):
    data, out = tmp_path / "pairs.tsv", tmp_path / "out.jsonl"
    data.write_text("x0' = -x0; x1' = x1\tx0^2\nx0' = -x0 + x1; x1' = -x0 - x1^3\tx0^2 + x1^2\n")
    assert main(["verify", str(data), "--infix", "--check", "barrier", "--workers", "2", "--timeout", "30",
                 "--out", str(out)]) == 0
    assert [json.loads(line)["valid"] for line in out.read_text().splitlines()] == [True, True]
    out2 = tmp_path / "out2.jsonl"
    assert main(["verify", str(data), "--infix", "--timeout", "0.0001", "--out", str(out2)]) == 0
    records = [json.loads(line) for line in out2.read_text().splitlines()]
    assert all(r["valid"] is None and r.get("timeout") for r in records)
