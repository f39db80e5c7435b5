"""``seq2math bench solve``: seconds of ``seq2math solve`` as a user runs it, default methods against a baseline.

Each timing is one fresh process (``python -m seq2math solve SYSTEM --json``): Python start-up, imports,
the model's load when a method needs it, the search and the exact check, all included, as a user who
types one system meets them. The default methods (quadratic → model → guided → sos) run against
``--baseline`` (default ``model,guided,sos``: the default before the quadratic method, which settles a
quadratic V without importing torch), alternating so that drift in the machine's load hits both.
Systems: the textbook system of docs/api.md and two more with a quadratic V, then ``--bpoly`` BPoly-like
backward systems per number of variables (``bench sos``'s generator), which need the model.
It prints each system's median seconds both ways, the ratio baseline / default, the method that found V,
and whether the textbook system came back within TEXTBOOK_SECONDS (docs/performance.md).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

HELP = "seconds of a fresh `seq2math solve` (model load included): default methods against model,guided,sos"

#: the speed asked of the default path on the textbook system, model load included (docs/performance.md)
TEXTBOOK_SECONDS = 2.0
SYSTEMS = (
    ("textbook", "x0' = -x0 + x1; x1' = -x0 - x1^3"),
    ("linear", "x0' = -x0 + 2*x1; x1' = -2*x0 - x1"),
    ("cubic", "x0' = -x0^3 + x1; x1' = -x0 - x1^3"),
)


def add_arguments(parser) -> None:
    from seq2math.commands.options import add_time_limit

    parser.add_argument("--baseline", default="model,guided,sos",
                        help="methods of the baseline (default model,guided,sos)")
    parser.add_argument("--bpoly", default="2,3", help="numbers of variables of the BPoly-like systems, one each "
                        "(default 2,3; '' for none)")
    parser.add_argument("--degree", type=int, default=8, help="degree of V of the BPoly-like systems (default 8)")
    parser.add_argument("--repeats", type=int, default=3, help="processes per system and setting (default 3)")
    add_time_limit(parser, what="per system: solve's own --time-limit", default=20.0)
    parser.add_argument("--seed", type=int, default=0)


def infix_system(system) -> str:
    from seq2math.api import Expression

    return "; ".join(f"x{i}' = {Expression.of(f)}" for i, f in enumerate(system))


def timed_solve(system: str, methods: str | None, time_limit: float) -> tuple[float, dict]:
    """(wall seconds of one fresh ``seq2math solve`` process, its JSON answer)."""
    command = [sys.executable, "-m", "seq2math", "solve", system, "--json", "--time-limit", f"{time_limit:g}"]
    if methods is not None:
        command += ["--methods", methods]
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"seq2math solve failed ({done.returncode}) on {system!r}: {done.stderr.strip()[-500:]}")
    return seconds, json.loads(done.stdout.strip().splitlines()[-1])


def run(args) -> int:
    from seq2math.benchmarks.sos import _numbers, cell_systems

    if args.repeats < 1:
        raise ValueError(f"--repeats must be at least 1, got {args.repeats}")
    systems = list(SYSTEMS)
    for n in (_numbers(args.bpoly, "--bpoly") if args.bpoly.strip() else []):
        system, _ = cell_systems(n, args.degree, 1, args.seed)[0]
        systems.append((f"bpoly n={n}", infix_system(system)))
    print(f"bench solve: one fresh `seq2math solve` process per timing (model load included), default methods "
          f"against --methods {args.baseline}, {args.repeats} each, alternating, --time-limit {args.time_limit:g}",
          flush=True)
    print(f"{'system':<12} {'default s':>9} {'found by':>9} {'baseline s':>10} {'found by':>9} {'ratio':>6}")
    ratios, textbook = [], None
    for label, system in systems:
        times: dict[str | None, list[float]] = {None: [], args.baseline: []}
        found: dict[str | None, str] = {}
        for _ in range(args.repeats):
            for methods in times:
                seconds, answer = timed_solve(system, methods, args.time_limit)
                times[methods].append(seconds)
                found[methods] = (answer.get("method") or "-") if answer.get("found") else "not found"
        ours, theirs = statistics.median(times[None]), statistics.median(times[args.baseline])
        ratios.append(theirs / ours)
        if label == "textbook":
            textbook = ours
        print(f"{label:<12} {ours:>9.2f} {found[None]:>9} {theirs:>10.2f} {found[args.baseline]:>9} "
              f"{theirs / ours:>6.2f}", flush=True)
    print(f"median ratio baseline / default: {statistics.median(ratios):.2f}")
    if textbook is not None:
        verdict = "within" if textbook <= TEXTBOOK_SECONDS else "over"
        print(f"textbook system, default methods: {textbook:.2f} s, {verdict} the {TEXTBOOK_SECONDS:g} s asked")
    return 0
