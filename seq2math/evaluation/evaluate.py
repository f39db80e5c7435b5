"""Verification-based evaluation: decode, check every hypothesis with the task, aggregate.

An example is *solved* at a metric if any of its K hypotheses verifies (``any``) and
*top-1 solved* if the best-scored one does. A hypothesis that cannot be read, or that makes
the verifier raise, counts as invalid (never a crash); a verdict score of None (e.g. a
solver timeout) is *undecided*: neither solved nor failed, and reported separately.

Long evaluations are resumable: one JSON record per example is appended to
``<report>.examples.jsonl`` behind a header naming the checkpoint, data and decoding
options; a rerun with the same header skips the examples already there.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from seq2math.data.batching import (
    collate_masked,
    collate_seq2seq,
    encode_example,
    pad_batch,
)
from seq2math.jobs.progress import Progress
from seq2math.model.decoding import beam_search, greedy
from seq2math.sos.sdp import is_solver_panic
from seq2math.tasks.base import Task, Verdict
from seq2math.tokens.vocab import Vocab

Example = tuple[list[str], list[str]]
MAX_FAILURES = 10


# ---- decoding ----------------------------------------------------------------------------------
def output_limit(examples: list[Example], model_max_len: int) -> int:
    """Decoding length cap: twice the longest reference target plus slack, within the model's positions."""
    longest = max((len(t) for _, t in examples), default=0)
    return model_max_len if longest == 0 else min(model_max_len, 2 * longest + 16)


@dataclass
class Hypothesis:
    tokens: list[str]
    score: float | None = None


def decode_sources(model: torch.nn.Module, vocab: Vocab, sources: list[list[str]], beam: int, max_len: int,
                   device: torch.device | str, length_penalty: float = 1.0) -> list[list[Hypothesis]]:
    """Best-first hypotheses (``beam`` of them; one for greedy) for each source.

    A source longer than the model's positions allow cannot be decoded: it gets a single empty
    hypothesis, which every verifier scores as invalid, instead of ending the whole evaluation.
    """
    config = getattr(model, "config", None)
    capacity = source_capacity(config)
    fits = [i for i, s in enumerate(sources) if capacity is None or len(s) <= capacity]
    if len(fits) < len(sources):
        decoded = decode_sources(model, vocab, [sources[i] for i in fits], beam, max_len, device,
                                 length_penalty) if fits else []
        out: list[list[Hypothesis]] = [[Hypothesis([])] for _ in sources]
        for i, hypotheses in zip(fits, decoded):
            out[i] = hypotheses
        return out

    src = pad_batch([vocab.encode(s, strict=False) for s in sources], vocab.pad_id).to(device)  # [B, S]
    if getattr(config, "arch", None) == "decoder":  # source <sep> output share the positions
        max_len = min(max_len, config.max_len - src.size(1) - 1)
    if beam <= 1:
        return [[Hypothesis(vocab.decode(ids))] for ids in greedy(model, src, max_len)]
    found = beam_search(model, src, beam_size=beam, max_len=max_len, length_penalty=length_penalty, n_best=beam)
    return [[Hypothesis(vocab.decode(h.tokens), float(h.score)) for h in hyps] for hyps in found]


def source_capacity(config) -> int | None:
    """The longest source a model can read: its position table (less <sep> and one output token for
    decoder-only models); None when unbounded (RNN)."""
    arch = getattr(config, "arch", None)
    if arch == "seq2seq":
        return config.max_len
    if arch == "decoder":
        return config.max_len - 2
    return None


# ---- verification ------------------------------------------------------------------------------
def safe_verify(task: Task, source: list[str], hypothesis: list[str]) -> Verdict:
    """``task.verify``, with any exception turned into an invalid verdict naming it."""

    try:
        verdict = task.verify(source, hypothesis)
    except Exception as err:  # a malformed hypothesis must never stop an evaluation
        return Verdict.invalid(task.metrics, f"verifier raised {type(err).__name__}: {err}")
    except BaseException as err:
        if not is_solver_panic(err):
            raise
        return Verdict(valid=True, scores={m: None for m in task.metrics},
                       reason=f"undecided: the solver panicked ({err})")
    if not isinstance(verdict, Verdict):
        return Verdict.invalid(task.metrics, f"verifier returned {type(verdict).__name__}, not a Verdict")
    return verdict


