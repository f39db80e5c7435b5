"""``seq2math solve "SYSTEM"``: find a Lyapunov function and prove it, or say what was tried."""

from __future__ import annotations

HELP = "find a certified Lyapunov function for a system (methods: model, findlyap, sos, neural)"
DESCRIPTION = """Find V for a polynomial system and prove it exactly.

Each method proposes candidates; every candidate is verified (exact SOS certificate or z3);
the first valid one is printed in infix and prefix form with the check it passed and the
method that found it. "not found" lists what was tried: it is not a proof of instability.

examples:
  seq2math solve "x0' = -x0 + x1; x1' = -x0 - x1^3"
  seq2math solve "x0' = -x0 + x0*x1; x1' = -x1" --json
  seq2math solve --file systems.txt --out solved.jsonl --time-limit 30
  seq2math solve "x0' = -2*x0 + x1; x1' = -x0 - x1^3" --methods model,sos   (committed model, sos fallback)
  seq2math solve --file systems.txt --methods model,sos --model runs/lyapunov-tiny --beam 10
"""


def add_arguments(parser) -> None:
    parser.add_argument("system", nargs="?", help="the system in infix form, e.g. \"x0' = -x0; x1' = -x1^3\"")
    parser.add_argument("--file", default=None, help="solve every system of a prefix-format file (targets ignored)")
    parser.add_argument("--infix", action="store_true", help="with --file: lines are infix systems")
    parser.add_argument("--methods", default="sos", help="comma-separated methods, tried in order (default: sos); "
                        "model,sos = the trained model proposes, sos is the fallback")
    parser.add_argument("--model", default=None, help="model method: run directory or exported checkpoint "
                        "(default: the committed seq2math/checkpoints/lyapunov-tiny)")
    parser.add_argument("--beam", type=int, default=50, help="model method: hypotheses decoded per system (default 50)")
    parser.add_argument("--check", choices=["lyapunov", "barrier"], default="lyapunov", help="check to pass")
    parser.add_argument("--max-degree", type=int, default=6, help="sos method: largest degree of V (even)")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per system (default 60)")
    parser.add_argument("--json", action="store_true", help="print a JSON object instead of text")
    parser.add_argument("--out", default=None, help="with --file: output JSONL (default stdout)")
    parser.add_argument("--resume", action="store_true", help="with --file: skip lines already in --out")
    parser.add_argument("--workers", type=int, default=1, help="with --file: worker processes")


def _solve(system, args):
    """``seq2math.solve`` with the command's options (bad options raise ConfigError)."""
    from seq2math.api import solve
    from seq2math.config import ConfigError

    try:
        return solve(system, methods=args.methods, check=args.check, time_limit=args.time_limit, model=args.model,
                     beam=args.beam, max_degree=args.max_degree)
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
        for t in record["tried"]:
            print(f"  tried {t['method']}: {t['candidates']} candidate(s) in {t['seconds']:.3f} s"
                  + (f"; last: {t['last_reason']}" if t["last_reason"] else ""))


def run(args) -> int:
    import json
    import sys

    from seq2math.api import make_methods
    from seq2math.config import ConfigError

    if (args.system is None) == (args.file is None):
        raise ConfigError("give either a system (infix text) or --file FILE")
    if args.file is None:
        record = _solve(args.system, args).to_json()
        print(json.dumps(record)) if args.json else _print_text(record)
        return 0 if record["found"] else 1
    from seq2math.jobs.workers import TIMED_OUT, JobError, run_jobs
    from seq2math.lyapunov.batch import ResultWriter, print_summary, read_lines, summary
    from seq2math.lyapunov.methods.base import MethodOptions

    try:                                              # fail early on unknown names or a missing model
        make_methods(args.methods, MethodOptions(max_degree=args.max_degree, model=args.model, beam=args.beam))
    except ValueError as err:
        raise ConfigError(str(err)) from None
    writer = ResultWriter(args.out, args.resume)
    records = list(writer.previous)
    items = (item for item in read_lines(args.file) if item[0] not in writer.done)
    hard_limit = None if args.time_limit is None else args.time_limit * 1.5 + 5
    try:
        for (line, _), result in run_jobs(_FileJob(args), items, args.workers, hard_limit):
            if result is TIMED_OUT or isinstance(result, JobError):
                why = "timeout" if result is TIMED_OUT else f"failure: {result.message}"
                result = {"line": line, "found": None, "reason": why, "error": result is not TIMED_OUT}
            if result.get("error"):
                print(f"seq2math solve: line {line}: {result['reason']}", file=sys.stderr)
            writer.write(result)
            records.append(result)
    finally:
        writer.close()
    print_summary(f"solve ({args.check})", summary(records, key="found"), args.out)
    return 0
