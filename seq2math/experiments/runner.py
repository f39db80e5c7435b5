"""Run an experiment's grid: train each configuration under one budget, test it, write the report.

For each configuration the run directory is ``OUT/runs/NAME`` (an ordinary ``seq2math train``
run directory) and its results ``OUT/runs/NAME/result.json``. With ``resume``:

- a configuration with a ``result.json`` is finished and skipped;
- one with a checkpoint (``train_state.pt``) continues as ``seq2math train --resume`` does, for
  what is left of its budget: a time budget gets ``budget - elapsed`` seconds (the elapsed time is
  saved in the checkpoint), a step budget runs up to its total number of steps;
- one without a checkpoint starts again.

Training is the project's loop (``seq2math.training.loop.train``) on the ``RunConfig`` that
``seq2math train ARGS`` would build; testing decodes greedily and checks every answer with the
task's verifier (``seq2math.evaluation``); encoder-only models fill a masked target
(``seq2math.evaluation.masked``). The report is ``OUT/results.md``, ``OUT/results.json`` and
the plots ``OUT/*.png``.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Callable

from seq2math.config import apply_overrides
from seq2math.data.generation import generate_example
from seq2math.evaluation.evaluate import EvalOptions, check_examples, decoding_cap
from seq2math.evaluation.metrics import summarize
from seq2math.experiments.base import TEST_SEED, ConfigResult, Configuration, Experiment
from seq2math.evaluation.masked import check_masked
from seq2math.experiments.plots import plot_experiment
from seq2math.jobs.files import write_atomically
from seq2math.model import GENERATIVE_ARCHITECTURES, count_parameters
from seq2math.tasks.base import make_task
from seq2math.training import checkpoint as ckpt
from seq2math.training.config import RunConfig, parse_duration
from seq2math.training.loop import train

RESULT_FILE = "result.json"


@dataclasses.dataclass(frozen=True)
class Budget:
    """One training budget per configuration: a duration (``"10m"``) or a number of steps."""

    time: str | None = None
    steps: int | None = None

    def __post_init__(self) -> None:
        if (self.time is None) == (self.steps is None):
            raise ValueError("a budget is a time (10m) or a number of steps, exactly one of them")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"--max-steps must be at least 1, got {self.steps}")

    def train_args(self) -> list[str]:
        return ["--time-limit", self.time] if self.time is not None else ["--max-steps", str(self.steps)]

    def describe(self) -> str:
        return f"{self.time} of training" if self.time is not None else f"{self.steps} steps"


@dataclasses.dataclass
class GridOptions:
    """How to run a grid; ``build_config`` turns `seq2math train` arguments into a RunConfig."""

    out: Path
    budget: Budget
    build_config: Callable[[list[str]], RunConfig]
    resume: bool = False
    quick: bool = False
    test_count: int = 500
    extra_overrides: tuple[str, ...] = ()    # dotted overrides added to every configuration
    quiet: bool = False
    command: str = ""                        # the `seq2math experiment` command, for the report


def _say(options: GridOptions, text: str) -> None:
    if not options.quiet:
        print(text, file=sys.stderr, flush=True)


def run_grid(experiment: Experiment, options: GridOptions) -> dict[str, Any]:
    """Train and test every configuration (skipping finished ones); write and return the record."""
    out = options.out
    record_path = out / "results.json"
    if record_path.exists() and not options.resume:
        raise FileExistsError(f"{out} already holds an experiment; pass --resume to continue it or "
                              "choose another --out")
    configurations = experiment.configurations(options.quick)
    started = time.time()
    results: list[ConfigResult] = []
    for number, configuration in enumerate(configurations, 1):
        _say(options, f"experiment {experiment.name}: configuration {number}/{len(configurations)}: "
                      f"{configuration.name}")
        results.append(run_configuration(experiment, configuration, options))
        if number < len(configurations):     # a long grid shows what it has so far, and an interrupted one keeps it
            write_report(experiment, options, results, len(configurations), started)
    record = write_report(experiment, options, results, len(configurations), started)
    _say(options, f"experiment {experiment.name}: wrote {out}/results.md, results.json and "
                  f"{len(record['plots'])} plot(s)")
    return record


def write_report(experiment: Experiment, options: GridOptions, results: list[ConfigResult], total: int,
                 started: float) -> dict[str, Any]:
    """results.json, results.md and the plots of the configurations finished so far (``total`` in the grid)."""
    out = options.out
    record = {"experiment": experiment.name, "title": experiment.title, "command": options.command,
              "budget": options.budget.describe(), "test_count": options.test_count, "test_seed": TEST_SEED,
              "seconds": round(time.time() - started, 1),
              "train_seconds": round(sum(r.train_seconds for r in results), 1),
              "finished": len(results), "configurations": total,
              "results": [dataclasses.asdict(r) for r in results]}
    out.mkdir(parents=True, exist_ok=True)
    plots = plot_experiment(results, out)
    record["plots"] = [p.name for p in plots]
    write_atomically(out / "results.json", json.dumps(record, indent=2) + "\n")
    partial = "" if len(results) == total else (
        f"**Partial: {len(results)} of {total} configurations finished**; the grid continues with "
        f"`--resume`.\n\n")
    header = (f"# {experiment.title}\n\n{partial}Command: `{options.command}`  \nBudget per configuration: "
              f"{options.budget.describe()}; {options.test_count} test examples per test set "
              f"(seed {TEST_SEED}); training time of the grid {record['train_seconds']:.0f} s, wall time of "
              f"this session {record['seconds']:.0f} s.\n\n")
    figures = "".join(f"\n![{p.stem}]({p.name})\n" for p in plots)
    write_atomically(out / "results.md", header + experiment.report(results) + "\n" + figures)
    return record


# ---- one configuration -----------------------------------------------------------------------
def run_configuration(experiment: Experiment, configuration: Configuration, options: GridOptions) -> ConfigResult:
    run_dir = options.out / "runs" / configuration.name
    result_path = run_dir / RESULT_FILE
    if result_path.exists():
        if not options.resume:
            raise FileExistsError(f"{run_dir} already holds a finished configuration; pass --resume")
        _say(options, f"  finished before: {result_path}")
        result = ConfigResult.from_json(json.loads(result_path.read_text()))
        if not result.final_validation:               # a result written before the field existed
            result.final_validation = last_validation(ckpt.validations(ckpt.read_metrics(run_dir)))
        return result
    arguments = [*configuration.train_args, *options.budget.train_args(), *options.extra_overrides]
    command = "seq2math train " + " ".join(shlex.quote(a) for a in [*arguments, "--out", str(run_dir)])
    if (run_dir / ckpt.STATE_FILE).exists():
        if not options.resume:
            raise FileExistsError(f"{run_dir} holds an interrupted run; pass --resume to continue it")
        config = _resumed_config(run_dir, options.budget)
        if config is not None:
            _say(options, f"  resuming {run_dir} from its checkpoint")
            _stop_if_interrupted(train(config, run_dir, resume=True, quiet=options.quiet), run_dir)
    else:
        for stale in (ckpt.CONFIG_FILE, ckpt.MODEL_FILE, ckpt.BEST_FILE):  # a start cut before its first save
            (run_dir / stale).unlink(missing_ok=True)
        _stop_if_interrupted(train(options.build_config(arguments), run_dir, quiet=options.quiet), run_dir)
    result = test_configuration(experiment, configuration, run_dir, command, options)
    result_path.write_text(json.dumps(dataclasses.asdict(result), indent=2) + "\n")
    return result


def _stop_if_interrupted(summary: dict[str, Any], run_dir: Path) -> None:
    """A run stopped by SIGINT/SIGTERM saved its checkpoint but did not use its budget: stop the grid
    there (the configuration is not finished; ``--resume`` continues it)."""
    if summary["stop"] not in ("max_steps", "max_time", "early_stop"):
        raise KeyboardInterrupt(f"training of {run_dir} stopped by {summary['stop']}")


def _resumed_config(run_dir: Path, budget: Budget) -> RunConfig | None:
    """The saved config with what is left of the budget; None when nothing is left."""
    config, _ = ckpt.read_run_config(run_dir)
    state = ckpt.load_train_state(run_dir)
    if budget.time is not None:
        left = parse_duration(budget.time) - float(state["elapsed"])
        return None if left <= 1 else apply_overrides(config, [f"train.max_time={left:.0f}s"])
    return None if state["step"] >= budget.steps else apply_overrides(config, [f"train.max_steps={budget.steps}"])


def test_examples(task_options: dict[str, Any], count: int) -> tuple[Any, list]:
    task = make_task(task_options["name"], {k: v for k, v in task_options.items() if k != "name"})
    return task, [generate_example(task, TEST_SEED, i) for i in range(count)]


def test_configuration(experiment: Experiment, configuration: Configuration, run_dir: Path, command: str,
                       options: GridOptions) -> ConfigResult:
    """Test the best checkpoint of ``run_dir`` on every test set of ``configuration``."""
    run = ckpt.load_run(run_dir, "cpu", which="best")
    generative = run.config.model.arch in GENERATIVE_ARCHITECTURES
    reports, records = {}, {}
    for test in configuration.tests:
        task, examples = test_examples(test.task_options(run.config.task), options.test_count)
        if generative:
            eval_options = EvalOptions(beam=1, batch_size=64)
            checked = check_examples(run.model, task, run.vocab, examples, eval_options,
                                     decoding_cap(run.model, examples, eval_options))
            records[test.name] = checked.records
        else:
            records[test.name] = check_masked(run.model, task, run.vocab, examples)
        reports[test.name] = summarize(task, records[test.name], beam=1)
        reports[test.name].pop("failures", None)
        _say(options, f"  test {test.name}: {100 * reports[test.name]['top1'][task.primary_metric]:.1f}% at "
                      f"{task.primary_metric}")
    state = ckpt.load_train_state(run_dir)
    steps, seconds = int(state["step"]), max(float(state["elapsed"]), 1e-9)
    example_tokens = _mean_tokens(run)
    valid = ckpt.validations(ckpt.read_metrics(run_dir))
    reached = next((r["time"] for r in valid if (r.get("verified") or 0) >= 0.9), None)
    examples_per_second = steps * run.config.train.batch_size / seconds
    return ConfigResult(
        name=configuration.name, labels=dict(configuration.labels), command=command,
        parameters=count_parameters(run.model), steps=steps, train_seconds=round(seconds, 1),
        examples_per_second=round(examples_per_second, 1),
        tokens_per_second=round(examples_per_second * example_tokens, 1),
        time_to_90=reached, validations_verified=any(r.get("verified") is not None for r in valid), tests=reports,
        extra=experiment.analyse(configuration, run, records), final_validation=last_validation(valid))


def last_validation(valid: list[dict[str, Any]]) -> dict[str, float]:
    """Step, loss and token accuracy of the last of a run's validation records ({} when it has none)."""
    if not valid:
        return {}
    return {key: valid[-1][key] for key in ("step", "loss", "token_accuracy") if valid[-1].get(key) is not None}


def _mean_tokens(run: Any) -> float:
    """Mean source + target length of the run's own task (20 examples of its test stream)."""
    _task, examples = test_examples(run.config.task, 20)
    return sum(len(s) + len(t) for s, t in examples) / len(examples)
