"""Token-budget batches for the training loop (``train.batch_tokens > 0``).

``TokenBudgetBatches`` is the map-style dataset ``step_loader`` reads when batches are bounded
by padded tokens instead of rows: item ``g`` is this rank's batches for steps
``g × pool_steps ... (g + 1) × pool_steps - 1``, so that one loader worker builds a whole pool
(generated data is drawn once per pool, not once per step). What a batch costs and how the
examples are grouped (file: the whole file sorted once per epoch; generated: one pool per group
of steps): ``seq2math.data.buckets``. Every batch is a pure function of (seed, step, rank), so a
resumed run sees exactly the batches of the uninterrupted one.
"""

from __future__ import annotations

import numpy as np
import torch

from seq2math.data.batching import MASKED_OBJECTIVES, Example, ExampleSource, FileSource, collate_step, encode_example
from seq2math.data.buckets import (
    EPOCH_ORDER,
    LAYOUTS,
    POOL_ORDER,
    POOL_STEPS,
    Layout,
    PoolFiller,
    batches_of,
    block_widths,
    check_fits,
    cut_sorted,
    pool_start,
    sort_order,
)
from seq2math.tokens.vocab import Vocab


class TokenBudgetBatches(torch.utils.data.Dataset):
    """Batches of at most ``batch_tokens`` padded tokens (``seq2math.data.buckets``), ``pool_steps``
    steps per item; ``step_examples(step)`` gives one step's examples without collating them."""

    def __init__(self, source: ExampleSource, vocab: Vocab, batch_tokens: int, seed: int,
                 objective: str = "seq2seq", mask_prob: float = 0.15, rank: int = 0, world_size: int = 1,
                 layout: Layout = "seq2seq", pool_steps: int = POOL_STEPS):
        if batch_tokens < 1:
            raise ValueError(f"train.batch_tokens must be positive for token-budget batches, got {batch_tokens}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world size {world_size}")
        if layout not in LAYOUTS:
            raise ValueError(f"unknown batch layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
        masked = objective in MASKED_OBJECTIVES
        if masked != (layout == "masked"):
            raise ValueError(f"objective {objective!r} needs the {'masked' if masked else 'seq2seq'}"
                             f" or packed layout, got {layout!r}")
        if pool_steps < 1:
            raise ValueError(f"pool_steps must be positive, got {pool_steps}")
        self.source, self.vocab, self.batch_tokens, self.seed = source, vocab, batch_tokens, seed
        self.objective, self.mask_prob, self.rank, self.world_size = objective, mask_prob, rank, world_size
        self.layout, self.steps_per_item = layout, pool_steps
        self._epoch, self._epoch_batches = -1, []
        if isinstance(source, FileSource):
            self._plan_file(*source.lengths())

    def __len__(self) -> int:
        return 2**62 // self.steps_per_item  # unbounded: the sampler decides which pools are drawn

    # ---- file data: the whole file is one pool ---------------------------------------------
    def _plan_file(self, source_lengths: np.ndarray, target_lengths: np.ndarray) -> None:
        """Widths of every example from the token counts alone (a file is not parsed again)."""
        source_lengths, target_lengths = source_lengths.astype(np.int64), target_lengths.astype(np.int64)
        widths = [np.broadcast_to(np.asarray(w, dtype=np.int64), source_lengths.shape).copy()
                  for w in block_widths(source_lengths, target_lengths, self.layout)]
        too_wide = np.flatnonzero(widths[0] + widths[1] > self.batch_tokens)
        if len(too_wide):
            first = int(too_wide[0])
            check_fits(int(widths[0][first]), int(widths[1][first]), self.batch_tokens,
                       f"train.data: an example of {int(source_lengths[first])} source and "
                       f"{int(target_lengths[first])} target tokens")
        self._source_widths, self._target_widths = widths
        # the cut depends only on the sorted widths, the same every epoch (ties reorder equals)
        order = sort_order(self._source_widths, self._target_widths, np.zeros(len(source_lengths)))
        self._starts = cut_sorted(self._source_widths[order], self._target_widths[order], self.batch_tokens)

    @property
    def batches_per_epoch(self) -> int:
        """Batches in one epoch of a file (all ranks together)."""
        if not isinstance(self.source, FileSource):
            raise TypeError("generated data has no epochs")
        return len(self._starts)

    def _batches_of_epoch(self, epoch: int) -> list[np.ndarray]:
        if epoch != self._epoch:
            rng = np.random.default_rng([EPOCH_ORDER, int(self.seed), epoch])
            ties = rng.permutation(len(self._source_widths))
            batches = batches_of(sort_order(self._source_widths, self._target_widths, ties), self._starts)
            self._epoch_batches = [batches[i] for i in rng.permutation(len(batches))]
            self._epoch = epoch
        return self._epoch_batches

    # ---- generated data: one pool per group of steps ------------------------------------------
    def _pool(self, group: int) -> list[list[tuple[Example, tuple[list[int], list[int]]]]]:
        """The batches of pool ``group``: each example with its token ids, encoded once (under a
        representation the encoding parses and expands every polynomial: two thirds of a loader
        worker's time when it was done once to measure and again to collate; docs/training.md)."""
        start = pool_start(group, self.rank, self.world_size, self.steps_per_item, self.batch_tokens)
        filler, drawn = PoolFiller(self.steps_per_item, self.batch_tokens), []
        while True:
            for _ in range(self.steps_per_item):  # a few draws between checks: at most this many are wasted
                position = start + len(drawn)
                example = self.source.example(position)
                ids = encode_example(self.vocab, *example)
                source_width, target_width = block_widths(len(ids[0]), len(ids[1]), self.layout)
                check_fits(source_width, target_width, self.batch_tokens,
                           f"training stream position {position} ({len(example[0])} source and "
                           f"{len(example[1])} target tokens)")
                filler.add(source_width, target_width)
                drawn.append((example, ids))
            if filler.full():
                break
        batches = filler.batches()
        order = np.random.default_rng([POOL_ORDER, int(self.seed), group, self.rank]).permutation(len(batches))
        return [[drawn[i] for i in batches[k]] for k in order.tolist()]

    # ---- steps ----------------------------------------------------------------------------
    def step_examples(self, step: int) -> list[Example]:
        """The examples of this rank's batch at ``step``."""
        if isinstance(self.source, FileSource):
            epoch, index = divmod(step * self.world_size + self.rank, len(self._starts))
            return [self.source.examples[i] for i in self._batches_of_epoch(epoch)[index].tolist()]
        group, offset = divmod(step, self.steps_per_item)
        return [example for example, _ in self._pool(group)[offset]]

    def group_examples(self, group: int) -> list[list[Example]]:
        """The examples of the batches of steps ``group × pool_steps ...`` on this rank."""
        if isinstance(self.source, FileSource):
            first = group * self.steps_per_item
            return [self.step_examples(step) for step in range(first, first + self.steps_per_item)]
        return [[example for example, _ in batch] for batch in self._pool(group)]

    def __getitem__(self, group: int) -> list[dict[str, torch.Tensor]]:
        first = group * self.steps_per_item
        if isinstance(self.source, FileSource):
            encoded = [[encode_example(self.vocab, *e) for e in examples] for examples in self.group_examples(group)]
        else:
            encoded = [[ids for _, ids in batch] for batch in self._pool(group)]
        return [collate_step(pairs, self.vocab, self.objective, self.mask_prob, self.seed, first + k, self.rank)
                for k, pairs in enumerate(encoded)]
