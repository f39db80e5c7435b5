"""Models written from scratch in PyTorch, in reading order:

config.py      ModelConfig and size presets (no torch import)
positions.py   sinusoidal, learned and rotary positions
attention.py   multi-head attention (SDPA fast path, eager path with weights), KV cache
blocks.py      embeddings, the transformer block and the block stack shared by all architectures
outputs.py     AttentionMaps, the DecoderState protocol, input checks
transformer.py encoder-decoder and decoder-only generators (teacher forcing + start/step)
encoder.py     encoder-only (masked-token logits, pooled regression/classification head)
rnn.py         GRU/LSTM encoder-decoder with additive attention
decoding.py    greedy, sampling and beam search (with the KV cache)

Special token ids (``PAD_ID``, ``BOS_ID``, ``EOS_ID``, ``SEP_ID``, ...) come from
``seq2math.tokens.vocab``, their one home; the models know no task.

Usage::

    config = ModelConfig.from_preset("tiny", arch="seq2seq")
    model = build_model(config, vocab_size=len(vocab))
    logits = model(src, tgt_in)              # (B, T, V), teacher forcing
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seq2math.tokens.vocab import MASK_ID, PAD_ID

from .config import GENERATIVE_ARCHITECTURES, PRESETS, ModelConfig

if TYPE_CHECKING:
    from torch import nn

__all__ = ["ModelConfig", "PRESETS", "GENERATIVE_ARCHITECTURES", "build_model", "count_parameters",
           "AttentionMaps"]


def build_model(config: ModelConfig, vocab_size: int, pad_id: int = PAD_ID) -> "nn.Module":
    """The module for ``config.arch`` ("seq2seq", "encoder", "decoder" or "rnn")."""
    if vocab_size <= max(pad_id, MASK_ID):
        raise ValueError(f"vocab_size={vocab_size} must exceed the special token ids "
                         f"(pad_id={pad_id}, <mask>={MASK_ID})")
    config.validate()
    if config.arch == "seq2seq":
        from .transformer import Seq2SeqTransformer
        return Seq2SeqTransformer(config, vocab_size, pad_id)
    if config.arch == "decoder":
        from .transformer import DecoderOnlyTransformer
        return DecoderOnlyTransformer(config, vocab_size, pad_id)
    if config.arch == "encoder":
        from .encoder import EncoderOnlyTransformer
        return EncoderOnlyTransformer(config, vocab_size, pad_id)
    if config.arch == "rnn":
        from .rnn import RNNSeq2Seq
        return RNNSeq2Seq(config, vocab_size, pad_id)
    raise ValueError(f"unknown arch {config.arch!r}; choose seq2seq, encoder, decoder or rnn")


def count_parameters(model: "nn.Module") -> int:
    """Number of trainable parameters (tied weights counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def __getattr__(name: str):
    # lazy so that importing ModelConfig does not import torch
    if name == "AttentionMaps":
        from .outputs import AttentionMaps
        return AttentionMaps
    raise AttributeError(name)
