"""Training: schedules, data streams, configuration, exact resume, interruption, early stopping."""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import time

import pytest
import torch

from seq2math.config import ConfigError
from seq2math.data.batching import (
    FileSource,
    GeneratedSource,
    StepBatches,
    collate_masked,
    collate_masked_target,
    collate_seq2seq,
    pad_batch,
    validation_examples,
)
from seq2math.data.generation import generate_example
from seq2math.model import ModelConfig
from seq2math.tasks.base import make_task
from seq2math.tokens.vocab import Vocab
from seq2math.training.config import RunConfig, TrainConfig, parse_duration
from seq2math.training.loop import Trainer, train
from seq2math.training.loss import resolve_objective
from seq2math.training.schedule import budget_progress, cooldown_factor, learning_rate

TASK = {"name": "transpose", "dim": 2, "encoding": "P10"}


def tiny_config(**train_overrides) -> RunConfig:
    model = ModelConfig(d_model=32, n_heads=2, enc_layers=1, dec_layers=1, d_ff=64, dropout=0.1, max_len=64)
    train_cfg = TrainConfig(batch_size=8, lr=1e-3, warmup=5, eval_every=1000, log_every=2, valid_count=16,
                            verify_count=4, device="cpu", tensorboard=False, threads=1)
    return RunConfig(task=dict(TASK), model=model, train=dataclasses.replace(train_cfg, **train_overrides))


def parameters(directory) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(directory / "model.safetensors"))


# ---- schedule and durations ------------------------------------------------------------------
def test_inverse_sqrt_schedule_warms_up_linearly_then_decays_as_inverse_square_root():
    lr, warmup = 1e-3, 100
    assert learning_rate(0, lr, warmup) == pytest.approx(lr / warmup)
    assert learning_rate(49, lr, warmup) == pytest.approx(lr / 2)
    assert learning_rate(99, lr, warmup) == pytest.approx(lr)
    assert learning_rate(399, lr, warmup) == pytest.approx(lr / 2)  # sqrt(100 / 400)
    assert learning_rate(9999, lr, warmup) == pytest.approx(lr / 10)


def test_cosine_schedule_reaches_its_floor_and_needs_a_horizon():
    assert learning_rate(1009, 1e-3, 10, "cosine", total_steps=1010, min_lr=1e-5) == pytest.approx(1e-5)
    middle = learning_rate(509, 1e-3, 10, "cosine", total_steps=1010, min_lr=0.0)
    assert middle == pytest.approx(5e-4)
    with pytest.raises(ValueError, match="total_steps"):
        learning_rate(50, 1e-3, 10, "cosine")
    with pytest.raises(ValueError, match="unknown schedule"):
        learning_rate(0, 1e-3, 10, "linear")


def test_cooldown_falls_linearly_to_zero_over_the_last_fraction_of_the_budget():
    lr, warmup, total = 1e-3, 100, 1000
    plain = [learning_rate(step, lr, warmup) for step in range(total)]
    cooled = [learning_rate(step, lr, warmup, cooldown=0.2, progress=budget_progress(step, total))
              for step in range(total)]
    assert cooled[:800] == plain[:800] and cooled[800] == pytest.approx(plain[800])  # untouched until 80%
    for step in (850, 900, 999):  # then scaled by (1 - step / total) / 0.2
        assert cooled[step] == pytest.approx(plain[step] * (total - step) / (0.2 * total))
    assert all(b < a for a, b in zip(cooled[800:], cooled[801:])) and 0 < cooled[-1] < plain[-1] / 100
    # a time budget: the fraction of this session's seconds, the nearer bound counting
    assert budget_progress(10, None, 540.0, 600.0) == pytest.approx(0.9)
    assert budget_progress(950, 1000, 60.0, 600.0) == pytest.approx(0.95)
    assert budget_progress(5) is None and cooldown_factor(None, 0.2) == 1.0
    assert cooldown_factor(0.9, 0.2) == pytest.approx(0.5) and cooldown_factor(1.5, 0.2) == 0.0
    with pytest.raises(ValueError, match="cooldown"):
        cooldown_factor(0.5, 1.5)


