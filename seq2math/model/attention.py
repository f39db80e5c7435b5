"""Multi-head scaled dot-product attention (Vaswani et al. 2017), with a KV cache.

Two code paths compute the same thing:
- ``sdpa``: ``F.scaled_dot_product_attention`` (fused kernels, no weights returned);
- ``eager``: the textbook ``softmax(QK^T / sqrt(hd)) V``, which also returns the weights
  (used for attention plots, and as the reference the fast path is tested against).

Mask conventions (the same as ``torch.nn.MultiheadAttention``): ``key_padding_mask`` is
``(B, Tk)`` with True at padding keys; ``causal`` lets query i see keys ``<= i`` where the
queries are the *last* Tq of the Tk keys (so it also works with cached keys in front).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .linear import Linear
from .positions import RotaryEmbedding


#: a static (cross-attention) cache keeps one entry per input shared by its rows (``KVCache``); False copies the
#: keys to every row as before session 30: ``seq2math bench model`` measures the one against the other
SHARE_CROSS_KEYS = True


@dataclass
class KVCache:
    """Keys and values of one attention layer kept between decoding steps.

    Self-attention appends the new step's keys/values; cross-attention fills it once with
    the projected encoder output (``static``) and reuses it for every step. A static cache keeps one entry
    per input, shared by its ``rows`` consecutive batch rows (beam search: the K beams of an input), so a
    beam step neither copies nor reads the encoder's keys K times over: the K rows attend to them as K
    queries of one input (``MultiHeadAttention.forward``; docs/performance.md, session 30).
    """

    keys: Tensor | None = None  # (B, H, Tk, hd); static: (entries, H, S, hd)
    values: Tensor | None = None  # (B, H, Tk, hd); static: (entries, H, S, hd)
    static: bool = False
    rows: int = 1  # static: batch rows per entry, consecutive

    def append(self, keys: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
        if self.keys is None:
            self.keys, self.values = keys, values
        else:
            self.keys = torch.cat((self.keys, keys), dim=2)  # (B, H, Tk + t, hd)
            self.values = torch.cat((self.values, values), dim=2)  # (B, H, Tk + t, hd)
        return self.keys, self.values

    def reorder(self, index: Tensor, plan: tuple[Tensor, int] | None = None) -> tuple[Tensor, int] | None:
        """Keep rows ``index`` of the batch (beam search: the surviving beams' parents). A static cache returns
        its ``plan`` (the entries kept, rows per entry: ``shared_plan``), which the other layers' static caches,
        holding the same rows, take instead of working it out again."""
        if self.keys is None:
            return plan
        if not self.static or not SHARE_CROSS_KEYS:
            self.keys, self.values = self.keys.index_select(0, index), self.values.index_select(0, index)
            return plan
        kept, rows = plan if plan is not None else shared_plan(index, self.rows)
        if kept.numel() != self.keys.size(0) or not torch.equal(kept, torch.arange(kept.numel(), device=kept.device)):
            self.keys, self.values = self.keys.index_select(0, kept), self.values.index_select(0, kept)
        self.rows = rows
        return kept, rows


def shared_plan(index: Tensor, rows: int) -> tuple[Tensor, int]:
    """(the entries to keep, rows per entry) of a static cache whose entries each hold ``rows`` consecutive rows,
    after keeping rows ``index``: one entry per block when the new rows form blocks of equal length from one
    entry each (beam search always makes them), else one entry per row."""
    entries = torch.div(index, rows, rounding_mode="floor")  # the entry of each new row
    kept, counts = torch.unique_consecutive(entries, return_counts=True)
    if entries.numel() and bool((counts == counts[0]).all()):
        return kept, int(counts[0])
    return entries, 1


def allowed_mask(query_len: int, key_len: int, key_padding_mask: Tensor | None, causal: bool,
                 device: torch.device) -> Tensor | None:
    """Boolean mask broadcastable to (B, H, Tq, Tk), True where attention is allowed."""
    allowed = None
    if causal and query_len > 1:  # a single (last) query may see every key
        offset = key_len - query_len  # keys cached before the first query
        query_pos = torch.arange(query_len, device=device).unsqueeze(1) + offset  # (Tq, 1)
        allowed = torch.arange(key_len, device=device).unsqueeze(0) <= query_pos  # (Tq, Tk)
    if key_padding_mask is not None:
        keep = ~key_padding_mask[:, None, None, :]  # (B, 1, 1, Tk)
        allowed = keep if allowed is None else keep & allowed  # (B, 1, Tq, Tk)
    return allowed


def attend(q: Tensor, k: Tensor, v: Tensor, allowed: Tensor | None, dropout_p: float,
           eager: bool, plain_causal: bool = False) -> tuple[Tensor, Tensor | None]:
    """``softmax(q k^T / sqrt(hd)) v`` for (B, H, T, hd) inputs; weights only on the eager path.

    ``plain_causal``: ``allowed`` is exactly the square causal mask, which SDPA builds itself
    (``is_causal``), letting it pick its fused kernels. A query whose keys are all masked
    gets zero output (and zero weights) instead of NaN.
    """
    if not eager:
        if q.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
            return _sdpa_fp32(q, k, v, allowed, dropout_p, plain_causal), None
        return _sdpa(q, k, v, allowed, dropout_p, plain_causal), None
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (B, H, Tq, Tk)
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))
    weights = scores.float().softmax(dim=-1).nan_to_num(0.0).to(q.dtype)  # (B, H, Tq, Tk)
    dropped = F.dropout(weights, p=dropout_p) if dropout_p > 0 else weights
    return dropped @ v, weights  # (B, H, Tq, hd)


def _sdpa(q: Tensor, k: Tensor, v: Tensor, allowed: Tensor | None, dropout_p: float, plain_causal: bool) -> Tensor:
    if plain_causal:
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=dropout_p)  # (B, H, Tq, hd)
    if allowed is not None and allowed.dim() == 4:  # padding masks can empty a row
        out = out.masked_fill(~allowed.any(-1, keepdim=True), 0.0)
    return out


def _sdpa_fp32(q: Tensor, k: Tensor, v: Tensor, allowed: Tensor | None, dropout_p: float,
               plain_causal: bool) -> Tensor:
    """SDPA in fp32 inside a CPU bf16 autocast region; the projections around it stay bf16.

    On CPU, PyTorch's bf16 flash-attention backward is several times slower than its fp32 one
    (48 against 9 ms a call at 64 x 60 tokens), and autocast would cast fp32 inputs back to bf16,
    so autocast is switched off for this call. With it, bf16 autocast trains the Lyapunov-size
    model 1.5-1.7x faster than fp32 on an AMX CPU (docs/performance.md).
    """
    with torch.autocast("cpu", enabled=False):
        out = _sdpa(q.float(), k.float(), v.float(), allowed, dropout_p, plain_causal)
    return out.to(q.dtype)


class MultiHeadAttention(nn.Module):
    """Self- or cross-attention with separate Q, K, V projections and an output projection."""

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, impl: str = "sdpa",
                 bias: bool = True):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
        if impl not in ("sdpa", "eager"):
            raise ValueError(f"attention impl must be 'sdpa' or 'eager', got {impl!r}")
        self.n_heads, self.head_dim, self.dropout, self.impl = n_heads, d_model // n_heads, dropout, impl
        self.q_proj = Linear(d_model, d_model, bias=bias)
        self.k_proj = Linear(d_model, d_model, bias=bias)
        self.v_proj = Linear(d_model, d_model, bias=bias)
        self.out_proj = Linear(d_model, d_model, bias=bias)

    def split_heads(self, x: Tensor) -> Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, self.n_heads, self.head_dim).transpose(1, 2)  # (B, H, T, hd)

    def project_memory(self, memory: Tensor) -> tuple[Tensor, Tensor]:
        """Keys and values of an encoder output, computed once per input for cross-attention."""
        return self.split_heads(self.k_proj(memory)), self.split_heads(self.v_proj(memory))  # 2 x (B, H, S, hd)

    def _attend_shared(self, q: Tensor, k: Tensor, v: Tensor, key_padding_mask: Tensor | None,
                       rows: int) -> tuple[Tensor, None]:
        """One decoding step of cross-attention where each ``rows`` consecutive rows of the queries ``q``
        (B, H, 1, hd) share one entry of keys/values (entries, H, S, hd): those rows are that entry's ``rows``
        queries."""
        batch, d_model = q.size(0), self.n_heads * self.head_dim
        entries = batch // rows
        q = q.transpose(1, 2).reshape(entries, rows, self.n_heads, self.head_dim).transpose(1, 2)  # (A, H, r, hd)
        padding = None if key_padding_mask is None else key_padding_mask[::rows]  # (A, S): an entry's rows share it
        allowed = allowed_mask(rows, k.size(2), padding, False, q.device)
        out, _ = attend(q, k, v, allowed, self.dropout if self.training else 0.0, eager=self.impl == "eager")
        return self.out_proj(out.transpose(1, 2).reshape(batch, 1, d_model)), None

    def forward(self, query: Tensor, memory: Tensor | None = None, *,
                key_padding_mask: Tensor | None = None, causal: bool = False,
                rotary: RotaryEmbedding | None = None, positions: Tensor | None = None,
                cache: KVCache | None = None, need_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        """Attend from ``query`` (B, Tq, D) to ``memory`` (B, Tk, D), or to itself if None.

        ``rotary`` + ``positions`` (B, Tq) rotate queries and keys (self-attention only).
        ``cache``: self-attention appends this call's keys/values and attends over all of
        them; cross-attention computes memory keys/values on the first call only.
        ``key_padding_mask`` covers every key attended to, cached ones included.
        Returns the output (B, Tq, D) and, if ``need_weights``, weights (B, H, Tq, Tk).
        """
        batch, query_len, d_model = query.shape
        q = self.split_heads(self.q_proj(query))  # (B, H, Tq, hd)
        if cache is not None and cache.static:  # cross-attention, memory projected once
            k, v = cache.keys, cache.values  # (entries, H, S, hd)
            if cache.rows > 1 and query_len == 1 and not need_weights:
                return self._attend_shared(q, k, v, key_padding_mask, cache.rows)
            if cache.rows > 1:
                k, v = k.repeat_interleave(cache.rows, dim=0), v.repeat_interleave(cache.rows, dim=0)  # (B, H, S, hd)
        elif memory is None:  # self-attention
            k, v = self.split_heads(self.k_proj(query)), self.split_heads(self.v_proj(query))  # (B, H, Tq, hd)
            if rotary is not None:
                if positions is None:
                    raise ValueError("rotary attention needs the query positions")
                q, k = rotary(q, positions), rotary(k, positions)
            if cache is not None:
                k, v = cache.append(k, v)  # (B, H, Tk, hd)
        else:
            k, v = self.project_memory(memory)  # (B, H, S, hd)
            if cache is not None:
                cache.keys, cache.values, cache.static = k, v, True
        allowed = allowed_mask(query_len, k.size(2), key_padding_mask, causal, query.device)
        dropout_p = self.dropout if self.training else 0.0
        plain_causal = causal and key_padding_mask is None and query_len == k.size(2) > 1
        out, weights = attend(q, k, v, allowed, dropout_p, eager=need_weights or self.impl == "eager",
                              plain_causal=plain_causal)
        out = out.transpose(1, 2).reshape(batch, query_len, d_model)  # (B, Tq, D)
        return self.out_proj(out), (weights if need_weights else None)
