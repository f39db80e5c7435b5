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

**Checksums.** Every weights file written here carries ``sha256`` in its safetensors
metadata: the SHA-256 of its data section (the tensor bytes after the header, which the
checksum itself does not change). ``check_weights`` recomputes it on every load, and a
truncated or corrupted file is rejected with a ``CheckpointError`` naming the file, never a
safetensors or torch stack trace. Files saved before checksums existed still load; a run
directory may instead list whole-file checksums in ``config.json`` (``"checksums":
{"model.safetensors": SHA256}``), which is how the shipped checkpoint is protected without
changing its weights file.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model

from seq2math.config import ConfigError, from_dict
from seq2math.jobs.files import drop_torn_tail, write_atomically
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


class CheckpointError(ConfigError):
    """A checkpoint file that is truncated, corrupted or fails its checksum; the message names it.
    (A ``ConfigError``, so every command reports it as one line, ``seq2math CMD: error: ...``.)"""


#: the safetensors metadata key holding the SHA-256 of the file's data section
CHECKSUM_KEY = "sha256"


def _split_safetensors(data: bytes, path: Path) -> tuple[dict[str, Any], int]:
    """(header as JSON, offset of the data section) of a safetensors file's bytes, checking
    that the data section is exactly as long as the header's tensors say."""
    if len(data) < 8:
        raise CheckpointError(f"{path}: not a safetensors file ({len(data)} bytes: truncated?)")
    (length,) = struct.unpack("<Q", data[:8])
    if length > len(data) - 8:
        raise CheckpointError(f"{path}: truncated (its header announces {length} bytes, the file has {len(data) - 8})")
    try:
        header = json.loads(data[8:8 + length])
        end = max((int(t["data_offsets"][1]) for k, t in header.items() if k != "__metadata__"), default=0)
    except (ValueError, TypeError, KeyError, AttributeError):
        raise CheckpointError(f"{path}: corrupted safetensors header") from None
    if len(data) - 8 - length != end:
        raise CheckpointError(f"{path}: truncated or corrupted (tensor data of {len(data) - 8 - length} bytes, "
                              f"the header expects {end})")
    return header, 8 + length


def _add_checksum(path: Path) -> None:
    """Put the SHA-256 of the data section of ``path`` into its metadata (the tensor bytes are unchanged)."""
    data = path.read_bytes()
    header, start = _split_safetensors(data, path)
    header.setdefault("__metadata__", {})[CHECKSUM_KEY] = hashlib.sha256(data[start:]).hexdigest()
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)                        # the data section stays 8-byte aligned
    path.write_bytes(struct.pack("<Q", len(text)) + text + data[start:])


def check_weights(path: Path, expected_file_sha256: str | None = None) -> dict[str, str]:
    """The metadata of the weights file ``path`` after checking its integrity: the header is
    whole, the tensor data has the announced length, the embedded checksum (when present) and
    ``expected_file_sha256`` (a whole-file checksum from ``config.json``, when given) match.
    Raises ``CheckpointError`` naming the file."""
    path = Path(path)
    data = path.read_bytes()
    header, start = _split_safetensors(data, path)
    metadata = header.get("__metadata__") or {}
    recorded = metadata.get(CHECKSUM_KEY)
    if recorded is not None and hashlib.sha256(data[start:]).hexdigest() != recorded:
        raise CheckpointError(f"{path}: corrupted (the SHA-256 of its tensor data differs from the {recorded[:12]}... "
                              "recorded when it was saved)")
    if expected_file_sha256 is not None and hashlib.sha256(data).hexdigest() != expected_file_sha256:
        raise CheckpointError(f"{path}: corrupted (its SHA-256 differs from the one in "
                              f"{path.parent / CONFIG_FILE})")
    return metadata


def _write_weights(model: torch.nn.Module, path: Path, step: int, extra: dict[str, str] | None = None) -> None:
    save_model(model, str(path), metadata={"step": str(step)} | (extra or {}))
    _add_checksum(path)


def save_weights(model: torch.nn.Module, path: Path, step: int, extra: dict[str, str] | None = None) -> None:
    """Weights as safetensors (shared/tied tensors handled by ``save_model``), with the step,
    ``extra`` metadata and the checksum of the data section, moved into place atomically."""
    _replace_atomically(lambda tmp: _write_weights(model, tmp, step, extra), path)


#: the note that makes the files of one checkpoint a unit (see ``save_checkpoint``)
COMMIT_FILE = "checkpoint.commit"