def test_durations_accept_seconds_minutes_hours():
    assert parse_duration("10m") == 600
    assert parse_duration("90") == 90
    assert parse_duration("1.5h") == 5400
    assert parse_duration(None) is None
    with pytest.raises(ValueError, match="duration"):
        parse_duration("10 minutes")


def test_cpu_threads_honours_a_request_and_never_goes_below_one(monkeypatch):
    import seq2math.training.runtime as training

    assert training.cpu_threads(3) == 3
    monkeypatch.setattr(training, "busy_cores", lambda window=0.25: 50.0)
    assert training.cpu_threads() == 1  # every core busy: one thread, not one per core
    monkeypatch.setattr(training, "busy_cores", lambda window=0.25: 0.0)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert training.cpu_threads() == 4 and training.cpu_threads(world_size=2) == 2
    monkeypatch.setattr(training, "busy_cores", lambda window=0.25: 1.2)
    assert training.cpu_threads() == 3
    # in a worker of run_jobs: never more than its share of the cores, even with every core idle
    monkeypatch.setattr(training, "busy_cores", lambda window=0.25: 0.0)
    monkeypatch.setattr(training, "worker_threads", lambda: 2)
    assert training.cpu_threads() == 2 and training.cpu_threads(world_size=4) == 1 and training.cpu_threads(3) == 3


def test_each_worker_of_a_pool_gets_its_share_of_the_cores():
    """``solve FILE --workers 2`` on two cores: each worker loads torch when its first line needs the model, and
    looked at idle cores while its sibling was still starting, so both took two threads (session 27: the model
    method 4x slower). A pool worker's share is cores // workers; outside a pool there is none."""
    from seq2math.jobs.workers import TIMED_OUT, run_jobs, worker_threads

    cores = len(os.sched_getaffinity(0))
    shares = [r for _, r in run_jobs(lambda _: worker_threads(), [0, 1, 2], workers=2, timeout=30)]
    assert TIMED_OUT not in shares and shares == [max(1, cores // 2)] * 3
    assert [r for _, r in run_jobs(lambda _: worker_threads(), [0], workers=1, timeout=30)] == [cores]
    assert worker_threads() is None


def test_busy_cores_reads_proc_stat_now_not_the_lagging_load_average(monkeypatch):
    import seq2math.training.runtime as training

    samples = iter([(100, 1000), (100 + 150, 1000 + 200)])  # 150 of 200 jiffies busy
    monkeypatch.setattr(training, "_cpu_times", lambda: next(samples))
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 9.0, 9.0))
    assert training.busy_cores(window=0.0) == pytest.approx(1.5)
    monkeypatch.setattr(training, "_cpu_times", lambda: None)  # no /proc: the load average
    assert training.busy_cores(window=0.0) == 9.0


# ---- data ---------------------------------------------------------------------------------------
def test_batches_are_a_function_of_the_step_and_ranks_share_the_stream_without_overlap():
    task = make_task("transpose", {"dim": 2, "encoding": "P10"})
    vocab = Vocab(task.vocabulary())
    source = GeneratedSource(task, seed=3)
    whole = StepBatches(source, vocab, batch_size=8, seed=3)
    halves = [StepBatches(source, vocab, batch_size=4, seed=3, rank=r, world_size=2) for r in range(2)]
    assert torch.equal(whole[5]["src"], StepBatches(GeneratedSource(task, 3), vocab, 8, 3)[5]["src"])
    assert not torch.equal(whole[5]["src"], whole[6]["src"])
    # rank r of 2 at step s reads positions (2s + r) * 4 ..: together exactly the 8 of one rank at step s
    assert torch.equal(torch.cat([halves[0][5]["src"], halves[1][5]["src"]]), whole[5]["src"])


