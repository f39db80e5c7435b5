"""What an experiment is: a grid of training configurations, their test sets, and its report.

An experiment (one module of this package, registered with ``register_experiment``) lists
``Configuration`` objects. Each configuration is the argument list of one
``seq2math train`` run (a preset or bundled YAML config, task flags, dotted overrides), so
that every cell of a table can be reproduced with the command written next to it in
``results.json``. The runner (``seq2math.experiments.runner``) trains each one under the
same budget, tests it on the experiment's ``TestSet`` objects with the task's verifier, and
hands the results back to the experiment, which writes its tables (Markdown) and its
analysis. This module imports nothing heavy: ``seq2math --help`` loads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

#: seed of the generated test sets: the examples of `seq2math evaluate --count N --seed 7`
TEST_SEED = 7
#: default test examples per (configuration, test set); --quick uses QUICK_TEST_COUNT
TEST_COUNT = 500
QUICK_TEST_COUNT = 8
#: default training budget of one configuration (the issue: at most 10 CPU-minutes)
DEFAULT_BUDGET = "10m"
#: --quick: this many optimiser steps per configuration (CI runs every experiment end to end)
QUICK_STEPS = 4
#: training settings of --quick: validate once, on few examples
QUICK_OVERRIDES = ("train.valid_count=8", "train.verify_count=4", "train.eval_every=1000",
                   "train.log_every=2", "train.warmup=2", "train.tensorboard=false")


@dataclass(frozen=True)
class TestSet:
    """Examples a trained configuration is tested on, generated with seed ``TEST_SEED``: the
    configuration's own task (name + options) with the options in ``changes`` replaced
    (``{"representation": "factored"}``: the same polynomials, shown factored)."""

    name: str
    changes: dict[str, Any] = field(default_factory=dict)

    def task_options(self, trained: dict[str, Any]) -> dict[str, Any]:
        """The test task of a run trained on ``trained`` (name + options)."""
        return {**trained, **self.changes}


@dataclass(frozen=True)
class Configuration:
    """One cell of the grid: a ``seq2math train`` run and what it is tested on."""

    name: str                          # its run directory: OUT/runs/NAME
    train_args: tuple[str, ...]        # arguments of `seq2math train` (no --out, no budget)
    labels: dict[str, str]             # the table columns that describe it (arch, form, task, ...)
    tests: tuple[TestSet, ...] = (TestSet("own"),)


@dataclass
class ConfigResult:
    """What the runner measured for one configuration (saved as OUT/runs/NAME/result.json)."""

    name: str
    labels: dict[str, str]
    command: str                       # the equivalent `seq2math train` command
    parameters: int
    steps: int
    train_seconds: float               # training wall time, validations included
    examples_per_second: float
    tokens_per_second: float           # source + target tokens of the training examples per second
    time_to_90: float | None           # first validation with >= 90% verified (primary metric); None: never
    validations_verified: bool         # False: validation verified no answer (an encoder-only run on BERT's
                                       # masked tokens), so time_to_90 is unknown
    tests: dict[str, dict[str, Any]]   # test set -> summarize() report (+ per-experiment extras)
    extra: dict[str, Any] = field(default_factory=dict)
    #: the last validation of the run: step, loss, token_accuracy (a table of zeros still shows how far each got)
    final_validation: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConfigResult:
        return cls(**data)


class Experiment:
    """Base class: a name, a grid (``configurations``) and a report (``write_report``)."""

    name: ClassVar[str]
    title: ClassVar[str]

    def configurations(self, quick: bool = False) -> list[Configuration]:
        """The grid (``quick``: the grid of a smoke run, which may be smaller)."""
        raise NotImplementedError

    def analyse(self, configuration: Configuration, run: Any, records: dict[str, list[dict[str, Any]]]
                ) -> dict[str, Any]:
        """Extra numbers of one trained configuration (``run``: a ``training.checkpoint.LoadedRun``;
        ``records``: test set -> per-example records). Stored in ``ConfigResult.extra``."""
        return {}

    def report(self, results: list[ConfigResult]) -> str:
        """The Markdown body of OUT/results.md (the runner adds the header: command, budget, time)."""
        raise NotImplementedError


EXPERIMENTS: dict[str, type[Experiment]] = {}


def register_experiment(cls: type[Experiment]) -> type[Experiment]:
    if cls.name in EXPERIMENTS:
        raise ValueError(f"experiment {cls.name!r} is registered twice")
    EXPERIMENTS[cls.name] = cls
    return cls


def percent(value: float | None) -> str:
    """``0.953 -> "95.3"``; None -> "–"."""
    return "–" if value is None else f"{100 * value:.1f}"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
