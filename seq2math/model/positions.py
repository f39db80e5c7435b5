"""Position information: sinusoidal and learned (added to embeddings), rotary (applied in attention).

Every model passes explicit position ids of shape ``(B, T)`` rather than assuming
``0..T-1``: the decoder-only model packs a padded source and a target in one sequence,
and incremental decoding feeds one position at a time, so positions differ per row.

Sinusoidal and rotary positions are functions of the position, not trained vectors, so a model in
evaluation mode reads up to ``EXTRAPOLATION`` times the ``max_len`` it was trained with; training stays
within ``max_len``. Whether the model's answers past its trained length are any good is for the verifier
to say: the Lyapunov mixture model, trained on 768 monomial tokens, proposes the V that ``guided`` proves
for bpoly system 156 of our test set (810 tokens), which it could not read before (docs/results.md,
session 23).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


#: how many times its trained ``max_len`` a model with sinusoidal or rotary positions reads in evaluation mode
EXTRAPOLATION = 2


def readable_positions(max_len: int, positions: str) -> int:
    """The positions a model of this ``max_len`` and kind of ``positions`` reads in evaluation mode."""
    return max_len if positions == "learned" else EXTRAPOLATION * max_len


def check_positions(positions: Tensor, max_len: int, readable: int | None = None) -> None:
    """Clear error instead of an index error deep inside an embedding lookup: positions reach at most
    ``max_len`` (trained), or ``readable`` where given (evaluation mode, ``readable_positions``)."""
    if not positions.numel():
        return
    # reading a value breaks a compiled graph; compiled code runs whole sequences (0..T-1): its last is T-1
    last = positions.size(-1) - 1 if torch.compiler.is_compiling() else int(positions.max())
    if last >= (readable or max_len):
        beyond = f", read up to {readable} in evaluation" if readable else ""
        raise ValueError(f"sequence needs position {last} but the model has "
                         f"max_len={max_len} positions{beyond} (raise model.max_len or shorten the input)")


def sinusoid_table(max_len: int, dim: int) -> Tensor:
    """Vaswani et al. 2017 §3.5: PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(...)."""
    position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)  # (P, 1)
    inv_freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(max_len, dim)
    table[:, 0::2] = torch.sin(position * inv_freq)  # (P, ceil(d/2))
    table[:, 1::2] = torch.cos(position * inv_freq[: dim // 2])  # (P, floor(d/2))
    return table


class SinusoidalPositions(nn.Module):
    """Fixed sinusoids, not saved in checkpoints (they are a function of the config); ``max_len`` positions in
    training, ``EXTRAPOLATION`` times as many in evaluation."""

    def __init__(self, d_model: int, max_len: int):
        super().__init__()
        self.max_len = max_len
        self.register_buffer("table", sinusoid_table(readable_positions(max_len, "sinusoidal"), d_model),
                             persistent=False)

    def forward(self, positions: Tensor) -> Tensor:
        check_positions(positions, self.max_len, None if self.training else len(self.table))
        return self.table[positions]  # (B, T, D)


class LearnedPositions(nn.Module):
    """One trained vector per position (GPT-2, BERT)."""

    def __init__(self, d_model: int, max_len: int):
        super().__init__()
        self.max_len = max_len
        self.embedding = nn.Embedding(max_len, d_model)
        # small at start so token identity dominates early training
        nn.init.normal_(self.embedding.weight, std=0.1)

    def forward(self, positions: Tensor) -> Tensor:
        check_positions(positions, self.max_len)
        return self.embedding(positions)  # (B, T, D)


class RotaryEmbedding(nn.Module):
    """Rotary position embedding (Su et al. 2021, RoFormer).

    Query and key vectors are rotated pairwise by angles proportional to their position, so
    the dot product of a query at position m and a key at position n depends only on m - n.
    We pair dimension i with i + hd/2 ("rotate half" layout); the choice of pairing is a
    convention and does not change what the model can express.
    """

    def __init__(self, head_dim: int, max_len: int, base: float = 10000.0):
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"rotary positions need an even head size, got {head_dim}")
        self.max_len = max_len
        inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)  # (hd/2,)
        readable = readable_positions(max_len, "rotary")                                       # in evaluation
        angles = torch.arange(readable, dtype=torch.float32).unsqueeze(1) * inv_freq  # (P, hd/2)
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def forward(self, x: Tensor, positions: Tensor) -> Tensor:
        """Rotate ``x`` of shape (B, H, T, hd) at ``positions`` of shape (B, T)."""
        check_positions(positions, self.max_len, None if self.training else len(self.cos))
        cos = self.cos[positions].unsqueeze(1).to(x.dtype)  # (B, 1, T, hd/2)
        sin = self.sin[positions].unsqueeze(1).to(x.dtype)  # (B, 1, T, hd/2)
        first, second = x.chunk(2, dim=-1)  # 2 x (B, H, T, hd/2)
        return torch.cat((first * cos - second * sin, second * cos + first * sin), dim=-1)  # (B, H, T, hd)


def make_additive_positions(kind: str, d_model: int, max_len: int) -> nn.Module | None:
    """The module added to token embeddings, or None for rotary (handled inside attention)."""
    if kind == "sinusoidal":
        return SinusoidalPositions(d_model, max_len)
    if kind == "learned":
        return LearnedPositions(d_model, max_len)
    if kind == "rotary":
        return None
    raise ValueError(f"unknown positions {kind!r}; choose sinusoidal, learned or rotary")
