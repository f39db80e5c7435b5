"""The training objectives as one module: ``batch -> (mean loss, correct tokens, counted tokens)``.

- ``seq2seq`` (encoder-decoder, decoder-only, RNN): cross-entropy of ``y <eos>`` given
  ``<bos> y`` under teacher forcing, ignoring padding. A decoder-only model packs
  ``x <sep> y`` itself and returns logits for the target part only, so the loss is on
  the target part.
- ``masked`` (encoder-only): BERT's masked-token pre-training on ``x <sep> y <eos>``
  (see ``seq2math.data.batching.collate_masked``); only the masked positions carry labels.
- ``masked-target`` (encoder-only): only tokens of ``y`` are masked, each row at its own rate
  (``collate_masked_target``): the objective of filling an answer of fixed length.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from seq2math.data.batching import MASKED_OBJECTIVES
from seq2math.training.config import RunConfig


def resolve_objective(config: RunConfig) -> str:
    """``train.objective``, or the architecture's own when it is "auto" (masked for encoder-only)."""
    objective = config.train.objective
    if objective in MASKED_OBJECTIVES and config.model.arch != "encoder":
        raise ValueError(f"train.objective={objective} predicts masked tokens, which needs model.arch=encoder "
                         f"(got {config.model.arch!r})")
    if objective != "auto":
        return objective
    return "masked" if config.model.arch == "encoder" else "seq2seq"


class LossModule(torch.nn.Module):
    """``batch -> (mean loss, correct tokens, counted tokens)``; DDP wraps this module so that
    the encoder-only ``mlm_logits`` path also goes through ``forward`` (and syncs gradients)."""

    def __init__(self, model: torch.nn.Module, objective: str, pad_id: int = 0):
        super().__init__()
        self.model, self.objective, self.pad_id = model, objective, pad_id

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.objective in MASKED_OBJECTIVES:
            logits, targets = self.model.mlm_logits(batch["src"]), batch["labels"]  # [B, S, V], [B, S]
        else:
            logits, targets = self.model(batch["src"], batch["tgt_in"]), batch["tgt_out"]  # [B, T, V], [B, T]
        if logits.shape[:2] != targets.shape:
            raise ValueError(f"model returned logits of shape {tuple(logits.shape)}; expected "
                             f"[{targets.shape[0]}, {targets.shape[1]}, vocab]")
        flat_logits = logits.reshape(-1, logits.shape[-1]).float()  # [B*T, V]
        flat_targets = targets.reshape(-1)  # [B*T]
        loss = F.cross_entropy(flat_logits, flat_targets, ignore_index=self.pad_id)
        counted = flat_targets != self.pad_id
        correct = ((flat_logits.argmax(-1) == flat_targets) & counted).sum()
        return loss, correct, counted.sum()
