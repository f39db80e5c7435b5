"""Lyapunov transformers: presets, training on lyapunov data, ranked beam hypotheses, any-of-K,
malformed hypotheses, the model method with sos fallback, and exported checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import seq2math
from seq2math.cli import main
from seq2math.evaluation.decode import Hypothesis
from seq2math.evaluation.metrics import example_record, summarize
from seq2math.evaluation.pool import verify_ranked
from seq2math.tasks.base import make_task
from seq2math.tokens.prefix import parse_full_expression

SYSTEM = ["INT+", "2", "<SPECIAL_3>", "*", "INT-", "1", "x0", "<SPECIAL_3>", "*", "INT-", "1", "x1"]  # ẋ = −x
GOOD_V = ["+", "^", "x0", "INT+", "2", "^", "x1", "INT+", "2"]
#: x0^2 - x1^2: no Lyapunov function, but f = (-x0, -x1) is -G grad V for G = diag(1/2, -1/2)
SADDLE_V = ["+", "^", "x0", "INT+", "2", "*", "INT-", "1", "^", "x1", "INT+", "2"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


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


def _train_args(model: dict, out: Path, *extra: str) -> list[str]:
    overrides = [f"model.{k}={v}" for k, v in model.items()]
    return ["train", "--task", "lyapunov", "--out", str(out), "--max-steps", "2", "--quiet", *extra, *overrides,
            "train.batch_size=4", "train.valid_count=4", "train.verify_count=1", "train.tensorboard=false",
            "train.threads=1"]


def test_train_lyapunov_on_the_fly_from_a_file_and_from_a_mixture(tmp_path, tiny_lyapunov):
    flags = ["--max-variables", "2", "--max-half-degree", "1", "--max-rotations", "0"]
    assert main(_train_args(tiny_lyapunov["model"], tmp_path / "fly", *flags)) == 0
    for name, seed in (("a.txt", "1"), ("b.txt", "2")):
        assert main(["generate", "lyapunov", *flags, "--count", "12", "--seed", seed, "--out", str(tmp_path / name),
                     "--quiet"]) == 0
    assert main(["data", "mix", f"{tmp_path / 'a.txt'}:all", f"{tmp_path / 'b.txt'}:5", "--out",
                 str(tmp_path / "mix.txt")]) == 0
    assert len((tmp_path / "mix.txt").read_text().splitlines()) == 17
    out = tmp_path / "run-mix"
    # 12 steps on the mixture: the model learns from the file (both losses fall)
    assert main(_train_args(tiny_lyapunov["model"], out, *flags, "--data", str(tmp_path / "mix.txt"), "--valid-data",
                            str(tmp_path / "b.txt"), "--max-steps", "12", "train.lr=3e-3", "train.warmup=2",
                            "train.log_every=3", "train.eval_every=6")) == 0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if r["kind"] == "train"]
    valid = [r for r in records if r["kind"] == "valid"]
    assert [r["step"] for r in valid] == [6, 12] and len(losses) == 4
    assert losses[-1] < 0.9 * losses[0] and valid[-1]["loss"] < valid[0]["loss"], (losses, valid)


def test_beam_hypotheses_are_ranked_by_their_model_score(lyapunov_run):
    """Scores come best first, each equals the model's own length-normalised log-probability, and
    the model method sees the hypotheses in that order."""
    from seq2math.lyapunov.methods.model import decode_hypotheses, load_model
    from seq2math.model.decoding import beam_search

    loaded = load_model(lyapunov_run)
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
    assert len(verdicts) == 4 and seconds > 0                       # stopped at the certified V
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


def test_read_hypotheses_marks_repeats_syntax_degree_and_constants():
    from seq2math.lyapunov.methods.hypotheses import read_hypotheses

    # a constant (the long-answer model once decoded an integer of hundreds of digits) is no Lyapunov function
    proposals = read_hypotheses([(GOOD_V, -0.1), (GOOD_V, -0.2), (["+", "x0"], -0.3),
                                 (["^", "x0", "INT+", "999"], -0.4), (["x2"], -0.5),
                                 (["INT+", "16", "32", "32"], -0.6)], nvars=2)
    assert proposals[0].V is not None and proposals[0].problem == ""
    assert [p.problem.split(":")[0].split(" ")[0] for p in proposals[1:]] == ["repeat", "invalid", "degree", "uses",
                                                                               "a"]
    assert proposals[-1].problem == "a constant" and proposals[-1].V is None


def test_solve_with_model_then_sos_falls_back_to_sos(lyapunov_run, capsys, textbook):
    """An untrained model proposes nonsense: nothing it says verifies, and sos still finds V."""
    code = main(["solve", textbook.infix, "--methods", "model,sos", "--model", str(lyapunov_run),
                 "--beam", "3", "--json", "--time-limit", "60"])
    record = json.loads(capsys.readouterr().out)
    assert code == 0 and record["found"] and record["method"] == "sos"
    assert [t["method"] for t in record["tried"]] == ["model", "sos"]
    assert main(["solve", "x0' = -x0", "--methods", "model", "--model", str(lyapunov_run / "nowhere")]) == 2


def test_model_method_proposes_in_rank_order_and_its_proposals_are_proved(lyapunov_run, monkeypatch):
    """With a decoder that ranks a wrong V before the right one, solve proves the second (both fit the gradient
    form f = −G∇V exactly, so the screen of ``exact_fits`` leaves their order alone)."""
    import seq2math.lyapunov.methods.model as mm
    from seq2math.lyapunov.methods import make_method, solve_system
    from seq2math.tokens.infix import parse_infix_system

    monkeypatch.setattr(mm, "decode_hypotheses", lambda loaded, sources, beam, **_: [
        [(SADDLE_V, -0.1), (["+", "x0"], -0.2), (GOOD_V, -0.3)]])
    system = parse_infix_system("x0' = -x0; x1' = -x1")
    outcome = solve_system(system, [make_method("model", model=str(lyapunov_run), beam=3)])
    assert outcome.found and outcome.method == "model" and outcome.tried[0].candidates == 2
    assert outcome.verification.proof.startswith("sos-exact")


def test_hypotheses_that_fit_the_gradient_form_exactly_are_proposed_first(lyapunov_run, monkeypatch):
    """x0^2 + x1^4 ranks first and is a Lyapunov function of x' = (-x0, -x1) too, but f is not -G grad V for any
    polynomial G with it (the second equation would need G = -1/(4 x1^2)); x0^2 + x1^2 fits with G = I/2, so it is
    proposed, and proved, first. A non-polynomial system or hypothesis is never screened."""
    import seq2math.lyapunov.methods.model as mm
    from seq2math.lyapunov.methods import make_method, solve_system
    from seq2math.lyapunov.methods.repair import gradient_form_residual
    from seq2math.symbolic.expr import to_poly
    from seq2math.tokens.infix import parse_infix, parse_infix_system

    quartic = ["+", "^", "x0", "INT+", "2", "^", "x1", "INT+", "4"]
    system = parse_infix_system("x0' = -x0; x1' = -x1")
    equations = mm.polynomial_equations(system)
    assert gradient_form_residual(equations, to_poly(parse_infix("x0^2 + x1^2"), 2)) < 1e-9
    assert gradient_form_residual(equations, to_poly(parse_infix("x0^2 + x1^4"), 2)) > 0.1
    hypotheses = [parse_infix("x0^2 + x1^4"), parse_infix("sin(x0)^2 + x1^2"), parse_infix("x0^2 + x1^2")]
    assert mm.exact_fits(equations, hypotheses) == [hypotheses[2]]
    assert mm.exact_fits(None, hypotheses) == []
    monkeypatch.setattr(mm, "decode_hypotheses", lambda loaded, sources, beam, **_: [[(quartic, -0.1), (GOOD_V, -0.2)]])
    outcome = solve_system(system, [make_method("model", model=str(lyapunov_run), beam=2)])
    assert outcome.found and outcome.tried[0].candidates == 1
    assert str(outcome.V) == str(parse_full_expression(GOOD_V))


def test_several_models_propose_in_turn_and_a_later_models_hypothesis_is_proved(lyapunov_run, tmp_path,
                                                                                  monkeypatch):
    """``--model A+B``: A's best, B's best, A's second, ...; here B's first hypothesis is the right V."""
    import shutil

    import seq2math.lyapunov.methods.model as mm
    from seq2math.lyapunov.methods import make_method, solve_system
    from seq2math.tokens.infix import parse_infix_system

    assert mm.interleaved([["a0", "a1", "a2"], ["b0"], []]) == ["a0", "b0", "a1", "a2"]
    second = tmp_path / "second"
    shutil.copytree(lyapunov_run, second)
    assert mm.resolve_model_paths(f"{lyapunov_run}+{second}") == [lyapunov_run, second]
    with pytest.raises(ValueError, match="nowhere"):
        mm.resolve_model_paths(f"{lyapunov_run}+{tmp_path / 'nowhere'}")
    beams = iter([[(SADDLE_V, -0.1), (["+", "x0"], -0.2)],                   # the first model: wrong
                  [(GOOD_V, -0.5)]])                                         # the second: right
    extrapolated = []

    def decode(loaded, sources, beam, extrapolate=False, **_):
        extrapolated.append(extrapolate)
        return [next(beams)]

    monkeypatch.setattr(mm, "decode_hypotheses", decode)
    system = parse_infix_system("x0' = -x0; x1' = -x1")
    outcome = solve_system(system, [make_method("model", model=f"{lyapunov_run}+{second}", beam=2)])
    assert outcome.found and outcome.tried[0].candidates == 2           # x0^2 - x1^2 (refuted), then GOOD_V
    assert str(outcome.V) == str(parse_full_expression(GOOD_V))
    assert extrapolated == [False, True]          # only one model reads past its trained positions: the one with
    #                                               the most of them, on a tie (two copies here) the last


def test_models_trained_on_systems_like_this_one_propose_first(tmp_path):
    """``routed``: a model whose generated training stream held the system's size and degree proposes before
    one that never saw such systems; a model trained on a file counts as holding every system, and the model
    that reads past its trained positions is the one with the most of them, whatever the order."""
    import seq2math.lyapunov.methods.ensemble as ensemble
    from seq2math.lyapunov.methods.model import polynomial_equations
    from seq2math.tokens.infix import parse_infix_system

    def model(name: str, variables: int, degree: int, max_len: int, data: str | None = None,
              mode: str = "backward") -> Path:
        path = tmp_path / name
        path.mkdir()
        task = {"mode": mode, "max_variables": variables, "max_system_degree": degree,
                "forward_max_variables": variables, "forward_max_degree": degree}
        config = {"task": task, "model": {"max_len": max_len}, "train": {"data": data}}
        (path / "config.json").write_text(json.dumps({"command": "test", "config": config}))
        return path

    small, large = model("small", 3, 5, 320), model("large", 5, 15, 768)
    forward, from_file = model("forward", 2, 3, 320, mode="forward"), model("file", 2, 2, 320, data="x.txt")
    assert ensemble.trained_range(small) == (3, 5) and ensemble.trained_range(forward) == (2, 3)
    assert ensemble.trained_range(from_file) is None

    def order(text: str, paths: list[Path]) -> list[str]:
        return [path.name for path in ensemble.routed(paths, polynomial_equations(parse_infix_system(text)))]

    textbook = "x0' = -x0 + x1; x1' = -x0 - x1^3"
    assert order(textbook, [small, large]) == ["small", "large"]             # inside both: as given
    assert order(textbook, [large, small]) == ["large", "small"]
    assert order("x0' = -x0^7; x1' = -x1", [small, large]) == ["large", "small"]        # degree 7 > 5
    assert order("x0' = -x0; x1' = -x1; x2' = -x2; x3' = -x3", [small, large]) == ["large", "small"]  # 4 > 3
    assert order("x0' = -x0^3 - x1; x1' = x0 - x1", [forward, small]) == ["forward", "small"]
    assert order("x0' = -x0^5; x1' = -x1", [forward, small, large]) == ["small", "large", "forward"]
    assert order("x0' = -x0^9; x1' = -x1", [from_file, small]) == ["file", "small"]
    assert ensemble.longest_reader([large, small]) == large and ensemble.longest_reader([small, large]) == large
    assert ensemble.longest_reader([small, forward]) == forward                     # a tie: the last


def test_the_default_ensemble_lets_the_mixture_models_propose_first_on_a_bpoly_system():
    """The shipped small model (3 variables, degree 5) proposes first on a textbook system, the mixture model and
    its long-answer branch first on our BPoly test system 21 (degree 14), which the small model's beam would
    otherwise hold up; the branch, last of the two with the most trained positions, reads the longest sources."""
    from seq2math.lyapunov.batch import parse_benchmark_line
    from seq2math.lyapunov.methods import make_method
    from seq2math.lyapunov.methods.ensemble import longest_reader
    from seq2math.tokens.infix import parse_infix_system

    method = make_method("model")
    if SHIPPED_MIXTURE not in method.paths or SHIPPED_LONG not in method.paths:
        pytest.skip("no committed mixture checkpoints")
    textbook = parse_infix_system("x0' = -x0 + x1; x1' = -x0 - x1^3")
    assert method.paths_for(textbook) == [SHIPPED, SHIPPED_MIXTURE, SHIPPED_LONG]
    line = (Path(__file__).parent / "data" / "lyapunov-bpoly-test200.txt").read_text().splitlines()[20]
    assert method.paths_for(parse_benchmark_line(line)[1]) == [SHIPPED_MIXTURE, SHIPPED_LONG, SHIPPED]
    assert longest_reader(method.paths) == SHIPPED_LONG


def test_a_non_polynomial_system_is_decoded_by_the_non_polynomial_model(lyapunov_run, tmp_path, monkeypatch):
    """With no model named, a non-polynomial system goes to NONPOLY_MODEL (when it exists) and a polynomial one
    to the shipped models, each group decoded in one batch; guided never decodes a non-polynomial system."""
    import shutil

    import seq2math.lyapunov.methods.model as mm
    from seq2math.lyapunov.methods import make_method
    from seq2math.tokens.infix import parse_infix_system

    nonpoly_model = tmp_path / "lyapunov-nonpoly"
    monkeypatch.setattr(mm, "NONPOLY_MODEL", nonpoly_model)
    polynomial = parse_infix_system("x0' = -x0; x1' = -x1")
    trigonometric = parse_infix_system("x0' = -x0*(2 + sin(x1)); x1' = -x1")
    method = make_method("model")
    assert method.paths_for(trigonometric) == method.paths_for(polynomial)     # none shipped: the polynomial ones
    shutil.copytree(lyapunov_run, nonpoly_model)
    method = make_method("model")
    assert method.paths_for(trigonometric) == [nonpoly_model] and method.paths_for(polynomial) == method.paths
    assert make_method("model", model=str(lyapunov_run)).paths_for(trigonometric) == [lyapunov_run]
    # each group's beam names the models that decoded it
    monkeypatch.setattr(mm, "ensemble_hypotheses", lambda options, paths, systems, deadline=None: [
        [(list(map(str, paths)), None)] for _ in systems])
    beams = method.prepare([polynomial, trigonometric, polynomial])
    assert beams[1] == [([str(nonpoly_model)], None)] and beams[0] == beams[2] != beams[1]
    assert make_method("guided").prepare([polynomial, trigonometric])[1] == []


def test_exported_checkpoint_is_small_loads_decodes_and_resumes(lyapunov_run, tmp_path):
    from seq2math.lyapunov.methods.model import decode_hypotheses, load_model
    from seq2math.training import checkpoint as ckpt

    exported = tmp_path / "export"
    assert main(["export", str(lyapunov_run), "--out", str(exported)]) == 0
    payload = json.loads((exported / "config.json").read_text())
    assert payload["export"]["dtype"] == "fp16" and payload["export"]["step"] == 7
    assert (exported / "model.safetensors").stat().st_size < (lyapunov_run / "model.safetensors").stat().st_size * 0.6
    original, small = load_model(lyapunov_run), load_model(exported)
    for (name, a), (_, b) in zip(original.model.state_dict().items(), small.model.state_dict().items()):
        assert b.dtype == torch.float32 and torch.allclose(a, b, atol=2e-3, rtol=2e-3), name
    decoded = decode_hypotheses(small, [SYSTEM], beam=2)[0]
    assert len(decoded) == 2 and all(isinstance(tokens, list) for tokens, _ in decoded)
    run = tmp_path / "continued"
    assert main(["export", str(exported), "--as-run", "--out", str(run)]) == 0
    assert main(["train", "--resume", "--out", str(run), "--max-steps", "9", "--quiet", "train.batch_size=4"]) == 0
    assert ckpt.weights_step(run / "model.safetensors") == 9
    assert main(["export", str(lyapunov_run), "--out", str(tmp_path / "big"), "--max-mb", "0.01"]) == 2


def test_heldout_split_finds_the_systems_of_the_training_stream(lyapunov_run, tmp_path, tiny_lyapunov):
    from seq2math.data.batching import TRAIN_STREAM, stream_example
    from seq2math.data.files import format_line
    from seq2math.data.heldout import split_unseen

    task = make_task("lyapunov", tiny_lyapunov["task"])
    trained = stream_example(task, TRAIN_STREAM, 0, 5, 160, 160)            # position 5 < 1 step x batch 64
    later = stream_example(task, TRAIN_STREAM, 0, 64 * 50, 160, 160)        # far beyond one step
    test = tmp_path / "test.txt"
    test.write_text("".join(format_line(*example, "prefix") + "\n" for example in (trained, later)))
    unseen, seen = split_unseen(lyapunov_run, test, steps=1)
    assert seen == [format_line(*trained, "prefix")]
    assert unseen == ([format_line(*later, "prefix")] if later[0] != trained[0] else [])


def test_heldout_split_rebuilds_token_budget_batches_with_a_mixed_file(lyapunov_run, tmp_path, tiny_lyapunov):
    """A token-budget run with a mixed-in file: the examples of its first steps, generated or from the file,
    are seen; an example of a much later pool is not."""
    import shutil

    from seq2math.config import save_config
    from seq2math.data.batching import TRAIN_STREAM, stream_example
    from seq2math.data.files import format_line
    from seq2math.data.heldout import split_unseen
    from seq2math.tokens.vocab import Vocab
    from seq2math.training import checkpoint as ckpt
    from seq2math.training.run_data import training_batches, training_source

    task = make_task("lyapunov", tiny_lyapunov["task"])
    mixed = tmp_path / "mix.txt"
    mixed.write_text("".join(format_line(*stream_example(task, TRAIN_STREAM, 99, i, 160, 160), "prefix") + "\n"
                             for i in range(40)))
    run = tmp_path / "run"
    shutil.copytree(lyapunov_run, run)
    config, _ = ckpt.read_run_config(run)
    config.train.batch_tokens, config.train.mix_data, config.train.mix_fraction = 600, str(mixed), 0.5
    save_config(config, run)
    vocab = Vocab.load(run / ckpt.VOCAB_FILE)
    batches = training_batches(config, training_source(config, task, vocab), vocab, "seq2seq")
    first = batches.step_examples(0) + batches.step_examples(1)
    later = batches.step_examples(batches.steps_per_item * 30)
    mixed_lines = set(mixed.read_text().splitlines())
    lines = [format_line(*example, "prefix") for example in first + later]
    assert any(line in mixed_lines for line in lines[: len(first)])          # the mix took part
    test = tmp_path / "test.txt"
    test.write_text("\n".join(lines) + "\n")
    unseen, seen = split_unseen(run, test, steps=2)
    first_sources = {" ".join(example[0]) for example in first}
    assert set(seen) >= set(lines[: len(first)])
    assert set(unseen) == {line for line, example in zip(lines[len(first):], later)
                           if " ".join(example[0]) not in first_sources} != set()


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


#: the checkpoint committed with the package (seq2math/checkpoints/lyapunov-tiny), found here by path
SHIPPED = Path(seq2math.__file__).resolve().parent / "checkpoints" / "lyapunov-tiny"
#: the mixture checkpoint committed next to it (BPoly-like systems; docs/training.md)
SHIPPED_MIXTURE = SHIPPED.parent / "lyapunov-mixture"
#: the mixture model's branch fine-tuned on long answers, committed next to them (docs/training.md)
SHIPPED_LONG = SHIPPED.parent / "lyapunov-mixture-long"


def test_the_committed_nonpoly_checkpoint_solves_a_non_polynomial_test_system():
    """The first system of tests/data/lyapunov-nonpoly-test200.txt: the simple candidates of ``nonpoly`` are refuted,
    and the shipped non-polynomial model's greedy V, ln(1 + 2x1^6 + 4x0^4), is proved by the prover chain."""
    from seq2math.lyapunov.batch import parse_benchmark_line
    from seq2math.lyapunov.methods import make_method, solve_system
    from seq2math.lyapunov.methods.model import nonpoly_model_paths
    from seq2math.symbolic.expr import to_infix
    from seq2math.training.config import NONPOLY_MODEL
    from seq2math.training.export import MAX_EXPORT_BYTES

    assert NONPOLY_MODEL == SHIPPED.parent / "lyapunov-nonpoly"
    assert sum(f.stat().st_size for f in NONPOLY_MODEL.iterdir()) <= MAX_EXPORT_BYTES
    assert nonpoly_model_paths(None, []) == [NONPOLY_MODEL]
    line = (Path(__file__).parent / "data" / "lyapunov-nonpoly-test200.txt").read_text().splitlines()[0]
    _, system, _ = parse_benchmark_line(line)
    outcome = solve_system(system, [make_method("model", beam=1)], time_limit=60)
    assert [t.method for t in outcome.tried] == ["nonpoly", "model"] and outcome.tried[0].candidates >= 1
    assert outcome.found and outcome.method == "model" and outcome.verification.proof == "substitution+sos"
    assert to_infix(outcome.V).startswith("ln(")


