"""``seq2math train``: train a model on a task (on the fly or from a file), resumable."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

from seq2math.commands.options import add_old_flag, add_resolver, add_time_limit
from seq2math.config import Changes, ConfigError

HELP = "train a model on a task (data generated on the fly or read from a file)"
DESCRIPTION = """Train a model: a written-out loop with teacher forcing, Adam with warm-up, AMP on GPUs.

Configuration, later sources winning: defaults < --preset < --config YAML < task flags
(--task, --dim, ...) < the flags below < dotted overrides (model.d_model=256 train.lr=3e-4
task.dim=6). All of them are applied together and validated once, so the order of the
overrides does not matter. Task options are flags (--dim 5 --encoding P1000) or task.<option>=
overrides. FILE (an argument without '=') is the training data; without it, examples are
generated on the fly. --time-limit bounds the training time of this session (train.max_time).
The run directory gets config.json (resolved config + command), vocab.json,
model.safetensors, best.safetensors, train_state.pt and metrics.jsonl. Ctrl-C stops after the
current step and saves; --resume continues exactly where the run stopped.
Multi-GPU: torchrun --nproc_per_node 8 -m seq2math.cli train ... (batch size is per GPU).
On CPU the number of threads defaults to the cores not already busy (train.threads=N to force it).

examples:
  seq2math train --task transpose --dim 5 --encoding P1000 --preset tiny --time-limit 10m --out runs/t
  seq2math train --config transpose-tiny --out runs/t2 train.lr=5e-4
  seq2math train --config lyapunov-tiny data/mix.txt --valid-data data/valid.txt --out runs/l --time-limit 1h
  seq2math train --resume --out runs/t --time-limit 5m
