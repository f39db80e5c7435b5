"""``seq2math evaluate --model RUN FILE``: decode a test set, verify every hypothesis, write eval.json."""

from __future__ import annotations

import sys
from pathlib import Path

from seq2math.commands.options import (
    add_input_files,
    add_model,
    add_old_flag,
    add_resolver,
    add_resume,
    note_old_spelling,
)
from seq2math.config import ConfigError
from seq2math.training.config import DEFAULT_MODEL

HELP = "decode a test set with a trained run and verify every hypothesis (writes eval.json)"
DESCRIPTION = """Evaluate a run by verification, not string match.

Each example is decoded (greedy for --beam 1, beam search otherwise); every hypothesis is
checked by the task's verifier. Solved = any of the K hypotheses verifies; top-1 = the best
one does. Reported per metric of the task (e.g. 5%, 2%, 1%, 0.5% for linear algebra), with
undecided and invalid-output rates, a per-size breakdown and the first failures.
--count N --seed S evaluates the same examples as `seq2math generate ... --count N --seed S`.
Interrupted evaluations continue from <out>.examples.jsonl when rerun with the same options.

examples:
  seq2math evaluate --model runs/t --count 1000 --seed 7 --beam 1
  seq2math evaluate --model runs/t test.txt --beam 10 --workers 2 --out runs/t/eval-test.json
"""