def test_the_committed_checkpoint_is_the_default_model():
    from seq2math.lyapunov.methods.model import resolve_model_path, resolve_model_paths
    from seq2math.training.config import SHIPPED_MODELS

    assert (SHIPPED / "config.json").exists() and resolve_model_path(None) == SHIPPED
    # the model and guided methods: every shipped checkpoint, the small-system one first
    assert resolve_model_paths(None) == [path for path in SHIPPED_MODELS if (path / "config.json").exists()]
    assert resolve_model_paths(None)[0] == SHIPPED


def test_the_committed_checkpoint_alone_certifies_an_easy_system(capsys):
    from seq2math.lyapunov.check import as_polynomials, check_candidate
    from seq2math.lyapunov.methods.model import decode_hypotheses, load_model
    from seq2math.sos.certificates import certificate_document, recheck
    from seq2math.tokens.infix import parse_infix, parse_infix_system
    from seq2math.training.export import MAX_EXPORT_BYTES

    assert sum(f.stat().st_size for f in SHIPPED.iterdir()) <= MAX_EXPORT_BYTES
    loaded = load_model(SHIPPED)
    assert loaded.task.name == "lyapunov" and next(loaded.model.parameters()).dtype == torch.float32
    decoded = decode_hypotheses(loaded, [SYSTEM], beam=3)[0]
    assert len(decoded) == 3 and [s for _, s in decoded] == sorted((s for _, s in decoded), reverse=True)
    # x0' = -x0, x1' = -x1 and x0' = -x0^3, x1' = -x1: the model method alone, no sos fallback
    for system in ("x0' = -x0; x1' = -x1", "x0' = -x0^3; x1' = -x1"):
        assert main(["solve", system, "--methods", "model", "--model", str(SHIPPED), "--beam", "5", "--json"]) == 0
        record = json.loads(capsys.readouterr().out)
        assert record["found"] is True and record["method"] == "model" and record["proof"] == "sos-exact"
        polys, V = as_polynomials(parse_infix_system(system), parse_infix(record["V"]))
        proved = check_candidate(polys, V, "lyapunov", certificate=True)
        assert recheck(certificate_document(polys, V, "lyapunov", proved.certificate["conditions"]))[0]


