"""Crash safety: every long job killed with SIGKILL at a seeded point, then rerun with --resume,
ends with the result of an uninterrupted run (docs/reliability.md, "Crash safety").

Each test runs the command once uninterrupted (in this process), once in a subprocess killed
(its whole process group, workers included) when its output holds a seeded number of records,
and once more with ``--resume``. Generated data and trained weights must be byte-identical;
records must be the same once the wall-clock fields are set aside. A torn last line (what a
kill in the middle of a write leaves) is added by hand where the kill cannot be timed to land
inside a write, and must be dropped and redone.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seq2math.cli import main

ROOT = Path(__file__).resolve().parent.parent
#: fields that hold wall-clock time or speed: they differ between any two runs
TIMING = ("seconds", "time", "tokens_per_second", "started", "elapsed")


def untimed(value):
    """``value`` without its wall-clock fields (recursively)."""
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if not any(word in k for word in TIMING)}
    if isinstance(value, list):
        return [untimed(v) for v in value]
    return value


def moved(value, old: Path, new: Path):
    """``value`` with the paths under ``old`` (certificate files of the straight run) under ``new``."""
    return json.loads(json.dumps(value).replace(str(old), str(new)))


def complete_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def kill_when(argv: list[str], watch: Path, records: int, cwd: Path, seed: int, timeout: float = 120) -> None:
    """Run ``seq2math ARGV`` in a subprocess and SIGKILL its process group once ``watch`` holds
    ``records`` complete lines, after a further seeded pause of 0-50 ms (so the kill lands at
    a different point of the work each seed). Fails when the job ends before it is killed."""
    env = os.environ | {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-m", "seq2math.cli", *argv], cwd=cwd, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while complete_lines(watch) < records:
            if process.poll() is not None:
                pytest.fail(f"the job ended before the kill point ({records} records): "
                            f"{process.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {records} records in {watch} after {timeout} s")
            time.sleep(0.01)
        time.sleep(random.Random(seed).uniform(0, 0.05))
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL, f"the job was not killed (exit {process.returncode})"


def kill_point(seed: int, low: int, high: int) -> int:
    """The seeded number of records after which the job is killed."""
    return random.Random(seed).randint(low, high)


def tear(path: Path, fragment: str) -> None:
    """Append ``fragment`` without a newline: the last line a kill in the middle of a write leaves."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(fragment)


def records(path: Path) -> list[dict]:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert all(line.endswith("\n") for line in lines), f"{path}: a torn line was left"
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def pairs(tmp_path_factory) -> Path:
    """Six small (system, V) pairs (2 variables), each checked in well under a second."""
    path = tmp_path_factory.mktemp("pairs") / "pairs.txt"
    assert main(["generate", "lyapunov", "--count", "6", "--seed", "3", "--max-variables", "2",
                 "--out", str(path), "--quiet"]) == 0
    return path


# ---- generate ----------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1])
def test_generate_killed_and_resumed_is_byte_identical(tmp_path, seed):
    argv = ["generate", "transpose", "--dim", "4", "--count", "6000", "--seed", "5", "--workers", "2", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "straight.txt")]) == 0
    out = tmp_path / "parted.txt"
    kill_when([*argv, "--out", str(out)], out, kill_point(seed, 64, 3000), tmp_path, seed)
    tear(out, "12 34 5")                                      # as if killed inside a write
    assert main([*argv, "--out", str(out), "--resume"]) == 0
    assert out.read_bytes() == (tmp_path / "straight.txt").read_bytes()


# ---- verify FILE -------------------------------------------------------------------------------
def test_verify_killed_and_resumed_gives_the_same_records_and_certificates(tmp_path, pairs):
    argv = ["verify", str(pairs), "--time-limit", "30", "--memory-limit", "none"]
    assert main([*argv, "--out", str(tmp_path / "a.jsonl"), "--certificates", str(tmp_path / "ca")]) == 0
    out = tmp_path / "b.jsonl"
    kill_when([*argv, "--out", str(out), "--certificates", str(tmp_path / "cb")], out, kill_point(0, 1, 4),
              tmp_path, 0)
    straight = records(tmp_path / "a.jsonl")
    done = complete_lines(out)
    tear(out, json.dumps(straight[done])[:40])
    assert main([*argv, "--out", str(out), "--certificates", str(tmp_path / "cb"), "--resume"]) == 0
    resumed = records(out)
    assert [r["line"] for r in resumed] == [r["line"] for r in straight]        # none lost, none twice
    assert untimed(resumed) == untimed(moved(straight, tmp_path / "ca", tmp_path / "cb"))
    certificates = sorted(p.name for p in (tmp_path / "ca").iterdir())
    assert certificates and certificates == sorted(p.name for p in (tmp_path / "cb").iterdir())
    for name in certificates:                 # every certificate whole: the exact re-check reads it
        assert (tmp_path / "ca" / name).read_bytes() == (tmp_path / "cb" / name).read_bytes()
    assert not list((tmp_path / "cb").glob("*.tmp"))