def test_training_validation_and_generated_files_never_share_examples():
    task = make_task("transpose", {"dim": 2, "encoding": "P10"})
    training = [GeneratedSource(task, 0).example(i) for i in range(20)]
    validation = validation_examples(task, 20, seed=0)
    files = [generate_example(task, 0, i) for i in range(20)]
    keys = [{" ".join(s) for s, _ in group} for group in (training, validation, files)]
    assert not keys[0] & keys[1] and not keys[0] & keys[2] and not keys[1] & keys[2]


def test_file_source_visits_every_example_once_per_epoch_in_a_new_order():
    examples = [([str(i)], [str(i)]) for i in range(10)]
    source = FileSource(examples, seed=1)
    first = [source.example(p)[0][0] for p in range(10)]
    second = [source.example(p)[0][0] for p in range(10, 20)]
    assert sorted(first) == sorted(second) == sorted(str(i) for i in range(10))
    assert first != second


def test_teacher_forcing_batch_layout():
    vocab = Vocab(["a", "b", "c"])
    batch = collate_seq2seq([([6, 7, 8], [8]), ([7], [6, 7])], vocab)
    assert batch["src"].tolist() == [[6, 7, 8], [7, 0, 0]]
    assert batch["tgt_in"].tolist() == [[1, 8, 0], [1, 6, 7]]
    assert batch["tgt_out"].tolist() == [[8, 2, 0], [6, 7, 2]]


def test_masked_batches_label_exactly_the_chosen_tokens():
    vocab = Vocab([str(i) for i in range(20)])
    pairs = [([6, 7, 8, 9], [10, 11]), ([12], [13])]
    batch = collate_masked(pairs, vocab, mask_prob=0.5, generator=torch.Generator().manual_seed(0))
    packed = torch.tensor([[6, 7, 8, 9, 4, 10, 11, 2], [12, 4, 13, 2, 0, 0, 0, 0]])
    chosen = batch["labels"] != 0
    assert torch.equal(batch["labels"][chosen], packed[chosen])
    assert torch.equal(batch["src"][~chosen], packed[~chosen])  # unchosen tokens stay
    assert chosen.sum(dim=1).min() >= 1 and not chosen[1, 4:].any()  # padding is never chosen



def test_masked_target_batches_mask_only_answers_at_every_rate():
    vocab = Vocab([str(i) for i in range(20)])
    pairs = [([6, 7, 8, 9], [10, 11, 12]), ([12], [13])] * 40
    batch = collate_masked_target(pairs, vocab, generator=torch.Generator().manual_seed(0))
    packed = pad_batch([[*s, 4, *t, 2] for s, t in pairs], 0)
    chosen = batch["labels"] != 0
    answer = torch.zeros_like(chosen)
    answer[0::2, 5:8] = True
    answer[1::2, 2:3] = True
    assert torch.equal(batch["labels"][chosen], packed[chosen])
    assert (batch["src"][chosen] == vocab.mask_id).all() and torch.equal(batch["src"][~chosen], packed[~chosen])
    assert not (chosen & ~answer).any() and chosen.sum(dim=1).min() >= 1   # the answer only, never empty
    assert {int(n) for n in chosen[0::2].sum(dim=1)} == {1, 2, 3}        # rows differ in how much is masked
    with pytest.raises(ValueError, match="row 0 has none"):
        collate_masked_target([([6], [])], vocab, generator=torch.Generator())


def test_masked_target_objective_needs_an_encoder():
    config = parse("--task", "add", "--dim", "2", "--preset", "tiny", "train.objective=masked-target")
    with pytest.raises(ValueError, match="needs model.arch=encoder"):
        resolve_objective(config)
    config.model.arch = "encoder"
    assert resolve_objective(config) == "masked-target"

