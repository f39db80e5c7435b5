"""benchmarks/gpu-mixture.sh, the script a session lent a GPU runs once, checked on the CPU (QUICK=1)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_gpu_mixture_script_trains_and_exports_a_loadable_checkpoint(tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, QUICK="1", OUT=str(out), PYTHON=sys.executable, TRAIN_TIME="8s")
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu-mixture.sh")], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    summary = (out / "summary.txt").read_text()
    assert "== done:" in summary and "quick=1" in summary
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert any(r["kind"] == "train" and r["step"] > 0 for r in records)
    export = out / "mixture-gpu"
    assert {p.name for p in export.iterdir()} == {"model.safetensors", "config.json", "vocab.json"}
    # only these come back from the GPU machine: nothing else is left under OUT
    assert sorted(p.name for p in out.iterdir()) == ["metrics.jsonl", "mixture-gpu", "summary.txt"]
    from seq2math.api import load_model

    model = load_model(export)
    config = json.loads((export / "config.json").read_text())
    assert config["config"]["model"]["d_model"] == 32 and config["export"]["step"] > 0      # the QUICK model, trained
    hypotheses = model.beam("x0' = -x0; x1' = -x1", size=2)
    assert len(hypotheses) <= 2 and [h.rank for h in hypotheses] == list(range(1, len(hypotheses) + 1))


def benchmark_script(name: str):
    """benchmarks/NAME.py as a module (benchmarks/ is no package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_support_coverage_counts_a_beam_that_holds_v_and_one_that_misses_a_monomial(monkeypatch, capsys):
    script = benchmark_script("support_coverage")
    test_file = ROOT / "tests" / "data" / "lyapunov-bpoly-test200.txt"
    right = test_file.read_text().splitlines()[1].split("\t")[1].split()       # line 2's V, prefix tokens
    beams = {"right": [(right, -0.1)], "short": [(["^", "x0", "INT+", "2"], -0.1)]}
    monkeypatch.setattr(script, "load_model", lambda name: name)
    monkeypatch.setattr(script, "decode_hypotheses", lambda model, sources, beam: [beams[model]])
    assert script.main([str(test_file), "2", "1", "short"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == ("covered: single 0, top union 0, union of all 0, "
                                                         "single closed 0, top union closed 0 of 2")
    assert script.main([str(test_file), "2", "1", "short", "right"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("2: ") and "single yes, top union yes, union of all yes" in lines[1], lines
    assert "missing" in lines[0] and lines[-1].startswith("covered: single 1, top union 1, union of all ")


def test_support_coverage_counts_a_support_that_only_its_gram_closure_covers(monkeypatch, capsys, tmp_path):
    from seq2math.symbolic.expr import from_poly
    from seq2math.symbolic.poly import ring
    from seq2math.tokens.prefix import expression_tokens

    script = benchmark_script("support_coverage")
    line = (ROOT / "tests" / "data" / "lyapunov-bpoly-test200.txt").read_text().splitlines()[8]
    test_file = tmp_path / "line9.txt"
    test_file.write_text(line + "\n")        # V = 6x1^12 - 10x0x1^6 + 6x0^2
    x0, x1 = ring(2).gens()
    squares = expression_tokens(from_poly(6 * x1**12 + 6 * x0**2))       # the cross term x0x1^6 dropped
    monkeypatch.setattr(script, "load_model", lambda name: name)
    monkeypatch.setattr(script, "decode_hypotheses", lambda model, sources, beam: [[(squares, -0.1)]])
    assert script.main([str(test_file), "1", "1", "squares"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "single no, top union no, union of all no, single closed yes, top union closed yes" in lines[0], lines
    assert "missing 1: [(1, 6)]" in lines[0]
    assert lines[-1] == "covered: single 0, top union 0, union of all 0, single closed 1, top union closed 1 of 1"


def test_oracle_bases_proves_a_bpoly_v_from_its_own_support_and_nothing_for_an_unstable_system(capsys, tmp_path):
    from seq2math.tokens.infix import parse_infix, parse_infix_system
    from seq2math.tokens.prefix import format_benchmark_line

    script = benchmark_script("oracle_bases")
    bpoly = (ROOT / "tests" / "data" / "lyapunov-bpoly-test200.txt").read_text().splitlines()[1]   # V of degree 8
    unstable = format_benchmark_line(parse_infix_system("x0' = x0; x1' = -x1"), parse_infix("x0^2 + x1^2"))
    test_file = tmp_path / "two.txt"
    test_file.write_text(bpoly + "\n" + unstable + "\n")
    assert script.main([str(test_file), "2", "30"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("1: n=2, support/signs 15 ") and "proved" in lines[0].split(";")[0], lines
    assert lines[1].startswith("2: n=2, ") and "proved" not in lines[1], lines       # no V exists: nothing proved
    assert lines[2].startswith("support/signs: proved 1 of 2 ("), lines
    assert lines[3].startswith("support/terms: proved 1 of 2 ("), lines
    # two solvers on every system, the second's median time as a ratio to the first's
    assert script.main([str(test_file), "2", "30", "--backend", "clarabel,auto", "--loose", "1e-3",
                        "--cells", "support/signs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "support/signs/clarabel 15 " in lines[0] and "; support/signs/auto 15 " in lines[0], lines
    assert lines[2].startswith("support/signs/clarabel: proved 1 of 2 (") and "x the median" not in lines[2]
    assert lines[3].startswith("support/signs/auto: proved 1 of 2 (") and "x the median of clarabel)" in lines[3]
    # the fits from random numbers, no SDP: V's own support gives it back, the unstable system nothing
    assert script.main([str(test_file), "2", "5", "--cells", "support/random"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("1: n=2, support/random 15 fits ") and lines[0].endswith("proved by the fit"), lines
    assert lines[1].startswith("2: n=2, support/random ") and lines[1].endswith(" -"), lines
    assert lines[2].startswith("support/random: proved 1 of 2 (1 by the fit); fits x2"), lines


def test_gpu_profile_times_the_loader_and_both_attention_settings():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu-profile.py"), "--quick", "--device", "cpu",
                           "--workers", "1", "--steps", "2", "--turns", "1"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("loader: 32 batches from 1 processes")        # one pool of POOL_STEPS batches
    assert [line.split(":")[0] for line in lines[1:]] == ["steps, cudnn attention allowed",
                                                          "steps, cudnn attention left out"]
    assert all(float(line.split(": ")[1].split(" steps/s")[0]) > 0 for line in lines[1:])
