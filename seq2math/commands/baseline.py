"""``seq2math baseline NAME FILE``: run a classical baseline on every system of a file."""

from __future__ import annotations

HELP = "run a baseline (findlyap: SOSTOOLS-style SOS search; neural: learner-verifier) on a file of systems"
DESCRIPTION = """Run a baseline on every system of a prefix-format file (targets ignored).

findlyap: V over all monomials of degree 2..d, d = 2, 4, ... <= --max-degree; nonnegative
eps_ik with sum_k eps_ik >= 0.1; V - sum eps x^2k SOS and -dV/dt SOS (docs/baselines.md).
Every V it finds is rounded and re-verified exactly; per line: status found / not found /
solver failure / timeout, the degrees tried and the time.

examples:
  seq2math baseline findlyap systems.txt --max-degree 6 --out findlyap.jsonl
  seq2math baseline findlyap systems.txt --check barrier --timeout 60 --workers 2

neural: a small network trained on an annulus with counterexamples in a loop (Fossil 2 /
ANLC / LyzNet style); region and global results reported apart. See
`seq2math baseline neural --help`.
"""


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="baseline", metavar="NAME")
    findlyap = sub.add_parser("findlyap", help="SOSTOOLS-style findlyap with exact re-verification",
                              description=DESCRIPTION, formatter_class=parser.formatter_class)
    findlyap.add_argument("file", help="input file ([COUNT|]SYSTEM<TAB>V lines; V ignored)")
    findlyap.add_argument("--infix", action="store_true", help="lines hold infix systems")
    findlyap.add_argument("--max-degree", type=int, default=6, help="largest (even) degree of V (default 6)")
    findlyap.add_argument("--check", choices=["lyapunov", "barrier"], default="lyapunov",
                          help="lyapunov: findlyap proper; barrier: V SOS only (FBarr-style)")
    findlyap.add_argument("--timeout", type=float, default=None, help="seconds per system (worker killed after)")
    findlyap.add_argument("--workers", type=int, default=1, help="worker processes")
    findlyap.add_argument("--out", default=None, help="output JSONL (default stdout)")
    findlyap.add_argument("--resume", action="store_true", help="skip lines already in --out")
    from seq2math.lyapunov.methods.neural.cli import (
        add_neural_parser,  # no torch at import time
    )

    add_neural_parser(sub, parser.formatter_class)


class _Job:
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
        result = findlyap(polys[0], self.args.max_degree, self.args.timeout, self.args.check)
        record = {"line": line, "status": result.status, "seconds": round(result.seconds, 6),
                  "attempts": [asdict(a) | {"seconds": round(a.seconds, 6)} for a in result.attempts]}
        if result.V is not None:
            V = from_poly(result.V)
            record |= {"V": to_infix(V), "V_prefix": " ".join(expression_tokens(V)), "degree": result.degree,
                       "proof": result.verification.proof, "check": self.args.check}
        return record


def run(args) -> int:
    import sys

    from seq2math.config import ConfigError
    from seq2math.jobs.workers import TIMED_OUT, JobError, run_jobs
    from seq2math.lyapunov.batch import ResultWriter, print_summary, read_lines, summary

    if args.baseline == "neural":
        from seq2math.lyapunov.methods.neural.cli import run_neural

        return run_neural(args)
    if args.baseline != "findlyap":
        raise ConfigError("name a baseline: findlyap, neural")
    if args.max_degree < 2 or args.max_degree % 2:
        raise ConfigError(f"--max-degree must be even and at least 2, got {args.max_degree}")
    writer = ResultWriter(args.out, args.resume)
    records = list(writer.previous)
    items = (item for item in read_lines(args.file) if item[0] not in writer.done)
    hard_limit = None if args.timeout is None else args.timeout * 1.5 + 5    # the solver's own limit comes first
    try:
        for (line, _), result in run_jobs(_Job(args), items, args.workers, hard_limit):
            if result is TIMED_OUT:
                result = {"line": line, "status": "timeout", "seconds": hard_limit}
            elif isinstance(result, JobError):
                result = {"line": line, "status": "solver failure", "reason": result.message, "error": True}
            if result.get("error"):
                print(f"seq2math baseline: line {line}: {result.get('reason')}", file=sys.stderr)
            writer.write(result)
            records.append(result)
    finally:
        writer.close()
    print_summary("findlyap", summary(records, key="status"), args.out)
    return 0
