"""The historical baseline: an RNN encoder-decoder with additive attention (Bahdanau et al. 2015).

Encoder: a bidirectional GRU/LSTM over the source (packed, so padding at the end of a
source never changes the states of its real tokens). Decoder, at step t:

    c_t   = sum_j a_tj h_j,  a_t = softmax_j(v^T tanh(W s_{t-1} + U h_j))   (additive attention)
    s_t   = RNN(s_{t-1}, [y_{t-1}; c_t])
    out_t = tanh(W_o [s_t; c_t; y_{t-1}])  ->  logits (tied to the target embedding)

It has the same interface as the transformers (``model(src, tgt_in)``, ``start``/``step``,
``attention_maps``), so training and ``seq2math.model.decoding`` treat it alike. Its "cache" is the
recurrent state, so ``start(src, use_cache=...)`` accepts the flag and ignores it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seq2math.tokens.vocab import PAD_ID

from .config import ModelConfig
from .outputs import AttentionMaps, check_tokens, inference, to_model_device


class AdditiveAttention(nn.Module):
    """``score(s, h_j) = v^T tanh(W s + U h_j)``; ``U h_j`` is computed once per source."""

    def __init__(self, query_dim: int, key_dim: int, attention_dim: int):
        super().__init__()
        self.query_proj = nn.Linear(query_dim, attention_dim, bias=False)
        self.key_proj = nn.Linear(key_dim, attention_dim)
        self.score = nn.Linear(attention_dim, 1, bias=False)

    def forward(self, query: Tensor, keys: Tensor, memory: Tensor, padding: Tensor) -> tuple[Tensor, Tensor]:
        """query (B, Dq), keys = key_proj(memory) (B, S, A), memory (B, S, Dk) -> context (B, Dk), weights (B, S)."""
        energy = torch.tanh(self.query_proj(query).unsqueeze(1) + keys)  # (B, S, A)
        scores = self.score(energy).squeeze(-1).masked_fill(padding, float("-inf"))  # (B, S)
        weights = scores.softmax(dim=-1).nan_to_num(0.0)  # (B, S); an all-padding source gets zeros
        return torch.bmm(weights.unsqueeze(1), memory).squeeze(1), weights  # (B, Dk), (B, S)


@dataclass
class RNNState:
    hidden: Tensor  # (L, B, D) decoder state s_{t-1}
    cell: Tensor | None  # (L, B, D) LSTM cell state
    memory: Tensor  # (B, S, D) encoder states h_j
    memory_keys: Tensor  # (B, S, D) U h_j
    memory_padding: Tensor  # (B, S)

    @property
    def batch_size(self) -> int:
        return self.memory.size(0)

    def reorder(self, index: Tensor) -> "RNNState":
        self.hidden = self.hidden.index_select(1, index)
        if self.cell is not None:
            self.cell = self.cell.index_select(1, index)
        self.memory = self.memory.index_select(0, index)
        self.memory_keys = self.memory_keys.index_select(0, index)
        self.memory_padding = self.memory_padding.index_select(0, index)
        return self


class RNNSeq2Seq(nn.Module):
    def __init__(self, config: ModelConfig, vocab_size: int, pad_id: int = PAD_ID):
        super().__init__()
        self.config, self.vocab_size, self.pad_id = config, vocab_size, pad_id
        width, layers = config.d_model, config.rnn_layers
        rnn_class = nn.GRU if config.rnn_cell == "gru" else nn.LSTM
        between_layers = config.dropout if layers > 1 else 0.0
        self.encoder_embed = nn.Embedding(vocab_size, width, padding_idx=pad_id)
        self.encoder = rnn_class(width, width // 2, num_layers=layers, batch_first=True,
                                 bidirectional=True, dropout=between_layers)  # both directions -> width
        self.bridge = nn.Linear(width, layers * width)  # initial decoder state from the mean source state
        self.embed = nn.Embedding(vocab_size, width, padding_idx=pad_id)
        self.attention = AdditiveAttention(width, width, width)
        self.decoder = rnn_class(2 * width, width, num_layers=layers, batch_first=True, dropout=between_layers)
        self.readout = nn.Linear(3 * width, width)
        self.output = None if config.tie_embeddings else nn.Linear(width, vocab_size, bias=False)
        self.dropout = nn.Dropout(config.dropout)
        for embedding in (self.encoder_embed, self.embed):
            nn.init.normal_(embedding.weight, std=0.1)
            embedding.weight.data[pad_id].zero_()

    def encode(self, src: Tensor) -> tuple[Tensor, Tensor]:
        """Source (B, S) padded at the end -> states (B, S, D) and padding mask (B, S)."""
        padding = src == self.pad_id  # (B, S)
        lengths = (~padding).sum(dim=1).clamp(min=1).cpu()  # (B,)
        embedded = self.dropout(self.encoder_embed(src))  # (B, S, D)
        packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
        states, _ = self.encoder(packed)
        memory, _ = pad_packed_sequence(states, batch_first=True, total_length=src.size(1))  # (B, S, D)
        return memory, padding

    def start(self, src: Tensor, use_cache: bool = True) -> RNNState:
        """Encode, project attention keys once, and set the initial decoder state."""
        check_tokens("src", src, self.vocab_size)
        memory, padding = self.encode(src)
        real = (~padding).unsqueeze(-1).to(memory.dtype)  # (B, S, 1)
        mean = (memory * real).sum(dim=1) / real.sum(dim=1).clamp(min=1.0)  # (B, D)
        layers, width = self.config.rnn_layers, self.config.d_model
        hidden = torch.tanh(self.bridge(mean)).view(-1, layers, width).transpose(0, 1).contiguous()  # (L, B, D)
        cell = torch.zeros_like(hidden) if self.config.rnn_cell == "lstm" else None
        return RNNState(hidden, cell, memory, self.attention.key_proj(memory), padding)

    def _step(self, tokens: Tensor, state: RNNState) -> tuple[Tensor, RNNState, Tensor]:
        embedded = self.dropout(self.embed(tokens))  # (B, D)
        context, weights = self.attention(state.hidden[-1], state.memory_keys, state.memory,
                                          state.memory_padding)  # (B, D), (B, S)
        rnn_input = torch.cat((embedded, context), dim=-1).unsqueeze(1)  # (B, 1, 2D)
        recurrent = state.hidden if state.cell is None else (state.hidden, state.cell)
        output, recurrent = self.decoder(rnn_input, recurrent)  # (B, 1, D)
        if state.cell is None:
            state.hidden = recurrent
        else:
            state.hidden, state.cell = recurrent
        readout = torch.tanh(self.readout(torch.cat((output.squeeze(1), context, embedded), dim=-1)))  # (B, D)
        weight = self.embed.weight if self.output is None else self.output.weight
        return F.linear(self.dropout(readout), weight), state, weights  # (B, V)

    def step(self, tokens: Tensor, state: RNNState) -> tuple[Tensor, RNNState]:
        if tokens.shape != (state.batch_size,):
            raise ValueError(f"step expects tokens of shape ({state.batch_size},), got {tuple(tokens.shape)}")
        logits, state, _ = self._step(tokens, state)
        return logits, state

    def _run(self, src: Tensor, tgt_in: Tensor) -> tuple[Tensor, Tensor]:
        check_tokens("tgt_in", tgt_in, self.vocab_size)
        state = self.start(src)
        if src.size(0) != tgt_in.size(0):
            raise ValueError(f"src has {src.size(0)} rows but tgt_in has {tgt_in.size(0)}")
        all_logits, all_weights = [], []
        for t in range(tgt_in.size(1)):  # teacher forcing: the recurrence is inherently sequential
            logits, state, weights = self._step(tgt_in[:, t], state)
            all_logits.append(logits)
            all_weights.append(weights)
        return torch.stack(all_logits, dim=1), torch.stack(all_weights, dim=1)  # (B, T, V), (B, T, S)

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        return self._run(src, tgt_in)[0]  # (B, T, V)

    def attention_maps(self, src: Tensor, tgt_in: Tensor) -> AttentionMaps:
        """The additive attention weights as one "layer" with one head: [(B, 1, T, S)]."""
        src, tgt_in = to_model_device(self, src, tgt_in)
        with inference(self):
            _, weights = self._run(src, tgt_in)
        return AttentionMaps(cross=[weights.unsqueeze(1)])
