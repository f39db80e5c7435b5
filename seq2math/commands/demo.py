"""``seq2math demo``: generate small data sets, read them back and check them mathematically.

For each demo task the command writes a seeded file with the same machinery as
``seq2math generate``, re-reads it with ``read_examples`` (line-numbered errors), and runs
the task's verifier on every written target (they must pass at the primary 5% tolerance)
and on three wrong answers per example (every entry off by 10% with a random sign, all
zeros, the target doubled), which must fail. It exits non-zero if any check goes the wrong way.

``seq2math demo FILE`` runs the same checks on a file written by ``seq2math generate`` (the task
and its options are read from ``FILE.config.json``); a malformed line stops it with the
file name and line number.
"""

from __future__ import annotations

import sys
from pathlib import Path

from seq2math.commands.options import add_input_files

HELP = "generate small data sets and re-check every example with its verifier (the project's main job for now)"
DESCRIPTION = __doc__ + """
examples:
  seq2math demo
  seq2math demo --out /tmp/demo --count 500 --seed 3
  seq2math demo ev.txt              # ev.txt written by `seq2math generate ... --out ev.txt`
"""

#: (file name, task, options): a spread of tasks, encodings and sizes that runs in seconds
DEMO_TASKS = [
    ("eigenvalues-5x5-P1000", "eigenvalues", {"dim": 5, "encoding": "P1000"}),
    ("transpose-4x6-P10", "transpose", {"rows": 4, "cols": 6, "encoding": "P10"}),
    ("inverse-5x5-FP15", "inverse", {"dim": 5, "encoding": "FP15"}),
    ("eigenvectors-4x4-B1999-laplace", "eigenvectors", {"dim": 4, "encoding": "B1999", "spectrum": "laplace"}),
    ("svd-3x5-P1000", "svd", {"rows": 3, "cols": 5, "encoding": "P1000"}),
    ("roots-factored", "roots", {"representation": "factored", "degree": 6}),
]


def add_arguments(parser) -> None:
    parser.add_argument("--out", default="runs/demo", help="output directory (default runs/demo)")
    parser.add_argument("--count", type=int, default=1000, help="examples per task (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    add_input_files(parser, dest="check", required=False, old=("--check",),
                    help="check this file written by `seq2math generate` instead of generating the demo sets")


def perturbations(target: list[str], task, rng) -> dict[str, list[str]]:
    """Wrong answers built from the decoded target; every one must fail at 5%."""
    import numpy as np

    from seq2math.tokens.matrices import encode_matrix, encode_vector, read_array

    values, _ = read_array(target, 0, task.output_encoding)
    encode = encode_matrix if values.ndim == 2 else encode_vector
    signs = rng.choice([-1.0, 1.0], size=values.shape)
    return {"off by 10%": encode(values * (1 + 0.1 * signs), task.output_encoding),
            "all zeros": encode(np.zeros_like(values), task.output_encoding),
            "doubled": encode(2 * values, task.output_encoding)}


def check_file(task, path: Path, seed: int) -> dict:
    import numpy as np

    from seq2math.data.files import read_examples

    rows = list(read_examples(task, path))
    rng = np.random.default_rng(seed)
    passed = {m: 0 for m in task.metrics}
    wrong_accepted = {"off by 10%": 0, "all zeros": 0, "doubled": 0}
    for _, source, target in rows:
        verdict = task.verify(source, target)
        for metric in task.metrics:
            passed[metric] += bool(verdict.scores[metric])
        for label, hypothesis in perturbations(target, task, rng).items():
            if hypothesis != target and task.verify(source, hypothesis).scores[task.primary_metric]:
                wrong_accepted[label] += 1
    return {"count": len(rows), "passed": passed, "wrong_accepted": wrong_accepted}


def print_header() -> None:
    print(f"{'data set':34s} {'n':>5s} {'5%':>6s} {'2%':>6s} {'1%':>6s} {'0.5%':>6s}  wrong answers accepted "
          f"(+-10%/zeros/x2)  seconds")


def print_row(label: str, task, result: dict, seconds: float) -> int:
    """One table row; returns the number of checks that went the wrong way."""
    n = result["count"]
    rates = " ".join(f"{100 * result['passed'][m] / max(n, 1):5.1f}%" for m in task.metrics)
    wrong = "/".join(str(v) for v in result["wrong_accepted"].values())
    print(f"{label:34s} {n:5d} {rates}  {wrong:>38s}  {seconds:7.2f}")
    return (result["passed"][task.primary_metric] != n) + sum(result["wrong_accepted"].values())


def check_generated_file(path: Path, seed: int) -> int:
    """``--check``: verify a file written by ``seq2math generate`` using its sidecar config."""
    import json
    import time

    from seq2math.config import ConfigError
    from seq2math.tasks.base import make_task

    meta = path.with_name(path.name + ".config.json")
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if not meta.exists():
        raise ConfigError(f"{meta} not found: --check needs the config that `seq2math generate` writes")
    info = json.loads(meta.read_text())
    task = make_task(info["task"], info["config"])
    start = time.time()
    print_header()
    return int(print_row(path.name, task, check_file(task, path, seed), time.time() - start) > 0)


def run(args) -> int:
    import time

    from seq2math.config import save_config
    from seq2math.data.generation import write_dataset
    from seq2math.tasks.base import make_task

    if args.check:
        return check_generated_file(Path(args.check), args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_config({"count": args.count, "seed": args.seed, "tasks": DEMO_TASKS}, out)
    print_header()
    failures = 0
    for file_name, task_name, options in DEMO_TASKS:
        start = time.time()
        task = make_task(task_name, options)
        path = out / f"{file_name}.txt"
        if path.exists():
            path.unlink()
        write_dataset(task, path, args.count, args.seed, workers=args.workers, progress=False)
        failures += print_row(file_name, task, check_file(task, path, args.seed), time.time() - start)
    print(f"data and config in {out}/; columns: share of written targets that pass each tolerance")
    if failures:
        print(f"demo: {failures} check(s) went the wrong way", file=sys.stderr)
        return 1
    print("demo: every target passes at 5% and every wrong answer fails")
    return 0
