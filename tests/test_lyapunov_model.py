"""Lyapunov transformers: presets, training on lyapunov data, ranked beam hypotheses, any-of-K,
malformed hypotheses, the model method with sos fallback, and exported checkpoints."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from seq2math.cli import main
from seq2math.evaluation.decode import Hypothesis
from seq2math.evaluation.metrics import example_record, summarize
from seq2math.evaluation.pool import verify_ranked
from seq2math.tasks.base import make_task

TINY_MODEL = dict(d_model=32, n_heads=2, enc_layers=1, dec_layers=1, d_ff=64, dropout=0.0, max_len=160)
TINY_TASK = {"max_variables": 2, "max_half_degree": 1, "max_cross_terms": 0, "max_rotations": 0,
             "max_source_tokens": 96, "max_target_tokens": 40}
SYSTEM = ["INT+", "2", "<SPECIAL_3>", "*", "INT-", "1", "x0", "<SPECIAL_3>", "*", "INT-", "1", "x1"]  # ẋ = −x
GOOD_V = ["+", "^", "x0", "INT+", "2", "^", "x1", "INT+", "2"]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny matrices: extra OpenMP threads only spin against the other test processes (20x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A run directory with an untrained tiny lyapunov model (what load_run and export read)."""
    from seq2math.config import save_config
    from seq2math.model import ModelConfig
    from seq2math.tokens.vocab import Vocab
    from seq2math.training import checkpoint as ckpt
    from seq2math.training.config import RunConfig, TrainConfig

    directory = tmp_path_factory.mktemp("tiny-run")
    task = make_task("lyapunov", TINY_TASK)
    config = RunConfig(task={"name": "lyapunov", **TINY_TASK}, model=ModelConfig(**TINY_MODEL),
                       train=TrainConfig(valid_count=4, verify_count=0, eval_every=1000, tensorboard=False))
    vocab = Vocab(task.vocabulary())
    torch.manual_seed(0)
    model = ckpt.build_model_for(config.model, len(vocab))
    save_config(config, directory)
    vocab.save(directory / ckpt.VOCAB_FILE)
    ckpt.save_weights(model, directory / ckpt.MODEL_FILE, step=7)
    return directory


def test_presets_cover_their_task_lengths_and_match_the_paper():
    import argparse

    from seq2math.commands.train import _read_yaml, add_arguments, build_config

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    for name in ("lyapunov-tiny", "lyapunov-paper"):
        text = (Path(_read_yaml(name)["__path__"])).read_text()
        assert text.splitlines()[0] == f"# seq2math train --config {name} --out runs/{name}"
        config = build_config(parser.parse_args(["--config", name, "--out", "x"]))
        assert config.task["name"] == "lyapunov"
        assert config.model.max_len > config.task["max_source_tokens"]
        assert config.model.max_len > config.task["max_target_tokens"] + 1
    paper = build_config(parser.parse_args(["--config", "lyapunov-paper", "--out", "x"]))
    assert (paper.model.enc_layers, paper.model.dec_layers, paper.model.d_model, paper.model.n_heads) == (6, 6, 640, 10)
    assert (paper.train.lr, paper.train.warmup, paper.train.schedule, paper.train.batch_size) == \
        (1e-4, 10_000, "inverse_sqrt", 16)
    tiny = build_config(parser.parse_args(["--config", "lyapunov-tiny", "--out", "x"]))
    assert tiny.task["max_variables"] == 3 and tiny.task["max_lyapunov_degree"] <= 4


def _train_args(out: Path, *extra: str) -> list[str]:
    overrides = [f"model.{k}={v}" for k, v in TINY_MODEL.items()]
    return ["train", "--task", "lyapunov", "--out", str(out), "--max-steps", "2", "--quiet", *extra, *overrides,
            "train.batch_size=4", "train.valid_count=4", "train.verify_count=1", "train.tensorboard=false"]


