"""Checkpoints: only safetensors, JSON and weights-only torch files; they reload to the same model."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from seq2math.model import ModelConfig
from seq2math.training.checkpoint import load_run, load_train_state, save_train_state
from seq2math.training.config import RunConfig, TrainConfig
from seq2math.training.loop import train


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("run")
    model = ModelConfig(d_model=32, n_heads=2, enc_layers=1, dec_layers=1, d_ff=64, dropout=0.0, max_len=64)
    config = RunConfig(task={"name": "transpose", "dim": 2, "encoding": "P10"}, model=model,
                       train=TrainConfig(batch_size=8, warmup=2, max_steps=6, eval_every=3, valid_count=8,
                                         verify_count=2, device="cpu", tensorboard=False))
    train(config, directory, quiet=True)
    return directory


def test_run_directory_holds_only_non_executable_files(run_dir):
    names = sorted(p.name for p in run_dir.iterdir())
    assert names == ["best.safetensors", "config.json", "metrics.jsonl", "model.safetensors", "train_state.pt",
                     "vocab.json"]
    assert not list(run_dir.glob("*.tmp"))


def test_train_state_loads_with_weights_only(run_dir):
    state = torch.load(run_dir / "train_state.pt", map_location="cpu", weights_only=True)
    assert state["step"] == 6 and state["last_valid_step"] == 6
    assert isinstance(state["rng"]["torch"], torch.Tensor)
    assert state["optimizer"]["state"] and all(
        isinstance(v, torch.Tensor) for s in state["optimizer"]["state"].values() for v in s.values())


def test_weights_are_plain_safetensors_and_reload_to_identical_outputs(run_dir):
    tensors = load_file(str(run_dir / "model.safetensors"))
    assert tensors and all(t.dtype == torch.float32 for t in tensors.values())
    loaded = load_run(run_dir, which="last")
    assert loaded.step == 6 and loaded.task.name == "transpose" and not loaded.model.training
    state = loaded.model.state_dict()
    for name, tensor in tensors.items():
        assert torch.equal(state[name], tensor)
    src = torch.tensor([loaded.vocab.encode(loaded.task.generate(__import__("numpy").random.default_rng(0))[0])])
    tgt_in = torch.tensor([[1, 6, 7]])
    again = load_run(run_dir, which="last").model
    assert torch.equal(loaded.model(src, tgt_in), again(src, tgt_in))


def test_config_records_the_resolved_config_and_command(run_dir):
    payload = json.loads((run_dir / "config.json").read_text())
    assert payload["command"] and payload["config"]["task"]["encoding"] == "P10"
    assert payload["config"]["model"]["d_model"] == 32 and payload["vocab_size"] == len(
        json.loads((run_dir / "vocab.json").read_text())["tokens"])


def test_mismatched_state_and_weights_are_reported(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    state = torch.load(copy / "train_state.pt", weights_only=True)
    save_train_state(copy, {**state, "step": 99})
    with pytest.raises(ValueError, match="step 6 but train_state.pt at step 99"):
        load_train_state(copy)


def test_weights_of_another_model_shape_are_refused(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    payload = json.loads((copy / "config.json").read_text())
    payload["config"]["model"]["d_ff"] = 128
    (copy / "config.json").write_text(json.dumps(payload))
    with pytest.raises(Exception, match="d_ff|shape|size"):
        load_run(copy)


def test_missing_run_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="run directory"):
        load_run(tmp_path)
