"""``seq2math verify FILE``: check every (system, V) pair of a file, one JSON record per line."""

from __future__ import annotations

from seq2math.commands.options import (
    add_input_files,
    add_memory_limit,
    add_shard,
    add_time_limit,
    resolve_memory_limit,
)

HELP = "verify Lyapunov / barrier candidates (exact SOS certificates, z3, falsification)"
DESCRIPTION = """Verify every (system, V) pair of a file.

Input lines: [COUNT|]SYSTEM<TAB>V in the prefix format, or with --infix
"x0' = -x0 + x1; x1' = -x0 - x1^3<TAB>x0^2 + x1^2". Output: one JSON object per line
{"line", "valid": true|false|null, "check", "reason", "proof", "seconds", ...} and a summary
on stderr (and OUT.summary.json). valid=true means every condition was proved exactly
(proof "sos-exact": rational Gram matrix + exact LDL^T; "z3": decision procedure) unless
--proof numerical; false comes with an exact rational counterexample; null = undecided.
Non-polynomial pairs get numerical falsification, then the prover chain (docs/verification.md).

examples:
  seq2math verify pairs.txt --out checked.jsonl --workers 2 --time-limit 30
  seq2math verify pairs.txt --check barrier --certificates certs/ --exact
  seq2math verify pairs.txt --shard 0/4 --out checked.0.jsonl   (then `seq2math data merge`)
"""


def add_arguments(parser) -> None:
    add_input_files(parser, dest="file", help="input file of (system, V) pairs")
    parser.add_argument("--infix", action="store_true", help="lines are SYSTEM<TAB>V in infix syntax")
    parser.add_argument("--check", choices=["lyapunov", "barrier"], default="lyapunov",
                        help="lyapunov (default): V(0)=0, V - eps*sum x^2k SOS, -dV/dt SOS; barrier: V SOS, -dV/dt SOS")
    parser.add_argument("--proof", choices=["exact", "numerical"], default="exact",
                        help="exact (default): true only with exact proofs; numerical: accept solver-tolerance SOS")
    parser.add_argument("--asymptotic", action="store_true",
                        help="also try -dV/dt - delta*sum x^2k SOS (global asymptotic stability flag)")
    add_time_limit(parser, what="per line, a hard limit (the check is killed)", old=("--timeout",))
    add_memory_limit(parser, what="per line")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--out", default=None, help="output JSONL file (default: stdout)")
    parser.add_argument("--resume", action="store_true", help="skip lines already in --out")
    add_shard(parser, what="problem lines of FILE (needs --out)")
    parser.add_argument("--certificates", metavar="DIR", default=None,
                        help="save one JSON certificate per proved line (basis, rational Gram matrices)")
    parser.add_argument("--exact", action="store_true",
                        help="re-prove every saved certificate from its JSON file (needs --certificates)")
    parser.add_argument("--no-z3", action="store_true", help="do not use z3 when the SOS route gives no exact proof")
    parser.add_argument("--seed", type=int, default=0, help="seed of the falsification sampling")


class _Job:
    """The per-line work, picklable state only (runs in worker processes)."""

    def __init__(self, args, path: str):
        self.infix, self.check, self.proof = args.infix, args.check, args.proof
        self.asymptotic, self.use_z3, self.seed = args.asymptotic, not args.no_z3, args.seed
        self.certificates, self.recheck, self.path = args.certificates, args.exact, path
        self.time_limit = args.time_limit
        self.memory_limit = resolve_memory_limit(args.memory_limit, args.workers)

    def __call__(self, item: tuple[int, str]) -> dict:
        from pathlib import Path

        from seq2math.api import verify
        from seq2math.lyapunov.batch import InputError, parse_problem
        from seq2math.lyapunov.check import as_polynomials
        from seq2math.sos import certificates as C

        line, text = item
        try:
            system, V = parse_problem(text, self.infix, self.path, line)
        except InputError as err:
            return {"line": line, "valid": None, "check": self.check, "reason": f"input error: {err}", "error": True}
        result = verify(system, V, self.check, time_limit=self.time_limit, proof=self.proof,
                        asymptotic=self.asymptotic, use_z3=self.use_z3, certificate=self.certificates is not None,
                        seed=self.seed + line, memory_limit=self.memory_limit)
        record = {"line": line} | result.to_json()
        if result.limit == "time":
            record["timeout"] = True                          # as when the worker was killed (old records)
        if result.valid and result.certificate is not None:
            polys = as_polynomials(system, V)
            document = C.certificate_document(polys[0], polys[1], self.check, result.certificate["conditions"])
            path = C.save(Path(self.certificates) / f"line-{line}.json", document)
            record["certificate"] = str(path)
            if self.recheck:
                ok, why = C.recheck(C.load(path))
                record["rechecked"] = ok
                if not ok:
                    record |= {"valid": None, "reason": f"certificate failed its exact re-check: {why}"}
        return record


def run(args) -> int:

    from seq2math.config import ConfigError
    from seq2math.lyapunov.batch import print_summary, run_file, start_shard, summary

    if args.exact and not args.certificates:
        raise ConfigError("--exact re-checks saved certificates: give --certificates DIR as well")
    if args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}")
    def failed(line: int, error) -> dict:
        if error is None:
            return {"line": line, "valid": None, "check": args.check, "reason": f"timeout after {args.time_limit} s",
                    "seconds": args.time_limit, "timeout": True}
        return {"line": line, "valid": None, "check": args.check, "reason": f"failure: {error.message}", "error": True}

    # the check kills itself at the limit (check_candidate's hard limit); the worker is killed only as a backstop
    backstop = None if args.time_limit is None else args.time_limit * 1.1 + 2
    shard = getattr(args, "shard", None)
    try:
        start_shard(args.out, shard, "verify", args.file, {
            "summary": "valid", "check": args.check, "proof": args.proof, "asymptotic": args.asymptotic,
            "infix": args.infix, "z3": not args.no_z3, "seed": args.seed, "time_limit": args.time_limit})
    except ValueError as err:
        raise ConfigError(str(err)) from None
    records = run_file(_Job(args, args.file), args.file, args.out, args.resume, args.workers, backstop, failed,
                       "verify", shard=shard)
    print_summary(f"verify ({args.check})", summary(records), args.out)
    return 0