def save_checkpoint(model: torch.nn.Module, directory: Path, step: int, state: dict[str, Any], best: bool) -> None:
    """``model.safetensors`` (and ``best.safetensors`` when ``best``) and ``train_state.pt`` as
    one unit: each is written to ``NAME.tmp``, then the note ``checkpoint.commit`` listing them
    is written atomically, then they are moved into place and the note removed. A kill before
    the note leaves the previous checkpoint whole; a kill after it is completed by
    ``finish_checkpoint`` on the next load. (Three separate renames let a kill between them
    leave weights and state at different steps, a run that could not be resumed.)"""
    directory = Path(directory)
    names = [MODEL_FILE, *([BEST_FILE] if best else []), STATE_FILE]
    for name in names[:-1]:
        _write_weights(model, directory / (name + ".tmp"), step)
    torch.save(state, directory / (STATE_FILE + ".tmp"))
    write_atomically(directory / COMMIT_FILE, json.dumps(names) + "\n")
    finish_checkpoint(directory)


def finish_checkpoint(directory: Path) -> None:
    """Move the files of a checkpoint whose commit note exists into place (a save interrupted
    after its note), then remove the note; nothing to do without a note."""
    note = Path(directory) / COMMIT_FILE
    if not note.exists():
        return
    for name in json.loads(note.read_text()):
        tmp = Path(directory) / (name + ".tmp")
        try:
            os.replace(tmp, Path(directory) / name)
        except FileNotFoundError:      # already moved (before a kill, or by a concurrent reader)
            pass
    note.unlink(missing_ok=True)


def weights_step(path: Path) -> int:
    """The step recorded in a weights file (-1 when none), after ``check_weights``."""
    return int(check_weights(path).get("step", -1))


def load_weights(model: torch.nn.Module, path: Path, expected_file_sha256: str | None = None) -> None:
    """Load ``path`` into ``model`` after ``check_weights`` (a bad file raises ``CheckpointError``)."""
    check_weights(path, expected_file_sha256)
    missing, unexpected = load_model(model, str(path), strict=False)
    if missing or unexpected:
        raise ValueError(f"{path}: weights do not match the model configuration "
                         f"(missing: {sorted(missing)[:5]}, unexpected: {sorted(unexpected)[:5]})")


def save_train_state(directory: Path, state: dict[str, Any]) -> None:
    _replace_atomically(lambda p: torch.save(state, p), directory / STATE_FILE)


def load_train_state(directory: Path) -> dict[str, Any]:
    """The training state, read with ``weights_only=True`` (no pickled code)."""
    finish_checkpoint(directory)
    path = Path(directory) / STATE_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: nothing to resume")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 — torch raises many types for a damaged zip; one clear message
        raise CheckpointError(f"{path}: truncated or corrupted ({type(err).__name__}); it cannot be resumed") from None
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


def trim_metrics(directory: Path, step: int) -> int:
    """Keep the metrics records of steps up to ``step`` (the checkpoint a resume starts from):
    a killed run may have logged steps past its last checkpoint, which the resumed run logs
    again, and may have left a torn last line. Rewritten atomically; returns the records dropped."""
    path = Path(directory) / METRICS_FILE
    lines = drop_torn_tail(path)
    kept = []
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise CheckpointError(f"{path}: a line is not a JSON record ({line[:40]!r}...)") from None
        if int(record.get("step", 0)) <= step:
            kept.append(line)
    if len(kept) != len(lines):
        write_atomically(path, "".join(kept))
    return len(lines) - len(kept)


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


def validations(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The validation records among a run's metrics (``read_metrics``), in order."""
    return [r for r in records if r.get("kind") == "valid"]


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
    finish_checkpoint(directory)
    config, _payload = read_run_config(directory)
    task = make_task(config.task["name"], {k: v for k, v in config.task.items() if k != "name"})
    vocab = load_vocab(directory / VOCAB_FILE)
    weights = directory / (BEST_FILE if which == "best" and (directory / BEST_FILE).exists() else MODEL_FILE)
    if not weights.exists():
        raise FileNotFoundError(f"{weights} does not exist: the run has not saved a checkpoint yet")
    model = build_model_for(config.model, len(vocab))
    load_weights(model, weights, (_payload.get("checksums") or {}).get(weights.name))
    model.to(device).eval()
    return LoadedRun(directory, config, task, vocab, model, weights, weights_step(weights))
