"""The baseline of ``seq2math bench train``: ``torch.nn.Transformer`` dressed as our encoder-decoder.

``TorchSeq2Seq(config, vocab_size)`` has exactly the parameters of
``Seq2SeqTransformer(config, vocab_size)`` (``seq2math.model.transformer``), so the two can be
timed against each other on the same batches:

- the same embeddings: two ``TokenEmbedding`` (``seq2math.model.blocks``: token vectors × sqrt(d)
  + sinusoidal or learned positions), one for the source and one for the target;
- the same output projection: tied to the target embedding (``config.tie_embeddings``) or a
  bias-free ``nn.Linear``;
- ``nn.TransformerEncoder``/``nn.TransformerDecoder`` layers of the same width, heads, FFN width,
  activation and dropout, with layer norm before (``norm_first=True``, our ``norm="pre"``) or
  after the sub-layers; a final layer norm on each stack for pre-norm only, as ours
  (``nn.Transformer`` would add one for post-norm too, so the stacks are built here);
- the same masks: source padding (encoder self-attention and cross-attention) and a causal
  decoder (``tgt_is_causal``); target padding is not masked, as in ours (padding sits at the
  end of a row, so causal attention keeps real positions from seeing it).

Rotary positions live inside our attention and have no counterpart here: ``ValueError``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seq2math.model import ModelConfig
from seq2math.model.blocks import TokenEmbedding
from seq2math.tokens.vocab import PAD_ID


class TorchSeq2Seq(nn.Module):
    """``model(src (B, S), tgt_in (B, T)) -> logits (B, T, V)``, like ``Seq2SeqTransformer``."""

    def __init__(self, config: ModelConfig, vocab_size: int, pad_id: int = PAD_ID):
        super().__init__()
        if config.positions == "rotary":
            raise ValueError("the torch.nn.Transformer baseline has no rotary positions: "
                             "use sinusoidal or learned positions")
        self.pad_id, pre_norm = pad_id, config.norm == "pre"
        self.encoder_embed = TokenEmbedding(config, vocab_size, pad_id)
        self.embed = TokenEmbedding(config, vocab_size, pad_id)
        layer_options = dict(d_model=config.d_model, nhead=config.n_heads, dim_feedforward=config.d_ff,
                             dropout=config.dropout, activation=config.activation, batch_first=True,
                             norm_first=pre_norm)
        encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(**layer_options), config.enc_layers,
                                        norm=nn.LayerNorm(config.d_model) if pre_norm else None,
                                        enable_nested_tensor=False)
        decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(**layer_options), config.dec_layers,
                                        norm=nn.LayerNorm(config.d_model) if pre_norm else None)
        self.transformer = nn.Transformer(d_model=config.d_model, nhead=config.n_heads, custom_encoder=encoder,
                                          custom_decoder=decoder, batch_first=True)
        self.output = None if config.tie_embeddings else nn.Linear(config.d_model, vocab_size, bias=False)

    @property
    def encoder(self) -> nn.Module:
        return self.transformer.encoder

    @property
    def decoder(self) -> nn.Module:
        return self.transformer.decoder

    @property
    def output_weight(self) -> Tensor:
        return self.embed.tokens.weight if self.output is None else self.output.weight

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        padding = src == self.pad_id  # (B, S)
        source_positions = torch.arange(src.size(1), device=src.device).expand_as(src)  # (B, S)
        target_positions = torch.arange(tgt_in.size(1), device=src.device).expand_as(tgt_in)  # (B, T)
        causal = nn.Transformer.generate_square_subsequent_mask(tgt_in.size(1), device=src.device)  # (T, T)
        hidden = self.transformer(self.encoder_embed(src, source_positions), self.embed(tgt_in, target_positions),
                                  tgt_mask=causal, src_key_padding_mask=padding,
                                  memory_key_padding_mask=padding, tgt_is_causal=True)  # (B, T, D)
        return F.linear(hidden, self.output_weight)  # (B, T, V)
