"""``seq2math baseline NAME FILE``: run a baseline on every system of a file, one JSON record per line.

Two baselines (docs/baselines.md): ``findlyap`` (SOSTOOLS-style SOS search, every V re-proved
exactly) and ``neural`` (the learner–verifier of ``seq2math.lyapunov.methods.neural``; region
and global results in separate columns, since the neural tools certify a region). This module
only parses, runs the jobs and prints; torch, the SOS solver and z3 are imported inside the jobs.
"""

from __future__ import annotations

from seq2math.commands.options import add_input_files, add_memory_limit, add_time_limit, resolve_memory_limit
from seq2math.config import add_dataclass_arguments, dataclass_from_arguments
from seq2math.lyapunov.methods.neural.options import NeuralOptions  # no torch: keeps `seq2math --help` fast

HELP = "run a baseline (findlyap: SOSTOOLS-style SOS search; neural: learner-verifier) on a file of systems"
DESCRIPTION = """Run a baseline on every system of a prefix-format file (targets ignored).

findlyap: V over all monomials of degree 2..d, d = 2, 4, ... <= --max-degree; nonnegative
eps_ik with sum_k eps_ik >= 0.1; V - sum eps x^2k SOS and -dV/dt SOS (docs/baselines.md).
Every V it finds is rounded and re-verified exactly; per line: status found / not found /
solver failure / timeout, the degrees tried and the time.

examples:
  seq2math baseline findlyap systems.txt --max-degree 6 --out findlyap.jsonl
  seq2math baseline findlyap systems.txt --check barrier --time-limit 60 --workers 2

neural: a small network trained on an annulus with counterexamples in a loop (Fossil 2 /
ANLC / LyzNet style); region and global results reported apart. See
`seq2math baseline neural --help`.
"""


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="baseline", metavar="NAME")
    findlyap = sub.add_parser("findlyap", help="SOSTOOLS-style findlyap with exact re-verification",
                              description=DESCRIPTION, formatter_class=parser.formatter_class)
    add_input_files(findlyap, dest="file", help="input file ([COUNT|]SYSTEM<TAB>V lines; V ignored)")
    findlyap.add_argument("--infix", action="store_true", help="lines hold infix systems")
    findlyap.add_argument("--max-degree", type=int, default=6, help="largest (even) degree of V (default 6)")
    findlyap.add_argument("--check", choices=["lyapunov", "barrier"], default="lyapunov",
                          help="lyapunov: findlyap proper; barrier: V SOS only (FBarr-style)")
    add_time_limit(findlyap, what="per system (the worker is killed at 1.5 x + 5 s)", old=("--timeout",))
    findlyap.add_argument("--workers", type=int, default=1, help="worker processes")
    add_memory_limit(findlyap, what="per SOS solve and check")
    findlyap.add_argument("--out", default=None, help="output JSONL (default stdout)")
    findlyap.add_argument("--resume", action="store_true", help="skip lines already in --out")
    _add_neural_arguments(sub, parser.formatter_class)


class _FindlyapJob:
    """One line -> one findlyap record (a picklable callable for the worker pool)."""

    def __init__(self, args):
        self.args = args

    def __call__(self, item: tuple[int, str]) -> dict:
        from dataclasses import asdict

        from seq2math.lyapunov.batch import InputError, parse_problem
        from seq2math.lyapunov.check import as_polynomials
        from seq2math.lyapunov.methods.findlyap import findlyap
        from seq2math.symbolic.expr import from_poly, to_infix
        from seq2math.tokens.prefix import expression_tokens

        line, text = item
        try:
            system, _ = parse_problem(text, self.args.infix, self.args.file, line, need_target=False)
        except InputError as err:
            return {"line": line, "status": "input error", "reason": str(err), "error": True}
        polys = as_polynomials(system, system[0])
        if polys is None:
            return {"line": line, "status": "not polynomial", "reason": "findlyap needs a polynomial system",
                    "seconds": 0.0}
        result = findlyap(polys[0], self.args.max_degree, self.args.time_limit, self.args.check,
                          resolve_memory_limit(self.args.memory_limit, self.args.workers))
        record = {"line": line, "status": result.status, "seconds": round(result.seconds, 6),
                  "attempts": [asdict(a) | {"seconds": round(a.seconds, 6)} for a in result.attempts]}
        if result.V is not None:
            V = from_poly(result.V)
            record |= {"V": to_infix(V), "V_prefix": " ".join(expression_tokens(V)), "degree": result.degree,
                       "proof": result.verification.proof, "check": self.args.check}
        return record