# ---- configuration from the command line ---------------------------------------------------
def parse(*argv):
    from seq2math.cli import build_parser
    from seq2math.commands.train import build_config

    return build_config(build_parser().parse_args(["train", "--out", "unused", *argv]))


def test_task_options_as_flags_and_dotted_overrides():
    config = parse("--task", "transpose", "--dim", "5", "--encoding", "P1000", "--preset", "tiny",
                   "model.d_model=64", "train.lr=3e-4", "task.max_coefficient=2", "--max-time", "10m")
    assert config.task["name"] == "transpose" and config.task["dim"] == 5
    assert config.task["encoding"] == "P1000" and config.task["max_coefficient"] == 2.0
    assert config.model.d_model == 64 and config.model.enc_layers == ModelConfig.from_preset("tiny").enc_layers
    assert config.train.lr == 3e-4 and config.train.max_time == "10m"


def test_bad_configurations_are_named():
    with pytest.raises(ConfigError, match="no option"):
        parse("--task", "transpose", "task.no_such_option=1")
    with pytest.raises(ConfigError, match="model.widht|unknown key"):
        parse("--task", "transpose", "model.widht=3")
    with pytest.raises(ConfigError, match="name a task"):
        parse("--preset", "tiny")


def test_training_stream_task_options_change_only_the_training_stream(tmp_path):
    config = parse("--task", "transpose", "--dim", "2", "--encoding", "P10", "train.task_options.log_fraction=1",
                   "train.task_options.log_min=0.001", "train.task_options.log_max=0.01")
    assert config.train.task_options == {"log_fraction": 1.0, "log_min": 0.001, "log_max": 0.01}
    assert config.task["log_fraction"] == 0.0
    small = dataclasses.replace(tiny_config().train, task_options=config.train.task_options)
    trainer = Trainer(dataclasses.replace(tiny_config(), train=small), tmp_path / "run", quiet=True)
    stream = trainer.batches.source
    assert stream.task.options.log_fraction == 1.0 and trainer.task.options.log_fraction == 0.0
    for position in range(5):  # every entry of the stream is in [0.001, 0.01): exponent E-5 in P10
        source, _ = stream.example(position)
        assert all(e == "E-5" for e in source[2:][4::5])
    uniform = [source for source, _ in trainer.valid]
    assert any(e != "E-5" for source in uniform for e in source[2:][4::5])


def test_the_tiny_preset_enriches_the_stream_of_the_tasks_that_accept_it():
    assert parse("--task", "transpose", "--preset", "tiny").train.task_options == {"log_fraction": 0.05}
    assert parse("--task", "transpose", "--preset", "tiny",
                 "train.task_options.log_fraction=0").train.task_options == {"log_fraction": 0.0}
    assert parse("--task", "eigenvalues", "--preset", "tiny").train.task_options == {}  # symmetric: not iid
    assert parse("--task", "roots", "--preset", "tiny").train.task_options == {}        # no such option
    assert parse("--task", "transpose", "--preset", "small").train.task_options == {}


def test_training_stream_options_must_exist_and_keep_the_vocabulary(tmp_path):
    with pytest.raises(ConfigError, match="train.task_options.*no option.*bogus"):
        parse("--task", "transpose", "train.task_options.bogus=1")
    bigger = dataclasses.replace(tiny_config().train, task_options={"dim": 4})
    with pytest.raises(ValueError, match="outside the run's vocabulary: .*V4"):
        Trainer(dataclasses.replace(tiny_config(), train=bigger), tmp_path / "run", quiet=True)


def test_bundled_presets_say_how_to_run_them_and_load():
    from pathlib import Path

    presets = sorted((Path(__file__).parent.parent / "seq2math" / "presets").glob("*.yaml"))
    assert presets
    for path in presets:
        first = path.read_text().splitlines()[0]
        assert first.startswith(("# seq2math train --config", "# seq2math generate")), path
        config = parse("--config", str(path))
        assert config.task["name"]


