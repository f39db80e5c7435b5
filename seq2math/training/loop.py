"""The training loop, written out: teacher forcing, Adam + warm-up schedule, clipping, AMP, DDP.

Objectives (chosen by the architecture unless ``train.objective`` says otherwise): ``seq2seq``
teacher forcing, or ``masked`` tokens for encoder-only models, which have no decoder and so are
scored by masked-token loss and accuracy (``masked-target``: only the answer masked, so that
validation can also fill and verify it; see ``seq2math.training.loss``).
The data of a run (training stream, validation set): ``seq2math.training.run_data``.

Learning rate: ``schedule`` (warm-up, then inverse square root, cosine or constant), times
an optional ``cooldown`` that takes it linearly to 0 over the last fraction of the budget
(see ``seq2math.training.schedule``). With ``max_steps`` alone the rate is a function of the step,
so ``--resume`` is exact. With ``max_time`` the cooldown follows the clock of the session
(``max_time`` is per session): an interrupted time-bounded run resumed with ``--resume``
starts from the full rate again and cools down at the end of its new session, and two runs
of the same time budget differ as their step rates do.

Stopping: ``max_steps``, ``max_time``, early stopping (``patience`` validations without
improvement of ``early_stop_metric``, see ``seq2math.training.early_stopping``), or SIGINT/SIGTERM
(the step finishes, a checkpoint is written, ``--resume`` continues exactly). Multi-GPU: launched
by ``torchrun``, every rank trains on its own batches (``batch_size`` is per rank), rank 0
validates and writes.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch

from seq2math.config import command_line, save_config
from seq2math.data.batching import MASKED_OBJECTIVES, padding_counts, step_loader
from seq2math.evaluation.evaluate import validate
from seq2math.jobs.files import write_atomically
from seq2math.jobs.progress import Progress
from seq2math.tasks.base import make_task
from seq2math.tokens.representation import make_vocab
from seq2math.tokens.vocab import Vocab
from seq2math.training import checkpoint as ckpt
from seq2math.training.config import PACKAGE_CHECKPOINTS, RunConfig, parse_duration
from seq2math.training.early_stopping import EarlyStopping
from seq2math.training.loss import LossModule, resolve_objective
from seq2math.training.run_data import training_batches, training_source, validation_set
from seq2math.training.runtime import (
    StopSignals,
    autocast_dtype,
    limit_cpu_threads,
    start_runtime,
)
from seq2math.training.schedule import budget_progress, learning_rate


def budget_text(max_steps: int | None, max_time: str | None) -> str:
    """What ends this session's training, said at its start: a preset's train.max_time still applies when
    --max-steps is given (whichever comes first), which a user counting steps should not learn at the end."""
    limits = ([f"step {max_steps:,}"] if max_steps else []) + ([f"{max_time} of training"] if max_time else [])
    if not limits:
        return "no step or time limit (stop it with Ctrl-C; it saves a checkpoint)"
    return "stops at " + " or ".join(limits) + (", whichever comes first" if len(limits) > 1 else "")


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
        if not quiet and self.runtime.is_main:
            print(f"train: {budget_text(t.max_steps, t.max_time)}", file=sys.stderr)
        self.task = make_task(config.task["name"], {k: v for k, v in config.task.items() if k != "name"})
        self.vocab = make_vocab(self.task.vocabulary(), t.representation, self.task.name)
        self.objective = resolve_objective(config)
        torch.manual_seed(t.seed)
        self.model = ckpt.build_model_for(config.model, len(self.vocab)).to(self.runtime.device)
        self.loss_module = LossModule(self.model, self.objective, self.vocab.pad_id)
        optimizer_class = torch.optim.AdamW if t.weight_decay > 0 else torch.optim.Adam
        self.optimizer = optimizer_class(self.model.parameters(), lr=t.lr, betas=(t.beta1, t.beta2),
                                         weight_decay=t.weight_decay)
        self.amp_dtype = autocast_dtype(t.precision, self.runtime.device)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        self.step, self.elapsed, self.consistent = 0, 0.0, True
        self.cpu = 0.0                   # CPU-seconds of this process (all its threads), summed over sessions
        self.stopping = EarlyStopping(t.early_stop_metric, t.patience)
        if resume:
            self._restore()
        else:
            if t.init:
                self._initialise(Path(t.init))
            if self.runtime.is_main:
                self._prepare_directory()
        self.wrapped: torch.nn.Module = self.loss_module
        if self.runtime.world_size > 1:
            from torch.nn.parallel import DistributedDataParallel

            device_ids = [self.runtime.device.index] if self.runtime.device.type == "cuda" else None
            # the encoder-only regression head is idle under the masked-token objective
            self.wrapped = DistributedDataParallel(self.loss_module, device_ids=device_ids,
                                                   find_unused_parameters=self.objective in MASKED_OBJECTIVES)
            if not resume:  # distinct dropout masks per rank
                torch.manual_seed(t.seed + 7919 * self.runtime.rank)
        if t.compile:
            # shapes change at every step with token budgets: the first new shape recompiles with
            # dynamic sizes, later ones reuse that graph. Weights, checkpoints and decoding use
            # self.model, which stays the eager module.
            self.wrapped = torch.compile(self.wrapped)
            if not quiet and self.runtime.is_main:
                print("train: torch.compile: the first steps compile the graph (a minute or more on a CPU)",
                      file=sys.stderr)
        source = training_source(config, self.task, self.vocab, announce=not quiet and self.runtime.is_main)
        self.batches = training_batches(config, source, self.vocab, self.objective, self.runtime.rank,
                                        self.runtime.world_size)
        self.valid = validation_set(config, self.task, self.vocab) if self.runtime.is_main else []
        self.writer = self._tensorboard()

    # ---- set-up ---------------------------------------------------------------------------
    def _prepare_directory(self) -> None:
        if (self.out / ckpt.STATE_FILE).exists() or (self.out / ckpt.MODEL_FILE).exists():
            raise FileExistsError(f"{self.out} already holds a run; pass --resume to continue it "
                                  "or choose another --out")
        parameters = sum(p.numel() for p in self.model.parameters())
        save_config(self.config, self.out, extra={"vocab_size": len(self.vocab), "parameters": parameters,
                                                  "objective": self.objective})
        self.vocab.save(self.out / ckpt.VOCAB_FILE)
        (self.out / ckpt.METRICS_FILE).unlink(missing_ok=True)

    def _initialise(self, run: Path) -> None:
        """A warm start: the weights of another run (best, else latest); optimizer and steps start anew. A name
        that is no directory here may be a shipped checkpoint (``train.init=lyapunov-tiny``)."""
        if not run.exists() and (PACKAGE_CHECKPOINTS / run).is_dir():
            run = PACKAGE_CHECKPOINTS / run
        if not (run / ckpt.VOCAB_FILE).exists():
            raise FileNotFoundError(f"train.init={run}: no {ckpt.VOCAB_FILE} there (a run or exported model directory)")
        if Vocab.load(run / ckpt.VOCAB_FILE).itos != self.vocab.itos:
            raise ValueError(f"train.init={run}: its vocabulary differs from this run's (task {self.task.name}, "
                             f"representation {self.vocab.representation})")
        weights = run / ckpt.BEST_FILE if (run / ckpt.BEST_FILE).exists() else run / ckpt.MODEL_FILE
        ckpt.load_weights(self.model, weights)
        if not self.quiet and self.runtime.is_main:
            print(f"train: weights initialised from {weights}", file=sys.stderr)

    def _restore(self) -> None:
        if Vocab.load(self.out / ckpt.VOCAB_FILE).itos != self.vocab.itos:
            raise ValueError(f"{self.out}/vocab.json differs from the vocabulary of task "
                             f"{self.task.name}: the task changed since the run started")
        state = ckpt.load_train_state(self.out)
        ckpt.load_weights(self.model, self.out / ckpt.MODEL_FILE)
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.step, self.elapsed = state["step"], state["elapsed"]
        self.cpu = state.get("cpu", state["elapsed"])      # runs older than the field: wall time, one thread
        if self.runtime.is_main:
            ckpt.trim_metrics(self.out, self.step)         # steps a killed run logged past its checkpoint
        self.stopping.restore(state)
        ckpt.set_rng_state(state["rng"])
        if self.runtime.rank > 0:
            torch.manual_seed(self.config.train.seed + 7919 * self.runtime.rank + self.step)
        if self.runtime.is_main:
            path = self.out / ckpt.CONFIG_FILE
            payload = json.loads(path.read_text())
            payload.setdefault("resumed", []).append({"step": self.step, "command": command_line()})
            write_atomically(path, json.dumps(payload, indent=2) + "\n")

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
        cpu_started, cpu_before = time.process_time(), self.cpu
        self.session_started = started  # the time budget (and a time-based cooldown) is per session
        loader = step_loader(self.batches, self.step, t.workers)
        window = {"loss": 0.0, "correct": 0, "tokens": 0, "steps": 0, "real": 0, "positions": 0,
                  "since": time.time()}
        reason = None
        show = self.runtime.is_main and not self.quiet
        with StopSignals() as signals, Progress(t.max_steps, "train", "step", disable=not show,
                                                initial=self.step) as bar:
            try:
                while True:
                    self.elapsed = elapsed_before + time.time() - started
                    self.cpu = cpu_before + time.process_time() - cpu_started
                    reason = self._stop_reason(signals.received, time.time() - started)
                    if reason:
                        break
                    batch = next(loader)
                    real, positions = padding_counts(batch, self.vocab.pad_id)
                    loss, correct, tokens = self._train_step(batch)
                    window["real"] += real
                    window["positions"] += positions
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
        if self.stopping.last_valid_step != self.step:
            self._validate_and_save()
        if self.writer is not None:
            self.writer.close()
        return {"step": self.step, "stop": reason, "elapsed": self.elapsed, "best": self.stopping.best,
                "best_step": self.stopping.best_step}

    def _stop_reason(self, signal_name: str | None, session_seconds: float) -> str | None:
        t = self.config.train
        codes = ["", "max_steps", "max_time", "early_stop", signal_name or "signal"]
        code = 4 if signal_name else 3 if self.stopping.stopped else \
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
        record = {"kind": "train", "step": self.step, "time": round(self.elapsed, 2), "cpu_time": round(self.cpu, 2),
                  "loss": loss,
                  "token_accuracy": float(window["correct"]) / max(float(window["tokens"]), 1.0),
                  "lr": self.lr,
                  "tokens_per_second": float(window["tokens"]) * self.runtime.world_size / seconds,
                  "pad_fraction": 1.0 - window["real"] / max(window["positions"], 1)}
        window.update(loss=0.0, correct=0, tokens=0, steps=0, real=0, positions=0, since=time.time())
        bar.update(0, loss=f"{loss:.4f}")
        self._record(record)

    def _record(self, record: dict[str, Any]) -> None:
        if not self.runtime.is_main:
            return
        ckpt.append_metrics(self.out, record)
        if self.writer is not None:
            for key, value in record.items():
                if isinstance(value, (int, float)) and key not in ("step", "time", "cpu_time"):
                    self.writer.add_scalar(f"{record['kind']}/{key}", value, record["step"])

    # ---- validation, early stopping, checkpoints -------------------------------------------
    def _validate_and_save(self, validate: bool = True) -> None:
        if self.runtime.is_main:
            improved = False
            if validate:
                record = self._validate()
                improved = self.stopping.update(record, self.step)
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
        return {"kind": "valid", "step": self.step, "time": round(self.elapsed, 2), "cpu_time": round(self.cpu, 2),
                **metrics}

    def _save(self, improved: bool) -> None:
        stopping = self.stopping
        ckpt.save_checkpoint(self.model, self.out, self.step, best=improved, state={
            "step": self.step, "elapsed": self.elapsed, "cpu": self.cpu, "bad_evals": stopping.bad_evals,
            "best": list(stopping.best) if stopping.best is not None else None, "best_step": stopping.best_step,
            "last_valid_step": stopping.last_valid_step, "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else {}, "rng": ckpt.rng_state()})


def _print_validation(record: dict[str, Any], improved: bool) -> None:
    verified = "" if record.get("verified") is None else f" verified {100 * record['verified']:.1f}%"
    print(f"valid step {record['step']} ({record['time']:.0f}s): loss {record['loss']:.4f} token accuracy "
          f"{100 * record['token_accuracy']:.2f}%{verified}{' *' if improved else ''}", file=sys.stderr, flush=True)


def train(config: RunConfig, out: str | Path, resume: bool = False, quiet: bool = False) -> dict[str, Any]:
    """Train ``config`` into run directory ``out``; returns steps done, stop reason and best score."""
    return Trainer(config, out, resume=resume, quiet=quiet).run()
