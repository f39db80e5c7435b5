"""Batched decoding of sources into ranked hypotheses: greedy (beam 1) or beam search.

``decode_sources`` is the one place evaluation, validation, ``predict``, ``plot attention`` and
the model method of the Lyapunov solver turn token sources into hypotheses. The search itself
(score formula, KV cache) lives in ``seq2math.model.decoding``; this module handles the
vocabulary, padding, the length caps and sources longer than the model can read.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from seq2math.data.batching import Example, pad_batch
from seq2math.model.decoding import beam_search, greedy
from seq2math.model.positions import readable_positions
from seq2math.tokens.vocab import Vocab

#: default position count of a model whose config does not say
DEFAULT_MAX_LEN = 1024


@dataclass
class Hypothesis:
    tokens: list[str]
    score: float | None = None  # beam search: the length-penalised log-probability; greedy: None


def output_limit(examples: list[Example], model_max_len: int) -> int:
    """Decoding length cap: twice the longest reference target plus slack, within the model's positions."""
    longest = max((len(t) for _, t in examples), default=0)
    return model_max_len if longest == 0 else min(model_max_len, 2 * longest + 16)


def model_max_len(model: torch.nn.Module) -> int:
    """The positions of ``model`` (``config.max_len``), or ``DEFAULT_MAX_LEN`` when it has no config."""
    return getattr(getattr(model, "config", None), "max_len", DEFAULT_MAX_LEN)


def source_capacity(config, extrapolate: bool = False) -> int | None:
    """The longest source a model can read: its trained positions, or with ``extrapolate`` those it reads in
    evaluation (``model.positions.readable_positions``: twice the trained ``max_len`` for sinusoidal and rotary
    positions), less <sep> and one output token for decoder-only models; None when unbounded (RNN)."""
    arch = getattr(config, "arch", None)
    if arch not in ("seq2seq", "decoder"):
        return None
    return position_count(config, extrapolate) - (2 if arch == "decoder" else 0)


def position_count(config, extrapolate: bool = False) -> int:
    """The positions a model uses when decoding: its trained ``max_len``, or with ``extrapolate`` those it reads
    in evaluation (``model.positions.readable_positions``)."""
    if not extrapolate:
        return config.max_len
    return readable_positions(config.max_len, getattr(config, "positions", "sinusoidal"))


def _readable(vocab: Vocab, source: list[str], capacity: int | None) -> bool:
    """Whether the model can read ``source``: it has a form in the vocabulary's representation and
    fits the model's positions, counted in the tokens the model sees."""
    try:
        length = vocab.model_length(source)
    except ValueError:                       # e.g. a non-polynomial system for a monomial model
        return False
    return capacity is None or length <= capacity


def decode_sources(model: torch.nn.Module, vocab: Vocab, sources: list[list[str]], beam: int, max_len: int,
                   device: torch.device | str, length_penalty: float = 1.0,
                   deadline: float | None = None, extrapolate: bool = False) -> list[list[Hypothesis]]:
    """Best-first hypotheses (``beam`` of them; one for greedy) for each source.

    A source the model cannot read (longer than its positions allow, or with no form in its
    representation) gets a single empty hypothesis, which every verifier scores as invalid,
    instead of ending the whole evaluation; with ``extrapolate`` a model with sinusoidal or rotary positions
    reads sources up to twice its trained positions (``source_capacity``). Past ``deadline``
    (``time.perf_counter()``) decoding stops with what is finished (``seq2math.model.decoding``).
    """
    config = getattr(model, "config", None)
    capacity = source_capacity(config, extrapolate)
    fits = [i for i, s in enumerate(sources) if _readable(vocab, s, capacity)]
    if len(fits) < len(sources):
        decoded = decode_sources(model, vocab, [sources[i] for i in fits], beam, max_len, device,
                                 length_penalty, deadline, extrapolate) if fits else []
        out: list[list[Hypothesis]] = [[Hypothesis([])] for _ in sources]
        for i, hypotheses in zip(fits, decoded):
            out[i] = hypotheses
        return out

    src = pad_batch([vocab.encode(s, strict=False) for s in sources], vocab.pad_id).to(device)  # [B, S]
    if getattr(config, "arch", None) == "decoder":  # source <sep> output share the positions
        max_len = min(max_len, position_count(config, extrapolate) - src.size(1) - 1)
    if beam <= 1:
        return [[Hypothesis(vocab.decode(ids))] for ids in greedy(model, src, max_len, deadline=deadline)]
    found = beam_search(model, src, beam_size=beam, max_len=max_len, length_penalty=length_penalty, n_best=beam,
                        deadline=deadline)
    return [[Hypothesis(vocab.decode(h.tokens), float(h.score)) for h in hyps] for hyps in found]
