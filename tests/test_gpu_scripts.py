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
