"""From verdicts to numbers: per-example records, the summary report, its table and ``eval.json``.

An example is *solved* at a metric if any of its K hypotheses verifies (``any``) and
*top-1 solved* if the best-scored one does. A hypothesis that cannot be read counts as invalid;
a verdict score of None (e.g. a solver timeout) is *undecided*: neither solved nor failed, and
reported separately. An undecided top-1 whose reason says sampling found no counterexample
(``NUMERICAL_MARK``, non-polynomial systems) is also counted in its own *numerical-only* column:
evidence, never a proof (docs/verification.md). No torch here: reports can be rebuilt from ``<report>.examples.jsonl``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from seq2math.jobs.files import write_atomically
from seq2math.tasks.base import Task, Verdict

if TYPE_CHECKING:
    from seq2math.evaluation.decode import Hypothesis

#: failures (examples not solved at the primary metric) listed in a report
MAX_FAILURES = 10
#: the words of a check's reason when sampling found no counterexample and nothing was proved
NUMERICAL_MARK = "no counterexample found"


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
    numerical = top1.get(task.primary_metric) is None and NUMERICAL_MARK in best.reason
    return ({"numerical": True} if numerical else {}) | {"index": index, "size": task.size_key(source), "top1": dict(top1), "any": any_k,
            "valid": bool(best.valid), "invalid_hypotheses": sum(not v.valid for v in verdicts),
            "hypotheses": len(verdicts), "decoded": len(hypotheses), "first_verified": first_verified,
            "seconds": None if seconds is None else round(seconds, 6), "error": best.error,
            "reason": best.reason, "source": " ".join(source), "target": " ".join(target),
            "prediction": " ".join(hypotheses[0].tokens) if hypotheses else ""}


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
    numerical = ({"numerical_top1": _rate(records, lambda r: r.get("numerical", False))}
                 if any(r.get("numerical") for r in records) else {})
    return numerical | {
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
    if "numerical_top1" in report:
        lines.append(f"numerical only (no counterexample found, not proved; not counted above): "
                     f"{100 * report['numerical_top1']:.2f}% of top-1")
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


def report_to_json(report: dict[str, Any], path: Path) -> None:
    """Write ``report`` as indented JSON (``eval.json``); dataclass values become objects."""
    write_atomically(path, json.dumps(report, indent=2, default=lambda o: asdict(o)) + "\n")
