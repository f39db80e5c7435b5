"""Encoder-only transformer (BERT-like, Devlin et al. 2019).

- ``model(src) -> hidden (B, S, D)``;
- ``mlm_logits(src) -> (B, S, V)``: masked-token pre-training (replace some tokens by
  <mask>=5 and train to predict the originals at those positions);
- ``predict_head(src) -> (B, n_outputs)``: regression or classification from the pooled
  hidden states (mean over real tokens, or the first token), e.g. an eigenvalue or a
  "stable / unstable" label.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seq2math.tokens.vocab import PAD_ID

from .blocks import BlockStack, TokenEmbedding
from .config import ModelConfig
from .outputs import AttentionMaps, check_tokens, inference, to_model_device


class EncoderOnlyTransformer(nn.Module):
    def __init__(self, config: ModelConfig, vocab_size: int, pad_id: int = PAD_ID):
        super().__init__()
        self.config, self.vocab_size, self.pad_id = config, vocab_size, pad_id
        width = config.d_model
        self.embed = TokenEmbedding(config, vocab_size, pad_id)
        self.encoder = BlockStack(config, config.enc_layers, causal=False, cross_attention=False)
        # BERT's MLM head: a transform, then the (tied) token embedding back to the vocabulary
        self.mlm_transform = nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.LayerNorm(width))
        self.mlm_output = None if config.tie_embeddings else nn.Linear(width, vocab_size, bias=False)
        self.mlm_bias = nn.Parameter(torch.zeros(vocab_size))
        self.head = nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Linear(width, config.n_outputs))

    def forward(self, src: Tensor, record: dict | None = None) -> Tensor:
        check_tokens("src", src, self.vocab_size)
        padding = src == self.pad_id  # (B, S)
        positions = torch.arange(src.size(1), device=src.device).expand_as(src)  # (B, S)
        return self.encoder(self.embed(src, positions), positions, key_padding_mask=padding,
                            record=record)  # (B, S, D)

    def mlm_logits(self, src: Tensor) -> Tensor:
        """Logits over the vocabulary at every source position (B, S, V)."""
        hidden = self.mlm_transform(self(src))  # (B, S, D)
        weight = self.embed.tokens.weight if self.mlm_output is None else self.mlm_output.weight
        return F.linear(hidden, weight, self.mlm_bias)

    def pool(self, src: Tensor, hidden: Tensor) -> Tensor:
        """(B, S, D) -> (B, D): mean over real tokens, or the first token's state."""
        if self.config.pooling == "first":
            return hidden[:, 0]
        real = (src != self.pad_id).unsqueeze(-1).to(hidden.dtype)  # (B, S, 1)
        return (hidden * real).sum(dim=1) / real.sum(dim=1).clamp(min=1.0)  # (B, D)

    def predict_head(self, src: Tensor) -> Tensor:
        """Regression values or class logits (B, n_outputs) for each source."""
        return self.head(self.pool(src, self(src)))

    def attention_maps(self, src: Tensor) -> AttentionMaps:
        record = {"self": [], "cross": []}
        (src,) = to_model_device(self, src)
        with inference(self):
            self(src, record=record)
        return AttentionMaps(encoder_self=record["self"])