def test_train_lyapunov_on_the_fly_from_a_file_and_from_a_mixture(tmp_path):
    flags = ["--max-variables", "2", "--max-half-degree", "1", "--max-rotations", "0"]
    assert main(_train_args(tmp_path / "fly", *flags)) == 0
    for name, seed in (("a.txt", "1"), ("b.txt", "2")):
        assert main(["generate", "lyapunov", *flags, "--count", "12", "--seed", seed, "--out", str(tmp_path / name),
                     "--quiet"]) == 0
    assert main(["data", "mix", f"{tmp_path / 'a.txt'}:all", f"{tmp_path / 'b.txt'}:5", "--out",
                 str(tmp_path / "mix.txt")]) == 0
    assert len((tmp_path / "mix.txt").read_text().splitlines()) == 17
    out = tmp_path / "run-mix"
    assert main(_train_args(out, *flags, "--data", str(tmp_path / "mix.txt"), "--valid-data", str(tmp_path / "b.txt"))) == 0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["kind"] == "valid" and math.isfinite(records[-1]["loss"]) and records[-1]["step"] == 2


def test_beam_hypotheses_are_ranked_by_their_model_score(tiny_run):
    """Scores come best first, each equals the model's own length-normalised log-probability, and
    the model method sees the hypotheses in that order."""
    from seq2math.lyapunov.methods.model import decode_hypotheses, load_model
    from seq2math.model.decoding import beam_search

    loaded = load_model(tiny_run)
    vocab, model = loaded.vocab, loaded.model
    src = torch.tensor([vocab.encode(SYSTEM)])
    found = beam_search(model, src, beam_size=4, max_len=40 + 16, n_best=4)[0]
    scores = [h.score for h in found]
    assert len(found) == 4 and scores == sorted(scores, reverse=True)
    for hypothesis in found:
        with torch.no_grad():
            logits = model(src, torch.tensor([[vocab.bos_id, *hypothesis.tokens]])).float()[0]  # [T+1, V]
        logits[:, vocab.pad_id] = float("-inf")
        log_probs = torch.log_softmax(logits, -1)
        scored = [*hypothesis.tokens, vocab.eos_id] if hypothesis.finished else hypothesis.tokens
        total = sum(float(log_probs[t, i]) for t, i in enumerate(scored))
        assert hypothesis.score == pytest.approx(total / len(scored), abs=1e-4)
    decoded = decode_hypotheses(loaded, [SYSTEM], beam=4)[0]
    assert [score for _, score in decoded] == pytest.approx(scores, abs=1e-5)


class CountingTask:
    """The lyapunov task, counting verify calls (to see repeats skipped and the early stop)."""

    def __init__(self):
        self.task, self.calls = make_task("lyapunov", {"max_variables": 2}), []
        self.metrics, self.primary_metric, self.name = self.task.metrics, self.task.primary_metric, "lyapunov"

    def verify(self, source, hypothesis):
        self.calls.append(hypothesis)
        return self.task.verify(source, hypothesis)

    def size_key(self, source):
        return self.task.size_key(source)


def test_any_of_k_counts_a_later_certified_hypothesis_and_stops_there():
    task = CountingTask()
    x0_squared = ["^", "x0", "INT+", "2"]  # a barrier function only: V vanishes on the x1 axis
    negated = ["*", "INT-", "1", *GOOD_V]
    ranked = [negated, negated, x0_squared, GOOD_V, ["x0"]]
    verdicts, seconds = verify_ranked(task, SYSTEM, ranked)
    assert len(verdicts) == 4 and seconds >= 0                      # stopped at the certified V
    assert task.calls == [negated, x0_squared, GOOD_V]             # the repeat was not checked again
    assert verdicts[0].scores == {"barrier": False, "lyapunov": False}
    assert verdicts[2].scores == {"barrier": True, "lyapunov": False}
    record = example_record(task.task, 0, SYSTEM, GOOD_V, [Hypothesis(h) for h in ranked], verdicts)
    assert record["any"] == {"barrier": True, "lyapunov": True} and record["top1"]["lyapunov"] is False
    assert record["first_verified"] == 3 and record["hypotheses"] == 4 and record["decoded"] == 5
    summary = summarize(task.task, [record], beam=5)
    assert summary["any"]["lyapunov"] == 1.0 and summary["top1"]["lyapunov"] == 0.0


