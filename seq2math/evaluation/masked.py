"""Answers of an encoder-only model: fill a masked target of fixed length, then verify it.

An encoder-only model (``arch=encoder``) is trained on the masked-token objective over
``source <sep> target <eos>`` (``seq2math.data.batching.collate_masked``). It has no decoder,
so where the target has a fixed length (a 3×3 sum, the n eigenvalues of an n×n matrix) it can
still answer: give it ``source <sep> <mask> × L <eos>`` and fill the masks. We fill them one at
a time, the most confident position first (each pass predicts every open mask and keeps the
one with the highest probability), as masked models are decoded iteratively; only task tokens
(no special token) may fill a mask. The answer is then checked by the task's verifier, like a
decoded one (``seq2math.evaluation``).
"""

from __future__ import annotations

import time
from typing import Any

import torch

from seq2math.data.batching import Example, pad_batch
from seq2math.evaluation.decode import Hypothesis
from seq2math.evaluation.metrics import example_record
from seq2math.evaluation.pool import safe_verify
from seq2math.tasks.base import Task
from seq2math.tokens.vocab import FIRST_TOKEN_ID, Vocab


def one_length(examples: list[Example]) -> bool:
    """Whether every target of ``examples`` has the same length (what a masked answer needs)."""
    return len({len(t) for _, t in examples}) == 1


def target_length(examples: list[Example]) -> int:
    """The one target length of ``examples``; raises ``ValueError`` when targets differ in length."""
    if not one_length(examples):
        raise ValueError(f"an encoder-only model answers a target of fixed length; these targets have "
                         f"lengths {sorted({len(t) for _, t in examples})[:5]}")
    return len(examples[0][1])


@torch.no_grad()
def fill_masks(model: torch.nn.Module, vocab: Vocab, sources: list[list[str]], length: int,
               device: torch.device | str = "cpu") -> list[list[str]]:
    """The ``length`` target tokens the model puts behind each source, most confident first."""
    model.eval()
    rows = [[*vocab.encode(s, strict=False), vocab.sep_id, *[vocab.mask_id] * length, vocab.eos_id]
            for s in sources]
    starts = [len(s) + 1 for s in sources]
    ids = pad_batch(rows, vocab.pad_id).to(device)                                   # (B, S)
    open_ = torch.zeros_like(ids, dtype=torch.bool)
    for row, start in enumerate(starts):
        open_[row, start: start + length] = True
    for _ in range(length):
        logits = model.mlm_logits(ids).float()                                       # (B, S, V)
        logits[..., :FIRST_TOKEN_ID] = float("-inf")                                 # task tokens only
        confidence, choice = logits.log_softmax(-1).max(-1)                          # (B, S)
        confidence = confidence.masked_fill(~open_, float("-inf"))
        position = confidence.argmax(-1)                                             # (B,)
        rows_ = torch.arange(ids.size(0), device=ids.device)
        ids[rows_, position] = choice[rows_, position]
        open_[rows_, position] = False
    return [vocab.decode(ids[row, start: start + length].tolist(), stop_at_eos=False)
            for row, start in enumerate(starts)]


def check_masked(model: torch.nn.Module, task: Task, vocab: Vocab, examples: list[Example],
                 batch_size: int = 64, device: torch.device | str = "cpu") -> list[dict[str, Any]]:
    """Per-example records (``metrics.example_record``) of the filled targets, checked by ``task``."""
    length = target_length(examples)
    records = []
    for first in range(0, len(examples), batch_size):
        chunk = examples[first: first + batch_size]
        tick = time.time()
        answers = fill_masks(model, vocab, [s for s, _ in chunk], length, device)
        seconds = (time.time() - tick) / len(chunk)
        for offset, ((source, target), answer) in enumerate(zip(chunk, answers)):
            verdict = safe_verify(task, source, answer)
            records.append(example_record(task, first + offset, source, target, [Hypothesis(answer)], [verdict],
                                          seconds))
    return records
