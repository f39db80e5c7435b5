"""Training files are read through a line index (byte offsets from one pass, lines parsed from a
memory map when a batch needs them): the same batches as the file held in memory, for fixed-size
and token-budget batches and through loader workers, with memory that does not grow per line."""

from __future__ import annotations

import pickle
import tracemalloc

import numpy as np
import pytest
import torch

from seq2math.data.batching import FileSource, StepBatches, index_example_file, read_example_file, step_loader
from seq2math.data.files import format_line, read_examples
from seq2math.data.generation import write_dataset
from seq2math.data.token_batches import TokenBudgetBatches
from seq2math.tasks.base import DataFormatError, make_task
from seq2math.tokens.vocab import Vocab


@pytest.fixture(scope="module")
def task():
    return make_task("transpose", {"min_dim": 1, "max_dim": 4})


@pytest.fixture
def mixed_file(tmp_path, task):
    """Task lines, a JSON line, blank lines and a CRLF line ending."""
    rng = np.random.default_rng(0)
    examples = [task.generate(rng) for _ in range(40)]
    lines = [format_line(s, t, "jsonl" if i == 7 else task.default_format) for i, (s, t) in enumerate(examples)]
    text = "\n".join(lines[:10]) + "\n\n  \n" + "\r\n".join(lines[10:20]) + "\r\n" + "\n".join(lines[20:]) + "\n"
    path = tmp_path / "mixed.txt"
    path.write_bytes(text.encode())
    return path, examples


def test_the_index_gives_each_line_as_the_reader_does(mixed_file, task):
    path, examples = mixed_file
    index = index_example_file(task, path)
    assert len(index) == 40 and [index[i] for i in range(40)] == examples
    assert [(s, t) for _, s, t in read_examples(task, path)] == examples
    data = path.read_bytes()
    assert all(data[o - 1:o] == b"\n" for o in index.offsets[1:].tolist())          # offsets are line starts
    assert index.source_lengths.tolist() == [len(s) for s, _ in examples]
    assert [pickle.loads(pickle.dumps(index))[i] for i in (0, 39)] == [examples[0], examples[39]]
    longest = max(len(s) for s, _ in examples)
    short = index_example_file(task, path, max_source_len=longest - 1, limit=5)
    assert len(short) == 5 and all(len(s) < longest for s, _ in short)
    assert read_example_file(task, path, limit=3) == examples[:3]


def test_a_bad_line_is_reported_with_its_line_number(tmp_path, task):
    rng = np.random.default_rng(1)
    good = [format_line(*task.generate(rng), task.default_format) for _ in range(3)]
    path = tmp_path / "bad.txt"
    path.write_bytes(("\n".join(good[:2]) + "\nV2 V2 oops\n").encode() + b"\xff\xfe\t1\n" + good[2].encode() + b"\n")
    with pytest.raises(DataFormatError, match="bad.txt:3:"):
        index_example_file(task, path)
    assert len(index_example_file(task, path, on_error="skip")) == 3
    with pytest.raises(DataFormatError, match="bad.txt:4: not UTF-8"):
        index_example_file(task, _drop_line(path, 3))


def _drop_line(path, number):
    lines = path.read_bytes().split(b"\n")
    lines[number - 1] = b""
    path.write_bytes(b"\n".join(lines))
    return path


def _same_batches(first, second, steps):
    for step in steps:
        a, b = first[step], second[step]
        for x, y in zip(a if isinstance(a, list) else [a], b if isinstance(b, list) else [b]):
            assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


def test_indexed_and_in_memory_files_give_the_same_batches(mixed_file, task):
    path, examples = mixed_file
    vocab = Vocab(task.vocabulary())
    indexed, listed = FileSource(index_example_file(task, path), 3), FileSource(examples, 3)
    assert [indexed.example(p) for p in range(130)] == [listed.example(p) for p in range(130)]   # 3 epochs
    _same_batches(StepBatches(indexed, vocab, 7, seed=3, rank=1, world_size=2),
                  StepBatches(listed, vocab, 7, seed=3, rank=1, world_size=2), range(12))
    budget = [TokenBudgetBatches(source, vocab, 400, seed=3, pool_steps=4) for source in (indexed, listed)]
    _same_batches(*budget, range(6))
    loader = step_loader(budget[0], 2, workers=2)                   # forked loader workers reopen the map
    _same_batches({s: next(loader) for s in range(2, 9)}, {s: collate(budget[1], s) for s in range(2, 9)},
                  range(2, 9))


def collate(batches: TokenBudgetBatches, step: int):
    group, offset = divmod(step, batches.steps_per_item)
    return batches[group][offset]


def test_the_index_holds_no_python_object_per_line(tmp_path, task):
    path = tmp_path / "many.txt"
    write_dataset(task, path, 20_000, seed=0, progress=False)
    tracemalloc.start()
    index = index_example_file(task, path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(index) == 20_000 and index.offsets.dtype == np.int64
    examples = read_example_file(task, path)                     # the old way: the whole file as lists
    assert [index[i] for i in (0, 9_999, 19_999)] == [examples[i] for i in (0, 9_999, 19_999)]
    # 16 bytes a line in numpy arrays (+ the growing buffers), where lists of tokens take kilobytes a line
    assert peak < 64 * 20_000, f"indexing 20,000 lines peaked at {peak} bytes"


def test_the_memory_benchmark_file_repeats_its_generated_examples_in_order(tmp_path):
    from seq2math.benchmarks.memory import make_file

    path = tmp_path / "big.txt"
    make_file(path, 25, 10, seed=0)
    lines = path.read_text().splitlines()
    assert len(lines) == 25 and len(set(lines)) == 10 and all(lines[i] == lines[i % 10] for i in range(25))
    assert not path.with_name("big.txt.unique").exists()
