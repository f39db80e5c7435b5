"""``seq2math bench NAME``: speed benchmarks that print ratios against a baseline run in the same process."""

from __future__ import annotations

import importlib

HELP = "run a benchmark (prints our speed next to a baseline measured in the same run)"

#: benchmark name -> module in seq2math.benchmarks (each has HELP, add_arguments, run)
BENCHMARKS = {
    "generate": "seq2math.benchmarks.generate",
    "verify": "seq2math.benchmarks.verify",
    "model": "seq2math.benchmarks.model",
    "train": "seq2math.benchmarks.train",
    "fuzz": "seq2math.benchmarks.fuzz",
    "sos": "seq2math.benchmarks.sos",
    "memory": "seq2math.benchmarks.memory",
    "workers": "seq2math.benchmarks.workers",
    "blas": "seq2math.benchmarks.blas",
    "solve": "seq2math.benchmarks.solve",
    "newton": "seq2math.benchmarks.newton",
}


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="benchmark", metavar="NAME")
    for name, module_name in BENCHMARKS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name == module_name:
                continue
            raise
        bench_parser = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(bench_parser)
        bench_parser.set_defaults(_bench=module.run)


def run(args) -> int:
    if not getattr(args, "_bench", None):
        from seq2math.config import ConfigError

        raise ConfigError(f"name a benchmark: {', '.join(BENCHMARKS)}")
    return args._bench(args)
