"""``seq2math plot curves|attention|table``: learning curves, attention maps, accuracy tables."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from seq2math.commands.options import add_input_files, add_model, add_old_model_positional
from seq2math.config import ConfigError
from seq2math.tokens.vocab import BOS, SEP

HELP = "plot learning curves, attention maps or accuracy tables"
DESCRIPTION = """Figures of runs and evaluations (PNG files; tables also as Markdown on stdout).

  curves    RUN_DIR...          loss, token accuracy, verified accuracy from metrics.jsonl
  attention --model RUN INPUT   attention weights of every layer and head for one input (teacher
                                forcing on the model's own greedy output); each panel is labelled
                                with its sharpness and the share of queries reading a fixed relative
                                offset (near 1: a positional head)
  table     EVAL_JSON...        accuracy at every metric as a Markdown table (and bars with --out)

examples:
  seq2math plot curves runs/t --out runs/t/curves.png
  seq2math plot attention --model runs/t "[[1, 2], [3, 4]]" --kind cross --out runs/t/cross.png
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
    import torch

    from seq2math.data.batching import pad_batch
    from seq2math.evaluation.decode import decode_sources
    from seq2math.evaluation.plots import plot_attention
    from seq2math.training.checkpoint import load_run

    loaded = load_run(args.model, args.device)
    task, vocab, arch = loaded.task, loaded.vocab, loaded.config.model.arch
    try:
        source = args.input.split() if args.tokens else task.from_human(args.input)
    except (ValueError, NotImplementedError) as err:
        raise ConfigError(f"cannot read INPUT for task {task.name}: {err}") from None
    src = pad_batch([vocab.encode(source, strict=False)], vocab.pad_id)  # [1, S]
    if arch == "encoder":
        maps, queries, keys = loaded.model.attention_maps(src), source, source
    else:
        output = decode_sources(loaded.model, vocab, [source], 1, loaded.config.model.max_len // 2, args.device)
        target = output[0][0].tokens
        tgt_in = torch.tensor([[vocab.bos_id, *vocab.encode(target)]])  # [1, T]
        maps = loaded.model.attention_maps(src, tgt_in)
        decoder_queries = [BOS, *target]
        packed = [*source, SEP, *decoder_queries]
        queries, keys = {"cross": (decoder_queries, source), "encoder_self": (source, source),
                         "decoder_self": (packed, packed) if arch == "decoder" else
                         (decoder_queries, decoder_queries)}[args.kind]
    layers = [weights[0] for weights in getattr(maps, args.kind)]  # each [H, Tq, Tk]
    if not layers:
        raise ConfigError(f"a {arch} model has no {args.kind} attention")
    print(plot_attention(layers, queries, keys, args.out, title=f"{task.name}: {args.kind} attention"))
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
        raise ConfigError("choose a figure: curves, attention or table (see `seq2math plot --help`)")
    return {"curves": _curves, "attention": _attention, "table": _table}[args.figure](args)