def run(args) -> int:
    """Run the named baseline on every line of ``args.file``; records to ``--out`` (or stdout)."""

    from seq2math.config import ConfigError
    from seq2math.lyapunov.batch import print_summary, run_file, summary

    if args.baseline == "neural":
        return _run_neural(args)
    if args.baseline != "findlyap":
        raise ConfigError("name a baseline: findlyap, neural")
    if args.max_degree < 2 or args.max_degree % 2:
        raise ConfigError(f"--max-degree must be even and at least 2, got {args.max_degree}")
    hard_limit = None if args.time_limit is None else args.time_limit * 1.5 + 5    # the solver's own limit comes first

    def failed(line: int, error) -> dict:
        if error is None:
            return {"line": line, "status": "timeout", "seconds": hard_limit}
        return {"line": line, "status": "solver failure", "reason": error.message, "error": True}

    records = run_file(_FindlyapJob(args), args.file, args.out, args.resume, args.workers, hard_limit, failed,
                       "baseline")
    print_summary("findlyap", summary(records, key="status"), args.out)
    return 0


# ---------------------------------------------------------------- neural

NEURAL_DESCRIPTION = """Neural Lyapunov baseline (learner-verifier loop in the manner of Fossil 2 / ANLC / LyzNet).

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

#: options of NeuralOptions that have their own flags above the generic --field-name ones
_NEURAL_OWN_FLAGS = ("time_limit", "seed", "radius")


def _add_neural_arguments(subparsers, formatter_class) -> None:
    """The ``neural`` subcommand of ``seq2math baseline``: its own flags, then one flag per NeuralOptions field."""
    neural = subparsers.add_parser("neural", help="neural learner-verifier (region and global results apart)",
                                   description=NEURAL_DESCRIPTION, formatter_class=formatter_class)
    add_input_files(neural, dest="file", help="input file ([COUNT|]SYSTEM<TAB>V lines; V ignored)")
    neural.add_argument("--infix", action="store_true", help="lines hold infix systems")
    add_time_limit(neural, what="per system, training and verification together", default=30.0)
    neural.add_argument("--radius", type=float, default=10.0, help="outer radius R of the annulus (default 10)")
    neural.add_argument("--seed", type=int, default=0, help="seed of samples and initial weights (default 0)")
    neural.add_argument("--workers", type=int, default=1, help="worker processes")
    neural.add_argument("--out", default=None, help="output JSONL (default stdout)")
    neural.add_argument("--resume", action="store_true", help="skip lines already in --out")
    add_dataclass_arguments(neural, NeuralOptions, skip=_NEURAL_OWN_FLAGS)


def _region_status(found: bool | None) -> str:
    return {True: "proved", None: "numerical only", False: "not found"}[found]


def _global_status(found: bool | None) -> str:
    return {True: "proved", None: "undecided", False: "not proved"}[found]


class _NeuralJob:
    """One line -> one neural-baseline record (a picklable callable for the worker pool)."""

    def __init__(self, args):
        self.args = args
        self.options = dataclass_from_arguments(NeuralOptions, args, NeuralOptions(
            time_limit=args.time_limit, seed=args.seed, radius=args.radius))
        self.options.validate()

    def __call__(self, item: tuple[int, str]) -> dict:
        from seq2math.lyapunov.batch import InputError, parse_problem
        from seq2math.lyapunov.methods.neural.search import neural_lyapunov  # torch

        line, text = item
        try:
            system, _ = parse_problem(text, self.args.infix, self.args.file, line, need_target=False)
        except InputError as err:
            return {"line": line, "region_status": "input error", "global_status": "input error",
                    "reason": str(err), "error": True}
        result = neural_lyapunov(system, options=self.options)
        return {"line": line, "region_status": _region_status(result.found_region),
                "global_status": _global_status(result.found_global), **result.to_json()}


def _run_neural(args) -> int:
    import json
    import sys
    from pathlib import Path

    from seq2math.config import ConfigError
    from seq2math.lyapunov.batch import print_summary, run_file, summary

    try:
        job = _NeuralJob(args)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    hard_limit = args.time_limit * 1.5 + 10 if args.workers > 1 else None    # z3 and the SOS solver stop first

    def failed(line: int, error) -> dict:
        if error is None:
            return {"line": line, "region_status": "timeout", "global_status": "timeout", "seconds": hard_limit}
        return {"line": line, "region_status": "failure", "global_status": "failure", "reason": error.message,
                "error": True}

    records = run_file(job, args.file, args.out, args.resume, args.workers, hard_limit, failed, "baseline neural")
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
