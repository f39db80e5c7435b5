"""The monomial representation (seq2math.tokens.monomial): exact round trips through the prefix
format, shorter sequences, clear refusals, and a run that trains, saves and verifies in it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from seq2math.symbolic.expr import to_poly
from seq2math.tasks.base import make_task
from seq2math.tokens import monomial
from seq2math.tokens.monomial import RepresentationError, decode_monomial, encode_monomial
from seq2math.tokens.prefix import PrefixParseError, parse_full_expression, parse_system
from seq2math.tokens.representation import codec_for, load_vocab, make_vocab
from seq2math.tokens.vocab import Vocab

DATA = Path(__file__).parent / "data"
#: ẋ0 = −x0 + x1, ẋ1 = −x0 − x1³ with V = x0² + x1²
SOURCE = "INT+ 2 <SPECIAL_3> + * INT- 1 x0 x1 <SPECIAL_3> + * INT- 1 x0 * INT- 1 ^ x1 INT+ 3".split()
TARGET = "+ ^ x0 INT+ 2 ^ x1 INT+ 2".split()


def _same_system(a: list[str], b: list[str]) -> bool:
    left, right = parse_system(a), parse_system(b)
    n = len(left)
    return len(right) == n and all(to_poly(x, n) == to_poly(y, n) for x, y in zip(left, right))


def test_the_worked_example_reads_as_documented():
    assert encode_monomial(TARGET) == "INT+ 1 ^2 ^0 INT+ 1 ^0 ^2".split()
    assert encode_monomial(SOURCE) == ("<SPECIAL_3> INT- 1 ^1 ^0 INT+ 1 ^0 ^1 "
                                       "<SPECIAL_3> INT- 1 ^0 ^3 INT- 1 ^1 ^0").split()


@pytest.mark.parametrize("name", ["bpoly", "flyap", "fbarr", "fsostools"])
def test_every_committed_test_pair_survives_the_round_trip_exactly(name):
    prefix_tokens = monomial_tokens = 0
    for line in (DATA / f"lyapunov-{name}-test200.txt").read_text().splitlines()[:60]:
        source, target = (part.split() for part in line.split("|", 1)[1].split("\t"))
        encoded_source, encoded_target = encode_monomial(source), encode_monomial(target)
        assert _same_system(decode_monomial(encoded_source), source)
        n = len(parse_system(source))
        assert to_poly(parse_full_expression(decode_monomial(encoded_target)), n) == \
            to_poly(parse_full_expression(target), n)
        prefix_tokens += len(source)
        monomial_tokens += len(encoded_source)
    if name == "bpoly":   # the point of the representation: BPoly sources are far shorter
        assert monomial_tokens * 2 < prefix_tokens


def test_fractions_and_zero_survive():
    expression = "+ * / INT+ 1 INT+ 3 ^ x0 INT+ 2 * / INT- 7 INT+ 2 x1".split()
    encoded = encode_monomial(expression)
    assert encoded[:4] == ["/", "INT+", "1", "INT+"]
    assert to_poly(parse_full_expression(decode_monomial(encoded)), 2) == to_poly(parse_full_expression(expression), 2)
    assert decode_monomial(encode_monomial(["INT+", "0"])) == ["INT+", "0"]


def test_non_polynomials_and_malformed_sequences_are_refused_by_name():
    with pytest.raises(RepresentationError, match="equation 1 is not a polynomial"):
        encode_monomial("INT+ 2 <SPECIAL_3> * INT- 1 x0 <SPECIAL_3> sin x1".split())
    for bad, why in [("INT+ 1 ^2 INT+ 1 ^0 ^2", "2 exponents where the first had 1"),
                     ("^2 ^0", "expected an integer"), ("INT+ ^2", "without digits"),
                     ("<SPECIAL_3> INT+ 1 ^1 ^0", "in a system of 1")]:
        with pytest.raises(RepresentationError, match=why):
            decode_monomial(bad.split())


def _general(tokens: list[str]) -> list[str]:
    """encode_monomial without its fast path: parse the tree, expand it with flint."""
    saved = monomial._fast_encode
    monomial._fast_encode = lambda _: None
    try:
        return encode_monomial(tokens)
    finally:
        monomial._fast_encode = saved


@pytest.mark.parametrize("text", [
    "+ * INT- 1 x0 x1", "INT+ 0", "INT- 7", "x3", "+ x0 x0", "+ x1 + INT+ 2 x0", "+ x0 * INT- 1 x0",
    "* / INT- 3 INT+ 6 * x0 ^ x1 INT+ 4", "* x1 * INT+ 2 * x0 x1", "^ x0 INT+ 0", "+ / INT+ 1 INT+ 2 INT+ 1 5 0",
    "+ * INT+ 1 0 0 ^ x0 INT+ 2 ^ x2 INT+ 2",
])
def test_the_fast_path_reads_written_polynomials_as_the_general_path_does(text):
    tokens = text.split()
    assert monomial._fast_encode(tokens) is not None           # the form poly_tokens writes, or close to it
    assert monomial._fast_encode(tokens) == _general(tokens)
    system = ["INT+", "4"] + [t for e in [tokens, ["x2"], ["INT+", "0"], ["x3"]] for t in ["<SPECIAL_3>", *e]]
    assert monomial._fast_encode(system) is not None and monomial._fast_encode(system) == _general(system)


@pytest.mark.parametrize("text", [
    "- x0 x1", "+ + x0 x1 x1", "* + x0 x1 x0", "^ x0 INT- 1", "INT- 0", "/ INT+ 1 INT+ 0", "sin x0", "x0 x1",
    "+ x0", "^ + x0 x1 INT+ 2", "/ x0 INT+ 2", "INT+ 2 <SPECIAL_3> x0 <SPECIAL_3> x2", "INT+ 1 <SPECIAL_3> x0 x0",
])
def test_anything_else_takes_the_general_path_with_its_answer_or_error(text):
    tokens = text.split()
    assert monomial._fast_encode(tokens) is None
    try:
        expected = _general(tokens)
    except (RepresentationError, PrefixParseError) as err:
        with pytest.raises(type(err)):
            encode_monomial(tokens)
    else:
        assert encode_monomial(tokens) == expected


def test_the_fast_path_agrees_on_a_generated_stream():
    # the BPoly-like stream that training encodes (two thirds of a loader's time before the fast path)
    task = make_task("lyapunov", {"mode": "backward", "max_variables": 5, "max_half_degree": 6,
                                  "max_lyapunov_degree": 12, "max_system_degree": 15, "coefficient_draw": "paper"})
    rng = np.random.default_rng(5)
    examples = [e for e in (task.generate(rng) for _ in range(300)) if e is not None]
    assert len(examples) > 20
    for source, target in examples:
        for tokens in (source, target):
            assert monomial._fast_encode(tokens) is not None and monomial._fast_encode(tokens) == _general(tokens)


def test_a_vocabulary_with_the_codec_maps_files_tokens_in_and_out_and_remembers_it(tmp_path):
    vocab = make_vocab(parse_vocabulary(), "monomial", "lyapunov")
    ids = vocab.encode(TARGET)
    assert len(ids) == 8 and vocab.decode(ids) == TARGET        # prefix again (here already canonical)
    garbled = vocab.decode(vocab.encode(TARGET)[:4] + vocab.encode(TARGET)[:1])
    with pytest.raises(PrefixParseError):                       # left raw: the prefix reader rejects it
        parse_full_expression(garbled)
    vocab.save(tmp_path / "vocab.json")
    assert Vocab.load(tmp_path / "vocab.json").representation == "monomial"
    loaded = load_vocab(tmp_path / "vocab.json")
    assert loaded.itos == vocab.itos and loaded.encode(TARGET) == ids
    assert load_vocab(_saved(tmp_path, make_vocab(parse_vocabulary()))).codec is None


def test_the_representation_must_exist_and_fit_the_task():
    with pytest.raises(ValueError, match="unknown representation 'trees'"):
        codec_for("trees")
    with pytest.raises(ValueError, match="applies to the lyapunov task, not transpose"):
        codec_for("monomial", "transpose")


def test_a_monomial_run_trains_validates_and_warm_starts_another(tmp_path, tiny_run_config, tiny_lyapunov):
    from seq2math.training.checkpoint import load_run, read_metrics
    from seq2math.training.loop import train

    options = dict(task={"name": "lyapunov", **tiny_lyapunov["task"]}, model=tiny_lyapunov["model"],
                   representation="monomial", max_steps=4, eval_every=4, verify_count=2)
    first = tmp_path / "first"
    train(tiny_run_config(**options), first, quiet=True)
    loaded = load_run(first)
    assert loaded.vocab.representation == "monomial" and loaded.vocab.codec is not None
    valid = [r for r in read_metrics(first) if r["kind"] == "valid"]
    assert valid and valid[-1]["verified"] is not None and valid[-1]["cpu_time"] > 0
    second = tmp_path / "second"
    train(tiny_run_config(**{**options, "max_steps": 1, "lr": 0.0}, init=str(first)), second, quiet=True)
    import torch
    a, b = load_run(first).model.state_dict(), load_run(second, which="last").model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)              # lr 0: the warm start's weights, unchanged
    with pytest.raises(ValueError, match="vocabulary differs"):
        train(tiny_run_config(**{**options, "representation": "prefix"}, init=str(first)), tmp_path / "third",
              quiet=True)


def parse_vocabulary() -> list[str]:
    from seq2math.tasks.base import make_task

    return make_task("lyapunov").vocabulary()


def _saved(directory: Path, vocab: Vocab) -> Path:
    path = directory / "plain.json"
    vocab.save(path)
    return path


def test_learning_curves_against_cpu_hours_use_the_recorded_cpu_time():
    from seq2math.evaluation.plots import _series

    records = [{"kind": "valid", "step": 500, "time": 7200.0, "cpu_time": 3600.0, "verified": 0.1},
               {"kind": "valid", "step": 900, "time": 9000.0, "verified": 0.2}]     # older run: wall time
    assert _series(records, "valid", "verified", "cpu-hours") == ([1.0, 2.5], [0.1, 0.2])
    assert _series(records, "valid", "verified") == ([500, 900], [0.1, 0.2])


def test_length_limits_count_the_tokens_the_model_sees():
    from seq2math.data.batching import validation_examples
    from seq2math.tasks.base import make_task

    task = make_task("lyapunov", {"max_variables": 3, "max_half_degree": 2})
    vocab = make_vocab(task.vocabulary(), "monomial", "lyapunov")
    examples = validation_examples(task, 30, seed=5, max_source_len=60, max_target_len=60,
                                   measure=vocab.model_length)
    assert all(vocab.model_length(source) <= 60 for source, _ in examples)
    assert any(len(source) > 60 for source, _ in examples)       # longer as prefix trees, yet they fit


def test_the_nonpoly_preset_starts_from_the_shipped_small_model(tmp_path):
    """``train.init`` names a shipped checkpoint; the non-polynomial task shares lyapunov-tiny's vocabulary,
    so with lr 0 the run's weights are exactly the shipped ones (fp16 weights read as fp32)."""
    import torch

    from seq2math.cli import main
    from seq2math.training.checkpoint import load_run
    from seq2math.training.config import PACKAGE_CHECKPOINTS

    out = tmp_path / "nonpoly"
    assert main(["train", "--config", "lyapunov-nonpoly", "--out", str(out), "train.max_steps=1", "train.lr=0",
                 "train.mix_data=null", "train.mix_fraction=0", "train.valid_count=2", "train.verify_count=1",
                 "train.eval_every=1", "train.threads=1", "train.tensorboard=false"]) == 0
    run = load_run(out, which="last")
    assert run.config.task["nonpoly"] is True
    shipped = load_run(PACKAGE_CHECKPOINTS / "lyapunov-tiny").model.state_dict()
    assert all(torch.equal(shipped[k], v) for k, v in run.model.state_dict().items())
