"""``seq2math generate TASK``: write a seeded data set."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from seq2math.commands.options import add_shard
from seq2math.config import (
    ConfigError,
    add_dataclass_arguments,
    dataclass_from_arguments,
    from_dict,
    save_config,
    to_dict,
)

HELP = "generate a seeded data set for a task (deterministic whatever --workers)"
DESCRIPTION = """Generate a data set: one example per line.

Default line format: SOURCE_TOKENS<TAB>TARGET_TOKENS (Lyapunov tasks: COUNT|SOURCE<TAB>TARGET);
--format jsonl writes {"input": ..., "target": ...} objects. Example i depends only on
(task options, --seed, i): the same seed gives byte-identical files whatever --workers,
and --resume continues an interrupted file.

examples:
  seq2math generate eigenvalues --dim 5 --encoding P1000 --count 1000 --seed 1 --out ev.txt
  seq2math generate lyapunov --mode backward --count 1000 --seed 0 --out bwd.txt --workers 2
  seq2math generate lyapunov --preset bpoly --count 1000 --seed 0 --out bpoly.txt --workers 2
  seq2math generate transpose --dim 5 --count 1000 --shard 0/4 --out t.0.txt   (then `seq2math data merge`)

--preset NAME reads the task options of seq2math/presets/TASK-NAME.yaml (or of a YAML file
with a task: section); flags given explicitly override the preset's values. Lyapunov presets
(the paper's generation settings, docs/presets.md): bpoly, flyap, fbarr, fsostools.
"""

PRESET_DIRECTORY = Path(__file__).resolve().parent.parent / "presets"


def add_arguments(parser) -> None:
    from seq2math.tasks.base import TASKS, task_names

    sub = parser.add_subparsers(dest="task", metavar="TASK")
    for name in task_names():
        cls = TASKS[name]
        doc = (cls.__doc__ or name).strip().splitlines()[0]
        task_parser = sub.add_parser(name, help=doc, description=(cls.__doc__ or name))
        add_dataclass_arguments(task_parser, cls.Options)
        task_parser.add_argument("--preset", metavar="NAME",
                                 help=f"task options from seq2math/presets/{name}-NAME.yaml (or a YAML file); "
                                      "explicit flags override them")
        group = task_parser.add_argument_group("output")
        group.add_argument("--count", type=int, default=1000, help="number of examples (default 1000)")
        group.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        group.add_argument("--out", required=True, help="output file")
        group.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
        group.add_argument("--format", choices=["default", "jsonl"], default="default",
                           help="line format (default: the task's own)")
        group.add_argument("--resume", action="store_true", help="continue an interrupted file")
        add_shard(group, what="--count examples")
        group.add_argument("--quiet", action="store_true", help="no progress output")


def run(args) -> int:
    from seq2math.data.generation import write_dataset
    from seq2math.data.shards import write_sidecar
    from seq2math.tasks.base import get_task_class, make_task

    if not args.task:
        raise ConfigError("name a task, e.g. `seq2math generate transpose --dim 5 --out t.txt`")
    cls = get_task_class(args.task)
    preset = getattr(args, "preset", None)
    base = preset_options(cls, args.task, preset) if preset else None
    options = dataclass_from_arguments(cls.Options, args, base=base)
    task = make_task(args.task, options)
    out = Path(args.out)
    meta_path = out.with_name(out.name + ".config.json")
    identity = {"task": args.task, "options": to_dict(options), "seed": args.seed, "format": args.format}
    shard = getattr(args, "shard", None)
    if shard is not None:
        identity["shard"] = str(shard)
    if args.resume and meta_path.exists():
        previous = json.loads(meta_path.read_text())
        old = {"task": previous.get("task"), "options": previous.get("config"),
               "seed": previous.get("seed"), "format": previous.get("format")} \
            | ({"shard": previous.get("shard")} if shard is not None or "shard" in previous else {})
        if old != identity:
            raise ConfigError(f"--resume: {out} was generated with {old}, not {identity}")
    if shard is not None:                     # what every shard of this job shares (seq2math data merge)
        write_sidecar(out, shard, "generate", {k: v for k, v in identity.items() if k != "shard"}
                      | {"count": args.count}, lines=len(shard.block(args.count)))
    written = write_dataset(task, out, args.count, args.seed, workers=args.workers, fmt=args.format,
                            resume=args.resume, progress=not args.quiet, shard=shard)
    save_config(options, out.parent, name=out.name + ".config.json",
                extra={k: v for k, v in identity.items() if k != "options"} | {"count": args.count}
                | ({"preset": preset} if preset else {}))
    if not args.quiet:
        print(f"wrote {written} examples to {out} ({args.count} in total)", file=sys.stderr)
    return 0


def preset_path(task: str, preset: str) -> Path:
    """The YAML file of ``--preset``: an existing file, else ``seq2math/presets/TASK-NAME.yaml``."""
    given = Path(preset)
    if given.suffix in (".yaml", ".yml") and given.exists():
        return given
    for name in (f"{task}-{preset}.yaml", f"{preset}.yaml"):
        if (PRESET_DIRECTORY / name).exists():
            return PRESET_DIRECTORY / name
    prefix = f"{task}-"
    known = sorted(p.stem[len(prefix):] for p in PRESET_DIRECTORY.glob(f"{prefix}*.yaml"))
    raise ConfigError(f"--preset {preset!r}: no file {preset!r} and no bundled preset "
                      f"seq2math/presets/{task}-{preset}.yaml; presets of {task}: {', '.join(known) or 'none'}")


def preset_options(cls, task: str, preset: str):
    """The task options of a preset file's ``task:`` section (unknown keys are rejected)."""
    path = preset_path(task, preset)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML: {err}") from None
    section = data.get("task") if isinstance(data, dict) else None
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: expected a task: section with the options of {task}")
    section = dict(section)
    name = section.pop("name", task)
    if name != task:
        raise ConfigError(f"{path}: a preset of task {name!r}, not {task!r}")
    return from_dict(cls.Options, section, where=str(path))
