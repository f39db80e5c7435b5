"""Run directories: save and load checkpoints without pickled objects.

A run directory holds::

    config.json        resolved RunConfig + the exact command (and later resume commands)
    vocab.json         the token list; ids are positions
    model.safetensors  the latest weights (metadata: step)
    best.safetensors   the weights with the best validation metric so far
    train_state.pt     optimiser, grad-scaler, RNG states, step, early-stopping record:
                       tensors and plain containers only, so ``torch.load(weights_only=True)``
                       reads it (no code runs when a checkpoint is opened)
    metrics.jsonl      one JSON record per log / validation event

Each file is written to a temporary name and moved into place, so an interrupted write
never leaves a truncated checkpoint; ``train_state.pt`` is written last and records the
step of ``model.safetensors``, and a mismatch is reported on load.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_model, save_model

from seq2math.config import from_dict
from seq2math.model import build_model
from seq2math.tasks.base import Task, make_task
from seq2math.tokens.representation import load_vocab
from seq2math.tokens.vocab import Vocab
from seq2math.training.config import RunConfig

MODEL_FILE, BEST_FILE, STATE_FILE = "model.safetensors", "best.safetensors", "train_state.pt"
CONFIG_FILE, VOCAB_FILE, METRICS_FILE = "config.json", "vocab.json", "metrics.jsonl"


def build_model_for(model_config: Any, vocab_size: int) -> torch.nn.Module:
    """The model of ``model_config`` with an embedding table of ``vocab_size`` tokens (pad id 0)."""
    return build_model(model_config, vocab_size)


def _replace_atomically(write, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def save_weights(model: torch.nn.Module, path: Path, step: int) -> None:
    """Weights as safetensors (shared/tied tensors handled by ``save_model``)."""
    _replace_atomically(lambda p: save_model(model, str(p), metadata={"step": str(step)}), path)


def weights_step(path: Path) -> int:
    with safe_open(str(path), framework="pt") as handle:
        return int((handle.metadata() or {}).get("step", -1))


def load_weights(model: torch.nn.Module, path: Path) -> None:
    missing, unexpected = load_model(model, str(path), strict=False)
    if missing or unexpected:
        raise ValueError(f"{path}: weights do not match the model configuration "
                         f"(missing: {sorted(missing)[:5]}, unexpected: {sorted(unexpected)[:5]})")


def save_train_state(directory: Path, state: dict[str, Any]) -> None:
    _replace_atomically(lambda p: torch.save(state, p), directory / STATE_FILE)


def load_train_state(directory: Path) -> dict[str, Any]:
    """The training state, read with ``weights_only=True`` (no pickled code)."""
    path = Path(directory) / STATE_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: nothing to resume")
    state = torch.load(path, map_location="cpu", weights_only=True)
    saved = weights_step(Path(directory) / MODEL_FILE)
    if saved != state["step"]:
        raise ValueError(f"{directory}: {MODEL_FILE} is at step {saved} but {STATE_FILE} at step "
                         f"{state['step']} (an interrupted save?)")
    return state


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def append_metrics(directory: Path, record: dict[str, Any]) -> None:
    with open(Path(directory) / METRICS_FILE, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


def read_metrics(directory_or_file: str | Path) -> list[dict[str, Any]]:
    path = Path(directory_or_file)
    if path.is_dir():
        path = path / METRICS_FILE
    records = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise ValueError(f"{path}:{number}: not a JSON record ({err})") from None
    return records


@dataclass
class LoadedRun:
    """What evaluation and prediction need from a run directory."""

    directory: Path
    config: RunConfig
    task: Task
    vocab: Vocab
    model: torch.nn.Module
    weights: Path
    step: int


def read_run_config(directory: str | Path) -> tuple[RunConfig, dict[str, Any]]:
    """The RunConfig saved in ``directory/config.json`` and the raw JSON payload."""
    path = Path(directory) / CONFIG_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: is {directory} a run directory?")
    payload = json.loads(path.read_text())
    return from_dict(RunConfig, payload["config"], where=str(path)), payload


def load_run(directory: str | Path, device: str | torch.device = "cpu", which: str = "best") -> LoadedRun:
    """Model (in eval mode), task and vocabulary of a run; ``which`` is ``best`` or ``last``.

    ``best`` falls back to the latest weights when no validation has been recorded yet.
    """
    directory = Path(directory)
    if which not in ("best", "last"):
        raise ValueError(f"checkpoint must be 'best' or 'last', got {which!r}")
    config, _payload = read_run_config(directory)
    task = make_task(config.task["name"], {k: v for k, v in config.task.items() if k != "name"})
    vocab = load_vocab(directory / VOCAB_FILE)
    weights = directory / (BEST_FILE if which == "best" and (directory / BEST_FILE).exists() else MODEL_FILE)
    if not weights.exists():
        raise FileNotFoundError(f"{weights} does not exist: the run has not saved a checkpoint yet")
    model = build_model_for(config.model, len(vocab))
    load_weights(model, weights)
    model.to(device).eval()
    return LoadedRun(directory, config, task, vocab, model, weights, weights_step(weights))