# ---- the loop -----------------------------------------------------------------------------------
def test_bf16_precision_trains_on_cpu_and_fp16_asks_for_a_gpu(tmp_path):
    from seq2math.training.checkpoint import read_metrics
    from seq2math.training.runtime import autocast_dtype

    cpu = torch.device("cpu")
    assert autocast_dtype("bf16", cpu) == torch.bfloat16
    assert autocast_dtype("auto", cpu) is None and autocast_dtype("fp32", cpu) is None
    with pytest.raises(ValueError, match="fp16 needs a CUDA device"):
        autocast_dtype("fp16", cpu)
    summary = train(tiny_config(max_steps=30, precision="bf16", eval_every=30), tmp_path / "bf16", quiet=True)
    assert summary["step"] == 30
    losses = [r["loss"] for r in read_metrics(tmp_path / "bf16") if r["kind"] == "train"]
    assert all(math.isfinite(x) for x in losses) and losses[-1] < losses[0]


def test_a_cuda_device_must_exist_and_leaves_cudnn_attention_out(monkeypatch):
    from seq2math.training import runtime

    assert runtime.resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="sees no CUDA device.*train.device=auto"):
        runtime.resolve_device("cuda")            # a GPU run's config resumed on a CPU
    switched = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.backends.cuda, "enable_cudnn_sdp", switched.append, raising=False)
    assert runtime.resolve_device("cuda:1") == torch.device("cuda", 1) and switched == [False]
    assert runtime.resolve_device("auto") == torch.device("cuda") and switched == [False, False]


@pytest.mark.slow
def test_compiled_training_steps_equal_eager_ones_and_checkpoints_keep_their_keys(tmp_path):
    # dropout 0: compiled kernels draw their dropout masks from another generator
    def config(**changes) -> RunConfig:
        run = tiny_config(max_steps=4, eval_every=4, **changes)
        return dataclasses.replace(run, model=dataclasses.replace(run.model, dropout=0.0))

    from seq2math.training.checkpoint import read_metrics

    losses = {}
    for name, changes in (("eager", {}), ("compiled", {"compile": True})):
        assert train(config(**changes), tmp_path / name, quiet=True)["step"] == 4
        losses[name] = [r["loss"] for r in read_metrics(tmp_path / name) if r["kind"] == "train"]
    assert len(losses["eager"]) == 2 and losses["compiled"] == pytest.approx(losses["eager"], rel=1e-4)
    eager, compiled = parameters(tmp_path / "eager"), parameters(tmp_path / "compiled")
    assert eager.keys() == compiled.keys()          # no "_orig_mod." prefix in the checkpoint
    for name in eager:
        # a key bias adds q·b to every score of a row: softmax ignores it, its true gradient is 0 and
        # Adam scales rounding noise to full steps, so eager and compiled keys' biases drift apart harmlessly
        if not name.endswith("k_proj.bias"):
            torch.testing.assert_close(compiled[name], eager[name], rtol=1e-4, atol=1e-5, msg=name)


def test_resumed_run_equals_uninterrupted_run_exactly(tmp_path):
    from seq2math.training.checkpoint import read_metrics

    # a step-bounded cooldown is a function of the step alone, so it resumes exactly too
    straight = tmp_path / "straight"
    train(tiny_config(max_steps=12, cooldown=0.5), straight, quiet=True)
    parted = tmp_path / "parted"
    # stops (and validates) at 5, before the cooldown (steps 6..11) begins
    train(tiny_config(max_steps=5, eval_every=4), parted, quiet=True)
    summary = train(tiny_config(max_steps=12, cooldown=0.5), parted, resume=True, quiet=True)
    assert summary["step"] == 12
    last_lr = [r["lr"] for r in read_metrics(straight) if r["kind"] == "train"][-1]  # of update 11
    assert last_lr == pytest.approx(learning_rate(11, 1e-3, 5) * (1 / 12) / 0.5)
    a, b = parameters(straight), parameters(parted)
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    state_a = torch.load(straight / "train_state.pt", weights_only=True)
    state_b = torch.load(parted / "train_state.pt", weights_only=True)
    for key, value in state_a["optimizer"]["state"].items():
        assert torch.equal(value["exp_avg_sq"], state_b["optimizer"]["state"][key]["exp_avg_sq"])