_POOL_TASK: Task | None = None


def _init_pool(task: Task) -> None:
    global _POOL_TASK
    _POOL_TASK = task


def fully_verified(verdict: Verdict) -> bool:
    """True when the hypothesis passes every metric: later hypotheses cannot add anything."""
    return verdict.valid and all(score is True for score in verdict.scores.values())


def verify_ranked(task: Task, source: list[str], hypotheses: list[list[str]]) -> tuple[list[Verdict], float]:
    """Verdicts of the hypotheses in rank order, and the seconds spent.

    Identical hypotheses (beam search often ends several beams on the same tokens) are
    checked once; checking stops after the first hypothesis that passes every metric, since
    the any-of-K outcome is then settled. The list is therefore at most ``len(hypotheses)`` long.
    """
    started = time.perf_counter()
    seen: dict[tuple[str, ...], Verdict] = {}
    verdicts: list[Verdict] = []
    for hypothesis in hypotheses:
        key = tuple(hypothesis)
        if key not in seen:
            seen[key] = safe_verify(task, source, hypothesis)
        verdicts.append(seen[key])
        if fully_verified(verdicts[-1]):
            break
    return verdicts, time.perf_counter() - started


def _verify_many(job: tuple[list[str], list[list[str]]]) -> tuple[list[Verdict], float]:
    source, hypotheses = job
    assert _POOL_TASK is not None
    return verify_ranked(_POOL_TASK, source, hypotheses)


class Verifier:
    """Checks lists of hypotheses, in ``workers`` processes when > 1 (verification can be slow)."""

    def __init__(self, task: Task, workers: int = 1):
        self.task, self.workers, self._pool = task, workers, None
        if workers > 1:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"), initializer=_init_pool,
                                             initargs=(task,))

    def __call__(self, jobs: list[tuple[list[str], list[list[str]]]]) -> list[list[Verdict]]:
        """Per job (source, ranked hypotheses): the verdicts of ``verify_ranked``."""
        return [verdicts for verdicts, _ in self.timed(jobs)]

    def timed(self, jobs: list[tuple[list[str], list[list[str]]]]) -> list[tuple[list[Verdict], float]]:
        """Per job: the verdicts of ``verify_ranked`` and the seconds they took."""
        if self._pool is None:
            return [verify_ranked(self.task, s, hyps) for s, hyps in jobs]
        return list(self._pool.map(_verify_many, jobs))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()

    def __enter__(self) -> "Verifier":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def example_record(task: Task, index: int, source: list[str], target: list[str],
                   hypotheses: list[Hypothesis], verdicts: list[Verdict], seconds: float | None = None
                   ) -> dict[str, Any]:
    """Per-example outcome: top-1 and any-of-K per metric (True / False / None = undecided).

    ``verdicts`` may be shorter than ``hypotheses`` (``verify_ranked`` stops at the first
    hypothesis that passes every metric); ``hypotheses`` counts the checked ones, ``decoded``
    all of them.
    """
    top1 = verdicts[0].scores if verdicts else {m: False for m in task.metrics}
    any_k: dict[str, bool | None] = {}
    for metric in task.metrics:
        values = [v.scores.get(metric, False) for v in verdicts]
        any_k[metric] = True if True in values else (None if None in values else False)
    first_verified = next((i for i, v in enumerate(verdicts) if v.scores.get(task.primary_metric)), None)
    best = verdicts[0] if verdicts else Verdict.invalid(task.metrics, "no hypothesis")
    return {"index": index, "size": task.size_key(source), "top1": dict(top1), "any": any_k,
            "valid": bool(best.valid), "invalid_hypotheses": sum(not v.valid for v in verdicts),
            "hypotheses": len(verdicts), "decoded": len(hypotheses), "first_verified": first_verified,
            "seconds": None if seconds is None else round(seconds, 6), "error": best.error,
            "reason": best.reason, "source": " ".join(source), "target": " ".join(target),
            "prediction": " ".join(hypotheses[0].tokens) if hypotheses else ""}


# ---- aggregation --------------------------------------------------------------------------------
def _rate(records: list[dict], pick: Callable[[dict], bool]) -> float:
    return sum(1 for r in records if pick(r)) / len(records) if records else 0.0


