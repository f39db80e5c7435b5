"""`seq2math experiment`: every experiment runs end to end in --quick mode, grids resume, and the
pieces the tables rest on (the lecture's identity, root separation, masked answers) are right."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from seq2math.cli import main
from seq2math.experiments.base import QUICK_STEPS, QUICK_TEST_COUNT
from seq2math.evaluation.masked import check_masked, target_length
from seq2math.experiments.registry import experiment_names, get_experiment
from seq2math.experiments.representation import lecture_identity, separated
from seq2math.experiments.runner import Budget
from seq2math.model import ModelConfig, build_model
from seq2math.tasks.base import make_task
from seq2math.tasks.roots import poly_multiply
from seq2math.tokens.vocab import Vocab


def _run(name: str, out: Path, *extra: str) -> int:
    return main(["experiment", name, "--out", str(out), "--quick", "--quiet", *extra])


@pytest.mark.parametrize("name", ["representation", "architectures", "linalg"])
def test_every_experiment_runs_end_to_end_in_quick_mode(name, tmp_path):
    out = tmp_path / name
    assert _run(name, out) == 0
    record = json.loads((out / "results.json").read_text())
    configurations = get_experiment(name).configurations(quick=True)
    assert [r["name"] for r in record["results"]] == [c.name for c in configurations]
    for result, configuration in zip(record["results"], configurations):
        assert result["steps"] == QUICK_STEPS
        assert result["command"].startswith("seq2math train ")
        assert set(result["tests"]) == {t.name for t in configuration.tests}
        for report in result["tests"].values():
            assert report["count"] == QUICK_TEST_COUNT
            assert 0.0 <= report["top1"][report["primary_metric"]] <= 1.0
        assert (out / "runs" / result["name"] / "result.json").exists()
        last = result["final_validation"]
        assert last["step"] == QUICK_STEPS and last["loss"] > 0 and 0 <= last["token_accuracy"] <= 1
    table = (out / "results.md").read_text()
    assert all(value in table for r in record["results"] for value in r["labels"].values())
    assert (out / "accuracy.png").stat().st_size > 1000


def test_experiment_names_and_a_bad_name():
    assert experiment_names() == ["representation", "architectures", "linalg"]
    with pytest.raises(ValueError, match="unknown experiment 'roots'"):
        get_experiment("roots")
    with pytest.raises(ValueError, match="exactly one"):
        Budget(time="1m", steps=10)


def test_a_finished_grid_refuses_to_start_again_and_resumes(tmp_path, capsys):
    out = tmp_path / "representation"
    assert _run("representation", out, "--max-steps", "2") == 0
    first = (out / "runs" / "train-expanded" / "result.json").read_text()
    assert _run("representation", out, "--max-steps", "2") == 2          # no --resume: refused
    assert "pass --resume" in capsys.readouterr().err
    # the factored configuration lost its result (as if interrupted after training): resumed to 4 steps
    (out / "runs" / "train-factored" / "result.json").unlink()
    assert _run("representation", out, "--max-steps", "4", "--resume") == 0
    assert (out / "runs" / "train-expanded" / "result.json").read_text() == first   # skipped
    record = json.loads((out / "results.json").read_text())
    assert [r["steps"] for r in record["results"]] == [2, 4]
    saved = json.loads((out / "runs" / "train-factored" / "config.json").read_text())
    assert saved["resumed"][0]["step"] == 2                               # continued from its checkpoint


def test_an_interrupted_grid_keeps_the_table_of_its_finished_configurations(tmp_path, monkeypatch):
    from seq2math.experiments import runner

    finish = runner.run_configuration

    def interrupted_after_the_first(experiment, configuration, options):
        if configuration.name == "train-factored":
            raise KeyboardInterrupt
        return finish(experiment, configuration, options)

    monkeypatch.setattr(runner, "run_configuration", interrupted_after_the_first)
    out = tmp_path / "representation"
    assert main(["experiment", "representation", "--out", str(out), "--quick", "--quiet"]) != 0
    record = json.loads((out / "results.json").read_text())
    assert (record["finished"], record["configurations"]) == (1, 2)
    assert [r["name"] for r in record["results"]] == ["train-expanded"]
    assert "**Partial: 1 of 2 configurations finished**" in (out / "results.md").read_text()
    monkeypatch.setattr(runner, "run_configuration", finish)
    assert _run("representation", out, "--resume") == 0
    record = json.loads((out / "results.json").read_text())
    assert (record["finished"], record["configurations"]) == (2, 2)
    assert "Partial" not in (out / "results.md").read_text()


def test_the_lecture_identity_is_checked_exactly():
    identity = lecture_identity()
    # 2(x^2+1)(x-3)(x-5)(x-7) expands with +142x: the lecture's -142x is a typo
    coefficients = [2]
    for factor in ([1, 0, 1], [1, -3], [1, -5], [1, -7]):
        coefficients = poly_multiply(coefficients, factor)
    assert coefficients == [2, -30, 144, -240, 142, -210]
    assert identity["identity_holds"] is False
    assert identity["expansion_of_factored"] == "2*x^5 - 30*x^4 + 144*x^3 - 240*x^2 + 142*x - 210"
    assert identity["real_roots_of_factored"] == [3.0, 5.0, 7.0]
    (root,) = identity["real_roots_of_written"]
    assert abs(np.polyval([2, -30, 144, -240, -142, -210], root)) < 1e-6


def test_root_separation():
    assert separated([1, -3, 2])                      # roots 1 and 2
    assert not separated(poly_multiply([1, -1], [2, -3]))   # roots 1 and 1.5
    assert separated([1, 0, 1, -2])                   # one real root (x^3 + x - 2 = (x-1)(x^2+x+2))


def test_masked_answers_are_verified_by_the_task():
    task = make_task("add", {"dim": 2})
    vocab = Vocab(task.vocabulary())
    examples = [task.generate(np.random.default_rng(i)) for i in range(3)]
    assert target_length(examples) == len(examples[0][1])
    torch.manual_seed(0)
    model = build_model(ModelConfig.from_preset("tiny", arch="encoder"), len(vocab))
    records = check_masked(model, task, vocab, examples)
    assert [r["index"] for r in records] == [0, 1, 2]
    for record, (source, _target) in zip(records, examples):
        answer = record["prediction"].split()
        assert len(answer) == target_length(examples)
        assert record["top1"]["5%"] == (task.verify(source, answer).scores["5%"] is True)
    # a stand-in model that knows the answers: every filled mask is right, so every example verifies
    truth = torch.tensor([[*vocab.encode(s), vocab.sep_id, *vocab.encode(t), vocab.eos_id] for s, t in examples])

    class Oracle(torch.nn.Module):
        def mlm_logits(self, ids):
            assert ids.shape == truth.shape
            return 10.0 * torch.nn.functional.one_hot(truth, len(vocab)).float()

    oracle = check_masked(Oracle(), task, vocab, examples)
    assert [r["prediction"] for r in oracle] == [" ".join(t) for _, t in examples]
    assert all(r["top1"]["0.5%"] is True for r in oracle)
    with pytest.raises(ValueError, match="fixed length"):
        target_length([(["a"], ["x"]), (["b"], ["x", "y"])])
