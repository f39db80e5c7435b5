"""Held-out test sets for on-the-fly training: drop test systems the run has trained on.

A small generator distribution repeats itself: with the lyapunov-tiny options about one test
system in five reappears among 50,000 other draws. A run trained on the fly sees the examples
``0 .. steps·batch_size − 1`` of its training stream (``seq2math.data.batching``), which can be
regenerated exactly, so a test file can be split into systems the run has seen and systems
it has not: the honest in-distribution figure is the one on the unseen part.

    python -m seq2math.data.heldout RUN TEST.txt --out TEST-unseen.txt [--steps N] [--count 200]

``--steps`` (default: the run's current step) covers a run that will train further.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seq2math.data.files import task_records, write_lines
from seq2math.jobs.progress import Progress
from seq2math.tasks.base import make_task


def training_sources(run_dir: str | Path, steps: int | None = None, progress: bool = False) -> set[str]:
    """Space-joined sources of every example in the first ``steps`` batches of the run's training stream.

    The batches are rebuilt exactly as the trainer builds them (``training.run_data``): generated examples
    with ``train.task_options``, ``train.mix_data`` mixed in, rows or token-budget pools, so examples of a
    mixed-in file and of a token-budget run count too. ``progress`` reports the steps done on stderr (a
    generated stream is regenerated at the generator's speed: minutes for tens of thousands of steps)."""
    from seq2math.data.token_batches import TokenBudgetBatches
    from seq2math.tokens.vocab import Vocab
    from seq2math.training import checkpoint as ckpt
    from seq2math.training.run_data import training_batches, training_source

    config, payload = ckpt.read_run_config(run_dir)
    if config.train.data:
        raise ValueError(f"{run_dir} trains on the file {config.train.data}: compare with that file instead")
    if steps is None:
        steps = ckpt.weights_step(Path(run_dir) / ckpt.MODEL_FILE)
    task = make_task(config.task["name"], {k: v for k, v in config.task.items() if k != "name"})
    vocab = Vocab.load(Path(run_dir) / ckpt.VOCAB_FILE)
    source = training_source(config, task, vocab)
    batches = training_batches(config, source, vocab, payload.get("objective", "seq2seq"))
    seen = set()
    with Progress(steps, "heldout: training steps regenerated", unit="step", disable=not progress) as bar:
        if isinstance(batches, TokenBudgetBatches):
            for first in range(0, steps, batches.steps_per_item):
                group = batches.group_examples(first // batches.steps_per_item)[: steps - first]
                for batch in group:
                    seen.update(" ".join(example[0]) for example in batch)
                bar.update(len(group))
            return seen
        for step in range(steps):
            seen.update(" ".join(source.example(position)[0]) for position in batches.positions(step))
            bar.update()
    return seen


def split_unseen(run_dir: str | Path, test_file: str | Path, steps: int | None = None, progress: bool = False
                 ) -> tuple[list[str], list[str]]:
    """(lines whose system the run has not trained on, lines it has)."""
    from seq2math.training import checkpoint as ckpt

    config, _ = ckpt.read_run_config(run_dir)
    task = make_task(config.task["name"], {k: v for k, v in config.task.items() if k != "name"})
    seen = training_sources(run_dir, steps, progress)
    unseen, known = [], []
    for record in task_records(task, test_file):
        (known if record.source_text in seen else unseen).append(record.text)
    return unseen, known


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seq2math.data.heldout", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", help="run directory trained on the fly")
    parser.add_argument("test_file", help="test file in the task's line format")
    parser.add_argument("--out", required=True, help="where to write the unseen lines")
    parser.add_argument("--steps", type=int, help="training steps to cover (default: the run's current step)")
    parser.add_argument("--count", type=int, help="keep only the first COUNT unseen lines")
    args = parser.parse_args(argv)
    unseen, known = split_unseen(args.run_dir, args.test_file, args.steps, progress=True)
    unseen = unseen[: args.count] if args.count is not None else unseen
    write_lines(args.out, unseen)
    print(f"{args.test_file}: {len(unseen)} systems unseen in training, {len(known)} seen; wrote {args.out}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
