"""Checkpoints carry a checksum checked on load: a truncated or corrupted weights file is
rejected with one clear message naming it; old files without a checksum still load."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from seq2math.cli import main
from seq2math.training import checkpoint as ckpt
from seq2math.training.config import DEFAULT_MODEL


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A copy of the shipped checkpoint re-saved with an embedded checksum."""
    directory = tmp_path_factory.mktemp("run") / "model"
    shutil.copytree(DEFAULT_MODEL, directory)
    loaded = ckpt.load_run(directory)
    config = directory / ckpt.CONFIG_FILE             # its whole-file checksum is of the shipped file
    config.write_text(json.dumps({k: v for k, v in json.loads(config.read_text()).items() if k != "checksums"}))
    ckpt.save_weights(loaded.model, directory / ckpt.MODEL_FILE, loaded.step)
    return directory


def test_the_shipped_checkpoint_loads_and_its_config_holds_its_file_checksum():
    import hashlib

    payload = json.loads((DEFAULT_MODEL / ckpt.CONFIG_FILE).read_text())
    recorded = payload["checksums"][ckpt.MODEL_FILE]
    assert hashlib.sha256((DEFAULT_MODEL / ckpt.MODEL_FILE).read_bytes()).hexdigest() == recorded
    assert ckpt.CHECKSUM_KEY not in ckpt.check_weights(DEFAULT_MODEL / ckpt.MODEL_FILE)  # weights file untouched
    assert ckpt.load_run(DEFAULT_MODEL).step > 0


def test_a_saved_checkpoint_records_the_checksum_of_its_tensor_data(run):
    metadata = ckpt.check_weights(run / ckpt.MODEL_FILE)
    assert len(metadata[ckpt.CHECKSUM_KEY]) == 64 and metadata["step"] == str(ckpt.load_run(run).step)


@pytest.mark.parametrize("damage, message", [
    (lambda data: data[:-1000], "truncated or corrupted"),
    (lambda data: data[:30], "truncated"),
    (lambda data: data[:-4] + bytes(4), "corrupted (the SHA-256 of its tensor data differs"),
    (lambda data: data[:8] + b"[" + data[9:], "corrupted safetensors header"),
])
def test_a_damaged_checkpoint_is_rejected_with_a_message_naming_the_file(run, tmp_path, damage, message, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(run, broken)
    weights = broken / ckpt.MODEL_FILE
    weights.write_bytes(damage(weights.read_bytes()))
    with pytest.raises(ckpt.CheckpointError, match=re.escape(message)) as caught:
        ckpt.load_run(broken)
    assert str(weights) in str(caught.value)
    assert main(["evaluate", "--model", str(broken), "--count", "1", "--out", str(tmp_path / "e.json")]) == 2
    err = capsys.readouterr().err
    assert f"seq2math evaluate: error: {weights}" in err and "Traceback" not in err


def test_a_shipped_style_file_checksum_catches_a_changed_weights_file(tmp_path):
    copy = tmp_path / "shipped"
    shutil.copytree(DEFAULT_MODEL, copy)
    data = bytearray((copy / ckpt.MODEL_FILE).read_bytes())
    data[-2] ^= 0xFF                          # a flipped bit the header cannot see
    (copy / ckpt.MODEL_FILE).write_bytes(bytes(data))
    with pytest.raises(ckpt.CheckpointError, match="differs from the one in .*config.json"):
        ckpt.load_run(copy)


def test_a_corrupted_training_state_is_rejected_naming_it(tmp_path):
    (tmp_path / ckpt.STATE_FILE).write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ckpt.CheckpointError, match=f"{ckpt.STATE_FILE}: truncated or corrupted"):
        ckpt.load_train_state(tmp_path)


def test_a_checkpoint_save_killed_after_its_commit_note_is_completed_on_load(run, tmp_path, monkeypatch):
    loaded = ckpt.load_run(run)
    state = {"step": loaded.step + 1, "elapsed": 1.0}
    ckpt.save_train_state(tmp_path, {"step": loaded.step, "elapsed": 0.5})
    ckpt.save_weights(loaded.model, tmp_path / ckpt.MODEL_FILE, loaded.step)
    monkeypatch.setattr(ckpt, "finish_checkpoint", lambda directory: None)     # killed right after the note
    ckpt.save_checkpoint(loaded.model, tmp_path, loaded.step + 1, state, best=False)
    monkeypatch.undo()
    assert ckpt.weights_step(tmp_path / ckpt.MODEL_FILE) == loaded.step         # old weights still in place
    assert ckpt.load_train_state(tmp_path)["step"] == loaded.step + 1           # rolled forward, consistent
    assert ckpt.weights_step(tmp_path / ckpt.MODEL_FILE) == loaded.step + 1
    assert not (tmp_path / ckpt.COMMIT_FILE).exists() and not list(tmp_path.glob("*.tmp"))
