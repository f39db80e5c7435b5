"""Run configuration: ``TrainConfig`` (the training hyper-parameters), ``RunConfig`` (task +
model + train, saved as ``config.json`` in every run directory) and the training presets.

Kept apart from the loop so that checkpoints, exports and commands read a run's configuration
without importing the training machinery.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from seq2math.model.config import ModelConfig

#: the trained checkpoints shipped inside the package (seq2math/checkpoints)
PACKAGE_CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
#: the model that ``--model`` (predict, evaluate, plot) and ``load_model`` use when none is named
DEFAULT_MODEL = PACKAGE_CHECKPOINTS / "lyapunov-tiny"
#: the models that the ``model`` and ``guided`` methods of ``solve``, ``report`` and the API use when none is
#: named, those of them that exist, in this order (``model`` proposes each one's whole beam in turn, ``guided`` takes them
#: by rank; docs/api.md): the small-system model, the mixture model trained on the paper's distributions, then
#: its branch fine-tuned on long answers (V of at least 30 tokens; the three: 158 of our 200 bpoly test systems
#: against 145 for the first two, docs/results.md, session 27)
SHIPPED_MODELS = (DEFAULT_MODEL, PACKAGE_CHECKPOINTS / "lyapunov-mixture",
                  PACKAGE_CHECKPOINTS / "lyapunov-mixture-long")
#: the model that the ``model`` method uses for a non-polynomial system when none is named and it exists
#: (trained on the non-polynomial backward generator, docs/training.md); otherwise ``SHIPPED_MODELS`` propose
NONPOLY_MODEL = PACKAGE_CHECKPOINTS / "lyapunov-nonpoly"

Objective = Literal["auto", "seq2seq", "masked", "masked-target"]


@dataclass
class TrainConfig:
    """Training hyper-parameters; every field is a ``train.<name>=`` override."""

    seed: int = 0
    batch_size: int = 64                      # per rank
    batch_tokens: int = 0                     # > 0: batches of at most this many padded tokens per rank,
                                              # length-bucketed (seq2math.data.buckets); batch_size unused
    lr: float = 5e-4
    schedule: Literal["inverse_sqrt", "cosine", "constant"] = "inverse_sqrt"
    warmup: int = 1000
    min_lr: float = 0.0                       # cosine floor
    cooldown: float = 0.0                     # last fraction of max_steps/max_time with lr -> 0 linearly
    beta1: float = 0.9
    beta2: float = 0.98
    weight_decay: float = 0.0                 # > 0 switches Adam to AdamW
    clip_norm: float = 1.0                    # 0 disables gradient clipping
    max_steps: int | None = None
    max_time: str | None = None               # per session (a resume gets its own): "90s", "10m", "2h"
    data: str | None = None                   # training file; None = generate on the fly
    task_options: dict[str, Any] = field(default_factory=dict)  # task options of the training stream only
    min_target_len: int = 0                   # generated training answers shorter than this (in the model's
                                              # tokens) are redrawn: weights the stream toward long answers;
                                              # validation and train.mix_data files keep every length
    mix_data: str | None = None               # a file mixed into the generated stream (the PolyMixture recipe); several: "a.txt:0.35,b.txt:0.03"
    mix_fraction: float = 0.0                 # share of training positions that take a mix_data example
    representation: str = "prefix"            # how the model sees tokens: prefix | monomial (lyapunov;
                                              # seq2math.tokens.representation); files stay prefix
    init: str | None = None                   # a run directory whose best weights start this run (same
                                              # model and vocabulary): a warm start, new optimizer and steps
    valid_data: str | None = None             # validation file; None = seeded validation stream
    valid_seed: int | None = None             # None = seed + 1
    valid_count: int = 500                    # examples for validation loss / token accuracy
    verify_count: int = 100                   # of those, decoded greedily and verified
    eval_every: int = 500                     # steps between validations (and checkpoints)
    log_every: int = 50
    early_stop_metric: Literal["verified", "loss", "token_accuracy"] = "verified"
    patience: int = 0                         # validations without improvement; 0 = never stop early
    objective: Objective = "auto"             # auto: masked for encoder-only, else seq2seq; masked-target:
                                              # encoder-only, only the answer masked (data.batching)
    mask_prob: float = 0.15
    workers: int = 0                          # data-loader processes
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    compile: bool = False                     # torch.compile the training step (model + loss); decoding
                                              # stays eager. Measured in docs/performance.md
    device: str = "auto"
    threads: int = 0                          # CPU threads; 0 = the cores not already busy (bitwise-exact
                                              # resumes need the same count: set it)
    tensorboard: bool = True                  # used only if tensorboard is installed


@dataclass
class RunConfig:
    """Everything that defines a run: ``task`` (name + options), ``model`` and ``train``."""

    task: dict[str, Any] = field(default_factory=dict)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


#: training defaults that go with the model presets of the same name
TRAIN_PRESETS: dict[str, dict[str, Any]] = {
    # measured on 5x5 transposition (P1000): the loss leaves its plateau after ~800 steps; the
    # cooldown over the last 20% of the budget settles it (see presets/transpose-tiny.yaml)
    # task_options of a preset apply to the tasks that have them: log-uniform entries in 5% of the
    # training stream's entries make the rare exponents common (5x5 transposition in 10 minutes:
    # 100.0% at 0.5% against 99.3% without, both on the idle 2-core CPU)
    "tiny": {"batch_size": 64, "lr": 3e-3, "warmup": 200, "eval_every": 250, "valid_count": 200,
             "verify_count": 100, "cooldown": 0.2, "task_options": {"log_fraction": 0.05}},
    "small": {"batch_size": 64, "lr": 5e-4, "warmup": 2000, "eval_every": 1000},
    "base": {"batch_size": 32, "lr": 2e-4, "warmup": 4000, "eval_every": 2000},
    "paper": {"batch_size": 16, "lr": 1e-4, "warmup": 10_000, "eval_every": 5000},
}


def parse_duration(text: str | None) -> float | None:
    """Seconds in ``"90"``, ``"90s"``, ``"10m"``, ``"1.5h"``, ``"1d"``."""
    if text is None or str(text).strip() == "":
        return None
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smhd]?)\s*", str(text))
    if not match:
        raise ValueError(f"cannot read duration {text!r}; write e.g. 90s, 10m or 2h")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
