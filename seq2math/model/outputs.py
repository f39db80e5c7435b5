"""Typed results shared by the models: attention maps, incremental-decoding state, input checks."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Iterator, Protocol

import torch
from torch import Tensor, nn


@dataclass
class AttentionMaps:
    """Attention weights, one tensor per layer, each (B, H, Tq, Tk) (RNN: H = 1).

    ``decoder_self`` of a decoder-only model covers the packed sequence ``src <sep> tgt_in``.
    """

    encoder_self: list[Tensor] = field(default_factory=list)
    decoder_self: list[Tensor] = field(default_factory=list)
    cross: list[Tensor] = field(default_factory=list)


class DecoderState(Protocol):
    """What ``model.start(src)`` returns and ``model.step`` consumes (seq2math.model.decoding)."""

    @property
    def batch_size(self) -> int: ...

    def reorder(self, index: Tensor) -> "DecoderState":
        """Keep (and repeat) rows ``index`` of the batch, in place; returns self."""
        ...


def check_tokens(name: str, tokens: Tensor, vocab_size: int) -> None:
    """Clear ``ValueError`` for a token tensor of the wrong shape, type or range."""
    if not isinstance(tokens, Tensor):
        raise TypeError(f"{name} must be a torch.LongTensor of shape (B, T), got {type(tokens).__name__}")
    if tokens.dim() != 2:
        raise ValueError(f"{name} must have shape (B, T), got {tuple(tokens.shape)}")
    if tokens.dtype not in (torch.long, torch.int):
        raise ValueError(f"{name} must hold integer token ids, got dtype {tokens.dtype}")
    if tokens.numel() and not torch.compiler.is_compiling():  # a data-dependent check breaks the graph
        low, high = int(tokens.min()), int(tokens.max())
        if low < 0 or high >= vocab_size:
            bad = low if low < 0 else high
            row, col = (tokens == bad).nonzero()[0].tolist()
            raise ValueError(f"{name}[{row}, {col}] = {bad} is outside the vocabulary [0, {vocab_size})")


@contextlib.contextmanager
def inference(model: nn.Module) -> Iterator[None]:
    """Eval mode (no dropout) and no gradients, restoring the training flag afterwards."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def to_model_device(model: nn.Module, *tensors: Tensor) -> tuple[Tensor, ...]:
    """Move inputs to the device of the model's parameters (plots pass CPU tensors)."""
    device = next(model.parameters()).device
    return tuple(t.to(device) for t in tensors)
