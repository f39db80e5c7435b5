"""``seq2math predict --model RUN INPUT``: decode one problem typed by a person and verify the answers."""

from __future__ import annotations

import json
import sys

from seq2math.commands.options import add_model, add_old_model_positional
from seq2math.config import ConfigError

HELP = "decode one input given in human form and show the verified hypotheses"
DESCRIPTION = """Decode one problem with beam search and check every hypothesis with the task's verifier.

INPUT is in the task's human form (a matrix as nested lists: "[[1, 2], [3, 4]]"; two operands
separated by ";"), or a token sequence with --tokens. Hypotheses are listed best first with
their beam score and the metrics at which they verify.

examples:
  seq2math predict --model runs/t "[[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [1, 1, 1, 1, 1], [2, 2, 2, 2, 2], [0, 1, 0, 1, 0]]"
  seq2math predict --model runs/t --tokens "V2 V2 + 100 E-2 + 200 E-2 - 300 E-2 + 400 E-2" --beam 3
  seq2math predict "x0' = -x0 + x1; x1' = -x0 - x1^3"       (the shipped Lyapunov checkpoint)
"""


def add_arguments(parser) -> None:
    add_old_model_positional(parser, "predict")
    parser.add_argument("input", metavar="INPUT", help="the problem, in human form (or tokens with --tokens)")
    add_model(parser, what="the model to decode with")
    parser.add_argument("--tokens", action="store_true", help="INPUT is a space-separated token sequence")
    parser.add_argument("--beam", type=int, default=5, help="hypotheses to decode (default 5)")
    parser.add_argument("--max-len", type=int, help="longest output (default: the model's limit)")
    parser.add_argument("--checkpoint", choices=["best", "last"], default="best")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def run(args) -> int:
    from seq2math.evaluation.decode import decode_sources
    from seq2math.evaluation.pool import safe_verify
    from seq2math.model import GENERATIVE_ARCHITECTURES
    from seq2math.training.checkpoint import load_run
    from seq2math.training.runtime import resolve_device

    if args.beam < 1:
        raise ConfigError(f"--beam must be at least 1, got {args.beam}")
    device = resolve_device(args.device)
    loaded = load_run(args.model, device, which=args.checkpoint)
    task, vocab = loaded.task, loaded.vocab
    if loaded.config.model.arch not in GENERATIVE_ARCHITECTURES:
        raise ConfigError(f"{args.model} holds an {loaded.config.model.arch}-only model; predict needs a generator")
    try:
        source = args.input.split() if args.tokens else task.from_human(args.input)
        task.check_source(source)
    except (ValueError, NotImplementedError) as err:
        raise ConfigError(f"cannot read INPUT for task {task.name}: {err}") from None
    unknown = [t for t in source if t not in vocab]
    if unknown:
        raise ConfigError(f"INPUT has tokens the model never saw: {', '.join(unknown[:5])}")
    max_len = args.max_len or loaded.config.model.max_len
    hypotheses = decode_sources(loaded.model, vocab, [source], args.beam, max_len, device)[0]
    results = []
    for rank, hypothesis in enumerate(hypotheses, 1):
        verdict = safe_verify(task, source, hypothesis.tokens)
        passed = [m for m in task.metrics if verdict.scores.get(m) is True]
        try:
            human = task.to_human(hypothesis.tokens) if verdict.valid else " ".join(hypothesis.tokens)
        except Exception:  # an unreadable hypothesis is shown as tokens
            human = " ".join(hypothesis.tokens)
        results.append({"rank": rank, "score": hypothesis.score, "valid": verdict.valid, "verified": passed,
                        "error": verdict.error, "reason": verdict.reason, "output": human,
                        "tokens": " ".join(hypothesis.tokens)})
    code = 0 if any(r["verified"] for r in results) else 1
    if args.json:
        print(json.dumps({"input": " ".join(source), "hypotheses": results}, indent=2))
        return code
    print(f"input: {task.to_human(source)}")
    for r in results:
        score = "" if r["score"] is None else f" score {r['score']:.4f}"
        status = (f"verified at {', '.join(r['verified'])}" if r["verified"]
                  else "INVALID" if not r["valid"] else "not verified")
        error = "" if r["error"] is None else f" (error {r['error']:.3g})"
        print(f"#{r['rank']}{score}: {status}{error}\n{r['output']}")
    if code:
        print("no hypothesis verifies", file=sys.stderr)
    return code
