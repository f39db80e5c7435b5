"""The figures of an experiment: accuracy of every configuration on every test set, and the
validation curves of the grid (``seq2math.evaluation.plots`` draws them; Agg backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

from seq2math.evaluation.plots import plot_curves

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from seq2math.experiments.base import ConfigResult  # noqa: E402
from seq2math.training.checkpoint import read_metrics, validations  # noqa: E402


def plot_accuracy(results: list[ConfigResult], out: Path) -> Path:
    """Grouped bars: top-1 accuracy at the primary metric, one group per configuration."""
    tests = sorted({name for r in results for name in r.tests})
    figure, axis = plt.subplots(figsize=(max(5.0, 1.2 * len(results) * max(len(tests), 1)), 4))
    width = 0.8 / max(len(tests), 1)
    for offset, test in enumerate(tests):
        xs, values = [], []
        for index, result in enumerate(results):
            report = result.tests.get(test)
            if report is not None:
                xs.append(index + offset * width)
                values.append(100 * report["top1"][report["primary_metric"]])
        axis.bar(xs, values, width, label=f"test: {test}")
    axis.set_xticks([i + 0.4 - width / 2 for i in range(len(results))])
    axis.set_xticklabels([r.name for r in results], rotation=30, ha="right", fontsize=8)
    axis.set_ylabel("top-1 accuracy at the primary metric (%)")
    axis.set_ylim(0, 100)
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3, axis="y")
    figure.tight_layout()
    figure.savefig(out, dpi=120)
    plt.close(figure)
    return out


def plot_experiment(results: list[ConfigResult], out: Path) -> list[Path]:
    """``accuracy.png`` and, when the runs logged validations, ``curves.png``."""
    paths = [plot_accuracy(results, out / "accuracy.png")]
    runs = {}
    for result in results:
        metrics = out / "runs" / result.name / "metrics.jsonl"
        if metrics.exists():
            runs[result.name] = validations(read_metrics(metrics))
    if any(runs.values()):
        paths.append(plot_curves(runs, out / "curves.png"))
    return paths