def add_arguments(parser) -> None:
    add_input_files(parser, dest="path", required=False,
                    help="test file (the task's line format or JSONL); or --count N generated examples")
    add_old_flag(parser, "--data", "FILE", "file", metavar="FILE", once=True)
    parser.add_argument("--count", type=int, help="generate this many test examples (with --seed) instead of FILE")
    add_resolver(parser, _old_run_dir_or_file)  # before add_model fills in the default model
    add_model(parser, what="the model to evaluate")
    parser.add_argument("--seed", type=int, default=0, help="seed of generated test examples (default 0)")
    parser.add_argument("--beam", type=int, default=1, help="hypotheses per example (default 1: greedy)")
    parser.add_argument("--length-penalty", type=float, default=1.0, help="beam search length penalty")
    parser.add_argument("--batch-size", type=int, default=64, help="examples decoded at once (default 64)")
    parser.add_argument("--workers", type=int, default=1, help="verification processes (default 1)")
    parser.add_argument("--max-len", type=int, help="longest output (default: twice the longest reference)")
    parser.add_argument("--limit", type=int, help="use only the first N examples of FILE")
    parser.add_argument("--on-error", choices=["raise", "skip"], default="raise",
                        help="malformed lines of FILE: stop (default) or skip with a warning")
    parser.add_argument("--checkpoint", choices=["best", "last"], default="best",
                        help="weights to use (default: best validation)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    parser.add_argument("--out", help="report file (default RUN/eval.json; ./eval.json for the shipped checkpoint)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    add_resume(parser, what="examples already in OUT.examples.jsonl with the same settings are kept (always)")
    add_resolver(parser, _file_or_count)


def _old_run_dir_or_file(parser, args) -> None:
    """The positional is the test FILE, or, in the old spelling ``evaluate RUN_DIR`` (no --model), a
    run directory. ``args.file`` is the test file (or None), ``args.model`` the model (or None)."""
    path = vars(args).pop("path")
    if not hasattr(args, "file"):
        args.file = None
    if path is None:
        return
    if args.model is None and Path(path).is_dir():
        note_old_spelling(parser, "`seq2math evaluate RUN_DIR`", "`seq2math evaluate --model RUN_DIR`")
        args.model = path
        return
    if args.file is not None:
        parser.error(f"two test files: {path} and --data {args.file}")
    if not Path(path).exists():
        parser.error(f"no test file (or run directory) {path}")
    args.file = path


def _file_or_count(parser, args) -> None:
    if (args.file is None) == (args.count is None):
        parser.error("give the test examples: a FILE or --count N (not both)")


def default_report_path(model: str) -> Path:
    """RUN/eval.json, but never inside the package: the shipped checkpoint reports to ./eval.json."""
    return Path("eval.json") if Path(model).resolve() == DEFAULT_MODEL else Path(model) / "eval.json"


def load_examples(task, args) -> tuple[list, dict]:
    """The test examples and a description of where they come from (for the report header)."""
    if args.file:
        from seq2math.data.batching import read_example_file

        examples = read_example_file(task, args.file, limit=args.limit, on_error=args.on_error)
        return examples, {"data": str(Path(args.file).resolve()), "limit": args.limit}
    from seq2math.data.generation import generate_example

    if args.count < 1:
        raise ConfigError(f"--count must be positive, got {args.count}")
    examples = [generate_example(task, args.seed, i) for i in range(args.count)]
    return examples, {"generated": args.count, "seed": args.seed}


def evaluate_masked(loaded, examples: list, identity: dict, batch_size: int, device) -> dict:
    """The report of an encoder-only model: each masked answer filled (``evaluation.masked``),
    then verified like a decoded one."""
    import time

    from seq2math.evaluation.metrics import summarize
    from seq2math.evaluation.masked import check_masked, target_length

    try:
        target_length(examples)
    except ValueError as error:
        raise ConfigError(f"{identity['run']}: {error}") from None
    started = time.time()
    records = check_masked(loaded.model, loaded.task, loaded.vocab, examples, batch_size, device)
    report = summarize(loaded.task, records, beam=1)
    seconds = time.time() - started
    report.update(seconds=seconds, seconds_per_example=seconds / max(len(examples), 1), beam=1, filled=True,
                  **identity)
    return report


def run(args) -> int:
    from seq2math.evaluation.evaluate import EvalOptions, evaluate_examples
    from seq2math.evaluation.metrics import format_table, report_to_json
    from seq2math.model import GENERATIVE_ARCHITECTURES
    from seq2math.training.checkpoint import load_run
    from seq2math.training.runtime import limit_cpu_threads, resolve_device

    for name in ("beam", "batch_size", "workers"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    device = resolve_device(args.device)
    limit_cpu_threads(device)
    loaded = load_run(args.model, device, which=args.checkpoint)
    masked = loaded.config.model.arch not in GENERATIVE_ARCHITECTURES
    if masked and args.beam != 1:
        raise ConfigError(f"{args.model} holds an encoder-only model, which fills a masked answer instead of "
                          f"decoding one: it has no beam (got --beam {args.beam}; use --beam 1)")
    examples, origin = load_examples(loaded.task, args)
    for number, (source, _target) in enumerate(examples, 1):
        unknown = [t for t in source if t not in loaded.vocab]
        if unknown:
            raise ConfigError(f"example {number}: tokens the model never saw: {', '.join(unknown[:5])} "
                              "(data generated with other task options than the run?)")
    out = Path(args.out) if args.out else default_report_path(args.model)
    identity = {"run": str(Path(args.model).resolve()), "weights": loaded.weights.name, "step": loaded.step,
                **origin}
    if masked:
        report = evaluate_masked(loaded, examples, identity, args.batch_size, device)
        report_to_json(report, out)
        print(format_table(report))
        print(f"wrote {out}", file=sys.stderr)
        return 0
    options = EvalOptions(beam=args.beam, batch_size=args.batch_size, workers=args.workers, max_len=args.max_len,
                          length_penalty=args.length_penalty, identity=identity)
    partial = out.with_name(out.stem + ".examples.jsonl")
    report = evaluate_examples(loaded.model, loaded.task, loaded.vocab, examples, options, device,
                               partial_path=partial, progress=not args.quiet)
    report_to_json(report, out)
    print(format_table(report))
    print(f"wrote {out} (per-example records in {partial})", file=sys.stderr)
    return 0
