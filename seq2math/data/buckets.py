"""Token-budget batches (``train.batch_tokens``): examples grouped by length so that a batch
holds at most a given number of padded tokens and little of it is padding.

What a batch costs
------------------
A batch is padded into a source block and a target block, so the tokens it costs are

    rows × (widest source block of the batch + widest target block of the batch)

where an example with source ``x`` and target ``y`` occupies, by layout:

=========  ================================  =====================  ==================
layout     models                            source block           target block
=========  ================================  =====================  ==================
seq2seq    encoder-decoder, RNN              len(x)                 len(y) + 1
packed     decoder-only (``x <sep> <bos> y``)  len(x) + 1 (<sep>)   len(y) + 1
masked     encoder-only (``x <sep> y <eos>``)  len(x) + len(y) + 2  0
=========  ================================  =====================  ==================

The target block ``<bos> y`` (input) and ``y <eos>`` (labels) is counted once: the two have
the same width and are the same positions of the decoder. For the packed layout this is the
full width of the packed sequence the decoder-only model reads, padding inside it included.

An example that costs more than the budget on its own is an error (``ValueError`` naming its
lengths and the budget), never a batch of one over the budget.

How examples are grouped
------------------------
- **File data**: the whole file is one pool. It is sorted by (source block, target block),
  examples of equal widths in a new seeded order every epoch, then cut greedily into the
  longest runs that fit the budget (``cut_sorted``). The cut depends only on the sorted
  widths, so every epoch has the same number ``B`` of batches; they are dealt in a seeded
  order per epoch. Global batch ``q = step × world_size + rank`` is batch ``q mod B`` of epoch
  ``q // B``: every example once per epoch, a pure function of (seed, step, rank).
- **Generated data**: steps are taken ``pool_steps`` at a time. Group ``g`` of rank ``r`` draws
  its pool from a range of stream positions reserved for (g, r) alone (``pool_start``), a few
  examples at a time, until one more example would need more than ``pool_steps`` batches;
  the pool (without that example) is sorted and cut as above, the largest batches halved
  until there are exactly ``pool_steps``, and the batches shuffled with ``[seed, g, r]``.
  Every example is drawn from its own seeded generator (``seq2math.data.batching``), so the
  batches are a pure function of (seed, step, rank), whatever the loader workers. The example
  that ends a pool is left out (one per pool of hundreds): it slightly under-represents the
  longest examples, in exchange for pools that never depend on the steps before them.

This module is numpy only; ``seq2math.data.token_batches`` builds the torch batches.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Layout = Literal["seq2seq", "packed", "masked"]
LAYOUTS: tuple[str, ...] = ("seq2seq", "packed", "masked")
#: steps served by one pool of generated examples (one data-loader item): larger pools pad less
POOL_STEPS = 32
#: seeds of the bucket orders, apart from the per-epoch permutations of the fixed-size batches
EPOCH_ORDER, POOL_ORDER = 0xB0C4_0001, 0xB0C4_0002


def block_widths(source_len: int, target_len: int, layout: Layout) -> tuple[int, int]:
    """(source block, target block) of one example; see the table of the module docstring."""
    if layout == "seq2seq":
        return source_len, target_len + 1
    if layout == "packed":
        return source_len + 1, target_len + 1
    if layout == "masked":
        return source_len + target_len + 2, 0
    raise ValueError(f"unknown batch layout {layout!r}; expected one of {', '.join(LAYOUTS)}")


def batch_cost(source_widths: np.ndarray, target_widths: np.ndarray) -> int:
    """Padded tokens of one batch: rows × (widest source block + widest target block)."""
    if len(source_widths) == 0:
        return 0
    return len(source_widths) * int(np.max(source_widths) + np.max(target_widths))


def check_fits(source_width: int, target_width: int, budget: int, where: str) -> None:
    """Raise if one example alone costs more than the budget."""
    if source_width + target_width > budget:
        raise ValueError(f"{where}: one example needs {source_width} + {target_width} padded tokens "
                         f"(source + target block), more than train.batch_tokens={budget}; raise "
                         "train.batch_tokens or lower the task's / model's length limits")


def sort_order(source_widths: np.ndarray, target_widths: np.ndarray, ties: np.ndarray) -> np.ndarray:
    """Indices sorted by source block, then target block, then ``ties``."""
    return np.lexsort((ties, target_widths, source_widths))


def cut_sorted(source_widths: np.ndarray, target_widths: np.ndarray, budget: int) -> list[int]:
    """Start offsets of the batches of a sorted sequence, each run as long as the budget allows.

    Greedy from the front: a batch takes the next example while ``rows × (widest source +
    widest target)`` stays within ``budget``. Every example must fit alone (``check_fits``).
    """
    starts: list[int] = []
    rows, widest_source, widest_target = 0, 0, 0
    for i, (a, b) in enumerate(zip(source_widths.tolist(), target_widths.tolist())):
        wider_source, wider_target = max(widest_source, a), max(widest_target, b)
        if rows == 0 or (rows + 1) * (wider_source + wider_target) > budget:
            starts.append(i)
            rows, wider_source, wider_target = 0, a, b
        rows, widest_source, widest_target = rows + 1, wider_source, wider_target
    return starts


def batches_of(order: np.ndarray, starts: list[int]) -> list[np.ndarray]:
    """The index arrays of the batches that ``starts`` cut out of ``order``."""
    ends = [*starts[1:], len(order)]
    return [order[s:e] for s, e in zip(starts, ends)]


def split_to(batches: list[np.ndarray], count: int) -> list[np.ndarray]:
    """Halve the batch with the most rows (the first such) until there are ``count`` batches;
    halves of a batch within the budget are within it too."""
    batches = list(batches)
    if sum(len(b) for b in batches) < count:
        raise ValueError(f"{sum(len(b) for b in batches)} examples cannot make {count} batches")
    while len(batches) < count:
        largest = max(range(len(batches)), key=lambda i: len(batches[i]))
        whole = batches[largest]
        half = (len(whole) + 1) // 2
        batches[largest: largest + 1] = [whole[:half], whole[half:]]
    return batches


def pool_reserve(pool_steps: int, budget: int) -> int:
    """Stream positions reserved per pool: enough for ``pool_steps`` batches of one-token
    examples (the most a pool can hold) plus the draw that ends it."""
    return pool_steps * budget + pool_steps


def pool_start(group: int, rank: int, world_size: int, pool_steps: int, budget: int) -> int:
    """First stream position of the pool of ``group`` on ``rank`` (pools never overlap)."""
    return (group * world_size + rank) * pool_reserve(pool_steps, budget)


class PoolFiller:
    """Grows one pool of generated examples to exactly ``pool_steps`` batches.

    ``add(source_width, target_width)`` after each draw; ``full()`` says when the drawn
    examples need more than ``pool_steps`` batches; ``batches()`` then gives the batches of
    the longest prefix of the draws that needs at most ``pool_steps``, as index lists into
    the draws, in sorted order (not yet shuffled).
    """

    def __init__(self, pool_steps: int, budget: int):
        self.pool_steps, self.budget = pool_steps, budget
        self.source: list[int] = []
        self.target: list[int] = []
        self.fits = 0  # a prefix length known to need at most pool_steps batches

    def add(self, source_width: int, target_width: int) -> None:
        self.source.append(source_width)
        self.target.append(target_width)

    def _cut(self, prefix: int) -> tuple[np.ndarray, list[int]]:
        source = np.asarray(self.source[:prefix], dtype=np.int64)
        target = np.asarray(self.target[:prefix], dtype=np.int64)
        order = sort_order(source, target, np.arange(prefix))
        return order, cut_sorted(source[order], target[order], self.budget)

    def full(self) -> bool:
        if len(self.source) <= self.pool_steps:
            return False
        if len(self._cut(len(self.source))[1]) <= self.pool_steps:
            self.fits = len(self.source)
            return False
        return True

    def batches(self) -> list[np.ndarray]:
        """Batches of the longest prefix that fits (binary search between the last prefix known
        to fit and the draws that do not), halved up to exactly ``pool_steps``."""
        fits, overflows = max(self.fits, self.pool_steps), len(self.source)
        while overflows - fits > 1:
            middle = (fits + overflows) // 2
            if len(self._cut(middle)[1]) <= self.pool_steps:
                fits = middle
            else:
                overflows = middle
        order, starts = self._cut(fits)
        return split_to(batches_of(order, starts), self.pool_steps)