def test_malformed_hypotheses_are_invalid_and_never_crash():
    task = make_task("lyapunov", {"max_variables": 2})
    bad = [["+", "x0"], ["x0", "x1"], ["INT+"], ["^", "x9", "INT+", "2"], ["<SPECIAL_3>"], []]
    verdicts, _ = verify_ranked(task, SYSTEM, bad)
    assert len(verdicts) == len(bad) and all(not v.valid for v in verdicts)
    assert all(v.scores == {"barrier": False, "lyapunov": False} for v in verdicts)
    huge = task.verify(SYSTEM, ["^", "+", "x0", "x1", "INT+", "999"])  # would take hours to expand and check
    assert huge.scores == {"barrier": None, "lyapunov": None} and "degree" in huge.reason
    record = example_record(task, 0, SYSTEM, GOOD_V, [Hypothesis(h) for h in bad], verdicts)
    summary = summarize(task, [record], beam=len(bad))
    assert summary["invalid_top1"] == 1.0 and summary["invalid_hypotheses"] == 1.0 and summary["any"]["lyapunov"] == 0


def test_read_hypotheses_marks_repeats_syntax_and_degree():
    from seq2math.lyapunov.methods.model import read_hypotheses

    proposals = read_hypotheses([(GOOD_V, -0.1), (GOOD_V, -0.2), (["+", "x0"], -0.3),
                                 (["^", "x0", "INT+", "999"], -0.4), (["x2"], -0.5)], nvars=2)
    assert proposals[0].V is not None and proposals[0].problem == ""
    assert [p.problem.split(":")[0].split(" ")[0] for p in proposals[1:]] == ["repeat", "invalid", "degree", "uses"]


def test_solve_with_model_then_sos_falls_back_to_sos(tiny_run, capsys):
    """An untrained model proposes nonsense: nothing it says verifies, and sos still finds V."""
    code = main(["solve", "x0' = -x0 + x1; x1' = -x0 - x1^3", "--methods", "model,sos", "--model", str(tiny_run),
                 "--beam", "3", "--json", "--time-limit", "60"])
    record = json.loads(capsys.readouterr().out)
    assert code == 0 and record["found"] and record["method"] == "sos"
    assert [t["method"] for t in record["tried"]] == ["model", "sos"]
    assert main(["solve", "x0' = -x0", "--methods", "model", "--model", str(tiny_run / "nowhere")]) == 2


def test_model_method_proposes_in_rank_order_and_its_proposals_are_proved(tiny_run, monkeypatch):
    """With a decoder that ranks a wrong V before the right one, solve proves the second."""
    import seq2math.lyapunov.methods.model as mm
    from seq2math.lyapunov.methods import make_method, solve_system
    from seq2math.tokens.infix import parse_infix_system

    monkeypatch.setattr(mm, "decode_hypotheses", lambda loaded, sources, beam: [
        [(["^", "x0", "INT+", "2"], -0.1), (["+", "x0"], -0.2), (GOOD_V, -0.3)]])
    system = parse_infix_system("x0' = -x0; x1' = -x1")
    outcome = solve_system(system, [make_method("model", model=str(tiny_run), beam=3)])
    assert outcome.found and outcome.method == "model" and outcome.tried[0].candidates == 2
    assert outcome.verification.proof.startswith("sos-exact")


