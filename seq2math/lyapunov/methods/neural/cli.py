"""``seq2math baseline neural FILE``: the neural learner–verifier on every system of a file.

Registered by ``seq2math/commands/baseline.py``; torch is imported only inside the jobs.
One JSON object per input line, then a summary that counts region and global results in
separate columns (the neural tools certify a region, docs/baselines.md).
"""

from __future__ import annotations

DESCRIPTION = """Neural Lyapunov baseline (learner-verifier loop in the manner of Fossil 2 / ANLC / LyzNet).

A network V = |C [W1 x; (W2 x)^2]|^2 + eps |x|^2 (positive definite by construction) is trained
on states of the annulus inner_radius <= |x| <= R to make dV/dt negative; counterexamples
found by sampling + local search (and exactly by z3) join the training set, in rounds.

Per line: found_region = true only when the region claim is proved exactly (z3 on the annulus,
or an exact SOS certificate), null = no counterexample found numerically (NOT a proof), false =
not found; found_global = true only when check_candidate proves the polynomial V globally.

examples:
  seq2math baseline neural systems.txt --time-limit 30 --radius 10 --out neural.jsonl
  seq2math baseline neural systems.tsv --infix --seed 1 --square-width 0
"""

#: options that have their own flags above the generic --field-name ones
_OWN_FLAGS = ("time_limit", "seed", "radius")


def add_neural_parser(subparsers, formatter_class) -> None:
    """Add the ``neural`` subcommand to ``seq2math baseline``."""
    from seq2math.config import add_dataclass_arguments
    from seq2math.lyapunov.methods.neural.options import NeuralOptions

    parser = subparsers.add_parser("neural", help="neural learner-verifier (region and global results apart)",
                                   description=DESCRIPTION, formatter_class=formatter_class)
    parser.add_argument("file", help="input file ([COUNT|]SYSTEM<TAB>V lines; V ignored)")
    parser.add_argument("--infix", action="store_true", help="lines hold infix systems")
    parser.add_argument("--time-limit", type=float, default=30.0, help="seconds per system (default 30)")
    parser.add_argument("--radius", type=float, default=10.0, help="outer radius R of the annulus (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of samples and initial weights (default 0)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--out", default=None, help="output JSONL (default stdout)")
    parser.add_argument("--resume", action="store_true", help="skip lines already in --out")
    add_dataclass_arguments(parser, NeuralOptions, skip=_OWN_FLAGS)


def _region_status(found: bool | None) -> str:
    return {True: "proved", None: "numerical only", False: "not found"}[found]


def _global_status(found: bool | None) -> str:
    return {True: "proved", None: "undecided", False: "not proved"}[found]


class NeuralJob:
    """One line -> one JSON record (a picklable callable for the worker pool)."""

    def __init__(self, args):
        from seq2math.config import dataclass_from_arguments
        from seq2math.lyapunov.methods.neural.options import NeuralOptions

        self.args = args
        self.options = dataclass_from_arguments(NeuralOptions, args, NeuralOptions(
            time_limit=args.time_limit, seed=args.seed, radius=args.radius))
        self.options.validate()

    def __call__(self, item: tuple[int, str]) -> dict:
        from seq2math.lyapunov.batch import InputError, parse_problem
        from seq2math.lyapunov.methods.neural.search import neural_lyapunov

        line, text = item
        try:
            system, _ = parse_problem(text, self.args.infix, self.args.file, line, need_target=False)
        except InputError as err:
            return {"line": line, "region_status": "input error", "global_status": "input error",
                    "reason": str(err), "error": True}
        result = neural_lyapunov(system, options=self.options)
        return {"line": line, "region_status": _region_status(result.found_region),
                "global_status": _global_status(result.found_global), **result.to_json()}


def run_neural(args) -> int:
    import json
    import sys
    from pathlib import Path

    from seq2math.config import ConfigError
    from seq2math.jobs.workers import TIMED_OUT, JobError, run_jobs
    from seq2math.lyapunov.batch import ResultWriter, print_summary, read_lines, summary

    try:
        job = NeuralJob(args)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    writer = ResultWriter(args.out, args.resume)
    records = list(writer.previous)
    items = (item for item in read_lines(args.file) if item[0] not in writer.done)
    hard_limit = args.time_limit * 1.5 + 10 if args.workers > 1 else None    # z3 and the SOS solver stop first
    try:
        for (line, _), record in run_jobs(job, items, args.workers, hard_limit):
            if record is TIMED_OUT:
                record = {"line": line, "region_status": "timeout", "global_status": "timeout",
                          "seconds": hard_limit}
            elif isinstance(record, JobError):
                record = {"line": line, "region_status": "failure", "global_status": "failure",
                          "reason": record.message, "error": True}
            if record.get("error"):
                print(f"seq2math baseline neural: line {line}: {record.get('reason')}", file=sys.stderr)
            writer.write(record)
            records.append(record)
    finally:
        writer.close()
    region = summary(records, key="region_status")
    global_counts = summary(records, key="global_status")["counts"]
    print_summary("neural (region)", region, None)
    print(f"neural (global): {', '.join(f'{k}: {v}' for k, v in sorted(global_counts.items()))}", file=sys.stderr)
    if args.out:
        combined = {"lines": region["lines"], "region": region["counts"], "global": global_counts,
                    "median_seconds": region["median_seconds"], "p90_seconds": region["p90_seconds"],
                    "total_seconds": region["total_seconds"]}
        Path(str(args.out) + ".summary.json").write_text(json.dumps(combined, indent=1) + "\n")
    return 0
