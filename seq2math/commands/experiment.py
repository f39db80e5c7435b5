"""``seq2math experiment NAME``: train a grid of configurations under one budget each, test, report."""

from __future__ import annotations

import argparse
from pathlib import Path

from seq2math.commands.options import add_time_limit, seconds
from seq2math.config import ConfigError
from seq2math.experiments.base import (
    DEFAULT_BUDGET,
    QUICK_OVERRIDES,
    QUICK_STEPS,
    QUICK_TEST_COUNT,
    TEST_COUNT,
)
from seq2math.experiments.registry import experiment_names

HELP = "run one of the lecture's experiments: a grid of trainings, each tested by verification"
DESCRIPTION = """Train every configuration of an experiment under the same budget, test each one with the
task's verifier, and write OUT/results.md (tables), OUT/results.json and plots (docs/experiments.md).

Experiments: representation (roots from the expanded vs the factored form), architectures
(seq2seq, decoder-only, RNN with attention, encoder-only), linalg (the nine linear-algebra tasks
at 3x3 and 5x5 against the published figures). Each configuration is a `seq2math train` run in
OUT/runs/NAME; its exact command is in results.json. An interrupted grid continues with --resume:
finished configurations are skipped, an interrupted one resumes from its checkpoint for what is
left of its budget. KEY=VALUE overrides, written right after NAME, apply to every configuration
(e.g. train.seed=1, or task.name=eigenvalues for architectures).

examples:
  seq2math experiment representation --out exp/representation --time-limit 10m
  seq2math experiment architectures --out exp/architectures --max-steps 3000
  seq2math experiment linalg --out exp/linalg --resume
  seq2math experiment architectures task.name=eigenvalues train.threads=1 --out exp/eigen --time-limit 5m
  seq2math experiment representation --out /tmp/r --quick
"""


def add_arguments(parser) -> None:
    parser.add_argument("name", choices=experiment_names(), metavar="NAME",
                        help=f"the experiment: {', '.join(experiment_names())}")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="dotted overrides applied to every configuration (train.seed=1), right after NAME")
    parser.add_argument("--out", required=True, help="directory of the runs, tables and plots")
    add_time_limit(parser, what=f"of training per configuration (default {DEFAULT_BUDGET})")
    parser.add_argument("--budget", dest="time_limit", type=seconds, metavar="DURATION",
                        help="the same as --time-limit")
    parser.add_argument("--max-steps", type=int, help="budget per configuration in optimiser steps instead of time")
    parser.add_argument("--resume", action="store_true",
                        help="continue the grid in --out: skip finished configurations, resume the interrupted one")
    parser.add_argument("--test-count", type=int, help=f"test examples per test set (default {TEST_COUNT})")
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke run: {QUICK_STEPS} steps per configuration, {QUICK_TEST_COUNT} test examples")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def config_builder(quiet: bool):
    """``train arguments -> RunConfig``, exactly as `seq2math train ARGS --out X` builds it."""
    from seq2math.commands import train as train_command
    from seq2math.commands.options import CommandParser

    parser = CommandParser(prog="seq2math train", formatter_class=argparse.RawDescriptionHelpFormatter)
    train_command.add_arguments(parser)

    def build(arguments: list[str]):
        # argparse fills a positional list once: the KEY=VALUE overrides go together, after the flags
        overrides = [a for a in arguments if "=" in a and not a.startswith("-")]
        flags = [a for a in arguments if a not in overrides]
        args = parser.parse_args([*flags, "--out", "unused", *(["--quiet"] if quiet else []), *overrides])
        return train_command.build_config(args)

    return build


def run(args) -> int:
    from seq2math.config import command_line
    from seq2math.experiments.registry import get_experiment
    from seq2math.experiments.runner import Budget, GridOptions, run_grid

    if args.max_steps is not None and args.time_limit is not None:
        raise ConfigError("give one budget per configuration: --time-limit (--budget) or --max-steps, not both")
    bad = [item for item in args.overrides if "=" not in item]
    if bad:
        raise ConfigError(f"{bad[0]!r} is not a KEY=VALUE override")
    if args.quick:
        budget, overrides = Budget(steps=args.max_steps or QUICK_STEPS), (*QUICK_OVERRIDES, *args.overrides)
    elif args.max_steps is not None:
        budget, overrides = Budget(steps=args.max_steps), tuple(args.overrides)
    else:
        limit = f"{args.time_limit:g}s" if args.time_limit is not None else DEFAULT_BUDGET
        budget, overrides = Budget(time=limit), tuple(args.overrides)
    test_count = args.test_count or (QUICK_TEST_COUNT if args.quick else TEST_COUNT)
    if test_count < 1:
        raise ConfigError(f"--test-count must be at least 1, got {test_count}")
    options = GridOptions(out=Path(args.out), budget=budget, build_config=config_builder(args.quiet),
                          resume=args.resume, quick=args.quick, test_count=test_count, extra_overrides=overrides,
                          quiet=args.quiet, command=command_line())
    try:
        run_grid(get_experiment(args.name), options)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    if not args.quiet:
        print((Path(args.out) / "results.md").read_text())
    return 0