@pytest.mark.parametrize("index, proposer, other", [
    (42, SHIPPED_MIXTURE, SHIPPED),       # line 43 (V = 2x0^10 + 2x1^2): the mixture model's first hypothesis
    (15, SHIPPED_LONG, SHIPPED_MIXTURE),  # line 16: the long-answer branch (session 27: 158/200 against 145)
])
def test_each_committed_mixture_checkpoint_certifies_a_bpoly_system_the_one_before_it_does_not(index, proposer,
                                                                                                other):
    """A line of our BPoly test set whose V is in ``proposer``'s beam of 3 and not in ``other``'s: each shipped
    checkpoint earns its place in the default ensemble, which (all of them in turn) finds a V too."""
    from seq2math.api import solve
    from seq2math.lyapunov.batch import parse_problem
    from seq2math.training.export import MAX_EXPORT_BYTES

    assert sum(f.stat().st_size for f in proposer.iterdir()) <= MAX_EXPORT_BYTES
    line = (Path(__file__).parent / "data" / "lyapunov-bpoly-test200.txt").read_text().splitlines()[index]
    system, _ = parse_problem(line.split("|", 1)[1], False)
    found = solve(system, methods="model", model=proposer, beam=3, time_limit=60)
    assert found.found and found.proof.startswith("sos-exact") and found.certificate is not None
    assert not solve(system, methods="model", model=other, beam=3, time_limit=60).found
    every = solve(system, methods="model", beam=3, time_limit=60)
    assert every.found and every.certificate is not None


