"""The ``seq2math`` command line: one entry point, one module per subcommand.

Each module in ``seq2math.commands`` defines ``HELP`` (one line), ``add_arguments(parser)``
and ``run(args) -> int``. Heavy imports (torch, cvxpy) happen inside ``run`` so that
``seq2math --help`` stays fast. The vocabulary shared by the subcommands (input files,
``--model``, ``--time-limit``, hidden old spellings) lives in ``seq2math.commands.options``
(docs/cli.md).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from seq2math.commands.options import CommandParser

#: subcommand -> module, in the order shown by ``seq2math --help``
COMMANDS = {
    "demo": "seq2math.commands.demo",
    "generate": "seq2math.commands.generate",
    "data": "seq2math.commands.data",
    "train": "seq2math.commands.train",
    "evaluate": "seq2math.commands.evaluate",
    "predict": "seq2math.commands.predict",
    "verify": "seq2math.commands.verify",
    "solve": "seq2math.commands.solve",
    "baseline": "seq2math.commands.baseline",
    "report": "seq2math.commands.report",
    "export": "seq2math.commands.export",
    "plot": "seq2math.commands.plot",
    "bench": "seq2math.commands.bench",
    "experiment": "seq2math.commands.experiment",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``seq2math`` parser; every subcommand's options follow ``seq2math.commands.options``.

    With ``only`` (the command being run) the other subcommands are listed without their options:
    ``generate``'s options import every task (1.1 s of the 4 s a ``seq2math solve`` took, session 19)."""
    parser = CommandParser(
        prog="seq2math",
        description="Mathematics with transformers: generate data, train, decode, verify.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name == module_name:  # command not built yet
                continue
            raise
        command = sub.add_parser(name, help=module.HELP, description=getattr(module, "DESCRIPTION", module.HELP),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
        if only is None or name == only:
            module.add_arguments(command)
            command.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    parser = build_parser(only=words[0] if words and words[0] in COMMANDS else None)
    args = parser.parse_args(argv)
    from seq2math.config import set_command_line

    # called in-process with argv, sys.argv is not the command being run (saved in config.json)
    set_command_line(["seq2math", *argv] if argv is not None else None)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0 if args.command is None else 2
    from seq2math.config import ConfigError
    from seq2math.tasks.base import DataFormatError

    try:
        return int(args._run(args) or 0)
    except (ConfigError, DataFormatError, FileExistsError, FileNotFoundError) as err:
        print(f"seq2math {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"seq2math {args.command}: interrupted; what was written so far is kept "
              "(rerun with --resume to continue)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
