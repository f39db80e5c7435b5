"""Checkpoints: only safetensors, JSON and weights-only torch files; they reload to the same model."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from seq2math.data.batching import validation_examples
from seq2math.training.checkpoint import load_run, load_train_state, read_metrics, save_train_state


@pytest.fixture(scope="module")
def run_dir(transpose_run):
    return transpose_run(max_steps=6, eval_every=3)


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
    assert state.keys() == tensors.keys()
    for name, tensor in tensors.items():
        assert torch.equal(state[name], tensor)


def test_reloaded_weights_give_the_validation_loss_the_run_logged(run_dir):
    """The model as reloaded is the model that was trained: the teacher-forced loss on the run's
    validation set, recomputed here example by example, equals the loss logged at the last step."""
    loaded = load_run(run_dir, which="last")
    logged = [r for r in read_metrics(run_dir) if r["kind"] == "valid"][-1]
    assert logged["step"] == loaded.step == 6
    config = loaded.config.train
    examples = validation_examples(loaded.task, config.valid_count, config.seed + 1,
                                   loaded.config.model.max_len, loaded.config.model.max_len)
    vocab, total, tokens = loaded.vocab, 0.0, 0
    with torch.no_grad():
        for source, target in examples:
            src = torch.tensor([vocab.encode(source)])
            tgt_in = torch.tensor([[vocab.bos_id, *vocab.encode(target)]])
            tgt_out = torch.tensor([*vocab.encode(target), vocab.eos_id])
            logits = loaded.model(src, tgt_in)[0].float()                       # [T, V]
            total += float(torch.nn.functional.cross_entropy(logits, tgt_out, reduction="sum"))
            tokens += len(tgt_out)
    assert total / tokens == pytest.approx(logged["loss"], rel=1e-5)


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