def test_a_non_polynomial_test_line_reaches_the_model_token_for_token():
    """The non-polynomial generator writes every equation as an expression tree; the model method must feed
    those tokens, not a canonical re-expansion of the equations that happen to be polynomial."""
    from seq2math.lyapunov.batch import parse_benchmark_line
    from seq2math.lyapunov.methods.model import is_polynomial_system, system_source

    data = Path(__file__).parent / "data" / "lyapunov-nonpoly-test200.txt"
    lines = data.read_text().splitlines()[:40]
    exact = [system_source(parse_benchmark_line(line)[1]) == line.split("\t")[0].split("|", 1)[-1].split()
             for line in lines]
    polynomial = [is_polynomial_system(parse_benchmark_line(line)[1]) for line in lines]
    assert all(same for same, poly in zip(exact, polynomial) if not poly) and not all(polynomial)



def test_an_exact_fit_decoded_from_another_view_of_the_system_is_proposed_after_its_own_beam(lyapunov_run,
                                                                                          monkeypatch):
    """x' = (-x0, -x1^3): the stub model proposes the saddle x0^2 - x1^2 for the system as typed (an exact fit,
    refuted) and x0^4 + x1^2 for every other view; in the reversed view (y0 = x1, y1 = x0) that is
    V = x0^2 + x1^4, which fits the gradient form and is proved on the system as typed. Views give nothing when
    the method reads the system as typed only (``views=1``)."""
    import seq2math.lyapunov.methods.model as mm
    from seq2math.lyapunov.methods import make_method, solve_system
    from seq2math.tokens.infix import parse_infix_system

    system = parse_infix_system("x0' = -x0; x1' = -x1^3")
    own = mm.system_source(system)
    swapped = ["+", "^", "x0", "INT+", "4", "^", "x1", "INT+", "2"]
    monkeypatch.setattr(mm, "decode_hypotheses", lambda loaded, sources, beam, **_: [
        [(SADDLE_V, -0.1)] if source == own else [(swapped, -0.1)] for source in sources])
    outcome = solve_system(system, [make_method("model", model=str(lyapunov_run), beam=1)])
    assert outcome.found and outcome.tried[0].candidates == 2
    assert str(outcome.V) == str(mm.to_poly(parse_full_expression(["+", "^", "x0", "INT+", "2", "^", "x1",
                                                                        "INT+", "4"]), 2))
    alone = solve_system(system, [make_method("model", model=str(lyapunov_run), beam=1, views=1)])
    assert not alone.found and alone.tried[0].candidates == 1
    with pytest.raises(Exception, match="views must be at least 1"):
        make_method("model", model=str(lyapunov_run), views=0)


