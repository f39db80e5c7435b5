"""``seq2math bench workers``: throughput of ``generate``, ``verify`` and ``report`` with
``--workers 2`` (or ``--workers N``) against one worker, in the same run.

Each command runs through the command line (``seq2math.cli.main``, in this process) on the same
work with 1 and with N workers, in turn (1, N, 1, N, ... ``--repeats`` times); the figure is the
ratio of the median wall times, one worker / N workers (ideal: N). The work:

- ``generate``: ``--count`` backward Lyapunov examples (``generate lyapunov --mode backward``);
- ``verify``: the first ``--verify-count`` of those (system, V) pairs, ``--time-limit`` per line;
- ``report``: the first ``--report-count`` systems, method ``--report-method`` (default
  ``sos`` with ``--max-degree 2``), ``--time-limit`` per system and check.

Wall time is what a user waits for, so the load average is printed first: on a machine other
processes use, N workers cannot get N cores and the ratio says so (docs/performance.md). A
calibration line measures what the machine allows at that moment: the same ratio for a pure
Python loop (no I/O, no pickling) split over N forked processes; a command's ratio is to be read
against it. The CPU
seconds of each side (this process and its finished children, ``os.times``) are printed too:
equal CPU on both sides means the parallel side adds no work (no scaling defect), whatever the
machine's load does to the wall times.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

from seq2math.commands.options import add_time_limit

HELP = "generate, verify and report with --workers N against 1 worker (same run): throughput ratio"


def add_arguments(parser) -> None:
    parser.add_argument("--workers", type=int, default=2, help="workers of the parallel side (default 2)")
    parser.add_argument("--count", type=int, default=3000, help="generate: backward examples (default 3000)")
    parser.add_argument("--verify-count", type=int, default=120, help="verify: pairs checked (default 120)")
    parser.add_argument("--report-count", type=int, default=24, help="report: systems (default 24)")
    parser.add_argument("--report-method", default="sos", help="report: the method column (default sos)")
    parser.add_argument("--max-degree", type=int, default=2, help="report: largest degree of V (default 2)")
    add_time_limit(parser, what="per line (verify) and per system and check (report)", default=30.0)
    parser.add_argument("--repeats", type=int, default=1, help="timed runs of each side (default 1)")
    parser.add_argument("--only", default="generate,verify,report", help="commands to measure (default all three)")
    parser.add_argument("--seed", type=int, default=0)


def _quiet_main(argv: list[str]) -> None:
    """Run a command of the CLI with its stdout and stderr swallowed; fail loudly on a bad status."""
    from seq2math.cli import main

    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        status = main(argv)
    if status != 0:
        raise RuntimeError(f"`seq2math {' '.join(argv)}` exited with {status}:\n{sink.getvalue()[-2000:]}")


def _commands(args, work: Path) -> dict[str, Callable[[int, Path], None]]:
    """Command name -> function(workers, fresh output path) running it on the benchmark's work."""
    data = work / "systems.txt"
    _quiet_main(["generate", "lyapunov", "--mode", "backward", "--count", str(args.count), "--seed",
                 str(args.seed), "--out", str(data), "--quiet", "--workers", str(args.workers)])
    pairs, systems = work / "pairs.txt", work / "test-systems.txt"
    lines = data.read_text().splitlines(keepends=True)
    pairs.write_text("".join(lines[:args.verify_count]))
    systems.write_text("".join(lines[:args.report_count]))
    return {
        "generate": lambda workers, out: _quiet_main(
            ["generate", "lyapunov", "--mode", "backward", "--count", str(args.count), "--seed", str(args.seed),
             "--out", str(out), "--quiet", "--workers", str(workers)]),
        "verify": lambda workers, out: _quiet_main(
            ["verify", str(pairs), "--out", str(out), "--workers", str(workers), "--time-limit", f"{args.time_limit:g}"]),
        "report": lambda workers, out: _quiet_main(
            ["report", str(systems), "--methods", args.report_method, "--max-degree", str(args.max_degree),
             "--time-limit", f"{args.time_limit:g}", "--workers", str(workers), "--out", str(out), "--quiet"]),
    }


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its children that have ended."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _spin(units: int) -> int:
    total = 0
    for i in range(units * 2_000_000):
        total += i & 7
    return total


def calibrate(workers: int, units: int = 4) -> tuple[float, float]:
    """(seconds of ``units`` loops in one process, seconds of the same split over ``workers`` forked processes)."""
    import multiprocessing as mp

    started = time.perf_counter()
    _spin(units)
    one = time.perf_counter() - started
    started = time.perf_counter()
    with mp.get_context("fork").Pool(workers) as pool:
        pool.map(_spin, [units // workers] * workers)
    return one, time.perf_counter() - started


def _units(name: str, args) -> tuple[int, str]:
    return {"generate": (args.count, "examples"), "verify": (args.verify_count, "pairs"),
            "report": (args.report_count, "systems")}[name]


def run(args) -> int:
    from seq2math.config import ConfigError

    names = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(names) - {"generate", "verify", "report"})
    if unknown or not names:
        raise ConfigError(f"--only takes generate, verify, report; got {args.only!r}")
    if args.workers < 2 or args.repeats < 1:
        raise ConfigError("--workers must be at least 2 and --repeats at least 1")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} cores, load average {load} (1, 5, 15 min): ratios below 2 on a busy "
          "machine measure the machine as much as the code")
    one, many = calibrate(args.workers)
    print(f"calibration: a pure Python loop, 1 process {one:.2f} s, {args.workers} processes {many:.2f} s: "
          f"the machine allows {one / many:.2f}x now")
    work = Path(tempfile.mkdtemp(prefix="seq2math-bench-workers-"))
    try:
        commands = _commands(args, work)
        for name in names:
            times: dict[int, list[float]] = {1: [], args.workers: []}
            cpu: dict[int, list[float]] = {1: [], args.workers: []}
            for repeat in range(args.repeats):
                for workers in (1, args.workers):
                    out = work / f"{name}-{workers}-{repeat}"
                    started, cpu_started = time.perf_counter(), _cpu_seconds()
                    commands[name](workers, out)
                    times[workers].append(time.perf_counter() - started)
                    cpu[workers].append(_cpu_seconds() - cpu_started)
                    if out.is_dir():
                        shutil.rmtree(out)
            count, unit = _units(name, args)
            one, many = statistics.median(times[1]), statistics.median(times[args.workers])
            print(f"{name:8s} {count:5d} {unit:8s}  1 worker {one:7.2f} s ({count / one:8.1f}/s, "
                  f"{statistics.median(cpu[1]):.2f} CPU s)   {args.workers} workers {many:7.2f} s "
                  f"({count / many:8.1f}/s, {statistics.median(cpu[args.workers]):.2f} CPU s)   "
                  f"ratio {one / many:.2f}x (goal >= {0.85 * args.workers:.1f}x)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0
