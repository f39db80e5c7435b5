"""Transformer generators: encoder-decoder (seq2seq) and decoder-only (GPT-like).

Both share the interface that training and ``seq2math.model.decoding`` use:

- ``model(src, tgt_in) -> logits (B, T, V)``: teacher forcing; ``src`` (B, S) and
  ``tgt_in`` (B, T) are padded at the end with ``pad_id``; ``tgt_in`` starts with <bos>;
  ``logits[:, t]`` predicts ``tgt_in[:, t + 1]`` (the last one predicts <eos>).
- ``start(src, use_cache=True) -> TransformerState`` then ``step(tokens (B,), state) ->
  (logits (B, V), state)`` for incremental decoding; ``state.reorder(index)`` for beams.
  Without cache each step recomputes the whole prefix (the reference for parity tests).
- ``attention_maps(src, tgt_in) -> AttentionMaps`` from the eager attention path.

The decoder-only model reads the packed sequence ``src <sep> tgt_in``; source padding
is masked out as keys, and positions count only real tokens, so padding never changes
the outputs of real tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from seq2math.tokens.vocab import PAD_ID, SEP_ID

from .blocks import BlockStack, LayerCache, TokenEmbedding
from .config import ModelConfig
from .linear import linear
from .outputs import AttentionMaps, check_tokens, inference, to_model_device


@dataclass
class TransformerState:
    """Everything a transformer needs to extend a batch of prefixes by one token."""

    prefix: Tensor  # (B, t) tokens fed so far (decoder-only: the packed source and <sep> too)
    positions: Tensor  # (B, t) position id of each prefix token
    padding: Tensor | None  # (B, t) True at padding inside the prefix (decoder-only source)
    memory: Tensor | None  # (B, S, D) encoder output; None once its keys/values are cached
    memory_padding: Tensor | None  # (B, S) True at source padding
    caches: list[LayerCache] | None  # one per decoder layer; None: recompute the prefix

    @property
    def batch_size(self) -> int:
        return self.prefix.size(0)

    def reorder(self, index: Tensor) -> "TransformerState":
        """Keep rows ``index`` (a beam's parents, or the unfinished inputs), in place."""
        self.prefix = self.prefix.index_select(0, index)
        self.positions = self.positions.index_select(0, index)
        for name in ("padding", "memory", "memory_padding"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, value.index_select(0, index))
        plan = None                                # the cross-attention entries to keep: worked out once
        for cache in self.caches or []:
            plan = cache.reorder(index, plan)
        return self


def count_positions(padding: Tensor) -> Tensor:
    """Position of each token counting real tokens only: (B, T) bool -> (B, T) long."""
    return ((~padding).long().cumsum(dim=1) - 1).clamp(min=0)


class TransformerGenerator(nn.Module):
    """The causal decoder stack, output projection and incremental decoding of both models."""

    def __init__(self, config: ModelConfig, vocab_size: int, pad_id: int, cross_attention: bool):
        super().__init__()
        self.config, self.vocab_size, self.pad_id = config, vocab_size, pad_id
        self.embed = TokenEmbedding(config, vocab_size, pad_id)
        self.decoder = BlockStack(config, config.dec_layers, causal=True, cross_attention=cross_attention)
        self.output = None if config.tie_embeddings else nn.Linear(config.d_model, vocab_size, bias=False)

    def logits(self, hidden: Tensor) -> Tensor:
        """(..., D) -> (..., V); tied weights reuse the token embedding (Press & Wolf 2017)."""
        weight = self.embed.tokens.weight if self.output is None else self.output.weight
        return linear(hidden, weight)

    def _check_pair(self, src: Tensor, tgt_in: Tensor) -> None:
        check_tokens("src", src, self.vocab_size)
        check_tokens("tgt_in", tgt_in, self.vocab_size)
        if src.size(0) != tgt_in.size(0):
            raise ValueError(f"src has {src.size(0)} rows but tgt_in has {tgt_in.size(0)}")

    def step(self, tokens: Tensor, state: TransformerState) -> tuple[Tensor, TransformerState]:
        """Feed one token per row (B,) and return the next-token logits (B, V)."""
        if tokens.shape != (state.batch_size,):
            raise ValueError(f"step expects tokens of shape ({state.batch_size},), got {tuple(tokens.shape)}")
        batch = state.batch_size
        if state.positions.size(1):
            position = state.positions[:, -1:] + 1  # (B, 1)
        else:
            position = torch.zeros(batch, 1, dtype=torch.long, device=tokens.device)  # (B, 1)
        state.prefix = torch.cat((state.prefix, tokens.unsqueeze(1)), dim=1)  # (B, t + 1)
        state.positions = torch.cat((state.positions, position), dim=1)  # (B, t + 1)
        if state.padding is not None:
            no_pad = torch.zeros(batch, 1, dtype=torch.bool, device=tokens.device)
            state.padding = torch.cat((state.padding, no_pad), dim=1)  # (B, t + 1)
        new_tokens, new_positions = (tokens.unsqueeze(1), position) if state.caches is not None \
            else (state.prefix, state.positions)
        hidden = self.decoder(self.embed(new_tokens, new_positions), new_positions,
                              key_padding_mask=state.padding, memory=state.memory,
                              memory_padding_mask=state.memory_padding, caches=state.caches)
        return self.logits(hidden[:, -1]), state  # (B, V)


class Seq2SeqTransformer(TransformerGenerator):
    """Encoder-decoder (Vaswani et al. 2017), the architecture of the Lyapunov paper."""

    def __init__(self, config: ModelConfig, vocab_size: int, pad_id: int = PAD_ID):
        super().__init__(config, vocab_size, pad_id, cross_attention=True)
        self.encoder_embed = TokenEmbedding(config, vocab_size, pad_id)
        self.encoder = BlockStack(config, config.enc_layers, causal=False, cross_attention=False)

    def encode(self, src: Tensor, record: dict | None = None) -> tuple[Tensor, Tensor]:
        """Source (B, S) -> encoder output (B, S, D) and its padding mask (B, S)."""
        padding = src == self.pad_id  # (B, S)
        positions = torch.arange(src.size(1), device=src.device).expand_as(src)  # (B, S)
        memory = self.encoder(self.encoder_embed(src, positions), positions, key_padding_mask=padding,
                              record=record)
        return memory, padding

    def forward(self, src: Tensor, tgt_in: Tensor, record: dict | None = None,
                encoder_record: dict | None = None) -> Tensor:
        self._check_pair(src, tgt_in)
        memory, memory_padding = self.encode(src, encoder_record)
        positions = torch.arange(tgt_in.size(1), device=tgt_in.device).expand_as(tgt_in)  # (B, T)
        hidden = self.decoder(self.embed(tgt_in, positions), positions, memory=memory,
                              memory_padding_mask=memory_padding, record=record)
        return self.logits(hidden)  # (B, T, V)

    def start(self, src: Tensor, use_cache: bool = True) -> TransformerState:
        """Encode once; with the cache, also project cross-attention keys/values once."""
        check_tokens("src", src, self.vocab_size)
        memory, memory_padding = self.encode(src)
        caches = self.decoder.new_caches() if use_cache else None
        if caches is not None:
            for block, cache in zip(self.decoder.blocks, caches):
                keys, values = block.cross_attention.project_memory(memory)  # 2 x (B, H, S, hd)
                cache.cross_attention.keys, cache.cross_attention.values = keys, values
                cache.cross_attention.static = True
            memory = None  # no longer needed: the caches hold its keys and values
        empty = src.new_zeros(src.size(0), 0)  # (B, 0)
        return TransformerState(prefix=empty, positions=empty.clone(), padding=None, memory=memory,
                                memory_padding=memory_padding, caches=caches)

    def attention_maps(self, src: Tensor, tgt_in: Tensor) -> AttentionMaps:
        """Eager-path weights of every layer, in eval mode and without gradients."""
        encoder_record, decoder_record = {"self": [], "cross": []}, {"self": [], "cross": []}
        src, tgt_in = to_model_device(self, src, tgt_in)
        with inference(self):
            self(src, tgt_in, record=decoder_record, encoder_record=encoder_record)
        return AttentionMaps(encoder_self=encoder_record["self"], decoder_self=decoder_record["self"],
                             cross=decoder_record["cross"])


class DecoderOnlyTransformer(TransformerGenerator):
    """GPT-like: one causal stack reading ``src <sep> tgt_in``."""

    def __init__(self, config: ModelConfig, vocab_size: int, pad_id: int = PAD_ID, sep_id: int = SEP_ID):
        super().__init__(config, vocab_size, pad_id, cross_attention=False)
        if not 0 <= sep_id < vocab_size:
            raise ValueError(f"sep_id={sep_id} is outside the vocabulary [0, {vocab_size})")
        self.sep_id = sep_id

    def pack(self, src: Tensor, tgt_in: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """``src <sep> tgt_in`` (B, S + 1 + T), its padding mask and its positions."""
        sep = torch.full((src.size(0), 1), self.sep_id, dtype=src.dtype, device=src.device)
        parts = (src, sep) if tgt_in is None else (src, sep, tgt_in.to(src.dtype))
        packed = torch.cat(parts, dim=1)  # (B, S + 1 [+ T])
        padding = packed == self.pad_id  # (B, L)
        return packed, padding, count_positions(padding)

    def forward(self, src: Tensor, tgt_in: Tensor, record: dict | None = None) -> Tensor:
        self._check_pair(src, tgt_in)
        packed, padding, positions = self.pack(src, tgt_in)
        hidden = self.decoder(self.embed(packed, positions), positions, key_padding_mask=padding,
                              record=record)
        return self.logits(hidden[:, src.size(1) + 1:])  # (B, T, V), aligned with tgt_in

    def start(self, src: Tensor, use_cache: bool = True) -> TransformerState:
        """Run ``src <sep>`` through the stack once, filling the cache (if any)."""
        check_tokens("src", src, self.vocab_size)
        packed, padding, positions = self.pack(src)
        caches = self.decoder.new_caches() if use_cache else None
        if caches is not None:
            self.decoder(self.embed(packed, positions), positions, key_padding_mask=padding, caches=caches)
        return TransformerState(prefix=packed, positions=positions, padding=padding, memory=None,
                                memory_padding=None, caches=caches)

    def attention_maps(self, src: Tensor, tgt_in: Tensor) -> AttentionMaps:
        record = {"self": [], "cross": []}
        src, tgt_in = to_model_device(self, src, tgt_in)
        with inference(self):
            self(src, tgt_in, record=record)
        return AttentionMaps(decoder_self=record["self"])