def _mean_seconds(records: list[dict]) -> float | None:
    """Mean decoding + verification seconds per example (records written before timings: None)."""
    timed = [r["seconds"] for r in records if r.get("seconds") is not None]
    return sum(timed) / len(timed) if timed else None


def summarize(task: Task, records: list[dict[str, Any]], beam: int) -> dict[str, Any]:
    """Accuracy at every metric (top-1 and any-of-K), undecided and invalid rates, per-size table."""
    def block(rows: list[dict]) -> dict[str, Any]:
        return {
            "count": len(rows),
            "top1": {m: _rate(rows, lambda r, m=m: r["top1"].get(m) is True) for m in task.metrics},
            "any": {m: _rate(rows, lambda r, m=m: r["any"].get(m) is True) for m in task.metrics},
            "undecided": {m: _rate(rows, lambda r, m=m: r["any"].get(m) is None) for m in task.metrics},
            "invalid_top1": _rate(rows, lambda r: not r["valid"]),
            "mean_seconds": _mean_seconds(rows),
        }

    by_size: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        by_size[record["size"]].append(record)
    hypotheses = sum(r["hypotheses"] for r in records)
    failures = [r for r in records if r["any"].get(task.primary_metric) is not True][:MAX_FAILURES]
    return {
        "task": task.name, "beam": beam, "primary_metric": task.primary_metric, "metrics": list(task.metrics),
        **block(records),
        "invalid_top1": _rate(records, lambda r: not r["valid"]),
        "invalid_hypotheses": sum(r["invalid_hypotheses"] for r in records) / hypotheses if hypotheses else 0.0,
        "by_size": {size: block(rows) for size, rows in sorted(by_size.items())},
        "failures": [{k: r[k] for k in ("index", "size", "source", "target", "prediction", "reason", "error")}
                     for r in failures],
    }


def format_table(report: dict[str, Any]) -> str:
    """The report as aligned text: one row per metric, then rates and the per-size breakdown."""
    beam = report["beam"]
    lines = [f"{report['task']}: {report['count']} examples, beam {beam}",
             f"{'metric':>8} {'top-1':>8} {'any-of-' + str(beam):>10} {'undecided':>10}"]
    for m in report["metrics"]:
        lines.append(f"{m:>8} {100 * report['top1'][m]:7.2f}% {100 * report['any'][m]:9.2f}% "
                     f"{100 * report['undecided'][m]:9.2f}%")
    lines.append(f"invalid outputs: {100 * report['invalid_top1']:.2f}% of top-1, "
                 f"{100 * report['invalid_hypotheses']:.2f}% of all hypotheses")
    if len(report["by_size"]) > 1:
        primary = report["primary_metric"]
        lines.append(f"by size (at {primary}): any-of-{beam}, top-1, undecided, invalid top-1, seconds per example")
        for size, row in report["by_size"].items():
            seconds = "" if row.get("mean_seconds") is None else f" {row['mean_seconds']:8.3f}s"
            lines.append(f"  {size:>10}: {100 * row['any'][primary]:6.2f}% {100 * row['top1'][primary]:6.2f}% "
                         f"{100 * row['undecided'][primary]:6.2f}% {100 * row.get('invalid_top1', 0.0):6.2f}% "
                         f"of {row['count']}{seconds}")
    if "seconds" in report:
        lines.append(f"time: {report['seconds']:.1f}s ({1000 * report['seconds_per_example']:.1f} ms per example)")
    return "\n".join(lines)


