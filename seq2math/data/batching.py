"""Training data: examples from files or generated on the fly, batching, padding, sharding.

Every batch is a pure function of (data seed, step, rank): the sample at global position
``p = (step * world_size + rank) * batch_size + j`` is

- generated data: example ``p`` of the task's training stream, drawn from its own
  generator ``default_rng([TRAIN_STREAM, seed, p])``. Per-example seeds make the data
  independent of the number of loader workers and of interruptions, give every worker
  and every DDP rank disjoint examples, and never coincide with a ``seq2math generate``
  file (those use ``default_rng([seed, index])``) or with the validation stream;
- file data: item ``p mod N`` of a fresh permutation per epoch ``p // N`` (seeded by
  ``[seed, epoch]``), so ranks read disjoint shards of each epoch. The file is read through
  an ``ExampleIndex`` (``seq2math.data.files``): byte offsets from one pass, each line parsed
  from a memory map when its batch is built, so memory does not grow with the file.

A resumed run therefore sees exactly the batches the uninterrupted run would have seen.
"""

from __future__ import annotations

import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Protocol

import numpy as np
import torch

from seq2math.data.files import ExampleIndex, index_records, task_records
from seq2math.tasks.base import Task
from seq2math.tokens.vocab import FIRST_TOKEN_ID, Vocab

TRAIN_STREAM, VALID_STREAM = 0x5EED_0001, 0x5EED_0002
MAX_ATTEMPTS = 10_000

Example = tuple[list[str], list[str]]


def stream_example(task: Task, stream: int, seed: int, index: int, max_source_len: int | None = None,
                   max_target_len: int | None = None, measure: Callable[[list[str]], int] = len,
                   min_target_len: int = 0) -> Example:
    """Example ``index`` of a generated stream; draws that are too long, or whose answer is shorter than
    ``min_target_len`` tokens, are rejected like ``None``. ``measure`` counts the tokens the model sees
    (``Vocab.model_length`` under a representation)."""
    rng = np.random.default_rng([stream, int(seed), int(index)])
    for _ in range(MAX_ATTEMPTS):
        example = task.generate(rng)
        if example is None:
            continue
        source, target = example
        if max_source_len is not None and measure(source) > max_source_len:
            continue
        if max_target_len is not None and measure(target) + 1 > max_target_len:  # + <eos>
            continue
        if min_target_len and measure(target) < min_target_len:
            continue
        return example
    shortest = f", answers of at least {min_target_len} tokens" if min_target_len else ""
    raise RuntimeError(f"task {task.name}: {MAX_ATTEMPTS} draws in a row were rejected or outside the lengths "
                       f"allowed (source at most {max_source_len}, target at most {max_target_len} tokens{shortest})")


def validation_examples(task: Task, count: int, seed: int, max_source_len: int | None = None,
                        max_target_len: int | None = None, measure: Callable[[list[str]], int] = len
                        ) -> list[Example]:
    """The fixed validation set: ``count`` examples of the validation stream (seed ≠ training)."""
    return [stream_example(task, VALID_STREAM, seed, i, max_source_len, max_target_len, measure)
            for i in range(count)]


def index_example_file(task: Task, path: str | Path, limit: int | None = None, on_error: str = "raise",
                       max_source_len: int | None = None, max_target_len: int | None = None,
                       measure: Callable[[list[str]], int] = len) -> ExampleIndex:
    """The usable examples of a data file (task format or JSONL, ``seq2math.data.files``) as an
    index of byte offsets, built in one pass that checks every line; too-long ones are skipped
    and counted. ``measure`` counts the tokens the model sees (as in ``stream_example``)."""
    too_long = 0

    def fits(record) -> bool:
        nonlocal too_long
        if (max_source_len is not None and measure(record.source) > max_source_len) or \
                (max_target_len is not None and measure(record.target) + 1 > max_target_len):
            too_long += 1
            return False
        return True

    index = index_records(task_records(task, path, on_error=on_error), fits, limit, measure)
    if too_long:
        print(f"warning: {path}: skipped {too_long} examples longer than the model allows", file=sys.stderr)
    if not len(index):
        raise ValueError(f"{path}: no usable examples")
    return index


def read_example_file(task: Task, path: str | Path, limit: int | None = None, on_error: str = "raise",
                      max_source_len: int | None = None, max_target_len: int | None = None,
                      measure: Callable[[list[str]], int] = len) -> list[Example]:
    """The examples of ``index_example_file`` as a list (validation and test sets: small files)."""
    return list(index_example_file(task, path, limit, on_error, max_source_len, max_target_len, measure))


class ExampleSource(Protocol):
    def example(self, position: int) -> Example: ...


@dataclass
class GeneratedSource:
    """Examples made by the task on the fly (see the module docstring)."""

    task: Task
    seed: int
    max_source_len: int | None = None
    max_target_len: int | None = None
    measure: Callable[[list[str]], int] = len
    min_target_len: int = 0

    def example(self, position: int) -> Example:
        return stream_example(self.task, TRAIN_STREAM, self.seed, position, self.max_source_len,
                              self.max_target_len, self.measure, self.min_target_len)


