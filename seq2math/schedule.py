"""Learning-rate schedules as pure functions of the step.

The training loop sets ``param_group["lr"] = learning_rate(step, ...)`` before every
optimiser step instead of using a stateful ``torch.optim.lr_scheduler``: the schedule is
then fully determined by the step counter saved in the checkpoint, which makes resumed
runs follow exactly the same curve.

- ``inverse_sqrt`` (Vaswani et al. 2017, used by the Lyapunov paper with 10,000 warm-up
  steps): linear warm-up to ``lr`` over ``warmup`` steps, then ``lr * sqrt(warmup / step)``.
- ``cosine`` (Loshchilov & Hutter 2017, without restarts): linear warm-up, then a half
  cosine from ``lr`` down to ``min_lr`` at ``total_steps``.
- ``constant``: linear warm-up, then ``lr``.
"""

from __future__ import annotations

import math

SCHEDULES = ("inverse_sqrt", "cosine", "constant")


def learning_rate(step: int, lr: float, warmup: int, schedule: str = "inverse_sqrt",
                  total_steps: int | None = None, min_lr: float = 0.0) -> float:
    """The learning rate for optimiser step ``step`` (0-based: the first update is step 0)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
    if step < 0:
        raise ValueError(f"step must be non-negative, got {step}")
    n = step + 1  # number of the update being made, so the first update is never at lr = 0
    if warmup > 0 and n <= warmup:
        return lr * n / warmup
    if schedule == "constant":
        return lr
    if schedule == "inverse_sqrt":
        return lr * math.sqrt(max(warmup, 1) / n)
    if not total_steps or total_steps <= warmup:
        raise ValueError("the cosine schedule needs total_steps (train.max_steps) larger than warmup")
    progress = min(1.0, (n - warmup) / (total_steps - warmup))
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + math.cos(math.pi * progress))
