"""``seq2math generate TASK``: write a seeded data set."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from seq2math.config import (
    ConfigError,
    add_dataclass_arguments,
    dataclass_from_arguments,
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
"""


def add_arguments(parser) -> None:
    from seq2math.tasks.base import TASKS, task_names

    sub = parser.add_subparsers(dest="task", metavar="TASK")
    for name in task_names():
        cls = TASKS[name]
        doc = (cls.__doc__ or name).strip().splitlines()[0]
        task_parser = sub.add_parser(name, help=doc, description=(cls.__doc__ or name))
        add_dataclass_arguments(task_parser, cls.Options)
        group = task_parser.add_argument_group("output")
        group.add_argument("--count", type=int, default=1000, help="number of examples (default 1000)")
        group.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        group.add_argument("--out", required=True, help="output file")
        group.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
        group.add_argument("--format", choices=["default", "jsonl"], default="default",
                           help="line format (default: the task's own)")
        group.add_argument("--resume", action="store_true", help="continue an interrupted file")
        group.add_argument("--quiet", action="store_true", help="no progress output")


def run(args) -> int:
    from seq2math.data.generation import write_dataset
    from seq2math.tasks.base import get_task_class, make_task

    if not args.task:
        raise ConfigError("name a task, e.g. `seq2math generate transpose --dim 5 --out t.txt`")
    cls = get_task_class(args.task)
    options = dataclass_from_arguments(cls.Options, args)
    task = make_task(args.task, options)
    out = Path(args.out)
    meta_path = out.with_name(out.name + ".config.json")
    identity = {"task": args.task, "options": to_dict(options), "seed": args.seed, "format": args.format}
    if args.resume and meta_path.exists():
        previous = json.loads(meta_path.read_text())
        old = {"task": previous.get("task"), "options": previous.get("config"),
               "seed": previous.get("seed"), "format": previous.get("format")}
        if old != identity:
            raise ConfigError(f"--resume: {out} was generated with {old}, not {identity}")
    written = write_dataset(task, out, args.count, args.seed, workers=args.workers, fmt=args.format,
                            resume=args.resume, progress=not args.quiet)
    save_config(options, out.parent, name=out.name + ".config.json",
                extra={k: v for k, v in identity.items() if k != "options"} | {"count": args.count})
    if not args.quiet:
        print(f"wrote {written} examples to {out} ({args.count} in total)", file=sys.stderr)
    return 0