@pytest.mark.parametrize("own_fit", [False, True])
def test_another_views_exact_fits_come_before_the_other_hypotheses_only_when_the_own_beam_holds_no_fit(
        lyapunov_run, monkeypatch, own_fit):
    """x' = (-x0, -x1^3): x0^2 + x1^6 is a Lyapunov function that does not fit the gradient form (x1^3 is no
    polynomial multiple of x1^5 modulo x0), the reversed view's x0^4 + x1^2 gives the fit x0^2 + x1^4. With no
    exact fit in the system's own beam the view's fit is proposed first; with one (the saddle, refuted) the
    own beam's other hypotheses keep their place before the views (a forward system's proofs come from them)."""
    import seq2math.lyapunov.methods.model as mm
    from seq2math.lyapunov.methods import make_method, solve_system
    from seq2math.tokens.infix import parse_infix_system

    system = parse_infix_system("x0' = -x0; x1' = -x1^3")
    own = mm.system_source(system)
    not_a_fit = ["+", "^", "x0", "INT+", "2", "^", "x1", "INT+", "6"]
    swapped = ["+", "^", "x0", "INT+", "4", "^", "x1", "INT+", "2"]
    beam = [(SADDLE_V, -0.1), (not_a_fit, -0.2)] if own_fit else [(not_a_fit, -0.1)]
    monkeypatch.setattr(mm, "decode_hypotheses", lambda loaded, sources, beam_size, **_: [
        beam if source == own else [(swapped, -0.1)] for source in sources])
    outcome = solve_system(system, [make_method("model", model=str(lyapunov_run), beam=len(beam))])
    expected = not_a_fit if own_fit else ["+", "^", "x0", "INT+", "2", "^", "x1", "INT+", "4"]
    assert outcome.found and outcome.tried[0].candidates == (2 if own_fit else 1)
    found = mm.to_poly(outcome.V, 2) if own_fit else outcome.V      # a view's V comes mapped back, a polynomial
    assert str(found) == str(mm.to_poly(parse_full_expression(expected), 2))


