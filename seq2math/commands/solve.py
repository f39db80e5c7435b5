"""``seq2math solve "SYSTEM"`` or ``seq2math solve FILE``: find a Lyapunov function and prove it, or say what was tried."""

from __future__ import annotations

from pathlib import Path

from seq2math.commands.options import (
    add_input_files,
    add_memory_limit,
    add_model,
    add_old_flag,
    add_resolver,
    add_shard,
    add_time_limit,
    add_views,
    resolve_memory_limit,
)

HELP = "find a certified Lyapunov function for a system (methods: quadratic, model, guided, findlyap, sos, neural)"
DESCRIPTION = """Find V for a system and prove it exactly.

Each method proposes candidates; every candidate is verified (exact SOS certificate or z3);
the first valid one is printed in infix and prefix form with the check it passed and the
method that found it. By default the methods are quadratic -> model -> guided -> sos, each
within a share of --time-limit (quadratic settles a quadratic V of a small system in at most a
second, without loading a model; the trained model proposes; guided fits SOS coefficients on
its monomials; sos searches without it). Every method tried is listed with its time; "not found" is not a
proof of instability. A non-polynomial system (sin, cos, exp, ln, sqrt, ...) gets the nonpoly
method's simple candidates first, then the model's (the non-polynomial model lyapunov-nonpoly
when it is shipped), each proved by the prover chain (substitution + SOS, cvc5, or an interval
proof that names its region); guided and sos say why they do not apply.

examples:
  seq2math solve "x0' = -x0 + x1; x1' = -x0 - x1^3"
  seq2math solve "x0' = -x0*(2 + sin(x1)); x1' = -x1*exp(x0)"
  seq2math solve "x0' = -x0 + x0*x1; x1' = -x1" --json
  seq2math solve systems.txt --out solved.jsonl --time-limit 30
  seq2math solve "x0' = -2*x0 + x1; x1' = -x0 - x1^3" --methods sos   (SOS search only, no model)
  seq2math solve systems.txt --methods model,sos --model runs/lyapunov-tiny --beam 10
"""


def add_arguments(parser) -> None:
    add_input_files(parser, dest="system", required=False, metavar="SYSTEM_OR_FILE",
                    help="a system in infix form (\"x0' = -x0; x1' = -x1^3\"), or a file whose systems are all "
                         "solved (prefix format, targets ignored; infix with --infix)")
    add_old_flag(parser, "--file", "FILE", "file", metavar="FILE", once=True)
    add_resolver(parser, _file_or_system)
    parser.add_argument("--infix", action="store_true", help="with FILE: lines are infix systems")
    parser.add_argument("--methods", default=None, help="comma-separated methods, tried in order, each within a "
                        "share of --time-limit (default: quadratic,model,guided,sos: quadratic = a degree-2 SOS "
                        "search on small systems, without loading a model; the trained model proposes; guided = SOS "
                        "on the model's monomials; sos = SOS search without the model)")
    add_model(parser, what="model method", ensemble=True)
    parser.add_argument("--beam", type=int, default=50, help="model method: hypotheses decoded per system (default 50)")
    add_views(parser)
    parser.add_argument("--check", choices=["lyapunov", "barrier"], default="lyapunov", help="check to pass")
    parser.add_argument("--max-degree", type=int, default=6, help="sos method: largest degree of V (even)")
    add_time_limit(parser, what="per system", default=60.0)
    add_memory_limit(parser, what="per SOS search and check")
    parser.add_argument("--json", action="store_true", help="print a JSON object instead of text")
    parser.add_argument("--out", default=None, help="with FILE: output JSONL (default stdout)")
    parser.add_argument("--resume", action="store_true", help="with FILE: skip lines already in --out")
    parser.add_argument("--workers", type=int, default=1, help="with FILE: worker processes")
    add_shard(parser, what="systems of FILE (needs --out)")


def _is_file(text: str) -> bool:
    """Whether ``text`` names a file; a system too long to be a path (ENAMETOOLONG) is not one."""
    try:
        return Path(text).is_file()
    except OSError:
        return False


def _file_or_system(parser, args) -> None:
    """SYSTEM_OR_FILE names a file when such a file exists (an infix system is never a path);
    ``args.file`` is then that path and ``args.system`` None."""
    if not hasattr(args, "file"):
        args.file = None
    if args.system is not None and _is_file(args.system):
        if args.file is not None:
            parser.error(f"two inputs: FILE {args.system} and --file {args.file}")
        args.system, args.file = None, args.system
    elif args.system is not None and "=" not in args.system:
        parser.error(f"no file {args.system!r}, and not a system either (systems look like \"x0' = -x0\")")