def test_sigint_finishes_the_step_saves_and_resume_continues_exactly(tmp_path, monkeypatch):
    straight = tmp_path / "straight"
    train(tiny_config(max_steps=8, cooldown=0.75), straight, quiet=True)  # cooling from step 2 on
    original = Trainer._train_step

    def interrupted_step(self, batch):
        result = original(self, batch)
        if self.step == 3:
            os.kill(os.getpid(), signal.SIGINT)  # as if the user pressed Ctrl-C during step 3
        return result

    monkeypatch.setattr(Trainer, "_train_step", interrupted_step)
    summary = train(tiny_config(max_steps=8, cooldown=0.75), tmp_path / "parted", quiet=True)
    assert summary == {**summary, "step": 3, "stop": "SIGINT"}
    monkeypatch.setattr(Trainer, "_train_step", original)
    train(tiny_config(max_steps=8, cooldown=0.75), tmp_path / "parted", resume=True, quiet=True)
    a, b = parameters(straight), parameters(tmp_path / "parted")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_sigterm_to_the_whole_process_group_spares_the_loader_workers_and_saves(tmp_path):
    # a session that ends (or Ctrl-C in a terminal) signals every process of the group: the loader workers
    # ignore it, so the training process finishes its step and saves; they used to die first, and torch raised
    # "DataLoader worker ... is killed by signal" mid-step, where nothing could be saved (session 22)
    import subprocess
    import sys

    out = tmp_path / "run"
    command = [sys.executable, "-m", "seq2math", "train", "--preset", "tiny", "--task", "transpose", "--out", str(out),
               "--max-steps", "100000", "train.workers=1", "train.threads=1", "train.log_every=1",
               "train.eval_every=100000", "train.tensorboard=false"]
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    metrics, began = out / "metrics.jsonl", time.time()
    while time.time() - began < 120 and not (metrics.exists() and len(metrics.read_text().splitlines()) >= 5):
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGTERM)                 # the whole group, workers included
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output[-2000:]
    assert "(SIGTERM" in output
    step = torch.load(out / "train_state.pt", weights_only=True)["step"]
    assert step >= 5 and f"stopped at step {step} (SIGTERM" in output


def test_an_error_mid_run_leaves_a_resumable_checkpoint(tmp_path, monkeypatch):
    original = Trainer._train_step

    def failing_step(self, batch):
        if self.step == 4:
            raise RuntimeError("disk on fire")
        return original(self, batch)

    monkeypatch.setattr(Trainer, "_train_step", failing_step)
    with pytest.raises(RuntimeError, match="disk on fire"):
        train(tiny_config(max_steps=10), tmp_path, quiet=True)
    assert torch.load(tmp_path / "train_state.pt", weights_only=True)["step"] == 4
    monkeypatch.setattr(Trainer, "_train_step", original)
    assert train(tiny_config(max_steps=6), tmp_path, resume=True, quiet=True)["step"] == 6


def test_existing_run_is_not_overwritten_without_resume(tmp_path):
    train(tiny_config(max_steps=2), tmp_path, quiet=True)
    with pytest.raises(FileExistsError, match="--resume"):
        train(tiny_config(max_steps=2), tmp_path, quiet=True)


def test_early_stopping_after_patience_validations_without_improvement(tmp_path):
    # lr = 0: the model never changes, so no validation after the first one improves
    summary = train(tiny_config(lr=0.0, max_steps=50, eval_every=2, patience=2), tmp_path, quiet=True)
    assert summary["stop"] == "early_stop" and summary["step"] == 6 and summary["best_step"] == 2