"""

#: flags of this command; task options with these names are given as task.<name>= instead
OWN_FLAGS = {"task", "preset", "config", "out", "max_steps", "max_time", "time_limit", "resume", "data",
             "valid_data", "device", "seed", "quiet", "overrides", "help"}


def add_arguments(parser) -> None:
    parser.add_argument("overrides", nargs="*", metavar="FILE|KEY=VALUE",
                        help="dotted overrides, e.g. model.d_model=256 train.lr=3e-4 task.dim=6; an argument "
                             "without '=' is the training data FILE (default: generate on the fly)")
    add_old_flag(parser, "--data", "FILE", "data", metavar="FILE", once=True)
    add_resolver(parser, _data_file)
    parser.add_argument("--task", help="task name (see `seq2math generate --help`)")
    parser.add_argument("--preset", help="model size preset with matching training defaults "
                                         "(tiny, small, base, paper, ...)")
    parser.add_argument("--config", help="YAML run config (a file, or the name of a bundled preset such as "
                                         "transpose-tiny)")
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--max-steps", help="stop after this many optimiser steps in total")
    add_time_limit(parser, what="of this session's training (train.max_time)", old=("--max-time",), keep_text=True)
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    parser.add_argument("--valid-data", help="validation data file (default: a seeded generated set)")
    parser.add_argument("--device", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:1, mps")
    parser.add_argument("--seed", help="seed of the model initialisation and of the data streams")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or validation lines")
    _add_task_option_flags(parser.add_argument_group("task options (see `seq2math generate TASK --help`)"))


def _data_file(parser, args) -> None:
    """The one positional argument without '=' is the training data file (``args.data``)."""
    files = [item for item in args.overrides if "=" not in item]
    args.overrides = [item for item in args.overrides if "=" in item]
    if not hasattr(args, "data"):
        args.data = None
    given = files + ([args.data] if args.data is not None else [])
    if len(given) > 1:
        parser.error(f"one training data FILE at most, got {', '.join(given)}")
    if files:
        if not Path(files[0]).is_file():
            parser.error(f"{files[0]!r} is neither a KEY=VALUE override nor an existing data file")
        args.data = files[0]


def _task_option_fields() -> dict[str, list[tuple[str, Any]]]:
    """Option name -> [(task, dataclass field)] over every registered task."""
    from seq2math.tasks.base import TASKS, task_names

    fields: dict[str, list[tuple[str, Any]]] = {}
    for name in task_names():
        for f in dataclasses.fields(TASKS[name].Options):
            fields.setdefault(f.name, []).append((name, f))
    return fields


def _add_task_option_flags(group) -> None:
    for option, owners in sorted(_task_option_fields().items()):
        if option in OWN_FLAGS:
            continue
        tasks = ", ".join(task for task, _ in owners)
        is_bool = any(f.type in (bool, "bool") for _, f in owners)
        help_text = (owners[0][1].metadata or {}).get("help", "")
        kwargs = {"nargs": "?", "const": "true"} if is_bool else {}
        group.add_argument("--" + option.replace("_", "-"), dest=f"opt_{option}", default=None,
                           metavar=option.upper(), help=f"{help_text} [{tasks}]".strip(), **kwargs)


def _given_task_options(args) -> dict[str, str]:
    return {key[4:]: value for key, value in vars(args).items() if key.startswith("opt_") and value is not None}


def _read_yaml(path_or_name: str) -> dict[str, Any]:
    import yaml

    path = Path(path_or_name)
    if not path.exists():
        bundled = Path(__file__).resolve().parent.parent / "presets" / f"{path_or_name}.yaml"
        if not bundled.exists():
            raise ConfigError(f"config {path_or_name!r} is neither a file nor a bundled preset "
                              f"(seq2math/presets/*.yaml)")
        path = bundled
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with task/model/train sections")
    data["__path__"] = str(path)
    return data


def build_config(args) -> Any:
    """The RunConfig of a fresh run from presets, YAML, task flags, flags and overrides.

    The preset gives the base; the YAML file, the task flags, the training flags and the dotted
    overrides are collected in one ``Changes`` and applied together (each dataclass is built and
    validated once, so ``model.d_model=256 model.n_heads=8`` works in either order).
    """
    from seq2math.config import merge_dict, to_dict
    from seq2math.model import ModelConfig
    from seq2math.tasks.base import get_task_class
    from seq2math.training.config import TRAIN_PRESETS, RunConfig, TrainConfig

    data = _read_yaml(args.config) if args.config else {}
    preset_stream: dict[str, Any] = {}
    where = data.pop("__path__", "")
    preset = args.preset or data.pop("preset", None)
    data.pop("preset", None)
    base = RunConfig()
    if preset:
        try:
            model = ModelConfig.from_preset(preset)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        train_preset = dict(TRAIN_PRESETS.get(preset, {}))
        preset_stream = train_preset.pop("task_options", {})
        base = RunConfig(model=model, train=dataclasses.replace(TrainConfig(), **train_preset))
    changes = Changes(base).mapping(data, where)
    if args.task or _given_task_options(args):
        task = dict(data.get("task") or base.task)
        if args.task:
            if task.get("name") not in (None, args.task):
                task = {}  # another task than the YAML's: its options do not apply
            task["name"] = args.task
        task.update(_given_task_options(args))
        changes.mapping({"task": task}, "--task and task option flags")
    _add_train_flags(changes, args)
    config = changes.overrides(args.overrides).apply()
    if not config.task.get("name"):
        raise ConfigError("name a task: --task transpose (or task.name= in the config)")
    cls = get_task_class(config.task["name"])
    options = {k: v for k, v in config.task.items() if k != "name"}
    names = [f.name for f in dataclasses.fields(cls.Options)]
    fields = set(names)
    unknown = sorted(set(options) - fields)
    if unknown:
        raise ConfigError(f"task {cls.name} has no option(s) {', '.join(unknown)}; options: {', '.join(names)}")
    resolved = merge_dict(cls.Options(), options, f"task {cls.name}")
    # a preset's training-stream options serve the tasks that have and accept them; the run's own win
    suggested = {k: v for k, v in preset_stream.items() if k in fields}
    if suggested:
        try:
            cls(merge_dict(resolved, suggested, "preset"))
        except ConfigError:
            suggested = {}
    stream = suggested | config.train.task_options
    unknown = sorted(set(stream) - fields)
    if unknown:
        raise ConfigError(f"train.task_options: task {cls.name} has no option(s) {', '.join(unknown)}")
    stream_resolved = to_dict(merge_dict(resolved, stream, "train.task_options"))
    train = dataclasses.replace(config.train, task_options={k: stream_resolved[k] for k in stream})
    return dataclasses.replace(config, task={"name": cls.name, **to_dict(resolved)}, train=train)


#: command-line flag (argparse dest) -> TrainConfig field
TRAIN_FLAGS = {"max_steps": "max_steps", "time_limit": "max_time", "data": "data", "valid_data": "valid_data",
               "device": "device", "seed": "seed"}


def _add_train_flags(changes: Changes, args) -> None:
    for flag, key in TRAIN_FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            changes.override(f"train.{key}", value)


def resume_config(args) -> Any:
    """The saved RunConfig of ``--out`` with the training flags and ``train.*`` overrides applied."""
    from seq2math.training.checkpoint import read_run_config

    config, _ = read_run_config(args.out)
    if args.task or args.preset or args.config or _given_task_options(args):
        raise ConfigError("--resume continues the saved run: --task, --preset, --config and task options "
                          "cannot change (only training flags and train.* overrides)")
    bad = [o for o in args.overrides if not o.startswith("train.")]
    if bad:
        raise ConfigError(f"--resume accepts only train.* overrides, got {', '.join(bad)}")
    changes = Changes(config)
    _add_train_flags(changes, args)
    return changes.overrides(args.overrides).apply()


def run(args) -> int:
    from seq2math.training.loop import train

    try:
        config = resume_config(args) if args.resume else build_config(args)
        summary = train(config, args.out, resume=args.resume, quiet=args.quiet)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    if not args.quiet:
        print(f"train: stopped at step {summary['step']} ({summary['stop']}, {summary['elapsed']:.0f}s); "
              f"best validation at step {summary['best_step']}; run in {args.out}", file=sys.stderr)
    return 0
