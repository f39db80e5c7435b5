"""``ModelConfig``: every architecture choice of the models, with named size presets.

The config is a plain typed dataclass so that ``seq2math.config`` can fill it from YAML,
override it from the command line (``model.d_model=256``) and save it into ``config.json``.
It imports nothing heavy (no torch), so the CLI can build it before deciding on a device.

Presets (``ModelConfig.from_preset("tiny", dropout=0.0)``) are dictionaries of overrides
on top of the defaults; ``paper`` is the encoder-decoder of Alfarano, Charton & Hayat
(2024, "Global Lyapunov functions"): 6+6 layers, 640 wide, 10 heads.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

Architecture = Literal["seq2seq", "encoder", "decoder", "rnn"]
#: architectures that generate a target sequence (and so work with ``seq2math.model.decoding``)
GENERATIVE_ARCHITECTURES = ("seq2seq", "decoder", "rnn")


@dataclass
class ModelConfig:
    """Architecture of one model; ``build_model(config, vocab_size)`` turns it into a module."""

    arch: Architecture = "seq2seq"
    d_model: int = 256
    n_heads: int = 8
    enc_layers: int = 4  # encoder layers (seq2seq, encoder-only)
    dec_layers: int = 4  # decoder layers (seq2seq, decoder-only)
    d_ff: int = 1024  # hidden width of the feed-forward sub-layer
    dropout: float = 0.1
    activation: Literal["relu", "gelu"] = "relu"
    positions: Literal["sinusoidal", "learned", "rotary"] = "sinusoidal"
    norm: Literal["pre", "post"] = "pre"
    tie_embeddings: bool = True  # decoder input embedding shared with the output projection
    max_len: int = 1024  # largest position (decoder-only: source + separator + target)
    attention_impl: Literal["sdpa", "eager"] = "sdpa"  # eager is slower, exact same maths
    # RNN baseline (arch="rnn"): bidirectional encoder, Bahdanau-attention decoder
    rnn_cell: Literal["gru", "lstm"] = "gru"
    rnn_layers: int = 2
    # encoder-only head (arch="encoder"): pooled hidden state -> n_outputs numbers
    n_outputs: int = 1
    pooling: Literal["mean", "first"] = "mean"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first field that cannot work."""
        positive = ("d_model", "n_heads", "d_ff", "max_len", "n_outputs", "rnn_layers")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"ModelConfig.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("enc_layers", "dec_layers"):
            if getattr(self, name) < 0:
                raise ValueError(f"ModelConfig.{name} must be >= 0, got {getattr(self, name)}")
        if self.d_model % self.n_heads:
            raise ValueError(f"ModelConfig.d_model={self.d_model} is not divisible by n_heads={self.n_heads}")
        if self.positions == "rotary" and (self.d_model // self.n_heads) % 2:
            raise ValueError(f"rotary positions need an even head size, got d_model/n_heads="
                             f"{self.d_model // self.n_heads}")
        if self.arch == "rnn" and self.d_model % 2:
            raise ValueError(f"the RNN encoder is bidirectional: d_model must be even, got {self.d_model}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"ModelConfig.dropout must be in [0, 1), got {self.dropout}")
        if self.arch in ("seq2seq", "encoder") and self.enc_layers < 1:
            raise ValueError(f"arch={self.arch!r} needs enc_layers >= 1")
        if self.arch in ("seq2seq", "decoder") and self.dec_layers < 1:
            raise ValueError(f"arch={self.arch!r} needs dec_layers >= 1")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> "ModelConfig":
        """Defaults < preset ``name`` < ``overrides`` (``from_preset("tiny", arch="decoder")``)."""
        if name not in PRESETS:
            raise ValueError(f"unknown model preset {name!r}; presets: {', '.join(PRESETS)}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown ModelConfig field(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}")
        return cls(**{**PRESETS[name], **overrides})


#: preset name -> overrides of the ModelConfig defaults
PRESETS: dict[str, dict[str, Any]] = {
    # seconds per hundred steps on a laptop CPU; enough for 5x5 transposition
    # (1+1 layers, 64 wide, learned positions: 5x5 transposition in P1000 within minutes on 2 CPU cores)
    "tiny": dict(d_model=64, n_heads=4, enc_layers=1, dec_layers=1, d_ff=256, dropout=0.0, positions="learned"),
    "small": dict(d_model=256, n_heads=8, enc_layers=4, dec_layers=4, d_ff=1024, dropout=0.1),
    "base": dict(d_model=512, n_heads=8, enc_layers=6, dec_layers=6, d_ff=2048, dropout=0.1),
    # Alfarano-Charton-Hayat 2024: 6+6 layers, 640 wide, 10 heads (FFN 4x wide)
    "paper": dict(d_model=640, n_heads=10, enc_layers=6, dec_layers=6, d_ff=2560, dropout=0.0),
    # same shape of model as "paper", shrunk to a few million parameters for a 2-core CPU
    "lyapunov-tiny": dict(d_model=256, n_heads=8, enc_layers=3, dec_layers=3, d_ff=1024, dropout=0.0),
}
