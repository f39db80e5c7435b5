"""train.mix_data / train.mix_fraction: a file mixed into the generated stream (seq2math.data.mixture)."""

from __future__ import annotations

import pytest

from seq2math.data.batching import GeneratedSource
from seq2math.data.mixture import MixedSource
from seq2math.tasks.base import make_task
from seq2math.tokens.vocab import Vocab
from seq2math.training.run_data import training_source

TRANSPOSE = {"dim": 2, "encoding": "P10"}


def _source(fraction: float, extra=None) -> MixedSource:
    generated = GeneratedSource(make_task("transpose", TRANSPOSE), seed=3)
    return MixedSource(generated, [extra or [(["a"], ["b"]), (["c"], ["d"])]], [fraction], seed=3)


def test_the_share_of_file_examples_is_the_fraction_and_a_function_of_the_position():
    mixed = _source(0.25)
    drawn = [mixed.example(i) for i in range(2000)]
    from_file = [e for e in drawn if e[0] in (["a"], ["c"])]
    assert 0.21 < len(from_file) / len(drawn) < 0.29
    assert {tuple(e[0]) for e in from_file} == {("a",), ("c",)}       # both file examples are used
    assert [mixed.example(i) for i in range(50)] == drawn[:50]          # resumes see the same stream
    generated = GeneratedSource(make_task("transpose", TRANSPOSE), seed=3)
    others = [i for i, e in enumerate(drawn[:200]) if e[0] not in (["a"], ["c"])]
    assert all(drawn[i] == generated.example(i) for i in others)        # the rest is the generated stream


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1])
def test_a_fraction_outside_0_1_is_refused(fraction):
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        _source(fraction)


def test_a_run_mixes_a_file_into_the_generated_stream_only(tmp_path, tiny_run_config):
    from seq2math.api import generate
    from seq2math.data.files import write_lines

    path = tmp_path / "extra.txt"
    write_lines(path, [example.line for example in generate("transpose", count=5, seed=9, **TRANSPOSE)])
    config = tiny_run_config(mix_data=str(path), mix_fraction=0.5)
    task = make_task("transpose", TRANSPOSE)
    source = training_source(config, task, Vocab(task.vocabulary()))
    assert isinstance(source, MixedSource) and len(source.extra) == 5
    with pytest.raises(ValueError, match="mix the files beforehand"):
        training_source(tiny_run_config(data=str(path), mix_data=str(path), mix_fraction=0.5), task,
                        Vocab(task.vocabulary()))


def test_several_files_each_take_their_share_and_one_file_keeps_its_old_stream(tmp_path):
    from seq2math.data.mixture import mix_specification

    assert mix_specification("a.txt", 0.2) == [("a.txt", 0.2)]
    assert mix_specification("a.txt:0.35, b.txt:0.03", 0.0) == [("a.txt", 0.35), ("b.txt", 0.03)]
    with pytest.raises(ValueError, match="no share for b.txt"):
        mix_specification("a.txt:0.3,b.txt", 0.1)
    generated = GeneratedSource(make_task("transpose", TRANSPOSE), seed=3)
    with pytest.raises(ValueError, match="add up to 1"):
        MixedSource(generated, [[(["a"], ["b"])], [(["c"], ["d"])]], [0.6, 0.4], seed=3)
    two = MixedSource(generated, [[(["a"], ["b"])], [(["c"], ["d"])]], [0.3, 0.1], seed=3)
    drawn = [two.example(i)[0] for i in range(3000)]
    assert 0.26 < drawn.count(["a"]) / 3000 < 0.34 and 0.07 < drawn.count(["c"]) / 3000 < 0.13
    # the first file's positions are those a one-file mixture at 0.3 takes
    one = MixedSource(generated, [[(["a"], ["b"])]], [0.3], seed=3)
    assert [i for i, e in enumerate(drawn) if e == ["a"]] == [i for i in range(3000) if one.example(i)[0] == ["a"]]


def test_min_target_len_redraws_the_short_answers_of_the_generated_stream_only(tiny_run_config):
    from conftest import TINY_LYAPUNOV, TINY_LYAPUNOV_MODEL

    task = make_task("lyapunov", TINY_LYAPUNOV)
    plain = [GeneratedSource(task, seed=3).example(i) for i in range(40)]
    lengths = sorted(len(target) for _, target in plain)
    shortest = lengths[len(lengths) // 2]                 # half the plain stream is shorter or as long
    assert lengths[0] < shortest
    long_only = GeneratedSource(task, seed=3, min_target_len=shortest)
    drawn = [long_only.example(i) for i in range(40)]
    assert all(len(target) >= shortest for _, target in drawn)
    # a first draw long enough is kept as it was: the stream is the plain stream with the short draws skipped
    assert all(drawn[i] == plain[i] for i in range(40) if len(plain[i][1]) >= shortest)
    assert drawn == [long_only.example(i) for i in range(40)]      # resumes see the same stream

    vocab = Vocab(task.vocabulary())
    config = tiny_run_config(task={"name": "lyapunov", **TINY_LYAPUNOV}, model=TINY_LYAPUNOV_MODEL,
                             min_target_len=shortest)
    assert training_source(config, task, vocab).min_target_len == shortest
    config.train.min_target_len = -1
    with pytest.raises(ValueError, match="train.min_target_len is a number of answer tokens"):
        training_source(config, task, vocab)
