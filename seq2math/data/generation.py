"""Deterministic, parallel, resumable data-set generation for any registered task.

Example ``i`` of a data set with seed ``s`` is drawn from its own generator
``numpy.random.default_rng([s, i])``; a task that rejects a draw (returns None) is
asked again with the same generator. The output therefore depends only on
(task options, seed, index), never on the number of workers or on interruptions:
``--resume`` counts the complete lines already written and continues from there.
With a ``Shard`` (``--shard i/N``) a file holds the contiguous block of example indices
``Shard.block(count)`` (``seq2math.data.shards``); the blocks of all shards, joined in order,
are the one-process file byte for byte.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path
from typing import Iterator

import numpy as np

from seq2math.data.files import format_line
from seq2math.data.shards import Shard
from seq2math.jobs.progress import Progress
from seq2math.jobs.workers import after_fork
from seq2math.tasks.base import Task

MAX_ATTEMPTS = 100_000


class GenerationError(RuntimeError):
    pass


def example_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(index)])


def generate_example(task: Task, seed: int, index: int) -> tuple[list[str], list[str]]:
    """The ``index``-th example of the data set with this ``seed``."""
    rng = example_rng(seed, index)
    for _ in range(MAX_ATTEMPTS):
        example = task.generate(rng)
        if example is not None:
            return example
    raise GenerationError(
        f"task {task.name}: {MAX_ATTEMPTS} draws rejected in a row for example {index}; "
        "the options probably admit no valid example")


def format_example(task: Task, source: list[str], target: list[str], fmt: str) -> str:
    """A line of the task's own format (``fmt="default"``) or of ``fmt`` (``seq2math.data.files``)."""
    return format_line(source, target, task.default_format if fmt == "default" else fmt)


# Worker processes receive the task once (at start-up), then only index ranges.
_WORKER_TASK: Task | None = None


def _init_worker(task: Task) -> None:
    global _WORKER_TASK
    _WORKER_TASK = task
    # one BLAS thread per process: workers already use every core
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    after_fork()                      # a generator that ran torch in the parent would hang its first parallel region


def _work(args: tuple[int, int, int, str]) -> tuple[int, bytes]:
    seed, start, stop, fmt = args
    assert _WORKER_TASK is not None
    lines = "".join(format_example(_WORKER_TASK, *generate_example(_WORKER_TASK, seed, i), fmt) + "\n"
                    for i in range(start, stop))
    # one bytes object a chunk: the parent, which shares the cores with the workers, only copies it out
    return stop - start, lines.encode("utf-8")


def chunk_size(remaining: int, workers: int) -> int:
    """Examples per chunk: 64 in one process; with workers, about 16 chunks per worker, 64..1024.

    ``Pool.imap`` costs its parent ~1.3 ms of CPU per chunk (measured), on cores the workers need: a
    64-example chunk of backward generation takes ~25 ms, so small chunks cost 5% of a core. Sixteen
    chunks per worker keep the last one small enough to balance the workers' loads.
    """
    if workers <= 1:
        return 64
    return max(64, min(1024, remaining // (16 * workers)))


def iter_lines(task: Task, count: int, seed: int, start: int = 0, workers: int = 1,
               fmt: str = "default", chunk: int | None = None) -> Iterator[tuple[int, bytes]]:
    """Yield the formatted lines ``start..count-1`` in order, in chunks (default ``chunk_size``):
    (number of lines, UTF-8 text of those lines, each ending in a newline)."""
    chunk = chunk or chunk_size(count - start, workers)
    ranges = [(seed, a, min(a + chunk, count), fmt) for a in range(start, count, chunk)]
    if workers <= 1:
        _init_worker(task)
        for r in ranges:
            yield _work(r)
        return
    ctx = mp.get_context("fork") if hasattr(os, "fork") else mp.get_context()
    with ctx.Pool(workers, initializer=_init_worker, initargs=(task,)) as pool:
        yield from pool.imap(_work, ranges)


def count_complete_lines(path: Path) -> int:
    """Number of newline-terminated lines; a trailing partial line is cut off."""
    if not path.exists():
        return 0
    lines, end, offset = 0, 0, 0
    with open(path, "rb") as handle:                  # in blocks: a shard may be gigabytes
        while block := handle.read(1 << 20):
            lines += block.count(b"\n")
            last = block.rfind(b"\n")
            if last >= 0:
                end = offset + last + 1
            offset += len(block)
    if end != offset:
        with open(path, "r+b") as handle:
            handle.truncate(end)
    return lines


def write_dataset(task: Task, out: str | Path, count: int, seed: int, workers: int = 1,
                  fmt: str = "default", resume: bool = False, progress: bool = True,
                  shard: Shard | None = None) -> int:
    """Write ``count`` examples (with ``shard``: its block of them) to ``out``; returns the
    number of lines written now."""
    out = Path(out)
    if count < 0:
        raise ValueError(f"--count must be non-negative, got {count}")
    block = shard.block(count) if shard is not None else range(count)
    done = 0
    if out.exists():
        if not resume:
            raise FileExistsError(f"{out} exists; pass --resume to continue it or remove it first")
        done = count_complete_lines(out)
        if done > len(block):
            part = f"shard {shard} of --count {count}" if shard is not None else f"--count {count}"
            raise GenerationError(f"{out} already holds {done} lines, more than the {len(block)} of {part}")
    out.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with open(out, "ab") as handle, \
            Progress(len(block), f"generate {task.name}", "ex", disable=not progress, initial=done) as bar:
        for lines, text in iter_lines(task, block.stop, seed, block.start + done, workers, fmt):
            handle.write(text)
            handle.flush()
            written += lines
            bar.update(lines)
    return written
