"""Figures and tables: learning curves, attention maps (all heads, or the top heads of an analysis), accuracy tables.

Matplotlib runs with the non-interactive Agg backend, so plots work on servers without a
display; every function writes a PNG and returns its path.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import matplotlib

from seq2math.evaluation.head_patterns import offset_name
from seq2math.evaluation.heads import HeadReport, as_array, head_profile

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

CURVE_PANELS = (("loss", "loss (log scale)"), ("token_accuracy", "token accuracy"),
                ("verified", "verified accuracy (greedy, primary metric)"))


#: the x axes of learning curves: steps, or CPU-hours (``cpu_time``; runs older than that field: wall time)
CURVE_AXES = {"step": "step", "cpu-hours": "CPU-hours"}


def _x(record: dict[str, Any], x: str) -> float:
    if x == "step":
        return record["step"]
    return float(record.get("cpu_time", record.get("time", 0.0))) / 3600


def _series(records: list[dict[str, Any]], kind: str, key: str, x: str = "step") -> tuple[list[float], list[float]]:
    points = [(_x(r, x), r[key]) for r in records if r.get("kind") == kind and r.get(key) is not None]
    return [p[0] for p in points], [float(p[1]) for p in points]


def plot_curves(runs: dict[str, list[dict[str, Any]]], out: str | Path, x: str = "step") -> Path:
    """Training and validation loss, token accuracy and verified accuracy against steps or CPU-hours."""
    if x not in CURVE_AXES:
        raise ValueError(f"the x axis of a learning curve is one of {', '.join(CURVE_AXES)}, got {x!r}")
    figure, axes = plt.subplots(1, len(CURVE_PANELS), figsize=(5 * len(CURVE_PANELS), 4), squeeze=False)
    plotted = 0
    for (key, title), axis in zip(CURVE_PANELS, axes[0]):
        for name, records in runs.items():
            label = f"{name} " if len(runs) > 1 else ""
            for kind, style in (("train", "-"), ("valid", "o-")):
                steps, values = _series(records, kind, key, x)
                if steps:
                    axis.plot(steps, values, style, markersize=3, label=f"{label}{kind}")
                    plotted += 1
        axis.set_title(title)
        axis.set_xlabel(CURVE_AXES[x])
        if key == "loss":
            axis.set_yscale("log")
        else:
            axis.set_ylim(-0.02, 1.02)
        if axis.lines:
            axis.legend(fontsize=8)
        axis.grid(alpha=0.3)
    if plotted == 0:
        plt.close(figure)
        raise ValueError("no train or valid records to plot (is metrics.jsonl empty?)")
    return _save(figure, out)


def _save(figure, out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(out, dpi=120)
    plt.close(figure)
    return out


def plot_attention(layers: Sequence, queries: list[str], keys: list[str], out: str | Path,
                   title: str = "", causal: bool = False) -> Path:
    """One heat map per (layer, head); ``layers`` holds [H, Tq, Tk] tensors (batch row removed).

    Each panel's title gives the head's sharpness and its best positional pattern with its lift
    (``seq2math.evaluation.heads.head_profile``; ``causal``: decoder self-attention).
    """
    if not layers:
        raise ValueError("no attention weights of this kind (try another --kind)")
    heads = layers[0].shape[0]
    figure, axes = plt.subplots(len(layers), heads, figsize=(2.6 * heads + 1, 2.6 * len(layers) + 0.6),
                                squeeze=False)
    labelled = max(len(queries), len(keys)) <= 40
    for layer, weights in enumerate(layers):
        if weights.shape[-2:] != (len(queries), len(keys)):
            raise ValueError(f"layer {layer}: weights of shape {tuple(weights.shape)} do not match "
                             f"{len(queries)} queries x {len(keys)} keys")
        for head in range(heads):
            axis = axes[layer][head]
            axis.imshow(weights[head].float().cpu().numpy(), vmin=0, vmax=1, cmap="viridis", aspect="auto")
            profile = head_profile(weights[head], causal)
            axis.set_title(f"L{layer} H{head} sharp {profile['sharpness']:.2f} "
                           f"{offset_name(profile['offset'])} {profile['positional']:.2f}", fontsize=7)
            _token_ticks(axis, queries, keys, labelled)
    if title:
        figure.suptitle(title, fontsize=9)
    return _save(figure, out)


def _token_ticks(axis, queries: list[str], keys: list[str], labelled: bool) -> None:
    """Tokens along the axes of an attention map (none when there are too many to read)."""
    if labelled:
        axis.set_xticks(range(len(keys)), keys, rotation=90, fontsize=5)
        axis.set_yticks(range(len(queries)), queries, fontsize=5)
    else:
        axis.set_xticks([])
        axis.set_yticks([])


def plot_head_maps(panels: Sequence[tuple[HeadReport, Any, list[str], list[str]]], out: str | Path,
                   title: str = "") -> Path:
    """The maps of chosen heads, one panel each: (report, [Tq, Tk] weights, query tokens, key tokens)."""
    if not panels:
        raise ValueError("no heads to draw")
    columns = min(len(panels), 4)
    rows = math.ceil(len(panels) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.4 * columns + 0.5, 3.4 * rows + 0.6), squeeze=False)
    for axis in axes.flat[len(panels):]:
        axis.axis("off")
    for axis, (report, weights, queries, keys) in zip(axes.flat, panels):
        axis.imshow(as_array(weights), vmin=0, vmax=1, cmap="viridis", aspect="auto")
        best = report.best
        label = f"{best.pattern} lift {best.lift:.2f}" if best else "no pattern"
        axis.set_title(f"{report.kind} L{report.layer} H{report.head}\n{label}", fontsize=7)
        _token_ticks(axis, queries, keys, max(len(queries), len(keys)) <= 40)
    if title:
        figure.suptitle(title, fontsize=9)
    return _save(figure, out)


def accuracy_table(reports: dict[str, dict[str, Any]]) -> str:
    """Markdown table: one row per report, any-of-K (and top-1 where it differs) per metric."""
    metrics: list[str] = []
    for report in reports.values():
        metrics += [m for m in report["metrics"] if m not in metrics]
    header = "| run | examples | beam | " + " | ".join(metrics) + " | invalid |"
    lines = [header, "|" + "---|" * (4 + len(metrics))]
    for name, r in reports.items():
        cells = []
        for m in metrics:
            if m not in r["any"]:
                cells.append("–")
                continue
            cell = f"{100 * r['any'][m]:.1f}"
            if r["beam"] > 1:
                cell += f" (top-1 {100 * r['top1'][m]:.1f})"
            cells.append(cell)
        lines.append(f"| {name} | {r['count']} | {r['beam']} | " + " | ".join(cells) +
                     f" | {100 * r['invalid_top1']:.1f} |")
    return "\n".join(lines)


def plot_accuracy(reports: dict[str, dict[str, Any]], out: str | Path) -> Path:
    """Grouped bars: accuracy (any-of-K) at every metric, one group per metric, one bar per report."""
    metrics: list[str] = []
    for report in reports.values():
        metrics += [m for m in report["metrics"] if m not in metrics]
    width = 0.8 / max(len(reports), 1)
    figure, axis = plt.subplots(figsize=(max(4.0, 1.4 * len(metrics) * math.sqrt(len(reports))), 3.5))
    for i, (name, report) in enumerate(reports.items()):
        values = [100 * report["any"].get(m, 0.0) for m in metrics]
        axis.bar([j + i * width for j in range(len(metrics))], values, width, label=f"{name} (beam {report['beam']})")
    axis.set_xticks([j + width * (len(reports) - 1) / 2 for j in range(len(metrics))], metrics)
    axis.set_ylabel("solved %")
    axis.set_ylim(0, 100)
    axis.legend(fontsize=8)
    return _save(figure, out)
