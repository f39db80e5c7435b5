"""The one decode -> verify -> metrics loop, shared by ``seq2math evaluate`` and validation in training.

``check_examples`` decodes examples in batches (``decode.decode_sources``), checks every
hypothesis with the task (``pool.Verifier``) and turns each example into a record
(``metrics.example_record``). Two drivers use it:

- ``evaluate_examples`` (the ``evaluate`` command): beam or greedy, worker processes, timings,
  and resumption: one JSON record per example is appended to ``<report>.examples.jsonl`` behind a
  header naming the checkpoint, data and decoding options; a rerun with the same header skips
  the examples already there.
- ``validate`` (the training loop): teacher-forced loss and token accuracy on the validation set,
  then the greedy decodings of its first ``verify_count`` examples through the same loop.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from seq2math.data.batching import MASKED_OBJECTIVES, Example, collate_masked_objective, collate_seq2seq, encode_example
from seq2math.evaluation.decode import decode_sources, model_max_len, output_limit
from seq2math.evaluation.masked import check_masked, one_length
from seq2math.evaluation.metrics import example_record, summarize
from seq2math.evaluation.pool import Verifier
from seq2math.jobs.files import write_atomically
from seq2math.jobs.progress import Progress
from seq2math.tasks.base import Task
from seq2math.tokens.vocab import Vocab


@dataclass
class EvalOptions:
    beam: int = 1
    batch_size: int = 64
    workers: int = 1
    max_len: int | None = None          # decoding cap; None = from the data (see output_limit)
    length_penalty: float = 1.0
    identity: dict[str, Any] = field(default_factory=dict)  # names checkpoint + data in the partial file


@dataclass
class Checked:
    """What ``check_examples`` returns: one record per example (``metrics.example_record``), in order."""

    records: list[dict[str, Any]]
    decode_seconds: float = 0.0   # wall time spent decoding, all batches
    verify_seconds: float = 0.0   # wall time spent verifying, all batches


def decoding_cap(model: torch.nn.Module, examples: list[Example], options: EvalOptions) -> int:
    """``options.max_len``, or twice the longest target plus slack within the model's positions."""
    return options.max_len or output_limit(examples, model_max_len(model))


# ---- the loop ------------------------------------------------------------------------------------
def check_examples(model: torch.nn.Module, task: Task, vocab: Vocab, examples: list[Example],
                   options: EvalOptions, max_len: int, device: torch.device | str = "cpu",
                   done: list[dict[str, Any]] | None = None,
                   on_batch: Callable[[list[dict[str, Any]]], None] | None = None,
                   progress: bool = False) -> Checked:
    """Decode and verify ``examples`` after the first ``len(done)`` (already checked: their records
    come first in the result), ``options.batch_size`` at a time; ``on_batch`` gets each batch's new
    records as soon as they exist. Leaves the model in eval mode (``validate`` restores the training mode)."""

    records = list(done or [])
    checked = Checked(records)
    model.eval()
    with Verifier(task, options.workers) as verifier, torch.no_grad(), \
            Progress(len(examples), f"evaluate {task.name}", "ex", disable=not progress,
                     initial=len(records)) as bar:
        for first in range(len(records), len(examples), options.batch_size):
            chunk = examples[first: first + options.batch_size]
            tick = time.time()
            hypotheses = decode_sources(model, vocab, [s for s, _ in chunk], options.beam, max_len, device,
                                        options.length_penalty)
            decoding = time.time() - tick
            checked.decode_seconds += decoding
            tick = time.time()
            verdicts = verifier.timed([(s, [h.tokens for h in hyps]) for (s, _), hyps in zip(chunk, hypotheses)])
            checked.verify_seconds += time.time() - tick
            new = [example_record(task, first + i, s, t, h, v, decoding / len(chunk) + seconds)
                   for i, ((s, t), h, (v, seconds)) in enumerate(zip(chunk, hypotheses, verdicts))]
            records.extend(new)
            if on_batch is not None:
                on_batch(new)
            bar.update(len(chunk))
    return checked


# ---- the evaluate command ------------------------------------------------------------------------
def _read_partial(path: Path, header: dict[str, Any]) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    try:
        if not lines or json.loads(lines[0]) != {"header": header}:
            return []
        return [json.loads(line) for line in lines[1:] if line.strip()]
    except json.JSONDecodeError:  # a line cut by an interruption: keep the complete records before it
        records = []
        for line in lines[1:]:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break
        return records


