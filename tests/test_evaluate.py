"""Evaluation: any-of-K and top-1 rules, invalid and undecided outputs, resumption, the commands."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import seq2math.evaluation.evaluate as evaluation
from seq2math.data.generation import generate_example
from seq2math.evaluation.decode import Hypothesis, decode_sources
from seq2math.evaluation.evaluate import EvalOptions, evaluate_examples
from seq2math.evaluation.metrics import example_record, format_table, summarize
from seq2math.evaluation.pool import Verifier, safe_verify
from seq2math.model import ModelConfig
from seq2math.tasks.base import Verdict, make_task
from seq2math.tokens.matrices import read_array
from seq2math.tokens.vocab import Vocab
from seq2math.training.checkpoint import load_run


@pytest.fixture(scope="module")
def task():
    return make_task("transpose", {"dim": 2, "encoding": "P10"})


@pytest.fixture(scope="module")
def examples(task):
    return [generate_example(task, 5, i) for i in range(12)]


def wrong(target: list[str]) -> list[str]:
    """The target with every sign flipped: a readable matrix at relative L1 error 200%."""
    flip = {"+": "-", "-": "+"}
    return [flip.get(token, token) for token in target]


def record_for(task, source, target, hypotheses):
    hyps = [Hypothesis(h) for h in hypotheses]
    return example_record(task, 0, source, target, hyps, [safe_verify(task, source, h) for h in hypotheses])


def test_correct_answer_verifies_and_a_wrong_one_does_not(task, examples):
    source, target = examples[0]
    assert all(safe_verify(task, source, target).scores.values())
    assert not safe_verify(task, source, wrong(target)).scores["0.5%"]


def test_any_of_k_counts_a_later_hypothesis_top1_only_the_first(task, examples):
    source, target = examples[0]
    record = record_for(task, source, target, [wrong(target), target])
    assert record["any"]["0.5%"] is True and record["top1"]["0.5%"] is False
    assert record["first_verified"] == 1
    summary = summarize(task, [record, record_for(task, source, target, [target])], beam=2)
    assert summary["any"]["0.5%"] == 1.0 and summary["top1"]["0.5%"] == 0.5


@pytest.mark.parametrize("hypothesis", [[], ["V2"], ["V2", "V2", "+", "+", "+"], ["<unk>", "x"] * 40,
                                        ["V3", "V1", "+", "1", "0", "0", "E0"]])
def test_malformed_hypotheses_are_invalid_never_a_crash(task, examples, hypothesis):
    source, target = examples[1]
    record = record_for(task, source, target, [hypothesis])
    assert record["valid"] is False and record["any"]["5%"] is False
    assert summarize(task, [record], beam=1)["invalid_top1"] == 1.0


def test_a_raising_verifier_gives_an_invalid_verdict_naming_the_error(task, examples):
    class Broken(type(task)):
        def verify(self, source, hypothesis):
            raise ZeroDivisionError("boom")

    verdict = safe_verify(Broken(task.options), *examples[0])
    assert not verdict.valid and "ZeroDivisionError: boom" in verdict.reason


def test_undecided_verdicts_are_neither_solved_nor_failed(task, examples):
    undecided = Verdict(True, {m: None for m in task.metrics})
    failed = Verdict(True, {m: False for m in task.metrics})
    source, target = examples[0]
    record = example_record(task, 0, source, target, [Hypothesis(target)] * 2, [failed, undecided])
    assert record["any"]["5%"] is None
    summary = summarize(task, [record], beam=2)
    assert summary["undecided"]["5%"] == 1.0 and summary["any"]["5%"] == 0.0


def test_parallel_verification_matches_serial(task, examples):
    jobs = [(s, [t, wrong(t), ["V9"]]) for s, t in examples[:6]]
    with Verifier(task, 1) as serial, Verifier(task, 2) as parallel:
        assert [[v.scores for v in vs] for vs in serial(jobs)] == [[v.scores for v in vs] for vs in parallel(jobs)]


def fake_decoder(answers: dict[str, list[list[str]]], calls: list[int]):
    def decode(model, vocab, sources, beam, max_len, device, length_penalty=1.0):
        calls.append(len(sources))
        return [[Hypothesis(h, -float(i)) for i, h in enumerate(answers[" ".join(s)])] for s in sources]
    return decode


class NoModel:
    config = ModelConfig(max_len=64)

    def eval(self):
        return self


def test_evaluation_counts_exactly_the_verified_examples(task, examples, monkeypatch, tmp_path):
    # even examples: the right answer second; odd ones: only wrong answers
    answers = {" ".join(s): ([wrong(t), t] if i % 2 == 0 else [wrong(t), ["V2", "+"]])
               for i, (s, t) in enumerate(examples)}
    monkeypatch.setattr(evaluation, "decode_sources", fake_decoder(answers, []))
    partial = tmp_path / "eval.examples.jsonl"
    report = evaluate_examples(NoModel(), task, Vocab(task.vocabulary()), examples, EvalOptions(beam=2, batch_size=5),
                               partial_path=partial, progress=False)
    every = {m: True for m in task.metrics}
    assert report["count"] == 12 and report["any"] == {m: 0.5 for m in task.metrics}
    assert report["top1"] == {m: 0.0 for m in task.metrics}            # the first hypothesis is always wrong
    assert report["invalid_hypotheses"] == pytest.approx(6 / 24) and report["invalid_top1"] == 0.0
    assert [f["index"] for f in report["failures"]] == [1, 3, 5, 7, 9, 11]
    records = [json.loads(line) for line in partial.read_text().splitlines()[1:]]
    assert [r["any"] == every for r in records] == [i % 2 == 0 for i in range(12)]
    assert [r["first_verified"] for r in records] == [1 if i % 2 == 0 else None for i in range(12)]
    assert all(r["top1"] == {m: False for m in task.metrics} for r in records)
    assert "0.5%" in format_table(report) and "any-of-2" in format_table(report)


def test_an_interrupted_evaluation_resumes_where_it_stopped(task, examples, monkeypatch, tmp_path):
    answers = {" ".join(s): [t if i % 3 else wrong(t)] for i, (s, t) in enumerate(examples)}
    calls: list[int] = []
    monkeypatch.setattr(evaluation, "decode_sources", fake_decoder(answers, calls))
    vocab, options = Vocab(task.vocabulary()), EvalOptions(beam=1, batch_size=4, identity={"data": "x"})
    full = evaluate_examples(NoModel(), task, vocab, examples, options, progress=False)
    partial = tmp_path / "eval.examples.jsonl"
    evaluate_examples(NoModel(), task, vocab, examples[:8] + [], options, partial_path=partial, progress=False)
    lines = partial.read_text().splitlines()
    header = json.loads(lines[0])["header"]
    # pretend the run of all 12 was cut after 8 records and in the middle of a line
    header["count"] = 12
    partial.write_text("\n".join([json.dumps({"header": header}), *lines[1:], '{"index": 8, "si']))
    calls.clear()
    resumed = evaluate_examples(NoModel(), task, vocab, examples, options, partial_path=partial, progress=False)
    assert calls == [4]  # only the last chunk was decoded again
    assert resumed["any"] == full["any"] and resumed["count"] == 12
    assert len(partial.read_text().splitlines()) == 13


# ---- the commands on a (barely) trained run -------------------------------------------------
@pytest.fixture(scope="module")
def run_dir(transpose_run):
    return transpose_run(max_steps=10, eval_every=5, log_every=2)


#: the task's metrics and their relative L1 tolerances (docs/tasks.md)
TOLERANCES = {"5%": 0.05, "2%": 0.02, "1%": 0.01, "0.5%": 0.005}


def transposition_errors(task, source: list[str], prediction: list[str]) -> float:
    """Relative L1 error of a predicted transpose, computed here with numpy (inf if unreadable)."""
    matrix = read_array(source, 0, task.input_encoding)[0]
    try:
        answer, end = read_array(prediction, 0, task.output_encoding)
    except (ValueError, IndexError):
        return float("inf")
    if end != len(prediction) or answer.shape != matrix.T.shape:
        return float("inf")
    return float(np.abs(answer - matrix.T).sum() / np.abs(matrix).sum())


def test_evaluate_command_writes_a_report(run_dir, capsys):
    from seq2math.cli import main

    assert main(["evaluate", str(run_dir), "--count", "10", "--seed", "7", "--beam", "2", "--quiet"]) == 0
    report = json.loads((run_dir / "eval.json").read_text())
    assert report["count"] == 10 and report["beam"] == 2 and report["seed"] == 7
    assert "any-of-2" in capsys.readouterr().out
    # recompute every rate from the model's own hypotheses, judged here with numpy (not task.verify)
    lines = (run_dir / "eval.examples.jsonl").read_text().splitlines()
    header, records = json.loads(lines[0])["header"], [json.loads(line) for line in lines[1:]]
    loaded = load_run(run_dir, which="best")
    task = loaded.task
    tests = [generate_example(task, 7, i) for i in range(10)]
    assert [(r["source"], r["target"]) for r in records] == [(" ".join(s), " ".join(t)) for s, t in tests]
    decoded = decode_sources(loaded.model, loaded.vocab, [s for s, _ in tests], 2, header["max_len"], "cpu")
    top1 = {m: 0 for m in TOLERANCES}
    any_of_2 = {m: 0 for m in TOLERANCES}
    unreadable = 0
    for (source, _), hypotheses, record in zip(tests, decoded, records):
        errors = [transposition_errors(task, source, h.tokens) for h in hypotheses]
        unreadable += errors[0] == float("inf")
        assert record["valid"] is (errors[0] != float("inf"))
        assert record["prediction"] == " ".join(hypotheses[0].tokens) and len(hypotheses) == 2
        for metric, tolerance in TOLERANCES.items():
            assert record["top1"][metric] is (errors[0] <= tolerance)
            assert record["any"][metric] is any(e <= tolerance for e in errors)
            top1[metric] += errors[0] <= tolerance
            any_of_2[metric] += any(e <= tolerance for e in errors)
    assert report["top1"] == {m: top1[m] / 10 for m in TOLERANCES}
    assert report["any"] == {m: any_of_2[m] / 10 for m in TOLERANCES}
    assert report["by_size"]["2x2"]["any"] == report["any"] and report["invalid_top1"] == unreadable / 10


def test_predict_command_lists_hypotheses(run_dir, capsys):
    from seq2math.cli import main

    code = main(["predict", str(run_dir), "[[1, 2], [3, 4]]", "--beam", "2", "--json"])
    output = json.loads(capsys.readouterr().out)
    assert len(output["hypotheses"]) == 2 and code == (0 if any(h["verified"] for h in output["hypotheses"]) else 1)
    assert main(["predict", str(run_dir), "[[1, 2], [3"]) == 2  # unreadable input: a clear error


def test_plot_commands_write_pngs(run_dir, tmp_path, capsys):
    from seq2math.cli import main

    assert main(["plot", "curves", str(run_dir), "--out", str(tmp_path / "c.png")]) == 0
    assert main(["plot", "attention", str(run_dir), "[[1, 2], [3, 4]]", "--out", str(tmp_path / "a.png")]) == 0
    report = tmp_path / "eval.json"
    main(["evaluate", str(run_dir), "--count", "4", "--quiet", "--out", str(report)])
    capsys.readouterr()
    assert main(["plot", "table", str(report), "--out", str(tmp_path / "t.png")]) == 0
    assert "| run | examples | beam | 5% | 2% | 1% | 0.5% | invalid |" in capsys.readouterr().out
    for name in ("c.png", "a.png", "t.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        pixels = np.asarray(Image.open(tmp_path / name).convert("L"), dtype=float)      # [height, width]
        assert pixels.shape[0] >= 200 and pixels.shape[1] >= 300, (name, pixels.shape)
        drawn = pixels < 250                                               # anything not (near) white
        assert 0.005 < drawn.mean() < 0.9, (name, drawn.mean())           # something drawn, not a flat fill
        assert len(np.unique(pixels)) > 10                                 # lines, text and shades


def test_evaluate_fills_the_masked_answers_of_an_encoder_only_run(tiny_run_config, tmp_path, capsys):
    """An encoder-only run trained on masked answers is evaluated by filling them, then checked."""
    from seq2math.cli import main
    from seq2math.evaluation.masked import fill_masks
    from seq2math.training.checkpoint import read_metrics
    from seq2math.training.loop import train

    run = tmp_path / "encoder"
    train(tiny_run_config(model={"arch": "encoder", "positions": "rotary"}, objective="masked-target", max_steps=6,
                          eval_every=3), run, quiet=True)
    assert main(["evaluate", str(run), "--count", "6", "--beam", "2", "--quiet"]) == 2        # no beam to widen
    assert "has no beam" in capsys.readouterr().err
    assert main(["evaluate", str(run), "--count", "6", "--seed", "3", "--quiet"]) == 0
    report = json.loads((run / "eval.json").read_text())
    loaded = load_run(run, which="best")
    tests = [generate_example(loaded.task, 3, i) for i in range(6)]
    filled = fill_masks(loaded.model, loaded.vocab, [s for s, _ in tests], len(tests[0][1]))
    errors = [transposition_errors(loaded.task, s, answer) for (s, _), answer in zip(tests, filled)]
    assert report["count"] == 6 and report["beam"] == 1 and report["filled"] is True
    assert report["top1"] == {m: sum(e <= tol for e in errors) / 6 for m, tol in TOLERANCES.items()}
    valid = [r for r in read_metrics(run) if r["kind"] == "valid"]      # validation fills and verifies too
    assert [r["step"] for r in valid] == [3, 6] and all(0 <= r["verified"] <= 1 for r in valid)
