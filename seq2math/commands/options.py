"""One command-line vocabulary, defined once and used by every subcommand (docs/cli.md).

The rules:

- **input**: the files a command reads are positional ``FILE`` arguments
  (``seq2math verify FILE``, ``seq2math report FILE...``, ``seq2math train FILE``); files with
  another role keep a named option (``--valid-data``, ``--out``, ``--certificates``);
- **model**: a trained model is always named with ``--model RUN`` (a run directory of
  ``seq2math train`` or a checkpoint of ``seq2math export``); where a default makes sense it is
  the shipped checkpoint ``seq2math/checkpoints/lyapunov-tiny`` (``DEFAULT_MODEL``); the
  ``model`` and ``guided`` methods of ``solve`` and ``report`` use every shipped checkpoint in turn
  (``SHIPPED_MODELS``) and take ``RUN+RUN`` for several;
- **time budget**: ``--time-limit DURATION`` (``90``, ``90s``, ``10m``, ``2h``), whatever the
  command times (a system, a checked line, a training session);
- **shards**: ``--shard i/N`` does part i of N of a seeded job (``generate``, ``verify``,
  ``solve FILE``, ``report``); ``seq2math data merge`` joins the parts (docs/scale.md).

Old spellings (``--timeout``, ``--max-time``, ``--file``, ``--data``, ``--test``, ``--check``,
a positional ``RUN_DIR``) stay accepted until seq2math ``REMOVED_IN``: they are hidden from
``--help``, write the same value as the new spelling and print one note on stderr.

Rules that span several arguments (an input given twice, an old positional ``RUN_DIR``)
are *resolvers*: functions ``resolve(parser, args)`` registered with ``add_resolver`` that
``CommandParser`` runs right after parsing, so ``parse_args`` returns resolved values and a
bad combination is reported with the subcommand's usage line. This module imports nothing
heavy (``seq2math --help`` loads it).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable
from typing import Any

from seq2math.data.shards import Shard, parse_shard
from seq2math.jobs.workers import default_memory_limit
from seq2math.training.config import DEFAULT_MODEL, NONPOLY_MODEL, SHIPPED_MODELS, parse_duration

#: the release in which the hidden old spellings stop being accepted
REMOVED_IN = "0.3.0"

Resolver = Callable[["CommandParser", argparse.Namespace], None]


class CommandParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that runs its resolvers after parsing (subparsers inherit the class)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.resolvers: list[Resolver] = []

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        for resolve in self.resolvers:
            resolve(self, namespace)
        return namespace, extras


def add_resolver(parser: argparse.ArgumentParser, resolve: Resolver) -> None:
    """Run ``resolve(parser, args)`` after ``parser`` has parsed (in the order added).

    A plain ``argparse.ArgumentParser`` (a script or a test calling a command's
    ``add_arguments``) becomes a ``CommandParser`` in place: same state, plus the resolvers.
    """
    if not isinstance(parser, CommandParser):
        if type(parser) is not argparse.ArgumentParser:
            raise TypeError(f"resolvers need an argparse.ArgumentParser or a CommandParser, got {type(parser).__name__}")
        parser.__class__ = CommandParser
        parser.resolvers = []
    parser.resolvers.append(resolve)


def note_old_spelling(parser: argparse.ArgumentParser, old: str, new: str) -> None:
    """Say on stderr that ``old`` still works but goes away in ``REMOVED_IN``."""
    print(f"{parser.prog}: note: {old} is the old spelling of {new}; it goes away in seq2math {REMOVED_IN}",
          file=sys.stderr)


class _Store(argparse.Action):
    """Store a value; with ``new`` set this is a hidden old spelling and says so. With ``once``
    a second value for the same dest (say ``FILE`` and ``--data``) is an error, not a silent
    overwrite (``once`` dests have no default in the namespace until given)."""

    def __init__(self, option_strings, dest, new: str | None = None, once: bool = False, **kwargs):
        self.new, self.once = new, once
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        if self.new is not None:
            note_old_spelling(parser, option_string or self.metavar or self.dest, self.new)
        if self.once and getattr(namespace, self.dest, None) is not None:
            given = self.new or self.metavar or self.dest
            parser.error(f"{given} is given twice (once as {option_string or 'an argument'})")
        setattr(namespace, self.dest, values)


def add_old_flag(parser: argparse.ArgumentParser, flag: str, new: str, dest: str, **kwargs: Any) -> None:
    """A hidden alias ``flag`` of the option ``new``, writing ``dest`` (argparse ``type``/``nargs`` in kwargs)."""
    parser.add_argument(flag, dest=dest, action=_Store, new=new, default=argparse.SUPPRESS,
                        help=argparse.SUPPRESS, **kwargs)


# ---------------------------------------------------------------- time budget

def seconds(text: str) -> float:
    """argparse type: a positive duration (``90``, ``2.5``, ``90s``, ``10m``, ``2h``) in seconds."""
    try:
        value = float(text)
    except ValueError:
        try:
            value = parse_duration(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    if value is None or not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"a time limit must be a positive duration, got {text!r}")
    return value


def duration_text(text: str) -> str:
    """argparse type: like ``seconds`` but keeps the text as written (saved as ``train.max_time``)."""
    seconds(text)
    return text


def add_time_limit(parser: argparse.ArgumentParser, *, what: str, default: float | None = None,
                   old: tuple[str, ...] = (), keep_text: bool = False) -> None:
    """``--time-limit DURATION`` into ``args.time_limit`` (+ hidden ``old`` flags).

    ``what`` says what the budget bounds ("per system"); ``keep_text`` stores the text
    (``"10m"``) instead of seconds. Without ``default`` there is no limit.
    """
    kind = duration_text if keep_text else seconds
    shown = f"default {default:g} s" if default is not None else "default: no limit"
    parser.add_argument("--time-limit", dest="time_limit", type=kind, default=default, metavar="DURATION",
                        help=f"time budget {what}: 90, 90s, 10m or 2h ({shown})")
    for flag in old:
        add_old_flag(parser, flag, "--time-limit", "time_limit", type=kind, metavar="DURATION")


# ---------------------------------------------------------------- input files

def add_input_files(parser: argparse.ArgumentParser, *, dest: str = "file", help: str, many: bool = False,
                    required: bool = True, metavar: str = "FILE", old: tuple[str, ...] = ()) -> None:
    """The file(s) a command reads, as positional ``FILE`` (``many``: ``FILE...``) into ``args.<dest>``.

    ``old`` flags (``--test``) are hidden aliases writing the same dest. Giving the input twice
    is an error; a missing required input is reported like argparse's own message. After
    parsing, ``args.<dest>`` is a path (or a list of paths with ``many``), or None / [].
    """
    nargs = ("+" if required else "*") if many else (None if required else "?")
    action = parser.add_argument(dest, nargs=nargs, metavar=metavar, action=_Store, once=True,
                                 default=argparse.SUPPRESS, help=help)
    action.required = False  # checked below, so that an old flag can stand in for it
    for flag in old:
        add_old_flag(parser, flag, metavar + ("..." if many else ""), dest, nargs="+" if many else None,
                     metavar=metavar, once=True)

    def resolve(parser: CommandParser, args: argparse.Namespace) -> None:
        if getattr(args, dest, None) is None:
            if required:
                parser.error(f"the following arguments are required: {metavar}")
            setattr(args, dest, [] if many else None)

    add_resolver(parser, resolve)


# ---------------------------------------------------------------- model

def add_model(parser: argparse.ArgumentParser, *, shipped_default: bool = True, what: str = "",
              fill_default: bool = True, ensemble: bool = False) -> None:
    """``--model RUN`` into ``args.model``.

    With ``shipped_default`` the model defaults to ``DEFAULT_MODEL`` (filled in after parsing
    when ``fill_default``; otherwise ``args.model`` stays None and the command picks it). With
    ``ensemble`` (the ``model`` and ``guided`` methods) ``args.model`` stays None, which means every
    shipped checkpoint in turn, and ``RUN+RUN`` names several models.
    """
    default = " (default: the shipped checkpoint seq2math/checkpoints/lyapunov-tiny)" if shipped_default else ""
    if ensemble:
        names = [path.name for path in SHIPPED_MODELS]
        shipped = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
        fill_default, default = False, (f" (default: the shipped checkpoints {shipped} in seq2math/checkpoints, "
                                        f"their hypotheses in turn, and {NONPOLY_MODEL.name} for a non-polynomial "
                                        "system when it is shipped; RUN+RUN names several models)")
    parser.add_argument("--model", metavar="RUN", default=None,
                        help=f"{what or 'the model'}: run directory of `seq2math train` or a checkpoint of "
                             f"`seq2math export`{default}")
    if shipped_default and fill_default:
        add_resolver(parser, _fill_shipped_model)


def _fill_shipped_model(parser: CommandParser, args: argparse.Namespace) -> None:
    if args.model is None:
        args.model = str(DEFAULT_MODEL)


def add_old_model_positional(parser: argparse.ArgumentParser, command: str) -> None:
    """Accept the old ``COMMAND RUN_DIR ...`` spelling: a hidden first positional that becomes
    ``--model`` (call before the command's own positionals and before ``add_model``)."""
    parser.add_argument("old_model", nargs="?", metavar="RUN_DIR", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    def resolve(parser: CommandParser, args: argparse.Namespace) -> None:
        old = vars(args).pop("old_model", None)
        if old is None:
            return
        if args.model is not None:
            parser.error(f"the model is named twice: {old} (old positional RUN_DIR) and --model {args.model}")
        note_old_spelling(parser, f"`seq2math {command} RUN_DIR ...`", f"`seq2math {command} --model RUN_DIR ...`")
        args.model = old

    add_resolver(parser, resolve)


# ---------------------------------------------------------------- resume

def add_resume(parser: argparse.ArgumentParser, *, what: str) -> None:
    """``--resume`` into ``args.resume``: continue what an interrupted run (even ``kill -9``) left.

    ``what`` says what is continued. Every long job takes it (docs/reliability.md, "Crash
    safety"); ``report`` and ``evaluate`` continue their records whenever the settings match,
    so there the flag states the intent and changes nothing.
    """
    parser.add_argument("--resume", action="store_true", help=f"continue an interrupted run: {what}")


# ---------------------------------------------------------------- memory budget

_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def memory_size(text: str) -> int:
    """argparse type: a memory size (``2G``, ``500M``, ``1.5G``, ``800000000``) in bytes; ``none``: 0, no limit."""
    if text.strip().lower() == "none":
        return 0
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)(I?B)?\s*", text.upper())
    if match is None:
        raise argparse.ArgumentTypeError(f"a memory limit looks like 2G, 500M or none, got {text!r}")
    value = float(match.group(1)) * _SIZE_UNITS[match.group(2)]
    if value < 1:
        raise argparse.ArgumentTypeError(f"a memory limit must be positive, got {text!r}")
    return int(value)


def add_memory_limit(parser: argparse.ArgumentParser, *, what: str = "per check") -> None:
    """``--memory-limit SIZE`` into ``args.memory_limit`` (bytes; 0 for ``none``).

    Not given, it stays None: ``resolve_memory_limit`` then gives a safe share of the
    machine's RAM (total / (workers + 1)). The limit is enforced with RLIMIT_AS in the child
    process that runs each check or SOS solve (docs/reliability.md).
    """
    parser.add_argument("--memory-limit", dest="memory_limit", type=memory_size, default=None, metavar="SIZE",
                        help=f"memory budget {what}: 2G, 500M or none (default: RAM / (workers + 1)); "
                             "a check past it is undecided: memory limit")


def add_views(parser: argparse.ArgumentParser) -> None:
    """``--views N``: how many views of each system the model method reads (``MethodOptions.views``)."""
    from seq2math.lyapunov.methods.base import MethodOptions

    parser.add_argument("--views", type=int, default=MethodOptions.views, metavar="N",
                        help=f"model: read the system as typed and up to N-1 reorderings and sign flips of its "
                             f"variables, proposing their exact gradient-form fits after the system's own ones (a "
                             f"non-polynomial system: reorderings only, all their hypotheses in blocks after its "
                             f"own; default {MethodOptions.views}; 1: as typed only)")


def resolve_memory_limit(value: int | None, workers: int = 1) -> int | None:
    """Bytes of ``--memory-limit``: the given size, None (no limit) for ``none``, the default share when not given."""
    if value is None:
        return default_memory_limit(workers)
    return value or None


# ---------------------------------------------------------------- shards

def shard(text: str) -> Shard:
    """argparse type: ``i/N`` with 0 <= i < N."""
    try:
        return parse_shard(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_shard(parser: argparse.ArgumentParser, *, what: str) -> None:
    """``--shard i/N`` into ``args.shard`` (a ``Shard``, or None: the whole job).

    ``what`` names the items cut into N contiguous blocks ("examples", "problem lines").
    """
    parser.add_argument("--shard", type=shard, default=None, metavar="i/N",
                        help=f"do only part i of N (0 <= i < N) of the {what}, in contiguous blocks; "
                             "join the parts with `seq2math data merge` (docs/scale.md)")