def test_a_non_polynomial_systems_reordered_view_proposes_its_whole_beam_after_the_systems_own(lyapunov_run,
                                                                                              monkeypatch):
    """f = -G∇V for V = x0^2 + 3x0x1 + 3x1^2 and G = [[2 + sin x1, -5], [5, 1]], which the simple candidates of the
    ``nonpoly`` method do not prove: the stub proposes 12 saddles k(x0^2 - x1^2) for the system as typed (refuted)
    and W = 3y0^2 + 3y0y1 + y1^2 for the reversed view (y0 = x1, y1 = x0), which is V mapped back, proved on the
    system as typed. A non-polynomial system has no exact fits: its hypotheses come in blocks of ``VIEW_BLOCK``
    (10), its own then the view's, so W is the 11th; with ``views=1`` there is none."""
    import seq2math.lyapunov.methods.model as mm
    from seq2math.lyapunov.methods import make_method, solve_system
    from seq2math.tokens.infix import parse_infix_system

    system = parse_infix_system("x0' = -(2 + sin(x1))*(2*x0 + 3*x1) + 5*(3*x0 + 6*x1); "
                                "x1' = -5*(2*x0 + 3*x1) - (3*x0 + 6*x1)")
    own = mm.system_source(system)
    in_view = ["+", "*", "INT+", "3", "^", "x0", "INT+", "2", "+", "*", "INT+", "3", "*", "x0", "x1",
               "^", "x1", "INT+", "2"]
    saddles = [(["*", "INT+", str(k), "+", "^", "x0", "INT+", "2", "*", "INT-", "1", "^", "x1", "INT+", "2"], -0.1 * k)
               for k in range(1, 13)]
    sources = []

    def decode(loaded, batch, beam, **_):
        sources.extend(batch)
        return [saddles if source == own else [(in_view, -0.1)] for source in batch]

    monkeypatch.setattr(mm, "decode_hypotheses", decode)
    outcome = solve_system(system, [make_method("model", model=str(lyapunov_run), beam=12)])
    assert outcome.found and [a.method for a in outcome.tried] == ["nonpoly", "model"]
    assert mm.VIEW_BLOCK == 10 and outcome.tried[1].candidates == 11
    assert mm.to_poly(outcome.V, 2) == mm.to_poly(parse_full_expression(["+", "^", "x0", "INT+", "2", "+", "*",
                                                                         "INT+", "3", "*", "x0", "x1", "*", "INT+",
                                                                         "3", "^", "x1", "INT+", "2"]), 2)
    assert len(sources) == 2 and sources[0] == own and "sin" in sources[1] and sources[1] != own
    alone = solve_system(system, [make_method("model", model=str(lyapunov_run), beam=12, views=1)])
    assert not alone.found and alone.tried[1].candidates == 12
