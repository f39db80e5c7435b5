"""``seq2math report``: the comparison table (methods x test sets) with re-checked certificates."""

from __future__ import annotations

from seq2math.commands.options import (
    add_input_files,
    add_memory_limit,
    add_model,
    add_resolver,
    add_resume,
    add_shard,
    add_time_limit,
    add_views,
    note_old_spelling,
    resolve_memory_limit,
)

HELP = "compare methods (model, guided, findlyap, sos, neural) on test files: the paper's Table 5 layout"
DESCRIPTION = """Run each method on each test file with the same verifier and time limit, and write
report.md + report.json: rows = test sets, columns = methods, the % (count) of systems with a
certified V under the lyapunov check and under the barrier check (docs/verification.md, docs/published.md).

Methods: model (the committed checkpoint, or the one named by --model RUN), guided (SOS on the
monomials of that model's hypotheses), findlyap, sos, neural (global results; its
region claims are counted apart). Every counted V has an exact certificate saved under
OUT/certificates/ and re-proved from that file. Interrupted reports continue where they stopped
(records.jsonl holds one record per method, file and line).

examples:
  seq2math report bpoly.txt flyap.txt --model runs/lyapunov-tiny --methods model,findlyap --time-limit 30 --out rep
  seq2math report bpoly.txt --methods model,findlyap,sos,neural --beam 10 --limit 20 --workers 2 --out rep2
"""


def add_arguments(parser) -> None:
    add_input_files(parser, dest="test", many=True, old=("--test",),
                    help="test files ([COUNT|]SYSTEM<TAB>V prefix lines; V ignored); one row each")
    parser.add_argument("--methods", default="model,findlyap",
                        help="comma-separated columns: model, guided, findlyap, sos, neural (default model,findlyap)")
    add_model(parser, what="model column", ensemble=True)
    add_resolver(parser, _model_column)
    add_time_limit(parser, what="per system and check", default=60.0)
    add_memory_limit(parser, what="per SOS search and check")
    parser.add_argument("--beam", type=int, default=50, help="model: hypotheses per system (default 50)")
    add_views(parser)
    parser.add_argument("--max-degree", type=int, default=6, help="findlyap/sos: largest degree of V (default 6)")
    parser.add_argument("--limit", type=int, help="only the first N systems of each file")
    parser.add_argument("--workers", type=int, default=1, help="checking processes (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the neural baseline")
    parser.add_argument("--out", default="report", help="output directory (default ./report)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    add_resume(parser, what="the (method, file, line) cells already in OUT/records.jsonl are kept (always)")
    add_shard(parser, what="systems of each test file")


def _model_column(parser, args) -> None:
    """``--model RUN`` becomes the ``model:RUN`` column of ``--methods``.

    ``model:RUN`` alone in ``--methods`` is the old spelling of ``--model RUN --methods model`` (a note);
    several model columns (``model:A,model:B``, ``guided:A``) are how models are compared side by side,
    and stay."""
    items = [item.strip() for item in args.methods.split(",")]
    named = [item for item in items if item.startswith("model:")]
    model_columns = [item for item in items if item.partition(":")[0] in ("model", "guided")]
    if named:
        if len(model_columns) == 1:
            note_old_spelling(parser, f"--methods {named[0]}", f"--model {named[0][len('model:'):]} --methods model")
        if args.model is not None:
            parser.error(f"the model is named twice: --model {args.model} and --methods {named[0]}")
    if args.model is None:
        return
    if not {"model", "guided"} & set(items):
        parser.error(f"--model {args.model} names the model of the model and guided columns: "
                     "add model or guided to --methods")
    args.methods = ",".join(f"{item}:{args.model}" if item in ("model", "guided") else item for item in items)


def run(args) -> int:
    from pathlib import Path

    from seq2math.config import ConfigError
    from seq2math.lyapunov.report import (
        ReportOptions,
        parse_methods,
        print_summary,
        run_report,
    )

    for name in ("beam", "workers", "views"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name} must be at least 1, got {getattr(args, name)}")
    if args.time_limit <= 0:
        raise ConfigError(f"--time-limit must be positive, got {args.time_limit}")
    try:
        specs = parse_methods(args.methods)
        options = ReportOptions(time_limit=args.time_limit, beam=args.beam, workers=args.workers, views=args.views,
                                max_degree=args.max_degree, limit=args.limit, seed=args.seed,
                                memory_limit=resolve_memory_limit(args.memory_limit, args.workers))
        report = run_report(args.test, specs, options, args.out, progress=not args.quiet,
                            shard=getattr(args, "shard", None))
    except ValueError as err:
        raise ConfigError(str(err)) from None
    print_summary(report, Path(args.out))
    return 0
