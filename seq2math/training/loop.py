"""The training loop, written out: teacher forcing, Adam + warm-up schedule, clipping, AMP, DDP.

Objectives (chosen by the architecture unless ``train.objective`` says otherwise):

- ``seq2seq`` (encoder-decoder, decoder-only, RNN): cross-entropy of ``y <eos>`` given
  ``<bos> y`` under teacher forcing, ignoring padding. A decoder-only model packs
  ``x <sep> y`` itself and returns logits for the target part only, so the loss is on
  the target part.
- ``masked`` (encoder-only): BERT's masked-token pre-training on ``x <sep> y <eos>``
  (see ``seq2math.data.batching.collate_masked``). An encoder-only run is scored by masked-token
  loss and accuracy; it has no decoder, so it is not scored by verified decoding.

Learning rate: ``schedule`` (warm-up, then inverse square root, cosine or constant), times
an optional ``cooldown`` that takes it linearly to 0 over the last fraction of the budget
(see ``seq2math.training.schedule``). With ``max_steps`` alone the rate is a function of the step,
so ``--resume`` is exact. With ``max_time`` the cooldown follows the clock of the session
(``max_time`` is per session): an interrupted time-bounded run resumed with ``--resume``
starts from the full rate again and cools down at the end of its new session, and two runs
of the same time budget differ as their step rates do.

Stopping: ``max_steps``, ``max_time``, early stopping (``patience`` validations without
improvement of ``early_stop_metric``), or SIGINT/SIGTERM (the step finishes, a checkpoint
is written, ``--resume`` continues exactly). Multi-GPU: launched by ``torchrun``, every
rank trains on its own batches (``batch_size`` is per rank), rank 0 validates and writes.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from seq2math.config import command_line, save_config
from seq2math.data.batching import (
    FileSource,
    GeneratedSource,
    StepBatches,
    read_example_file,
    step_loader,
    validation_examples,
)
from seq2math.evaluation.evaluate import validate
from seq2math.jobs.progress import Progress
from seq2math.tasks.base import make_task
from seq2math.tokens.vocab import Vocab
from seq2math.training import checkpoint as ckpt
from seq2math.training.config import RunConfig, parse_duration
from seq2math.training.runtime import (
    StopSignals,
    autocast_dtype,
    limit_cpu_threads,
    start_runtime,
)
from seq2math.training.schedule import budget_progress, learning_rate


def resolve_objective(config: RunConfig) -> str:
    if config.train.objective != "auto":
        return config.train.objective
    return "masked" if config.model.arch == "encoder" else "seq2seq"


class LossModule(torch.nn.Module):
    """``batch -> (mean loss, correct tokens, counted tokens)``; DDP wraps this module so that
    the encoder-only ``mlm_logits`` path also goes through ``forward`` (and syncs gradients)."""

    def __init__(self, model: torch.nn.Module, objective: str, pad_id: int = 0):
        super().__init__()
        self.model, self.objective, self.pad_id = model, objective, pad_id

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.objective == "masked":
            logits, targets = self.model.mlm_logits(batch["src"]), batch["labels"]  # [B, S, V], [B, S]
        else:
            logits, targets = self.model(batch["src"], batch["tgt_in"]), batch["tgt_out"]  # [B, T, V], [B, T]
        if logits.shape[:2] != targets.shape:
            raise ValueError(f"model returned logits of shape {tuple(logits.shape)}; expected "
                             f"[{targets.shape[0]}, {targets.shape[1]}, vocab]")
        flat_logits = logits.reshape(-1, logits.shape[-1]).float()  # [B*T, V]
        flat_targets = targets.reshape(-1)  # [B*T]
        loss = F.cross_entropy(flat_logits, flat_targets, ignore_index=self.pad_id)
        counted = flat_targets != self.pad_id
        correct = ((flat_logits.argmax(-1) == flat_targets) & counted).sum()
        return loss, correct, counted.sum()


# ---- devices, precision, processes ---------------------------------------------------------
class Trainer:
    """One training run in directory ``out`` (fresh, or resumed from its last checkpoint)."""

    def __init__(self, config: RunConfig, out: str | Path, resume: bool = False, quiet: bool = False):

        self.config, self.out, self.quiet = config, Path(out), quiet
        t = config.train
        self.max_time = parse_duration(t.max_time)
        if not 0.0 <= t.cooldown <= 1.0:
            raise ValueError(f"train.cooldown is a fraction of the budget in [0, 1], got {t.cooldown}")
        self.lr, self.session_started = 0.0, time.time()
        self.runtime = start_runtime(t.device)
        limit_cpu_threads(self.runtime.device, t.threads, self.runtime.world_size)
        if self.runtime.device.type == "cpu" and not quiet and self.runtime.is_main:
            print(f"train: {torch.get_num_threads()} CPU thread(s)", file=sys.stderr)
        self.task = make_task(config.task["name"], {k: v for k, v in config.task.items() if k != "name"})
        self.vocab = Vocab(self.task.vocabulary())
        self.objective = resolve_objective(config)
        torch.manual_seed(t.seed)
        self.model = ckpt.build_model_for(config.model, len(self.vocab)).to(self.runtime.device)
        self.loss_module = LossModule(self.model, self.objective, self.vocab.pad_id)
        optimizer_class = torch.optim.AdamW if t.weight_decay > 0 else torch.optim.Adam
        self.optimizer = optimizer_class(self.model.parameters(), lr=t.lr, betas=(t.beta1, t.beta2),
                                         weight_decay=t.weight_decay)
        self.amp_dtype = autocast_dtype(t.precision, self.runtime.device)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        self.step, self.elapsed, self.best, self.best_step, self.bad_evals = 0, 0.0, None, -1, 0
        self.last_valid_step, self.consistent, self.early_stopped = -1, True, False
        if resume:
            self._restore()
        elif self.runtime.is_main:
            self._prepare_directory()
        self.wrapped: torch.nn.Module = self.loss_module
        if self.runtime.world_size > 1:
            from torch.nn.parallel import DistributedDataParallel

            device_ids = [self.runtime.device.index] if self.runtime.device.type == "cuda" else None
            # the encoder-only regression head is idle under the masked-token objective
            self.wrapped = DistributedDataParallel(self.loss_module, device_ids=device_ids,
                                                   find_unused_parameters=self.objective == "masked")
            if not resume:  # distinct dropout masks per rank
                torch.manual_seed(t.seed + 7919 * self.runtime.rank)
        limits = self._length_limits()
        source = (FileSource(read_example_file(self.task, t.data, on_error="raise", **limits), t.seed)
                  if t.data else GeneratedSource(self._stream_task(), t.seed, **limits))
        self.batches = StepBatches(source, self.vocab, t.batch_size, t.seed, self.objective, t.mask_prob,
                                   self.runtime.rank, self.runtime.world_size)
        self.valid = self._validation_set(limits) if self.runtime.is_main else []
        self.writer = self._tensorboard()

    # ---- set-up ---------------------------------------------------------------------------
    def _length_limits(self) -> dict[str, int | None]:
        """Longest source and target (with <eos>) the model's positions allow; a decoder-only
        model packs ``source <sep> target`` into ``max_len`` positions, so each gets half."""
        max_len = self.config.model.max_len
        if self.config.model.arch in ("decoder", "encoder"):
            max_len = (max_len - 1) // 2
        return {"max_source_len": max_len, "max_target_len": max_len}

    def _stream_task(self):
        """The task that generates the training stream: ``task`` with ``train.task_options`` on top
        (validation and ``evaluate`` keep ``task``); its tokens must all be in the run's vocabulary."""

        extra = self.config.train.task_options
        if not extra:
            return self.task
        base = {k: v for k, v in self.config.task.items() if k != "name"}
        stream = make_task(self.task.name, {**base, **extra})
        unknown = sorted(set(stream.vocabulary()) - set(self.vocab.stoi))
        if unknown:
            raise ValueError(f"train.task_options {extra} give the training stream tokens outside the run's "
                             f"vocabulary: {', '.join(unknown[:10])}")
        if not self.quiet and self.runtime.is_main:
            shown = " ".join(f"{k}={v}" for k, v in extra.items())
            print(f"train: training stream with task options {shown} (validation and evaluate use the task's)",
                  file=sys.stderr)
        return stream

    def _validation_set(self, limits: dict[str, int | None]) -> list[tuple[list[str], list[str]]]:

        t = self.config.train
        if t.valid_data:
            return read_example_file(self.task, t.valid_data, limit=t.valid_count, **limits)
        seed = t.seed + 1 if t.valid_seed is None else t.valid_seed
        return validation_examples(self.task, t.valid_count, seed, **limits)

    def _prepare_directory(self) -> None:

        if (self.out / ckpt.STATE_FILE).exists() or (self.out / ckpt.MODEL_FILE).exists():
            raise FileExistsError(f"{self.out} already holds a run; pass --resume to continue it "
                                  "or choose another --out")
        parameters = sum(p.numel() for p in self.model.parameters())
        save_config(self.config, self.out, extra={"vocab_size": len(self.vocab), "parameters": parameters,
                                                  "objective": self.objective})
        self.vocab.save(self.out / ckpt.VOCAB_FILE)
        (self.out / ckpt.METRICS_FILE).unlink(missing_ok=True)

    def _restore(self) -> None:
        import json


        if Vocab.load(self.out / ckpt.VOCAB_FILE).itos != self.vocab.itos:
            raise ValueError(f"{self.out}/vocab.json differs from the vocabulary of task "
                             f"{self.task.name}: the task changed since the run started")
        state = ckpt.load_train_state(self.out)
        ckpt.load_weights(self.model, self.out / ckpt.MODEL_FILE)
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.step, self.elapsed, self.bad_evals = state["step"], state["elapsed"], state["bad_evals"]
        self.best = tuple(state["best"]) if state["best"] is not None else None
        self.best_step, self.last_valid_step = state["best_step"], state["last_valid_step"]
        ckpt.set_rng_state(state["rng"])
        if self.runtime.rank > 0:
            torch.manual_seed(self.config.train.seed + 7919 * self.runtime.rank + self.step)
        if self.runtime.is_main:
            path = self.out / ckpt.CONFIG_FILE
            payload = json.loads(path.read_text())
            payload.setdefault("resumed", []).append({"step": self.step, "command": command_line()})
            path.write_text(json.dumps(payload, indent=2) + "\n")

    def _tensorboard(self):
        if not (self.config.train.tensorboard and self.runtime.is_main):
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            return None
        return SummaryWriter(str(self.out / "tensorboard"))

    # ---- the loop --------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:

        t = self.config.train
        started, elapsed_before = time.time(), self.elapsed
        self.session_started = started  # the time budget (and a time-based cooldown) is per session
        loader = step_loader(self.batches, self.step, t.workers)
        window = {"loss": 0.0, "correct": 0, "tokens": 0, "steps": 0, "since": time.time()}
        reason = None
        show = self.runtime.is_main and not self.quiet
        with StopSignals() as signals, Progress(t.max_steps, "train", "step", disable=not show,
                                                initial=self.step) as bar:
            try:
                while True:
                    self.elapsed = elapsed_before + time.time() - started
                    reason = self._stop_reason(signals.received, time.time() - started)
                    if reason:
                        break
                    loss, correct, tokens = self._train_step(next(loader))
                    window["loss"] += loss.detach()
                    window["correct"] += correct
                    window["tokens"] += tokens
                    window["steps"] += 1
                    bar.update(1)
                    if self.step % t.log_every == 0:
                        self._log_train(window, bar)
                    if self.step % t.eval_every == 0:
                        self._validate_and_save()
            except BaseException:
                if self.consistent and self.step > 0 and self.runtime.is_main:
                    self._save(improved=False)
                    if show:
                        print(f"train: stopped by an error at step {self.step}; checkpoint saved in "
                              f"{self.out} (continue with --resume)", file=sys.stderr)
                raise
        if self.last_valid_step != self.step:
            self._validate_and_save()
        if self.writer is not None:
            self.writer.close()
        return {"step": self.step, "stop": reason, "elapsed": self.elapsed, "best": self.best,
                "best_step": self.best_step}

    def _stop_reason(self, signal_name: str | None, session_seconds: float) -> str | None:
        t = self.config.train
        codes = ["", "max_steps", "max_time", "early_stop", signal_name or "signal"]
        code = 4 if signal_name else 3 if self.early_stopped else \
            2 if self.max_time is not None and session_seconds >= self.max_time else \
            1 if t.max_steps is not None and self.step >= t.max_steps else 0
        if self.runtime.world_size > 1:  # every rank stops at the same step
            import torch.distributed as dist

            flag = torch.tensor([code], device=self.runtime.device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            code = int(flag.item())
        return codes[code] or None

    def _train_step(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:

        t = self.config.train
        progress = budget_progress(self.step, t.max_steps, time.time() - self.session_started, self.max_time)
        self.lr = learning_rate(self.step, t.lr, t.warmup, t.schedule, t.max_steps, t.min_lr,
                                cooldown=t.cooldown, progress=progress)
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr
        batch = {k: v.to(self.runtime.device, non_blocking=True) for k, v in batch.items()}
        self.model.train()
        with self._autocast():
            loss, correct, tokens = self.wrapped(batch)
        self.consistent = False
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        if t.clip_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), t.clip_norm)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        self.consistent = True
        return loss, correct, tokens

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.runtime.device.type, dtype=self.amp_dtype)

    def _log_train(self, window: dict[str, Any], bar) -> None:
        loss = float(window["loss"]) / max(window["steps"], 1)
        if not math.isfinite(loss):
            self.consistent = False  # keep the last good checkpoint instead of saving this state
            raise FloatingPointError(f"training loss is {loss} at step {self.step}; lower train.lr "
                                     "or raise train.warmup")
        seconds = max(time.time() - window["since"], 1e-9)
        record = {"kind": "train", "step": self.step, "time": round(self.elapsed, 2), "loss": loss,
                  "token_accuracy": float(window["correct"]) / max(float(window["tokens"]), 1.0),
                  "lr": self.lr,
                  "tokens_per_second": float(window["tokens"]) * self.runtime.world_size / seconds}
        window.update(loss=0.0, correct=0, tokens=0, steps=0, since=time.time())
        bar.update(0, loss=f"{loss:.4f}")
        self._record(record)

    def _record(self, record: dict[str, Any]) -> None:
        if not self.runtime.is_main:
            return
        ckpt.append_metrics(self.out, record)
        if self.writer is not None:
            for key, value in record.items():
                if isinstance(value, (int, float)) and key not in ("step", "time"):
                    self.writer.add_scalar(f"{record['kind']}/{key}", value, record["step"])

    # ---- validation, early stopping, checkpoints -------------------------------------------
    def _score(self, record: dict[str, Any]) -> tuple[float, ...]:
        """Larger is better; ties on accuracy are broken by the validation loss."""
        metric = self.config.train.early_stop_metric
        if metric == "verified" and record.get("verified") is None:
            metric = "token_accuracy"  # encoder-only runs have no decoder to verify
        if metric == "loss":
            return (-record["loss"],)
        return (record["verified"] if metric == "verified" else record["token_accuracy"], -record["loss"])

    def _validate_and_save(self, validate: bool = True) -> None:
        if self.runtime.is_main:
            improved = False
            if validate:
                record = self._validate()
                score = self._score(record)
                improved = self.best is None or score > self.best
                self.best, self.best_step = (score, self.step) if improved else (self.best, self.best_step)
                self.bad_evals = 0 if improved else self.bad_evals + 1
                patience = self.config.train.patience
                self.early_stopped = patience > 0 and self.bad_evals >= patience
                self.last_valid_step = self.step
                self._record(record)
                if not self.quiet:
                    _print_validation(record, improved)
            self._save(improved)
        if self.runtime.world_size > 1:
            import torch.distributed as dist

            dist.barrier()

    def _validate(self) -> dict[str, Any]:

        t = self.config.train
        rng = ckpt.rng_state()  # validation must not change the training trajectory
        try:
            metrics = validate(self.model, self.loss_module, self.task, self.vocab, self.valid,
                               batch_size=t.batch_size, device=self.runtime.device, objective=self.objective,
                               verify_count=t.verify_count, autocast=self._autocast, seed=t.seed)
        finally:
            ckpt.set_rng_state(rng)
        return {"kind": "valid", "step": self.step, "time": round(self.elapsed, 2), **metrics}

    def _save(self, improved: bool) -> None:
        ckpt.save_weights(self.model, self.out / ckpt.MODEL_FILE, self.step)
        if improved:
            ckpt.save_weights(self.model, self.out / ckpt.BEST_FILE, self.step)
        ckpt.save_train_state(self.out, {
            "step": self.step, "elapsed": self.elapsed, "bad_evals": self.bad_evals,
            "best": list(self.best) if self.best is not None else None, "best_step": self.best_step,
            "last_valid_step": self.last_valid_step, "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else {}, "rng": ckpt.rng_state()})


def _print_validation(record: dict[str, Any], improved: bool) -> None:
    verified = "" if record.get("verified") is None else f" verified {100 * record['verified']:.1f}%"
    print(f"valid step {record['step']} ({record['time']:.0f}s): loss {record['loss']:.4f} token accuracy "
          f"{100 * record['token_accuracy']:.2f}%{verified}{' *' if improved else ''}", file=sys.stderr, flush=True)


def train(config: RunConfig, out: str | Path, resume: bool = False, quiet: bool = False) -> dict[str, Any]:
    """Train ``config`` into run directory ``out``; returns steps done, stop reason and best score."""
    return Trainer(config, out, resume=resume, quiet=quiet).run()
