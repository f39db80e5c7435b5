"""``seq2math bench memory``: peak memory of training on a file of a million lines, against the
footprint of the same training on a small file, measured in the same run.

The file: ``--unique`` examples of 2x2 transposition (``seq2math generate transpose --dim 2
--encoding P10``, seeded), repeated in order until it has ``--lines`` lines (a cheap way to a
large file; the reader indexes every line alike, repeated or not). Its generation time is
printed.

Each side is a fresh process (``spawn``: nothing inherited) that trains the same model
(``--d-model``, one encoder and one decoder layer) for ``--steps`` steps of ``--batch`` examples
on one thread, with ``train.data`` set to

- the baseline: a file of the first ``--baseline-lines`` lines (the model, its optimiser,
  torch, activations and a small index: the model's own footprint);
- the measured side: the whole file.

Reported: the peak resident set (``ru_maxrss``) of each process, the difference (what the large
file costs) and the index size (16 bytes a line: an int64 offset and two int32 token counts,
``seq2math.data.files.ExampleIndex``). Goal (docs/performance.md): under 1 GB beyond the baseline.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import shutil
import tempfile
import time
from pathlib import Path

HELP = "peak RSS while training on a generated 1,000,000-line file, against the model's own footprint"

TASK = {"name": "transpose", "dim": 2, "encoding": "P10"}


def add_arguments(parser) -> None:
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines of the large file (default 1,000,000)")
    parser.add_argument("--unique", type=int, default=20_000,
                        help="distinct examples generated, repeated up to --lines (default 20,000)")
    parser.add_argument("--baseline-lines", type=int, default=1_000, help="lines of the baseline file (default 1,000)")
    parser.add_argument("--steps", type=int, default=20, help="training steps of each side (default 20)")
    parser.add_argument("--batch", type=int, default=64, help="examples per step (default 64)")
    parser.add_argument("--d-model", type=int, default=256, help="model width (default 256)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", default=None, help="work directory (default: a temporary one, removed after)")


def make_file(path: Path, lines: int, unique: int, seed: int) -> float:
    """Write ``lines`` lines: ``unique`` generated examples repeated in order; returns seconds."""
    from seq2math.data.generation import write_dataset
    from seq2math.tasks.base import make_task

    started = time.perf_counter()
    task = make_task(TASK["name"], {k: v for k, v in TASK.items() if k != "name"})
    seed_file = path.with_name(path.name + ".unique")
    write_dataset(task, seed_file, min(unique, lines), seed, progress=False)
    block = seed_file.read_bytes()
    per_line = block.count(b"\n")
    whole, rest = divmod(lines, per_line)
    with open(path, "wb") as handle:
        for _ in range(whole):
            handle.write(block)
        handle.write(b"".join(block.splitlines(keepends=True)[:rest]))
    seed_file.unlink()
    return time.perf_counter() - started


def _train_side(data: str, out: str, args: dict, queue) -> None:
    """In a fresh process: train on ``data``; put (peak RSS bytes, seconds) on ``queue``."""
    from seq2math.model import ModelConfig
    from seq2math.training.config import RunConfig, TrainConfig
    from seq2math.training.loop import train

    config = RunConfig(
        task=dict(TASK),
        model=ModelConfig(d_model=args["d_model"], n_heads=4, enc_layers=1, dec_layers=1, d_ff=4 * args["d_model"],
                          dropout=0.0, max_len=64),
        train=TrainConfig(seed=args["seed"], batch_size=args["batch"], max_steps=args["steps"], warmup=10,
                          data=data, valid_count=8, verify_count=0, eval_every=10**9, log_every=10**9,
                          device="cpu", threads=1, tensorboard=False))
    started = time.perf_counter()
    train(config, out, quiet=True)
    seconds = time.perf_counter() - started
    queue.put((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, seconds))


def measure(data: Path, out: Path, args: dict) -> tuple[int, float]:
    """(peak RSS in bytes, seconds) of a fresh process training on ``data``."""
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_train_side, args=(str(data), str(out), args, queue))
    process.start()
    result = queue.get()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"training on {data} failed (exit code {process.exitcode})")
    return result


def run(args) -> int:
    from seq2math.config import ConfigError

    if min(args.lines, args.unique, args.baseline_lines, args.steps, args.batch) < 1:
        raise ConfigError("--lines, --unique, --baseline-lines, --steps and --batch must be positive")
    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="seq2math-bench-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        big, small = work / "big.txt", work / "small.txt"
        seconds = make_file(big, args.lines, args.unique, args.seed)
        make_file(small, args.baseline_lines, args.unique, args.seed)
        print(f"file: {args.lines:,} lines of 2x2 transposition ({args.unique:,} distinct, repeated), "
              f"{big.stat().st_size / 2**20:.0f} MiB, written in {seconds:.1f} s")
        options = {"d_model": args.d_model, "batch": args.batch, "steps": args.steps, "seed": args.seed}
        base_rss, base_seconds = measure(small, work / "run-small", options)
        big_rss, big_seconds = measure(big, work / "run-big", options)
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)
    mib = 2**20
    print(f"baseline ({args.baseline_lines:,}-line file, the model's own footprint): peak RSS "
          f"{base_rss / mib:7.0f} MiB ({args.steps} steps in {base_seconds:.1f} s)")
    print(f"{args.lines:,}-line file:                          peak RSS {big_rss / mib:7.0f} MiB "
          f"({args.steps} steps in {big_seconds:.1f} s, the index pass included)")
    extra, index_bytes = big_rss - base_rss, 16 * args.lines
    print(f"beyond the model's footprint: {extra / mib:.0f} MiB (index arrays {index_bytes / mib:.0f} MiB); "
          f"goal < 1024 MiB: {'met' if extra < 2**30 else 'NOT met'}")
    return 0