def test_exported_checkpoint_is_small_loads_decodes_and_resumes(tiny_run, tmp_path):
    from seq2math.lyapunov.methods.model import decode_hypotheses, load_model
    from seq2math.training import checkpoint as ckpt

    exported = tmp_path / "export"
    assert main(["export", str(tiny_run), "--out", str(exported)]) == 0
    payload = json.loads((exported / "config.json").read_text())
    assert payload["export"]["dtype"] == "fp16" and payload["export"]["step"] == 7
    assert (exported / "model.safetensors").stat().st_size < (tiny_run / "model.safetensors").stat().st_size * 0.6
    original, small = load_model(tiny_run), load_model(exported)
    for (name, a), (_, b) in zip(original.model.state_dict().items(), small.model.state_dict().items()):
        assert b.dtype == torch.float32 and torch.allclose(a, b, atol=2e-3, rtol=2e-3), name
    decoded = decode_hypotheses(small, [SYSTEM], beam=2)[0]
    assert len(decoded) == 2 and all(isinstance(tokens, list) for tokens, _ in decoded)
    run = tmp_path / "continued"
    assert main(["export", str(exported), "--as-run", "--out", str(run)]) == 0
    assert main(["train", "--resume", "--out", str(run), "--max-steps", "9", "--quiet", "train.batch_size=4"]) == 0
    assert ckpt.weights_step(run / "model.safetensors") == 9
    assert main(["export", str(tiny_run), "--out", str(tmp_path / "big"), "--max-mb", "0.01"]) == 2


def test_heldout_split_finds_the_systems_of_the_training_stream(tiny_run, tmp_path):
    from seq2math.data.batching import TRAIN_STREAM, stream_example
    from seq2math.data.heldout import split_unseen

    task = make_task("lyapunov", TINY_TASK)
    trained = stream_example(task, TRAIN_STREAM, 0, 5, 160, 160)            # position 5 < 1 step x batch 64
    later = stream_example(task, TRAIN_STREAM, 0, 64 * 50, 160, 160)        # far beyond one step
    test = tmp_path / "test.txt"
    test.write_text("".join(task.format_line(*example) + "\n" for example in (trained, later)))
    unseen, seen = split_unseen(tiny_run, test, steps=1)
    assert seen == [task.format_line(*trained)]
    assert unseen == ([task.format_line(*later)] if later[0] != trained[0] else [])


def test_a_solver_panic_is_undecided_not_a_crash():
    """Clarabel panics reach Python as pyo3's PanicException (a BaseException): undecided, not fatal."""
    from seq2math.evaluation.pool import safe_verify

    class PanicException(BaseException):
        pass

    class PanickingTask:
        metrics = ("barrier", "lyapunov")

        def verify(self, source, hypothesis):
            raise PanicException("Eigval error: Eigen(1)")

    verdict = safe_verify(PanickingTask(), SYSTEM, GOOD_V)
    assert verdict.valid and verdict.scores == {"barrier": None, "lyapunov": None} and "panicked" in verdict.reason

    class Interrupting(PanickingTask):
        def verify(self, source, hypothesis):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        safe_verify(Interrupting(), SYSTEM, GOOD_V)


def test_the_committed_checkpoint_is_small_and_is_the_default_model():
    from seq2math.lyapunov.methods.model import (
        decode_hypotheses,
        load_model,
        resolve_model_path,
    )
    from seq2math.training.export import DEFAULT_MODEL, MAX_EXPORT_BYTES

    if not (DEFAULT_MODEL / "config.json").exists():
        with pytest.raises(ValueError, match="no committed checkpoint"):
            resolve_model_path(None)
        return
    assert resolve_model_path(None) == DEFAULT_MODEL
    assert sum(f.stat().st_size for f in DEFAULT_MODEL.iterdir()) <= MAX_EXPORT_BYTES
    loaded = load_model(None)
    assert loaded.task.name == "lyapunov" and next(loaded.model.parameters()).dtype == torch.float32
    decoded = decode_hypotheses(loaded, [SYSTEM], beam=3)[0]
    assert len(decoded) == 3 and [s for _, s in decoded] == sorted((s for _, s in decoded), reverse=True)
