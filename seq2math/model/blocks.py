"""The one block stack behind every transformer here: embeddings, blocks, stacks.

A ``TransformerBlock`` is self-attention (+ cross-attention when it belongs to an
encoder-decoder's decoder) + a feed-forward network, each wrapped in a residual
connection with layer norm before (``pre``, Xiong et al. 2020) or after (``post``, the
original transformer) the sub-layer. Two flags choose the role, as in x-transformers:
``causal`` (decoder, decoder-only) and ``cross_attention`` (encoder-decoder's decoder).
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from .attention import KVCache, MultiHeadAttention
from .config import ModelConfig
from .linear import Linear
from .positions import RotaryEmbedding, make_additive_positions


class TokenEmbedding(nn.Module):
    """Token vectors scaled by sqrt(d) (Vaswani et al. §3.4) plus additive positions, then dropout."""

    def __init__(self, config: ModelConfig, vocab_size: int, pad_id: int):
        super().__init__()
        self.scale = math.sqrt(config.d_model)
        self.tokens = nn.Embedding(vocab_size, config.d_model, padding_idx=pad_id)
        nn.init.normal_(self.tokens.weight, std=config.d_model ** -0.5)  # unit scale after sqrt(d)
        self.tokens.weight.data[pad_id].zero_()
        self.positions = make_additive_positions(config.positions, config.d_model, config.max_len)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, tokens: Tensor, positions: Tensor) -> Tensor:
        x = self.tokens(tokens) * self.scale  # (B, T, D)
        if self.positions is not None:
            x = x + self.positions(positions)  # (B, T, D)
        return self.dropout(x)


class FeedForward(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.up = Linear(config.d_model, config.d_ff)
        self.activation = nn.GELU() if config.activation == "gelu" else nn.ReLU()
        self.down = Linear(config.d_ff, config.d_model)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.down(self.dropout(self.activation(self.up(x))))  # (B, T, D)


class LayerCache:
    """The KV caches of one block: its self-attention and (decoder) cross-attention."""

    def __init__(self) -> None:
        self.self_attention = KVCache()
        self.cross_attention = KVCache()

    def reorder(self, index: Tensor, plan: tuple[Tensor, int] | None = None) -> tuple[Tensor, int] | None:
        """Keep rows ``index``; ``plan``: the cross-attention cache's, shared by every layer (``KVCache.reorder``)."""
        self.self_attention.reorder(index)
        return self.cross_attention.reorder(index, plan)


class TransformerBlock(nn.Module):
    def __init__(self, config: ModelConfig, causal: bool, cross_attention: bool):
        super().__init__()
        self.causal, self.pre_norm = causal, config.norm == "pre"
        heads, width = config.n_heads, config.d_model
        self.self_attention = MultiHeadAttention(width, heads, config.dropout, config.attention_impl)
        self.self_norm = nn.LayerNorm(width)
        self.cross_attention = (MultiHeadAttention(width, heads, config.dropout, config.attention_impl)
                                if cross_attention else None)
        self.cross_norm = nn.LayerNorm(width) if cross_attention else None
        self.feed_forward = FeedForward(config)
        self.ff_norm = nn.LayerNorm(width)
        self.dropout = nn.Dropout(config.dropout)

    def _residual(self, x: Tensor, norm: nn.LayerNorm, sublayer) -> tuple[Tensor, Tensor | None]:
        """Pre-norm: x + f(LN(x)); post-norm: LN(x + f(x)). ``sublayer`` returns (y, weights)."""
        y, weights = sublayer(norm(x) if self.pre_norm else x)
        x = x + self.dropout(y)
        return (x if self.pre_norm else norm(x)), weights

    def forward(self, x: Tensor, *, key_padding_mask: Tensor | None = None,
                rotary: RotaryEmbedding | None = None, positions: Tensor | None = None,
                memory: Tensor | None = None, memory_padding_mask: Tensor | None = None,
                cache: LayerCache | None = None, record: dict[str, list[Tensor]] | None = None) -> Tensor:
        """``x`` (B, T, D) -> (B, T, D); ``record`` collects attention weights for plots."""
        need_weights = record is not None
        x, weights = self._residual(x, self.self_norm, lambda h: self.self_attention(
            h, key_padding_mask=key_padding_mask, causal=self.causal, rotary=rotary, positions=positions,
            cache=cache.self_attention if cache is not None else None, need_weights=need_weights))
        if record is not None:
            record["self"].append(weights)
        if self.cross_attention is not None:
            if memory is None and (cache is None or not cache.cross_attention.static):
                raise ValueError("a decoder block with cross-attention needs the encoder output")
            x, weights = self._residual(x, self.cross_norm, lambda h: self.cross_attention(
                h, memory, key_padding_mask=memory_padding_mask,
                cache=cache.cross_attention if cache is not None else None, need_weights=need_weights))
            if record is not None:
                record["cross"].append(weights)
        x, _ = self._residual(x, self.ff_norm, lambda h: (self.feed_forward(h), None))
        return x


class BlockStack(nn.Module):
    """``n_layers`` blocks (+ a final layer norm for pre-norm, whose residual stream is unnormalised)."""

    def __init__(self, config: ModelConfig, n_layers: int, causal: bool, cross_attention: bool):
        super().__init__()
        self.blocks = nn.ModuleList(TransformerBlock(config, causal, cross_attention) for _ in range(n_layers))
        self.final_norm = nn.LayerNorm(config.d_model) if config.norm == "pre" else nn.Identity()
        self.rotary = (RotaryEmbedding(config.head_dim, config.max_len)
                       if config.positions == "rotary" else None)

    def new_caches(self) -> list[LayerCache]:
        return [LayerCache() for _ in self.blocks]

    def forward(self, x: Tensor, positions: Tensor, *, key_padding_mask: Tensor | None = None,
                memory: Tensor | None = None, memory_padding_mask: Tensor | None = None,
                caches: list[LayerCache] | None = None,
                record: dict[str, list[Tensor]] | None = None) -> Tensor:
        for index, block in enumerate(self.blocks):
            x = block(x, key_padding_mask=key_padding_mask, rotary=self.rotary, positions=positions,
                      memory=memory, memory_padding_mask=memory_padding_mask,
                      cache=caches[index] if caches is not None else None, record=record)
        return self.final_norm(x)  # (B, T, D)
