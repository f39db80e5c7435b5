"""The neural learner–verifier baseline: sound region and global claims, re-checked independently."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
import sympy
import torch

from seq2math.cli import main
from seq2math.lyapunov.check import as_polynomials, check_candidate
from seq2math.lyapunov.methods.neural.counterexamples import (
    exact_region_check,
    sample_annulus,
)
from seq2math.lyapunov.methods.neural.network import (
    SquareNetwork,
    system_function,
    torch_evaluate,
)
from seq2math.lyapunov.methods.neural.options import NeuralOptions
from seq2math.lyapunov.methods.neural.region_sos import recheck as recheck_region
from seq2math.lyapunov.methods.neural.region_sos import region_certificate
from seq2math.lyapunov.methods.neural.search import neural_lyapunov
from seq2math.sos.certificates import certificate_document, recheck
from seq2math.sos.prover import Verdict
from seq2math.symbolic.calculus import evaluate as tree_evaluate
from seq2math.symbolic.poly import evaluate, from_sympy, lie_derivative, ring
from seq2math.symbolic.polytools import exact_value
from seq2math.tokens.infix import parse_infix, parse_infix_system

LINEAR = "x0' = -x0 + x1; x1' = -x0 - x1"
UNSTABLE = "x0' = x0; x1' = -x1"
AKP = "x0' = -x0 + x0*x1; x1' = -x1"          # globally stable, no polynomial Lyapunov function
THREE = "x0' = -x0 + x1*x2; x1' = -x1 - x0*x2; x2' = -x2"


def _polys(text: str):
    return as_polynomials(parse_infix_system(text), parse_infix("x0"))[0]


def _annulus_points(n: int, inner: float, outer: float, count: int, seed: int) -> np.ndarray:
    """Our own sampler (numpy, not the baseline's): log-uniform radii and the two boundary spheres."""
    rng = np.random.default_rng(seed)
    directions = rng.standard_normal((count, n))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    radii = np.exp(rng.uniform(np.log(inner), np.log(outer), count))
    radii[:count // 10], radii[count // 10:count // 5] = inner, outer
    return directions * radii[:, None]


@pytest.fixture(scope="module")
def linear_result():
    return neural_lyapunov(parse_infix_system(LINEAR), time_limit=20, seed=0, region_radius=10.0)


def test_linear_system_region_is_proved_and_rechecked_independently(linear_result):
    result = linear_result
    assert result.found_region is True and result.region_proof in ("z3", "sos-exact (global asymptotic decrease)")
    V, system = result.V_poly, _polys(LINEAR)
    assert exact_value(V, (0, 0)) == 0
    X = _annulus_points(2, 0.01, 10.0, 20000, seed=123)
    assert np.all(evaluate(V, X) > 0)
    assert np.all(evaluate(lie_derivative(V, system), X) < 0)


def test_three_variable_region_certificate_rechecks_exactly():
    result = neural_lyapunov(parse_infix_system(THREE), time_limit=20, seed=0, region_radius=10.0)
    assert result.found_region is True and result.found_global is not True
    assert result.region_proof == "sos-exact (annulus)" and result.V_poly is not None
    system = _polys(THREE)
    assert recheck_region(result.V_poly, system, 0.01, 10.0, result.region_certificate) == (
        True, "every Gram matrix re-proved exactly")
    X = _annulus_points(3, 0.01, 10.0, 20000, seed=7)
    assert exact_value(result.V_poly, (0, 0, 0)) == 0 and np.all(evaluate(result.V_poly, X) > 0)
    assert np.all(evaluate(lie_derivative(result.V_poly, system), X) < 0)


def test_undecided_candidate_is_reported_as_numerical_and_the_loop_goes_on():
    system = parse_infix_system(THREE)      # seed 1: the first candidate has no SOS certificate, z3 times out
    once = neural_lyapunov(system, time_limit=20, seed=1, region_radius=10.0, z3_timeout=0.3, iterations=1)
    assert once.found_region is None and once.region_proof == "none (numerical)" and once.V_poly is not None
    assert "not a proof" in once.reason
    more = neural_lyapunov(system, time_limit=20, seed=1, region_radius=10.0, z3_timeout=0.3, iterations=4)
    assert more.history[0]["verifier"] == once.history[0]["verifier"]
    if more.found_region:                   # a later, more robust candidate must carry a checkable certificate
        assert more.region_proof == "sos-exact (annulus)" and more.iterations > 1
        assert recheck_region(more.V_poly, _polys(THREE), 0.01, 10.0, more.region_certificate)[0]


def test_the_region_solve_keeps_its_time_limit(monkeypatch):
    """The region program of a large V can run minutes past Clarabel's own time limit (bpoly system 1: 188 s for
    a 10 s neural baseline); ``bounded_region_certificate`` kills it in its child, and answers as before otherwise."""
    import time

    import seq2math.lyapunov.methods.neural.region_sos as region_sos

    x0, x1 = ring(2).gens()
    certificate, _ = region_sos.bounded_region_certificate(x0**2 + x1**2, _polys(LINEAR), 0.01, 10.0, 10.0)
    assert certificate is not None and recheck_region(x0**2 + x1**2, _polys(LINEAR), 0.01, 10.0, certificate)[0]
    monkeypatch.setattr(region_sos, "region_certificate", lambda *args: time.sleep(120))
    monkeypatch.setattr(region_sos, "can_fork_safely", lambda: True)    # the sleeping child runs no solver
    started = time.perf_counter()
    certificate, detail = region_sos.bounded_region_certificate(x0**2 + x1**2, _polys(LINEAR), 0.01, 10.0, 0.5)
    assert certificate is None and detail == "sos: time limit (0.5 s)"
    assert time.perf_counter() - started < 0.5 + region_sos.HARD_LIMIT_GRACE + 5


def test_region_certificate_is_sound_and_tamper_evident():
    x0, x1 = ring(2).gens()
    V = x0**2 + x1**2
    certificate, detail = region_certificate(V, _polys(LINEAR), 0.01, 10.0, time_limit=10)
    assert certificate is not None, detail
    assert recheck_region(V, _polys(LINEAR), 0.01, 10.0, certificate)[0]
    assert not recheck_region(V + x0 * x1, _polys(LINEAR), 0.01, 10.0, certificate)[0]     # another V
    assert not recheck_region(V, _polys(LINEAR), 0.01, 20.0, certificate)[0]               # another region
    assert not recheck_region(V, _polys(LINEAR), 0.01, 10.0, certificate | {"delta": "1000"})[0]
    assert region_certificate(V, _polys(UNSTABLE), 0.01, 10.0, time_limit=10)[0] is None
    # for the AKP system and V = x0^2 + x1^2, dV/dt = 154 > 0 at (9, 2), inside |x| <= 10
    assert lie_derivative(V, _polys(AKP))(9, 2) == 154
    assert region_certificate(V, _polys(AKP), 0.01, 10.0, time_limit=10)[0] is None


def test_global_claim_comes_with_an_exact_certificate(linear_result):
    system = _polys(LINEAR)
    assert linear_result.found_global is True and linear_result.global_proof.startswith("sos-exact")
    again = check_candidate(system, linear_result.V_poly, "lyapunov", certificate=True)
    assert again.valid is True
    ok, why = recheck(certificate_document(system, linear_result.V_poly, "lyapunov", again.certificate["conditions"]))
    assert ok, why


def test_unstable_system_is_not_found():
    result = neural_lyapunov(parse_infix_system(UNSTABLE), time_limit=20, seed=0, region_radius=10.0, iterations=3)
    assert result.found_region is False and result.found_global is False and result.V_poly is None
    assert result.counterexamples > 0 and all(h["verifier"] == "numerical" for h in result.history)


def test_ahmadi_krstic_parrilo_system_never_gets_a_global_claim():
    """No polynomial V proves the AKP system globally; on |x| <= 2 the baseline finds one, with an
    annulus certificate, and the region claim holds on our own samples."""
    result = neural_lyapunov(parse_infix_system(AKP), time_limit=20, seed=0, region_radius=2.0, iterations=3,
                             z3_timeout=2.0)
    assert result.found_global is not True
    assert result.found_region is True and result.region_proof == "sos-exact (annulus)"
    V, system = result.V_poly, _polys(AKP)
    assert recheck_region(V, system, 0.01, 2.0, result.region_certificate)[0]
    assert not recheck_region(V, system, 0.01, 10.0, result.region_certificate)[0]      # not beyond |x| <= 2
    X = _annulus_points(2, 0.01, 2.0, 20000, seed=5)
    assert exact_value(V, (0, 0)) == 0 and np.all(evaluate(V, X) > 0)
    assert np.all(evaluate(lie_derivative(V, system), X) < 0)


def test_non_polynomial_system_gets_numerical_region_only():
    """x0' = -sin(x0) + x1, x1' = -x0 - x1: a candidate, but no exact verifier, so only a numerical
    region claim; the candidate is checked here with numpy's sine on our own samples."""
    result = neural_lyapunov(parse_infix_system("x0' = -sin(x0) + x1; x1' = -x0 - x1"), time_limit=10, seed=0,
                             region_radius=3.0, iterations=4)
    assert result.found_global is None and result.found_region is None
    assert result.region_proof == "none (numerical)" and "not a proof" in result.reason
    V = result.V_poly
    assert V is not None and exact_value(V, (0, 0)) == 0
    X = _annulus_points(2, 0.01, 3.0, 20000, seed=9)
    flow = np.stack([-np.sin(X[:, 0]) + X[:, 1], -X[:, 0] - X[:, 1]], axis=1)
    gradient = np.stack([evaluate(V.derivative(i), X) for i in range(2)], axis=1)
    assert np.all(evaluate(V, X) > 0) and np.all((gradient * flow).sum(axis=1) < 0)


def test_a_field_that_overflows_far_out_neither_poisons_the_learner_nor_the_provers():
    """exp(2x0^4 + 3x1^6) overflows a float beyond |x| ~ 4: those states are left out of training (NaN weights
    crashed the exact extraction), and the polynomial V the learner proposes goes to the prover chain as a tree."""
    import time

    from seq2math.lyapunov.methods import make_method
    from seq2math.lyapunov.methods.solve import attempt_method

    system = parse_infix_system("x0' = -x0*exp(2*x0^4 + 3*x1^6) + x1; x1' = -x0 - x1*exp(2*x0^4 + 3*x1^6)")
    result = neural_lyapunov(system, time_limit=10, seed=0, region_radius=50.0, iterations=3)
    assert result.V_poly is not None or "counterexamples" in result.reason
    method = make_method("neural")
    attempt = attempt_method(method, method.start(system, 10), "lyapunov", time.perf_counter() + 20)
    assert attempt.candidates <= 1 and "raise" not in (attempt.reason or "")
    # a flint polynomial V on a non-polynomial system: proved by the chain like its tree
    V = ring(2).gens()[0] ** 2 + ring(2).gens()[1] ** 2
    assert check_candidate(system, V, "lyapunov", timeout=30).proof in ("substitution+sos", "cvc5")


def test_same_seed_same_result_and_other_seed_other_run(linear_result):
    def run(seed):
        return neural_lyapunov(parse_infix_system(UNSTABLE), time_limit=30, seed=seed, iterations=3)

    first, second, other = run(3), run(3), run(4)
    assert first.history == second.history and first.counterexamples == second.counterexamples
    assert first.history != other.history
    again = neural_lyapunov(parse_infix_system(LINEAR), time_limit=20, seed=0, region_radius=10.0)
    assert again.V_poly == linear_result.V_poly and again.history == linear_result.history


def test_exact_extraction_equals_the_network():
    generator = torch.Generator().manual_seed(0)
    network = SquareNetwork(3, linear_width=2, square_width=3, output_width=4, epsilon=0.01, generator=generator)
    network.quantize_(8)
    V = network.to_poly()
    X = torch.randn(50, 3, generator=generator, dtype=torch.float64) * 3
    assert np.allclose(evaluate(V, X.numpy()), network.value(X).detach().numpy(), rtol=1e-12, atol=1e-12)
    X.requires_grad_(True)
    (autograd,) = torch.autograd.grad(network.value(X).sum(), X)
    assert torch.allclose(network.gradient(X), autograd, rtol=1e-12, atol=1e-12)
    # an independent exact construction (sympy rationals) of |C [W1 x; (W2 x)^2]|^2 + eps |x|^2
    x = sympy.Matrix(sympy.symbols("x0:3"))
    exact = lambda W: sympy.Matrix(W.detach().tolist()).applyfunc(sympy.nsimplify)      # noqa: E731
    square = (exact(network.W2) * x).applyfunc(lambda e: e ** 2)
    outputs = exact(network.C) * (exact(network.W1) * x).col_join(square)
    epsilon = sympy.Rational(network.epsilon.numerator, network.epsilon.denominator)
    assert from_sympy(sum(o ** 2 for o in outputs) + epsilon * (x.T * x)[0], 3) == V


def test_torch_evaluation_matches_the_tree_evaluator():
    system = parse_infix_system("x0' = -sin(x0) + exp(x1) - 1; x1' = x0^3/2 - sqrt(1 + x1^2) + 1")
    X = np.random.default_rng(0).uniform(-2, 2, (40, 2))
    values = system_function(system)(torch.from_numpy(X)).numpy()
    for i, tree in enumerate(system):
        assert np.allclose(values[:, i], tree_evaluate(tree, X), rtol=1e-12, atol=1e-12)
    assert torch_evaluate(parse_infix("2^3 + pi"), torch.zeros(1, 1)) == pytest.approx(8 + np.pi)


def test_exact_region_check_proves_and_refutes():
    x0, x1 = ring(2).gens()
    V = x0**2 + x1**2
    assert exact_region_check(V, _polys(LINEAR), 0.01, 10.0, timeout=10).verdict is Verdict.PROVED
    answer = exact_region_check(V, _polys(UNSTABLE), 0.01, 10.0, timeout=10)
    assert answer.verdict is Verdict.COUNTEREXAMPLE
    point = answer.point
    assert exact_value(lie_derivative(V, _polys(UNSTABLE)), point) >= 0
    assert Fraction(1, 10000) <= sum(Fraction(int(v.p), int(v.q)) ** 2 for v in point) <= 100


def test_annulus_samples_stay_in_the_annulus():
    X = sample_annulus(3, 1000, 0.01, 10.0, torch.Generator().manual_seed(0))
    norms = X.norm(dim=1)
    assert X.shape == (1000, 3) and norms.min() >= 0.01 - 1e-12 and norms.max() <= 10.0 + 1e-12
    assert (norms < 0.1).sum() > 50 and (norms > 5).sum() > 200     # both scales are covered


def test_bad_options_name_the_option():
    with pytest.raises(ValueError, match="inner_radius"):
        NeuralOptions(radius=0.01, inner_radius=0.1).validate()
    with pytest.raises(ValueError, match="margin"):
        neural_lyapunov(parse_infix_system(LINEAR), margin=1.5)


def test_origin_must_be_an_equilibrium():
    result = neural_lyapunov(parse_infix_system("x0' = -x0 + 1; x1' = -x1"), time_limit=5)
    assert result.found_region is False and "not an equilibrium" in result.reason


def test_baseline_neural_command_counts_region_and_global_apart(tmp_path, capsys):
    data, out = tmp_path / "systems.tsv", tmp_path / "neural.jsonl"
    data.write_text(f"{LINEAR}\n{UNSTABLE}\nx0' = -x0 + ; x1' = x1\n")
    assert main(["baseline", "neural", str(data), "--infix", "--time-limit", "20", "--iterations", "3",
                 "--radius", "5", "--out", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["line"] for r in records] == [1, 2, 3]
    assert records[0]["region_status"] == "proved" and records[0]["V"]
    assert records[1]["region_status"] == "not found" and records[1]["global_status"] == "not proved"
    assert records[2]["region_status"] == "input error" and ":3:" in records[2]["reason"]
    summary = json.loads((tmp_path / "neural.jsonl.summary.json").read_text())
    assert summary["region"]["proved"] == 1 and summary["region"]["not found"] == 1
    assert set(summary["global"]) <= {"proved", "not proved", "undecided", "input error"}
    assert "neural (global)" in capsys.readouterr().err