# ---- solve --file ------------------------------------------------------------------------------
def test_solve_file_killed_and_resumed_gives_the_same_records(tmp_path, pairs):
    argv = ["solve", str(pairs), "--methods", "sos", "--max-degree", "2", "--time-limit", "30",
            "--memory-limit", "none"]
    assert main([*argv, "--out", str(tmp_path / "a.jsonl")]) == 0
    out = tmp_path / "b.jsonl"
    kill_when([*argv, "--out", str(out)], out, kill_point(1, 1, 4), tmp_path, 1)
    straight = records(tmp_path / "a.jsonl")
    tear(out, json.dumps(straight[complete_lines(out)])[:25])
    assert main([*argv, "--out", str(out), "--resume"]) == 0
    assert untimed(records(out)) == untimed(straight)
    summary = json.loads((tmp_path / "b.jsonl.summary.json").read_text())
    assert summary["lines"] == 6 and sum(summary["counts"].values()) == 6


# ---- report ------------------------------------------------------------------------------------
def test_report_killed_and_resumed_gives_the_same_table_and_records(tmp_path, pairs):
    argv = [str(pairs), "--methods", "sos,findlyap", "--max-degree", "2", "--time-limit", "30",
            "--memory-limit", "none", "--quiet"]
    assert main(["report", *argv, "--out", str(tmp_path / "a")]) == 0
    out = tmp_path / "b"
    out.mkdir()
    kill_when(["report", *argv, "--out", str(out)], out / "records.jsonl", kill_point(2, 1, 10), tmp_path, 2)
    straight = records(tmp_path / "a" / "records.jsonl")
    tear(out / "records.jsonl", '{"method": "sos", "test": "pai')
    assert main(["report", *argv, "--out", str(out), "--resume"]) == 0
    resumed = records(out / "records.jsonl")
    key = lambda r: (r["method"], r["test"], r["line"])  # noqa: E731
    assert len({key(r) for r in resumed}) == len(resumed) == len(straight)      # none lost, none twice
    straight = moved(straight, tmp_path / "a", out)
    assert sorted(map(untimed, resumed), key=key) == sorted(map(untimed, straight), key=key)
    a, b = (json.loads((d / "report.json").read_text()) for d in (tmp_path / "a", out))
    assert untimed(a["cells"]) == untimed(b["cells"])
    certificates = sorted(p.relative_to(out) for p in out.glob("certificates/**/*.json"))
    assert certificates == sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").glob("certificates/**/*.json"))
    for name in certificates:
        assert (out / name).read_bytes() == (tmp_path / "a" / name).read_bytes(), name


# ---- evaluate ----------------------------------------------------------------------------------
def test_evaluate_killed_and_resumed_gives_the_same_records(tmp_path):
    argv = ["evaluate", "--count", "6", "--seed", "4", "--batch-size", "1", "--device", "cpu", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "a.json")]) == 0
    partial = tmp_path / "b.examples.jsonl"
    kill_when([*argv, "--out", str(tmp_path / "b.json")], partial, 1 + kill_point(3, 1, 4), tmp_path, 3)
    tear(partial, '{"index": 11, "hyp')
    assert main([*argv, "--out", str(tmp_path / "b.json"), "--resume"]) == 0
    straight, resumed = records(tmp_path / "a.examples.jsonl"), records(partial)
    assert untimed(resumed) == untimed(straight) and len(resumed) == 7                # header + 6
    a, b = (json.loads((tmp_path / name).read_text()) for name in ("a.json", "b.json"))
    assert untimed(a) == untimed(b)


# ---- train -------------------------------------------------------------------------------------
TRAIN = ["train", "--task", "transpose", "task.dim=2", "task.encoding=P10", "model.d_model=32", "model.n_heads=2",
         "model.enc_layers=1", "model.dec_layers=1", "model.d_ff=64", "model.max_len=64", "train.batch_size=8",
         "train.warmup=5", "train.eval_every=5", "train.log_every=5", "train.valid_count=8",
         "train.verify_count=2", "train.threads=1", "train.tensorboard=false", "--device", "cpu",
         "--max-steps", "25", "--quiet"]


def test_train_killed_and_resumed_gives_identical_weights_and_metrics(tmp_path):
    from seq2math.training.checkpoint import read_metrics

    assert main([*TRAIN, "--out", str(tmp_path / "a")]) == 0
    out = tmp_path / "b"
    # metrics.jsonl gets a train and a valid record every 5 steps: killed after 1..6 of them
    kill_when([*TRAIN, "--out", str(out)], out / "metrics.jsonl", kill_point(4, 3, 6), tmp_path, 4)
    tear(out / "metrics.jsonl", '{"kind": "train", "st')
    assert main(["train", "--resume", "--out", str(out), "--quiet"]) == 0
    for name in ("model.safetensors", "best.safetensors"):
        assert (out / name).read_bytes() == (tmp_path / "a" / name).read_bytes(), name
    assert untimed(read_metrics(out)) == untimed(read_metrics(tmp_path / "a"))
