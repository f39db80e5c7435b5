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

Any of them can end with a *cooldown* ("warmup-stable-decay", Hägele et al. 2024, "Scaling
Laws and Compute-Optimal Training Beyond Fixed Training Durations"): over the last
``cooldown`` fraction of the training budget the rate is multiplied by a factor falling
linearly from 1 to 0. Annealing the rate this way removes most of the noise of the late
updates; on 5x5 transposition it turns a loss that still jumps at the end of a 10-minute run
into a settled one. The budget is ``max_steps`` or ``max_time`` (``budget_progress``).
"""

from __future__ import annotations

import math

SCHEDULES = ("inverse_sqrt", "cosine", "constant")


def budget_progress(step: int, max_steps: int | None = None, seconds: float | None = None,
                    max_time: float | None = None) -> float | None:
    """Fraction of the training budget spent before update ``step`` (0-based), or None if unbounded.

    With both bounds the one nearer its end counts. The step part depends only on the step
    counter, so a step-bounded run resumes onto exactly the same rates; the time part depends
    on the wall clock (``seconds`` spent in this session, as ``max_time`` is per session), so a
    time-bounded run cools down over the last part of each session's time.
    """
    fractions = []
    if max_steps:
        fractions.append(step / max_steps)
    if max_time and seconds is not None:
        fractions.append(seconds / max_time)
    return max(fractions) if fractions else None


def cooldown_factor(progress: float | None, cooldown: float) -> float:
    """1 until the last ``cooldown`` fraction of the budget, then linearly down to 0 at its end."""
    if not 0.0 <= cooldown <= 1.0:
        raise ValueError(f"cooldown is a fraction of the training budget in [0, 1], got {cooldown}")
    if cooldown == 0.0 or progress is None:
        return 1.0
    return min(1.0, max(0.0, (1.0 - progress) / cooldown))


def learning_rate(step: int, lr: float, warmup: int, schedule: str = "inverse_sqrt",
                  total_steps: int | None = None, min_lr: float = 0.0, cooldown: float = 0.0,
                  progress: float | None = None) -> float:
    """The learning rate for optimiser step ``step`` (0-based: the first update is step 0).

    ``progress`` (from ``budget_progress``) is the fraction of the budget already spent; with
    ``cooldown`` > 0 the rate is scaled by ``cooldown_factor(progress, cooldown)``.
    """
    return base_learning_rate(step, lr, warmup, schedule, total_steps, min_lr) * cooldown_factor(progress, cooldown)


def base_learning_rate(step: int, lr: float, warmup: int, schedule: str = "inverse_sqrt",
                       total_steps: int | None = None, min_lr: float = 0.0) -> float:
    """The schedule itself, before any cooldown."""
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