def _solve(system, args):
    """``seq2math.solve`` with the command's options (bad options raise ConfigError)."""
    from seq2math.api import read_system, solve
    from seq2math.config import ConfigError
    from seq2math.lyapunov.batch import check_system

    try:
        if isinstance(system, str):                  # the SYSTEM argument: same checks as a file's lines
            system = read_system(system)
            try:
                check_system(system)
            except ValueError as err:
                raise ConfigError(f"input error: {err}") from None
        return solve(system, methods=args.methods, check=args.check, time_limit=args.time_limit, model=args.model,
                     beam=args.beam, max_degree=args.max_degree, views=args.views,
                     memory_limit=resolve_memory_limit(args.memory_limit, getattr(args, "workers", 1)))
    except ConfigError:
        raise
    except ValueError as err:            # an unreadable system, a missing model
        raise ConfigError(str(err)) from None


class _FileJob:
    def __init__(self, args):
        self.args = args

    def __call__(self, item: tuple[int, str]) -> dict:
        from seq2math.lyapunov.batch import InputError, parse_problem

        line, text = item
        try:
            system, _ = parse_problem(text, self.args.infix, self.args.file, line, need_target=False)
        except InputError as err:
            return {"line": line, "found": None, "reason": f"input error: {err}", "error": True}
        return {"line": line} | _solve(system, self.args).to_json()


def _print_text(record: dict) -> None:
    print(f"system: {record['system']}")
    if record["found"]:
        print(f"V = {record['V']}")
        print(f"prefix: {record['V_prefix']}")
        print(f"check: {record['check']} passed (proof: {record['proof']}); found by method {record['method']} "
              f"in {record['seconds']:.3f} s")
    else:
        print("not found")
    for t in record["tried"]:                  # every method, in order, with its time (and why it failed)
        found = record["found"] and t is record["tried"][-1]
        print(f"  {t['method']}: {t['candidates']} candidate(s) in {t['seconds']:.3f} s"
              + ("; found V" if found else f"; {t['last_reason']}" if t["last_reason"] else ""))
        if not record["found"] and t.get("region"):  # no global proof, but one on a stated region
            region = t["region"]
            print(f"    on a region only: V = {region['V']} is proved on {region['region']} (proof: {region['proof']}); "
                  f"this is not a global Lyapunov function")


#: added to the hard limit per line of a FILE when a method loads a model (the first line of a worker loads it)
MODEL_LOAD_SECONDS = 60.0


def run(args) -> int:
    import json

    from seq2math.api import make_methods
    from seq2math.config import ConfigError

    if (args.system is None) == (args.file is None):
        raise ConfigError("give a SYSTEM (infix text, e.g. \"x0' = -x0\") or a FILE of systems")
    if args.file is None:
        record = _solve(args.system, args).to_json()
        print(json.dumps(record)) if args.json else _print_text(record)
        return 0 if record["found"] else 1
    from seq2math.lyapunov.batch import print_summary, run_file, start_shard, summary
    from seq2math.lyapunov.methods.base import MethodOptions
    from seq2math.lyapunov.methods.solve import DEFAULT_METHODS

    try:                                              # fail early on unknown names or a missing model
        if args.methods is not None:
            make_methods(args.methods, MethodOptions(max_degree=args.max_degree, model=args.model, beam=args.beam,
                                                       views=args.views))
    except ValueError as err:
        raise ConfigError(str(err)) from None
    hard_limit = None if args.time_limit is None else args.time_limit * 1.5 + 5
    names = DEFAULT_METHODS if args.methods is None else [m.strip().partition(":")[0] for m in args.methods.split(",")]
    if hard_limit is not None and {"model", "guided"} & set(names):
        # a worker loads torch and the model once, on its first line; without this allowance a killed worker's
        # successor pays the load again on the next line, and on a busy CPU every line is killed in turn
        hard_limit += MODEL_LOAD_SECONDS

    def failed(line: int, error) -> dict:
        why = "timeout" if error is None else f"failure: {error.message}"
        return {"line": line, "found": None, "reason": why, "error": error is not None}

    shard = getattr(args, "shard", None)
    try:
        start_shard(args.out, shard, "solve", args.file, {
            "summary": "found", "methods": args.methods, "check": args.check, "infix": args.infix,
            "model": args.model, "beam": args.beam, "views": args.views, "max_degree": args.max_degree, "time_limit": args.time_limit})
    except ValueError as err:
        raise ConfigError(str(err)) from None
    records = run_file(_FileJob(args), args.file, args.out, args.resume, args.workers, hard_limit, failed, "solve",
                       shard=shard)
    print_summary(f"solve ({args.check})", summary(records, key="found"), args.out)
    return 0