def test_training_reduces_the_loss_and_logs_metrics(tmp_path):
    from seq2math.training.checkpoint import read_metrics

    train(tiny_config(max_steps=40, lr=3e-3, eval_every=20), tmp_path, quiet=True)
    records = read_metrics(tmp_path)
    valid = [r for r in records if r["kind"] == "valid"]
    train_records = [r for r in records if r["kind"] == "train"]
    assert [r["step"] for r in valid] == [20, 40]
    assert train_records[-1]["loss"] < 0.7 * train_records[0]["loss"]
    assert valid[-1]["loss"] < valid[0]["loss"]
    assert 0.0 <= valid[-1]["verified"] <= 1.0 and set(valid[-1]["verified_by_metric"]) == {"5%", "2%", "1%", "0.5%"}
    assert all(math.isfinite(r["lr"]) and r["lr"] > 0 for r in train_records)


@pytest.mark.parametrize("arch", ["decoder", "encoder", "rnn"])
def test_other_architectures_train(tmp_path, arch):
    """Every architecture learns: 12 steps lower both the training and the validation loss."""
    from seq2math.training.checkpoint import read_metrics

    config = tiny_config(max_steps=12, lr=3e-3, eval_every=6, log_every=3)
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, arch=arch))
    summary = train(config, tmp_path, quiet=True)
    assert summary["step"] == 12
    records = read_metrics(tmp_path)
    losses = [r["loss"] for r in records if r["kind"] == "train"]
    valid = [r for r in records if r["kind"] == "valid"]
    assert len(losses) == 4 and [r["step"] for r in valid] == [6, 12]
    assert losses[-1] < 0.9 * losses[0], losses
    assert valid[-1]["loss"] < valid[0]["loss"], [r["loss"] for r in valid]
    assert (valid[-1]["verified"] is None) == (arch == "encoder")  # encoder-only: masked tokens, no decoding


def _ddp_rank(rank: int, world_size: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world_size),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    config = tiny_config(max_steps=4, batch_size=4)
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, dropout=0.0))
    trainer = Trainer(config, out, quiet=True)
    trainer.run()
    torch.save(trainer.model.state_dict(), f"{out}/rank{rank}.pt")
    torch.distributed.destroy_process_group()


def test_two_gloo_ranks_equal_one_process_with_the_combined_batch(tmp_path):
    """DDP averages gradients, so 2 ranks x 4 examples = 1 process x 8 (same examples, same order)."""
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mp.spawn(_ddp_rank, args=(2, port, str(tmp_path / "ddp")), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / "ddp" / f"rank{r}.pt", weights_only=True) for r in range(2)]
    config = tiny_config(max_steps=4, batch_size=8)
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, dropout=0.0))
    train(config, tmp_path / "single", quiet=True)
    single = parameters(tmp_path / "single")
    for name, value in single.items():
        assert torch.equal(ranks[0][name], ranks[1][name]), name
        if name.endswith("k_proj.bias"):
            # softmax ignores a key bias: its gradient is rounding noise that Adam normalises to
            # full-size steps, so it differs with the summation order of the all-reduce
            continue
        assert torch.allclose(ranks[0][name], value, atol=1e-6, rtol=1e-5), name
    assert (tmp_path / "ddp" / "model.safetensors").exists() and not (tmp_path / "single" / "rank1.pt").exists()


def test_the_budget_is_said_at_the_start_with_both_limits():
    from seq2math.training.loop import budget_text

    assert budget_text(12500, "10m") == "stops at step 12,500 or 10m of training, whichever comes first"
    assert budget_text(None, "30m") == "stops at 30m of training"
    assert budget_text(300, None) == "stops at step 300"
    assert "no step or time limit" in budget_text(None, None)
