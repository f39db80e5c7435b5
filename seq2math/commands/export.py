"""``seq2math export --model RUN --out DIR``: a small fp16 checkpoint (and back to a resumable run)."""

from __future__ import annotations

from seq2math.commands.options import add_model, add_old_model_positional, add_resolver

HELP = "export a run's weights as a small fp16 checkpoint (or turn one back into a resumable run)"
DESCRIPTION = """Export a trained run as model.safetensors (fp16 by default) + config.json + vocab.json.

The export loads like a run directory (--model DIR of evaluate, predict, solve, report) and is small
enough to commit; seq2math/checkpoints/lyapunov-tiny is the model that
`seq2math solve --methods model,sos` uses when --model is not given. --as-run does the
reverse: it writes a run directory from an exported checkpoint that `seq2math train --resume`
continues (same step and schedule; Adam's moment estimates start afresh).

examples:
  seq2math export --model runs/lyapunov-tiny --out seq2math/checkpoints/lyapunov-tiny
  seq2math export --model seq2math/checkpoints/lyapunov-tiny --as-run --out runs/lyapunov-tiny-2
  seq2math train --resume --out runs/lyapunov-tiny-2 --time-limit 2h
"""


def add_arguments(parser) -> None:
    add_old_model_positional(parser, "export")
    add_model(parser, shipped_default=False, what="the model to export (with --as-run: an exported checkpoint)")
    add_resolver(parser, _model_required)
    parser.add_argument("--out", required=True, help="directory to write")
    parser.add_argument("--checkpoint", choices=["best", "last"], default="best",
                        help="weights of the run to export (default: best validation)")
    parser.add_argument("--dtype", choices=["fp16", "bf16", "fp32"], default="fp16", help="stored precision")
    parser.add_argument("--max-mb", type=float, default=20.0, help="refuse exports larger than this (default 20)")
    parser.add_argument("--as-run", action="store_true",
                        help="write a resumable run directory from an exported checkpoint instead")


def _model_required(parser, args) -> None:
    if args.model is None:
        parser.error("name the model to export: --model RUN")


def run(args) -> int:
    import sys

    from seq2math.config import ConfigError
    from seq2math.training.export import export_checkpoint, run_from_export

    try:
        if args.as_run:
            summary = run_from_export(args.model, args.out)
            print(f"export: run directory {summary['out']} at step {summary['step']}; continue it with "
                  f"`seq2math train --resume --out {summary['out']}`", file=sys.stderr)
            return 0
        summary = export_checkpoint(args.model, args.out, args.checkpoint, args.dtype,
                                    max_bytes=int(args.max_mb * 2**20))
    except ValueError as err:
        raise ConfigError(str(err)) from None
    print(f"export: {summary['weights']} of step {summary['step']} -> {summary['out']} "
          f"({summary['dtype']}, {summary['bytes'] / 2**20:.1f} MiB)", file=sys.stderr)
    return 0
