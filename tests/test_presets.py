"""Paper-faithful generator presets (docs/presets.md): every example satisfies its construction's
identities exactly, the preset values reach the generator, and the bundled test sets re-verify."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from seq2math.cli import main
from seq2math.commands.generate import preset_options
from seq2math.config import ConfigError
from seq2math.data.files import format_line, read_examples
from seq2math.lyapunov.batch import parse_benchmark_line
from seq2math.lyapunov.check import check_candidate
from seq2math.lyapunov.generation.backward import build_polynomial, draw_recipe, generate_backward, paper_nonzero
from seq2math.lyapunov.generation.forward import search_forward, system_degree
from seq2math.sos import certificates
from seq2math.symbolic import poly as P
from seq2math.tasks.base import get_task_class, make_task

LYAPUNOV = get_task_class("lyapunov")
FORWARD = {"flyap": "lyapunov", "fbarr": "barrier", "fsostools": "lyapunov"}
DATA = Path(__file__).parent / "data"


def _options(name):
    return preset_options(LYAPUNOV, "lyapunov", name)


def _monomials(p):
    return [tuple(int(e) for e in m) for m in p.monoms()]


# ---- backward: the BPoly preset ---------------------------------------------------------------
@pytest.fixture(scope="module")
def bpoly_examples():
    options, found, index = _options("bpoly"), [], 0
    while len(found) < 12:
        result = generate_backward(np.random.default_rng([21, index]), options)
        index += 1
        if result is not None:
            found.append(result[0])
    return found


def test_bpoly_pairs_satisfy_the_construction_exactly(bpoly_examples):
    for ex in bpoly_examples:
        n, V = ex.n, ex.V
        assert 2 <= n <= 5
        grad = [V.derivative(i) for i in range(n)]
        vdot = sum((f * g for f, g in zip(ex.system, grad)), P.ring(n).constant(0))
        expected = P.ring(n).constant(0)
        for k, h in ex.damping.items():
            expected -= h * h * grad[k] * grad[k]
        assert vdot == expected                                              # V̇ = −Σ h_k²(∂_kV)²
        assert min(sum(m) for m in _monomials(V)) >= 2                        # no term below degree 2
        for f in ex.system:
            assert not f.is_zero() and all(sum(m) >= 1 for m in _monomials(f))   # f(0) = 0, no x_i' = 0
        assert V.total_degree() <= 12 and max(f.total_degree() for f in ex.system) <= 15


def test_bpoly_draws_stay_in_the_documented_ranges():
    options = _options("bpoly")
    kinds, counts = set(), []
    for index in range(40):
        recipe = draw_recipe(np.random.default_rng([22, index]), options)
        n = recipe.n
        assert 2 <= n <= 5 and all(1 <= d <= 6 for d in recipe.half_degrees)
        if recipe.diagonal is not None:
            kinds.add("diagonal")
            assert all(1 <= c <= 3 for c in recipe.diagonal)
        else:                                                                # P = AAᵀ + I over its gcd
            kinds.add("matrix")
            matrix = np.array(recipe.matrix)
            assert (matrix == matrix.T).all() and np.linalg.eigvalsh(matrix).min() > 0
            assert math.gcd(*matrix.ravel().tolist()) == 1
        assert len(recipe.cross) <= 2 and 1 <= len(recipe.damping) <= n and len(recipe.rotations) <= n - 1
        for q in recipe.cross:
            assert 1 <= len(q) <= 4 and all(1 <= sum(m) <= 6 and c in (-2, -1, 1) for m, c in q.items())
        for h in recipe.damping.values():
            assert 1 <= len(h) <= 2 and all(sum(m) <= 2 and -3 <= c <= 2 and c for m, c in h.items())
        for i, j, c in recipe.rotations:
            assert i < j and 1 <= len(c) <= 2 and all(sum(m) <= 4 and -3 <= v <= 2 and v for m, v in c.items())
        counts.append(len(recipe.rotations))
        build_polynomial(recipe)
    assert kinds == {"diagonal", "matrix"} and counts.count(0) > counts.count(1) > 0   # e^(-1.5 j) weights


def test_paper_draws_are_uniform_on_minus_m_to_m_minus_1_without_zero():
    rng = np.random.default_rng(0)
    values = [paper_nonzero(rng, 3) for _ in range(5000)]
    counts = np.bincount(np.array(values) + 3)
    assert set(values) == {-3, -2, -1, 1, 2} and counts[3] == 0
    assert counts[counts > 0].min() > 850                                    # 1000 expected each


# ---- forward: FLyap, FBarr, FSOSTOOL --------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(FORWARD))
def test_forward_preset_pairs_reverify_with_a_rechecked_certificate(name):
    options, check = _options(name), FORWARD[name]
    accepted = 0
    for index in range(300):
        found = search_forward(np.random.default_rng([5, index]), options, check)
        if found is None:
            continue
        system, V = found
        n = len(system)
        assert 2 <= n <= 3 and system_degree(system) % 2 == 1 and system_degree(system) <= options.forward_max_degree
        for f in system:
            assert 1 <= len(f) <= 5 and all(sum(m) >= 1 for m in _monomials(f))
            assert all(-10 <= int(c) <= 9 and c for c in f.coeffs())
        assert V.total_degree() <= options.forward_max_lyapunov_degree and min(sum(m) for m in _monomials(V)) >= 2
        if options.forward_scale_top:
            assert max(abs(int(c)) for c in V.coeffs()) == 10
        result = check_candidate(system, V, check, certificate=True, use_z3=False)
        assert result.valid is True and result.proof.startswith("sos-exact"), result.reason
        document = certificates.certificate_document(system, V, check, result.certificate["conditions"])
        ok, why = certificates.recheck(json.loads(json.dumps(document)))
        assert ok, why
        accepted += 1
        if accepted == 2:
            return
    pytest.fail(f"{name}: only {accepted} examples accepted in 300 draws (about 2% are)")


# ---- the --preset option ------------------------------------------------------------------------
def test_preset_values_and_explicit_flags_reach_the_generator(tmp_path):
    out = tmp_path / "b.txt"
    assert main(["generate", "lyapunov", "--preset", "bpoly", "--max-variables", "2", "--count", "4",
                 "--seed", "3", "--out", str(out), "--quiet"]) == 0
    saved = json.loads((tmp_path / "b.txt.config.json").read_text())
    assert saved["preset"] == "bpoly"
    assert saved["config"]["coefficient_draw"] == "paper" and saved["config"]["max_half_degree"] == 6
    assert saved["config"]["max_variables"] == 2                              # the flag beats the preset
    options = replace(_options("bpoly"), max_variables=2)
    task = make_task("lyapunov", options)
    from seq2math.data.generation import generate_example

    expected = [format_line(*generate_example(task, 3, i), task.default_format) for i in range(4)]
    assert out.read_text().splitlines() == expected
    assert all(len(parse_benchmark_line(line)[1]) == 2 for line in expected)


def test_every_preset_names_its_command_and_unknown_presets_are_refused():
    for name in ("bpoly", *FORWARD):
        path = Path(__file__).parent.parent / "seq2math" / "presets" / f"lyapunov-{name}.yaml"
        assert path.read_text().splitlines()[0].startswith(f"# seq2math generate lyapunov --preset {name} ")
        _options(name).validate_forward()
        _options(name).validate()
    assert _options("flyap").forward_positivity == "fixed" and _options("fbarr").mode == "barrier"
    with pytest.raises(ConfigError, match="no bundled preset.*bpoly"):
        preset_options(LYAPUNOV, "lyapunov", "nonexistent")


# ---- the bundled test sets ----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["bpoly", *sorted(FORWARD)])
def test_bundled_test_sets_parse_and_a_sample_reverifies(name):
    task = make_task("lyapunov", _options(name))
    path = DATA / f"lyapunov-{name}-test200.txt"
    lines = path.read_text().splitlines()
    assert len(lines) == 200
    pairs = [(source, target) for _, source, target in read_examples(task, path)]
    assert len({" ".join(source) for source, _ in pairs}) == 200             # no system twice
    check = FORWARD.get(name, "lyapunov")
    # the three shortest pairs (large BPoly systems take seconds each to prove)
    for source, target in sorted(pairs, key=lambda p: len(p[0]) + len(p[1]))[:3]:
        verdict = task.verify(source, target)
        assert verdict.scores[check] is True, verdict.reason