class FileSource:
    """Examples of a file, visited in a new seeded order every epoch: an ``ExampleIndex`` (lines
    parsed when asked for) or a list held in memory (small sets, benchmarks)."""

    def __init__(self, examples: list[Example] | ExampleIndex, seed: int):
        self.examples, self.seed = examples, seed
        self._epoch, self._order = -1, np.arange(0)

    def lengths(self) -> tuple[np.ndarray, np.ndarray]:
        """(source, target) token counts of every example, in file order."""
        if isinstance(self.examples, ExampleIndex):
            return self.examples.source_lengths, self.examples.target_lengths
        return (np.array([len(s) for s, _ in self.examples], dtype=np.int64),
                np.array([len(t) for _, t in self.examples], dtype=np.int64))

    def example(self, position: int) -> Example:
        epoch, offset = divmod(position, len(self.examples))
        if epoch != self._epoch:
            self._order = np.random.default_rng([int(self.seed), epoch]).permutation(len(self.examples))
            self._epoch = epoch
        return self.examples[int(self._order[offset])]


def encode_example(vocab: Vocab, source: list[str], target: list[str]) -> tuple[list[int], list[int]]:
    """Token ids; an unknown token raises naming it (a file and a vocabulary that disagree)."""
    return vocab.encode(source), vocab.encode(target)


