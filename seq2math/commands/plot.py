"""``seq2math plot curves|attention|heads|table``: learning curves, attention maps, head patterns, accuracy tables."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from seq2math.commands.options import add_input_files, add_model, add_old_model_positional, add_resolver
from seq2math.config import ConfigError
from seq2math.training.config import DEFAULT_MODEL

HELP = "plot learning curves, attention maps, head patterns or accuracy tables"
DESCRIPTION = """Figures of runs and evaluations (PNG files; tables also as Markdown on stdout).

  curves    RUN_DIR...          loss, token accuracy, verified accuracy from metrics.jsonl
  attention --model RUN INPUT   attention weights of every layer and head for one input (teacher
                                forcing on the model's own greedy output); each panel is labelled
                                with its sharpness and its best positional pattern (previous, next,
                                offset d) with its lift over uniform attention (near 1: a positional head)
  heads     --model RUN [FILE]  which pattern every head follows, averaged over test examples (FILE,
                                or --count N generated with --seed S): positional, parent/sibling/child
                                in prefix expressions, same row/column/transposed in matrices
                                (docs/heads.md); a Markdown table on stdout, the top heads' maps in --out
  table     EVAL_JSON...        accuracy at every metric as a Markdown table (and bars with --out)

examples:
  seq2math plot curves runs/t --out runs/t/curves.png
  seq2math plot attention --model runs/t "[[1, 2], [3, 4]]" --kind cross --out runs/t/cross.png
  seq2math plot heads --model runs/t --count 32 --out runs/t/heads.png
  seq2math plot table runs/t/eval.json --out runs/t/accuracy.png
"""


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="figure", metavar="FIGURE")
    curves = sub.add_parser("curves", help="learning curves from metrics.jsonl")
    add_input_files(curves, dest="runs", many=True, metavar="RUN_DIR", help="run directories (or metrics.jsonl files)")
    curves.add_argument("--out", required=True, help="PNG file")
    curves.add_argument("--x", choices=["step", "cpu-hours"], default="step",
                        help="x axis: optimiser steps, or CPU-hours of training (learning per CPU-hour)")
    attention = sub.add_parser("attention", help="attention maps for one input")
    add_old_model_positional(attention, "plot attention")
    attention.add_argument("input", metavar="INPUT", help="problem in human form (or tokens with --tokens)")
    add_model(attention, what="the model whose attention is drawn")
    attention.add_argument("--tokens", action="store_true", help="INPUT is a token sequence")
    attention.add_argument("--kind", choices=["cross", "encoder_self", "decoder_self"], default="cross",
                           help="which attention to draw (default: cross, the encoder-decoder attention)")
    attention.add_argument("--out", required=True, help="PNG file")
    attention.add_argument("--device", default="cpu")
    heads = sub.add_parser("heads", help="which pattern every attention head follows")
    add_input_files(heads, required=False, help="test file (default: --count examples generated with --seed); "
                                                "a run directory here stands for --model")
    add_model(heads, what="the model whose heads are analysed", fill_default=False)
    heads.add_argument("--count", type=int, default=16, help="generated examples when no FILE (default 16)")
    heads.add_argument("--seed", type=int, default=0, help="seed of the generated examples (default 0)")
    heads.add_argument("--limit", type=int, help="use only the first N examples of FILE")
    heads.add_argument("--top", type=int, default=6, help="heads whose maps are drawn (default 6)")
    heads.add_argument("--out", required=True, help="PNG file of the top heads' maps (on the first example)")
    heads.add_argument("--device", default="cpu")
    add_resolver(heads, _run_or_file)
    table = sub.add_parser("table", help="accuracy table from eval.json files")
    add_input_files(table, dest="reports", many=True, metavar="EVAL_JSON", help="eval.json files of `seq2math evaluate`")
    table.add_argument("--out", help="also draw the table as bars into this PNG")


def _curves(args) -> int:
    from seq2math.evaluation.plots import plot_curves
    from seq2math.training.checkpoint import read_metrics

    runs = {}
    for run in args.runs:
        path = Path(run)
        runs[path.name if path.is_dir() else path.parent.name] = read_metrics(path)
    print(plot_curves(runs, args.out, args.x))
    return 0


def _attention(args) -> int:
    from seq2math.evaluation.decode import decode_sources
    from seq2math.evaluation.heads import example_attention
    from seq2math.evaluation.plots import plot_attention
    from seq2math.training.checkpoint import load_run

    loaded = load_run(args.model, args.device)
    task, vocab, arch = loaded.task, loaded.vocab, loaded.config.model.arch
    try:
        source = args.input.split() if args.tokens else task.from_human(args.input)
    except (ValueError, NotImplementedError) as err:
        raise ConfigError(f"cannot read INPUT for task {task.name}: {err}") from None
    target = []
    if arch != "encoder":  # teacher forcing on the model's own greedy output
        output = decode_sources(loaded.model, vocab, [source], 1, loaded.config.model.max_len // 2, args.device)
        target = output[0][0].tokens
    samples = {s.kind: s for s in example_attention(loaded.model, vocab, arch, source, target)}
    if args.kind not in samples:
        raise ConfigError(f"a {arch} model has no {args.kind} attention")
    sample = samples[args.kind]
    print(plot_attention(sample.layers, list(sample.queries.tokens), list(sample.keys.tokens), args.out,
                         title=f"{task.name}: {args.kind} attention", causal=sample.causal))
    return 0


def _run_or_file(parser, args) -> None:
    """``plot heads RUN`` (a directory, no --model) names the model; the shipped model is the default."""
    if args.file is not None and Path(args.file).is_dir() and args.model is None:
        args.model, args.file = args.file, None
    if args.model is None:
        args.model = str(DEFAULT_MODEL)
    for name in ("count", "top"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")


def _heads(args) -> int:
    from seq2math.commands.evaluate import load_examples
    from seq2math.evaluation.head_patterns import structure_function
    from seq2math.evaluation.heads import HeadAnalysis, example_attention, format_head_table
    from seq2math.evaluation.plots import plot_head_maps
    from seq2math.training.checkpoint import load_run

    loaded = load_run(args.model, args.device)
    args.on_error = "raise"
    examples, _origin = load_examples(loaded.task, args)
    structure = structure_function(loaded.task)
    analysis, first = HeadAnalysis(), None
    for source, target in examples:
        samples = example_attention(loaded.model, loaded.vocab, loaded.config.model.arch, source, target, structure)
        first = first or {s.kind: s for s in samples}
        for sample in samples:
            analysis.add(sample)
    reports = analysis.reports()
    print(f"{len(reports)} heads of {args.model} on {len(examples)} examples of {loaded.task.name}\n")
    print(format_head_table(reports))
    ranked = sorted((r for r in reports if r.best), key=lambda r: -r.best.lift)[:args.top]
    panels = [(r, first[r.kind].layers[r.layer][r.head], list(first[r.kind].queries.tokens),
               list(first[r.kind].keys.tokens)) for r in ranked]
    print(plot_head_maps(panels, args.out, title=f"{loaded.task.name}: top heads (first example)"), file=sys.stderr)
    return 0


def _table(args) -> int:
    from seq2math.evaluation.plots import accuracy_table, plot_accuracy

    reports = {}
    for path in args.reports:
        try:
            report = json.loads(Path(path).read_text())
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path}: not a JSON report ({err})") from None
        if "any" not in report or "metrics" not in report:
            raise ConfigError(f"{path}: not an eval.json written by `seq2math evaluate`")
        reports[str(path)] = report
    print(accuracy_table(reports))
    if args.out:
        print(plot_accuracy(reports, args.out), file=sys.stderr)
    return 0


def run(args) -> int:
    if args.figure is None:
        raise ConfigError("choose a figure: curves, attention, heads or table (see `seq2math plot --help`)")
    return {"curves": _curves, "attention": _attention, "heads": _heads, "table": _table}[args.figure](args)
