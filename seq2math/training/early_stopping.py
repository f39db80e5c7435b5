"""Validation bookkeeping: which validation is the best so far, and when patience runs out.

A validation record (``evaluation.evaluate.validate``) is scored by ``train.early_stop_metric``,
larger is better: ``verified`` (the share of greedy decodings that verify at the primary
metric, ties broken by the loss), ``token_accuracy`` (ties broken by the loss) or ``loss``.
Encoder-only runs have no decoder to verify and fall back to token accuracy. ``best.safetensors``
holds the weights of the best validation; ``patience`` validations in a row without improvement
stop the run (0: never). The counters travel in ``train_state.pt`` so that ``--resume`` continues them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class EarlyStopping:
    metric: str                            # train.early_stop_metric: verified, token_accuracy or loss
    patience: int                          # validations without improvement before stopping; 0 = never
    best: tuple[float, ...] | None = None  # score of the best validation so far
    best_step: int = -1                    # its step (-1: none yet)
    bad_evals: int = 0                     # validations since the best one
    last_valid_step: int = -1              # step of the latest validation
    stopped: bool = False                  # patience ran out (not saved: a resumed run starts afresh)

    def score(self, record: dict[str, Any]) -> tuple[float, ...]:
        """Larger is better; ties on accuracy are broken by the validation loss."""
        metric = self.metric
        if metric == "verified" and record.get("verified") is None:
            metric = "token_accuracy"  # encoder-only runs have no decoder to verify
        if metric == "loss":
            return (-record["loss"],)
        return (record["verified"] if metric == "verified" else record["token_accuracy"], -record["loss"])

    def update(self, record: dict[str, Any], step: int) -> bool:
        """Account for the validation ``record`` made at ``step``; True when it is the best so far."""
        score = self.score(record)
        improved = self.best is None or score > self.best
        if improved:
            self.best, self.best_step = score, step
        self.bad_evals = 0 if improved else self.bad_evals + 1
        self.stopped = self.patience > 0 and self.bad_evals >= self.patience
        self.last_valid_step = step
        return improved

    def restore(self, state: dict[str, Any]) -> None:
        """Take the counters back from a ``train_state.pt`` dictionary."""
        self.bad_evals = state["bad_evals"]
        self.best = tuple(state["best"]) if state["best"] is not None else None
        self.best_step, self.last_valid_step = state["best_step"], state["last_valid_step"]