# ---- the evaluation driver -----------------------------------------------------------------------
@dataclass
class EvalOptions:
    beam: int = 1
    batch_size: int = 64
    workers: int = 1
    max_len: int | None = None          # decoding cap; None = from the data (see output_limit)
    length_penalty: float = 1.0
    identity: dict[str, Any] = field(default_factory=dict)  # names checkpoint + data in the partial file


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

    model_max_len = getattr(getattr(model, "config", None), "max_len", 1024)
    max_len = options.max_len or output_limit(examples, model_max_len)
    header = {**options.identity, "beam": options.beam, "max_len": max_len, "count": len(examples),
              "length_penalty": options.length_penalty}
    records = _read_partial(partial_path, header) if partial_path else []
    if partial_path is not None:
        with open(partial_path, "w", encoding="utf-8") as handle:  # rewrite: drops a cut last line
            handle.write(json.dumps({"header": header}) + "\n")
            handle.writelines(json.dumps(r) + "\n" for r in records)
    started, decode_seconds, verify_seconds = time.time(), 0.0, 0.0
    model.eval()
    with Verifier(task, options.workers) as verifier, torch.no_grad(), \
            Progress(len(examples), f"evaluate {task.name}", "ex", disable=not progress,
                     initial=len(records)) as bar:
        for first in range(len(records), len(examples), options.batch_size):
            chunk = examples[first: first + options.batch_size]
            tick = time.time()
            hypotheses = decode_sources(model, vocab, [s for s, _ in chunk], options.beam, max_len, device,
                                        options.length_penalty)
            decode_each = (time.time() - tick) / len(chunk)
            decode_seconds += time.time() - tick
            tick = time.time()
            checked = verifier.timed([(s, [h.tokens for h in hyps]) for (s, _), hyps in zip(chunk, hypotheses)])
            verify_seconds += time.time() - tick
            new = [example_record(task, first + i, s, t, h, v, decode_each + seconds)
                   for i, ((s, t), h, (v, seconds)) in enumerate(zip(chunk, hypotheses, checked))]
            records.extend(new)
            if partial_path is not None:
                with open(partial_path, "a", encoding="utf-8") as handle:
                    handle.writelines(json.dumps(r) + "\n" for r in new)
            bar.update(len(chunk))
    report = summarize(task, records, options.beam)
    seconds = time.time() - started
    report.update(seconds=seconds, decode_seconds=decode_seconds, verify_seconds=verify_seconds,
                  seconds_per_example=seconds / max(len(examples), 1), max_len=max_len, **options.identity)
    return report


# ---- validation during training --------------------------------------------------------------------
def iterate_batches(items: list, size: int) -> Iterator[list]:
    for first in range(0, len(items), size):
        yield items[first: first + size]


@torch.no_grad()
def validate(model: torch.nn.Module, loss_module: torch.nn.Module, task: Task, vocab: Vocab,
             examples: list[Example], batch_size: int, device: torch.device, objective: str,
             verify_count: int, autocast: Callable = None, seed: int = 0) -> dict[str, Any]:
    """Validation loss and token accuracy under teacher forcing; for generative models also the
    share of ``verify_count`` examples whose greedy decoding verifies at each metric."""

    was_training = model.training
    model.eval()
    total_loss, correct, tokens = 0.0, 0, 0
    generator = torch.Generator().manual_seed(seed)  # the same masks at every validation
    for chunk in iterate_batches(examples, batch_size):
        pairs = [encode_example(vocab, s, t) for s, t in chunk]
        batch = collate_masked(pairs, vocab, 0.15, generator) if objective == "masked" \
            else collate_seq2seq(pairs, vocab)
        batch = {k: v.to(device) for k, v in batch.items()}
        with autocast() if autocast else contextlib.nullcontext():
            loss, batch_correct, batch_tokens = loss_module(batch)
        total_loss += float(loss) * int(batch_tokens)
        correct, tokens = correct + int(batch_correct), tokens + int(batch_tokens)
    result: dict[str, Any] = {"loss": total_loss / max(tokens, 1), "token_accuracy": correct / max(tokens, 1),
                              "verified": None}
    if objective != "masked" and verify_count > 0:
        subset = examples[:verify_count]
        records = []
        max_len = output_limit(subset, getattr(model.config, "max_len", 1024))
        for first, chunk in zip(range(0, len(subset), batch_size), iterate_batches(subset, batch_size)):
            hypotheses = decode_sources(model, vocab, [s for s, _ in chunk], 1, max_len, device)
            for i, ((s, t), hyps) in enumerate(zip(chunk, hypotheses)):
                verdicts, seconds = verify_ranked(task, s, [h.tokens for h in hyps])
                records.append(example_record(task, first + i, s, t, hyps, verdicts, seconds))
        summary = summarize(task, records, beam=1)
        result["verified"] = summary["top1"][task.primary_metric]
        result["verified_by_metric"] = summary["top1"]
        result["invalid"] = summary["invalid_top1"]
    model.train(was_training)
    return result


def report_to_json(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=2, default=lambda o: asdict(o)) + "\n")