def evaluate_examples(model: torch.nn.Module, task: Task, vocab: Vocab, examples: list[Example],
                      options: EvalOptions, device: torch.device | str = "cpu",
                      partial_path: Path | None = None, progress: bool = True) -> dict[str, Any]:
    """Decode and verify ``examples``; returns the report of ``summarize`` plus timings."""

    max_len = decoding_cap(model, examples, options)
    header = {**options.identity, "beam": options.beam, "max_len": max_len, "count": len(examples),
              "length_penalty": options.length_penalty}
    done = _read_partial(partial_path, header) if partial_path else []
    append = None
    if partial_path is not None:
        # rewritten atomically (drops a cut last line; a kill during the rewrite keeps the old file)
        write_atomically(partial_path, "".join(json.dumps(r) + "\n" for r in [{"header": header}, *done]))

        def append(new: list[dict[str, Any]]) -> None:
            with open(partial_path, "a", encoding="utf-8") as handle:
                handle.writelines(json.dumps(r) + "\n" for r in new)

    started = time.time()
    checked = check_examples(model, task, vocab, examples, options, max_len, device, done=done, on_batch=append,
                             progress=progress)
    report = summarize(task, checked.records, options.beam)
    seconds = time.time() - started
    report.update(seconds=seconds, decode_seconds=checked.decode_seconds, verify_seconds=checked.verify_seconds,
                  seconds_per_example=seconds / max(len(examples), 1), max_len=max_len, **options.identity)
    return report


# ---- validation during training --------------------------------------------------------------------
def iterate_batches(items: list, size: int) -> Iterator[list]:
    for first in range(0, len(items), size):
        yield items[first: first + size]


def teacher_forcing_metrics(loss_module: torch.nn.Module, vocab: Vocab, examples: list[Example], batch_size: int,
                            device: torch.device, objective: str, autocast: Callable | None = None,
                            seed: int = 0) -> dict[str, float]:
    """Mean loss per counted token and token accuracy of ``loss_module`` (see training.loss) on
    ``examples``; masked-token batches draw their masks from ``seed``, the same at every call."""
    total_loss, correct, tokens = 0.0, 0, 0
    generator = torch.Generator().manual_seed(seed)
    for chunk in iterate_batches(examples, batch_size):
        pairs = [encode_example(vocab, s, t) for s, t in chunk]
        batch = collate_masked_objective(pairs, vocab, objective, 0.15, generator) \
            if objective in MASKED_OBJECTIVES else collate_seq2seq(pairs, vocab)
        batch = {k: v.to(device) for k, v in batch.items()}
        with autocast() if autocast else contextlib.nullcontext():
            loss, batch_correct, batch_tokens = loss_module(batch)
        total_loss += float(loss) * int(batch_tokens)
        correct, tokens = correct + int(batch_correct), tokens + int(batch_tokens)
    return {"loss": total_loss / max(tokens, 1), "token_accuracy": correct / max(tokens, 1)}


@torch.no_grad()
def validate(model: torch.nn.Module, loss_module: torch.nn.Module, task: Task, vocab: Vocab,
             examples: list[Example], batch_size: int, device: torch.device, objective: str,
             verify_count: int, autocast: Callable | None = None, seed: int = 0) -> dict[str, Any]:
    """Validation loss and token accuracy under teacher forcing; for generative models also the
    share of ``verify_count`` examples whose greedy decoding verifies at each metric, and for an
    encoder-only model trained on masked answers (``masked-target``) the share whose filled answer
    verifies (``evaluation.masked``; answers of one fixed length only)."""

    was_training = model.training
    model.eval()
    result: dict[str, Any] = {**teacher_forcing_metrics(loss_module, vocab, examples, batch_size, device,
                                                        objective, autocast, seed), "verified": None}
    subset, records = examples[:verify_count], None
    if objective not in MASKED_OBJECTIVES and subset:
        options = EvalOptions(beam=1, batch_size=batch_size)
        records = check_examples(model, task, vocab, subset, options, decoding_cap(model, subset, options),
                                 device).records
    elif objective == "masked-target" and subset and one_length(subset):
        records = check_masked(model, task, vocab, subset, batch_size, device)
    if records is not None:
        summary = summarize(task, records, beam=1)
        result["verified"] = summary["top1"][task.primary_metric]
        result["verified_by_metric"] = summary["top1"]
        result["invalid"] = summary["invalid_top1"]
    model.train(was_training)
    return result
