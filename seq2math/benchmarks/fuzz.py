"""``seq2math bench fuzz``: every parser and decoder on random and garbled input, at scale.

Runs the targets of ``seq2math.benchmarks.fuzz_targets`` (the generators the tests use) on
``--count`` inputs in all, shared evenly, from ``--seed``, and prints per target: inputs,
accepted, rejected with a clear message, unclear rejections, uncaught exceptions and inputs/s.
Uncaught exceptions and unclear messages are defects: the command exits 1 when there is one
and prints the first few with the input that caused them. The nightly budget is 100,000
inputs (docs/reliability.md, "Fuzzing").
"""

from __future__ import annotations

import functools
import random
import time
from collections import Counter

from seq2math.benchmarks.fuzz_targets import OUTCOMES, TARGETS
from seq2math.jobs.workers import JobError, call_with_hard_limit

HELP = "fuzz every parser and decoder: counts of accepted, rejected and uncaught inputs per parser"
SHOWN_DEFECTS = 5


def add_arguments(parser) -> None:
    parser.add_argument("--count", type=int, default=10_000, help="inputs in all, shared by the parsers "
                        "(default 10,000; nightly 100,000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated parsers (default: all)")


def fuzz_target(name: str, count: int, seed: int) -> tuple[Counter, list[tuple[str, str]], int, float]:
    """(outcome counts, the first defects as (outcome: error, input), round-trip failures, seconds)."""
    target = TARGETS[name]
    rng = random.Random(f"{seed}/{name}")
    counts: Counter = Counter()
    defects: list[tuple[str, str]] = []
    start = time.perf_counter()
    for _ in range(count):
        item = target.make(rng)
        outcome, error = target.outcome(item)
        counts[outcome] += 1
        if outcome in ("unclear", "uncaught") and len(defects) < SHOWN_DEFECTS:
            defects.append((f"{outcome}: {type(error).__name__}: {str(error)[:200]}", repr(item)[:200]))
    round_trip_failures = 0
    for _ in range(max(1, count // 10)):
        try:
            target.round_trip(rng)
        except Exception as err:  # noqa: BLE001 — a failed round trip is counted and shown
            round_trip_failures += 1
            if len(defects) < SHOWN_DEFECTS:
                defects.append((f"round trip: {type(err).__name__}: {str(err)[:200]}", ""))
    return counts, defects, round_trip_failures, time.perf_counter() - start


def run(args) -> int:
    from seq2math.config import ConfigError

    names = [n.strip() for n in args.targets.split(",") if n.strip()]
    unknown = [n for n in names if n not in TARGETS]
    if unknown or not names:
        raise ConfigError(f"unknown fuzz target(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(TARGETS)}")
    if args.count < len(names):
        raise ConfigError(f"--count must be at least the number of targets ({len(names)}), got {args.count}")
    per_target = args.count // len(names)
    print(f"bench fuzz: {per_target} inputs per parser, {len(names)} parsers, seed {args.seed}")
    print(f"{'parser':<16}{'inputs':>8}{'accepted':>10}{'rejected':>10}{'unclear':>9}{'uncaught':>10}"
          f"{'round trips':>13}{'inputs/s':>10}")
    totals: Counter = Counter()
    failures = 0
    for name in names:
        # each parser in its own child: an input that kills the process (native code aborts) is a
        # defect reported here, and the other parsers still run
        result = call_with_hard_limit(functools.partial(fuzz_target, name, per_target, args.seed), None)
        if isinstance(result, JobError):
            failures += 1
            what = "the process died" if result.died else result.message
            print(f"{name:<16}{per_target:>8}  CRASHED: {what}; rerun with --targets {name} to find the input")
            continue
        counts, defects, round_trip_failures, seconds = result
        totals.update(counts)
        failures += round_trip_failures + counts["unclear"] + counts["uncaught"]
        trips = f"{max(1, per_target // 10) - round_trip_failures}/{max(1, per_target // 10)}"
        print(f"{name:<16}{per_target:>8}" + "".join(f"{counts[o]:>{w}}" for o, w in zip(OUTCOMES, (10, 10, 9, 10)))
              + f"{trips:>13}{per_target / seconds:>10.0f}")
        for what, item in defects:
            print(f"    {what}\n      input: {item}")
    print(f"{'all':<16}{sum(totals.values()):>8}" + "".join(f"{totals[o]:>{w}}" for o, w in
                                                         zip(OUTCOMES, (10, 10, 9, 10))))
    return 1 if failures else 0