def pad_batch(sequences: list[list[int]], pad_id: int) -> torch.Tensor:
    """Right-pad id lists into a [B, max_len] long tensor."""
    width = max(len(s) for s in sequences)
    out = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    for row, seq in enumerate(sequences):
        out[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
    return out


def collate_seq2seq(pairs: list[tuple[list[int], list[int]]], vocab: Vocab) -> dict[str, torch.Tensor]:
    """Teacher forcing: ``tgt_in = <bos> y``, ``tgt_out = y <eos>``, both padded with <pad> (id 0)."""
    src = pad_batch([s for s, _ in pairs], vocab.pad_id)
    tgt_in = pad_batch([[vocab.bos_id, *t] for _, t in pairs], vocab.pad_id)
    tgt_out = pad_batch([[*t, vocab.eos_id] for _, t in pairs], vocab.pad_id)
    return {"src": src, "tgt_in": tgt_in, "tgt_out": tgt_out}


def pack_masked(pairs: list[tuple[list[int], list[int]]], vocab: Vocab) -> torch.Tensor:
    """``source <sep> target <eos>`` rows, padded: the layout of the masked objectives."""
    return pad_batch([[*s, vocab.sep_id, *t, vocab.eos_id] for s, t in pairs], vocab.pad_id)


def collate_masked(pairs: list[tuple[list[int], list[int]]], vocab: Vocab, mask_prob: float,
                   generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Masked-token objective (BERT, Devlin et al. 2019) on ``source <sep> target <eos>``.

    Each non-pad token is chosen with probability ``mask_prob``; a chosen token becomes
    <mask> (80%), a random vocabulary token (10%) or stays (10%); ``labels`` hold the
    original id at chosen positions and <pad> (ignored) elsewhere. At least one token per
    row is chosen so that every row contributes to the loss.
    """
    packed = pack_masked(pairs, vocab)
    real = packed != vocab.pad_id
    chosen = (torch.rand(packed.shape, generator=generator) < mask_prob) & real
    first_pick = torch.multinomial(real.float(), 1, generator=generator)  # [B, 1]
    chosen.scatter_(1, first_pick, True)
    labels = torch.where(chosen, packed, torch.full_like(packed, vocab.pad_id))
    action = torch.rand(packed.shape, generator=generator)
    random_ids = torch.randint(FIRST_TOKEN_ID, len(vocab), packed.shape, generator=generator)  # no special
    inputs = packed.clone()
    inputs[chosen & (action < 0.8)] = vocab.mask_id
    swap = chosen & (action >= 0.8) & (action < 0.9)
    inputs[swap] = random_ids[swap]
    return {"src": inputs, "labels": labels}


def collate_masked_target(pairs: list[tuple[list[int], list[int]]], vocab: Vocab,
                          generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Masked-target objective on ``source <sep> target <eos>``: the objective of filling a masked
    answer step by step (``seq2math.evaluation.masked``), as in MaskGIT (Chang et al. 2022).

    Each row draws a rate r uniformly in (0, 1] and masks each target token with probability r
    (at least one), always as <mask>: the model learns every stage of the fill, from the empty
    answer to the last open token. Source, <sep> and <eos> are never masked; ``labels`` hold the
    original ids at masked positions and <pad> (ignored) elsewhere.
    """
    packed = pack_masked(pairs, vocab)
    target = torch.zeros_like(packed, dtype=torch.bool)
    for row, (source, answer) in enumerate(pairs):
        if not answer:
            raise ValueError(f"the masked-target objective needs a target; row {row} has none")
        target[row, len(source) + 1: len(source) + 1 + len(answer)] = True
    rate = 1.0 - torch.rand(len(pairs), 1, generator=generator)                     # (B, 1) in (0, 1]
    chosen = (torch.rand(packed.shape, generator=generator) < rate) & target
    first_pick = torch.multinomial(target.float(), 1, generator=generator)          # (B, 1)
    chosen.scatter_(1, first_pick, True)
    labels = torch.where(chosen, packed, torch.full_like(packed, vocab.pad_id))
    return {"src": packed.masked_fill(chosen, vocab.mask_id), "labels": labels}


#: objectives of encoder-only models (no decoder): they predict the tokens under <mask>
MASKED_OBJECTIVES = ("masked", "masked-target")


def collate_masked_objective(pairs: list[tuple[list[int], list[int]]], vocab: Vocab, objective: str,
                             mask_prob: float, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """The batch of one of ``MASKED_OBJECTIVES``, its masks drawn from ``generator``."""
    if objective == "masked-target":
        return collate_masked_target(pairs, vocab, generator)
    return collate_masked(pairs, vocab, mask_prob, generator)


def collate_step(pairs: list[tuple[list[int], list[int]]], vocab: Vocab, objective: str, mask_prob: float,
                 seed: int, step: int, rank: int) -> dict[str, torch.Tensor]:
    """The batch of one step: teacher forcing, or masked tokens drawn with ``[seed, step, rank]``."""
    if objective in MASKED_OBJECTIVES:
        mask_seed = np.random.SeedSequence([int(seed), step, rank]).generate_state(1)[0]
        generator = torch.Generator().manual_seed(int(mask_seed))
        return collate_masked_objective(pairs, vocab, objective, mask_prob, generator)
    return collate_seq2seq(pairs, vocab)


def padding_counts(batch: dict[str, torch.Tensor], pad_id: int) -> tuple[int, int]:
    """(real tokens, padded positions) of a batch's inputs (``src`` and ``tgt_in``): the share of
    the model's positions that padding takes (a decoder-only model's <sep> column is left out)."""
    blocks = [batch[key] for key in ("src", "tgt_in") if key in batch]
    real = sum(int((block != pad_id).sum()) for block in blocks)
    return real, sum(block.numel() for block in blocks)


class StepBatches(torch.utils.data.Dataset):
    """Map-style dataset whose item ``step`` is this rank's batch for that optimiser step.

    Used with ``DataLoader(batch_size=None, sampler=range(first_step, last_step))`` so that
    loader workers build whole batches in parallel and in step order.
    """

    def __init__(self, source: ExampleSource, vocab: Vocab, batch_size: int, seed: int,
                 objective: str = "seq2seq", mask_prob: float = 0.15, rank: int = 0, world_size: int = 1):
        if batch_size < 1:
            raise ValueError(f"batch size must be positive, got {batch_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world size {world_size}")
        self.source, self.vocab, self.batch_size, self.seed = source, vocab, batch_size, seed
        self.objective, self.mask_prob, self.rank, self.world_size = objective, mask_prob, rank, world_size

    def __len__(self) -> int:
        return 2**62  # unbounded: the sampler decides which steps are drawn

    def positions(self, step: int) -> range:
        first = (step * self.world_size + self.rank) * self.batch_size
        return range(first, first + self.batch_size)

    def __getitem__(self, step: int) -> dict[str, torch.Tensor]:
        pairs = [encode_example(self.vocab, *self.source.example(p)) for p in self.positions(step)]
        return collate_step(pairs, self.vocab, self.objective, self.mask_prob, self.seed, step, self.rank)


def step_loader(dataset: torch.utils.data.Dataset, first_step: int, workers: int = 0
                ) -> Iterator[dict[str, torch.Tensor]]:
    """Batches for steps ``first_step, first_step + 1, ...`` (built by ``workers`` processes).

    A dataset whose items are ``steps_per_item`` consecutive steps (the token-budget pools of
    ``seq2math.data.token_batches``) is read item by item and flattened into steps.
    """
    per_item = getattr(dataset, "steps_per_item", 1)
    first_item, skip = divmod(first_step, per_item)
    sampler = range(first_item, 2**62 // per_item)
    # a private generator: creating the iterator draws a worker base seed, which must not
    # advance the global RNG that drives dropout (it would break exact resumption)
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, sampler=sampler, num_workers=workers,
                                         prefetch_factor=4 if workers else None,
                                         worker_init_fn=ignore_stop_signals if workers else None,
                                         generator=torch.Generator().manual_seed(0))
    if per_item == 1:
        return iter(loader)
    return _flatten(iter(loader), skip)


def ignore_stop_signals(worker_id: int) -> None:
    """A loader worker ignores SIGINT and SIGTERM: they are the training process's to handle (finish the step,
    save, stop; ``training.runtime.StopSignals``), and it shuts its workers down as it exits. A signal sent to
    the whole process group (a terminal's Ctrl-C, a session that ends) used to kill the workers as well, and
    torch then raised "DataLoader worker ... is killed by signal" in the middle of a step, where nothing can be
    saved: the steps since the last checkpoint were lost (session 22)."""

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _flatten(items: Iterator[list[dict[str, torch.Tensor]]], skip: int) -> Iterator[dict[str, torch.Tensor]]:
    for index, batches in enumerate(items):
        yield from batches[skip if index == 0 else 0:]
