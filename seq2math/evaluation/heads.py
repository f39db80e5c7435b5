"""Head analysis: which pattern each attention head follows (docs/heads.md).

The patterns (positional, syntactic in prefix expressions, row/column alignment in matrices) are
defined in ``seq2math.evaluation.head_patterns``. Scores follow one rule for every pattern:

A head's *score* on a pattern is the mean, over the queries that have at least one target key,
of the attention mass on the targets. *Chance* is the same mean for uniform attention over the
keys the query may read (all keys; under a causal mask the keys up to the query). The *lift*
``(score - chance) / (1 - chance)`` is 0 for uniform attention and 1 for a head that reads only
its targets. A head *follows* its best pattern when the lift is at least ``DETECTION_LIFT`` over at
least ``MIN_QUERIES`` scored queries (summed over examples).

In prefix order the first operand follows its operator, so a parent head also scores on
``previous`` for first operands: the table shows the runner-up pattern for that reason.

    samples = example_attention(model, vocab, "seq2seq", source, target, structure_function(task))
    print(format_head_table(analyse_heads(samples)))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from seq2math.data.batching import pad_batch
from seq2math.evaluation.head_patterns import (
    MAX_OFFSET,
    TokenStructure,
    offset_name,
    pattern_targets,
    plain_structure,
)
from seq2math.tokens.vocab import BOS, SEP, Vocab

#: a head follows its best pattern when its lift over uniform attention is at least this
DETECTION_LIFT = 0.5
#: fewer scored queries than this (over all examples) leave a pattern undecided for a head
MIN_QUERIES = 4
#: the attention kinds of seq2math.model.outputs.AttentionMaps
KINDS = ("encoder_self", "decoder_self", "cross")


# ---- scores --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PatternScore:
    """One head on one pattern, over all analysed examples."""

    pattern: str
    score: float    # mean attention mass on the targets, over scored queries
    chance: float   # the same for uniform attention over the readable keys
    queries: int    # scored queries (queries with a readable target), all examples

    @property
    def lift(self) -> float:
        """(score - chance) / (1 - chance): 0 for uniform attention, 1 for a head reading only its targets."""
        return (self.score - self.chance) / (1.0 - self.chance) if self.chance < 1.0 else 0.0


@dataclass(frozen=True)
class HeadReport:
    """Every pattern's score for one head; ``scores`` are sorted best lift first (decided ones only)."""

    kind: str                          # encoder_self, decoder_self or cross
    layer: int
    head: int
    scores: tuple[PatternScore, ...]
    sharpness: float                   # mean largest weight of a query (1: every query reads one key)

    @property
    def best(self) -> PatternScore | None:
        return self.scores[0] if self.scores else None

    @property
    def detected(self) -> bool:
        """The head follows its best pattern (lift >= DETECTION_LIFT)."""
        return self.best is not None and self.best.lift >= DETECTION_LIFT


@dataclass
class AttentionSample:
    """The attention of one kind for one example: per layer an [H, Tq, Tk] array (batch row removed)."""

    kind: str
    layers: list
    queries: TokenStructure
    keys: TokenStructure
    causal: bool = False    # a query reads only the keys up to itself (decoder self-attention)


def as_array(weights) -> np.ndarray:
    """A torch tensor (any device) or array-like as a float64 numpy array."""
    if isinstance(weights, torch.Tensor):
        weights = weights.detach().float().cpu().numpy()
    return np.asarray(weights, dtype=float)


class HeadAnalysis:
    """Accumulates pattern scores of every head over examples; ``reports()`` gives the result."""

    def __init__(self) -> None:
        self._sums: dict[tuple[str, int], dict[str, list]] = {}   # (kind, layer) -> pattern -> sums
        self._sharpness: dict[tuple[str, int], list] = {}          # (kind, layer) -> [sum per head, queries]

    def add(self, sample: AttentionSample) -> None:
        if sample.kind not in KINDS:
            raise ValueError(f"unknown attention kind {sample.kind!r}; expected one of {', '.join(KINDS)}")
        tq, tk = len(sample.queries), len(sample.keys)
        readable = (np.arange(tk)[None, :] <= np.arange(tq)[:, None]) if sample.causal else np.ones((tq, tk), bool)
        targets = pattern_targets(sample.queries, sample.keys, sample.kind != "cross")
        for layer, weights in enumerate(sample.layers):
            weights = as_array(weights)
            if weights.ndim != 3 or weights.shape[1:] != (tq, tk):
                raise ValueError(f"{sample.kind} layer {layer}: weights of shape {weights.shape} do not match "
                                 f"[heads, {tq} queries, {tk} keys]")
            sums = self._sums.setdefault((sample.kind, layer), {})
            for name, mask in targets.items():
                mask = mask & readable
                scored = mask.any(axis=1)
                if not scored.any():
                    continue
                mass = (weights * mask).sum(axis=2)[:, scored].sum(axis=1)  # [H]
                chance = float((mask.sum(axis=1) / readable.sum(axis=1))[scored].sum())
                entry = sums.setdefault(name, [np.zeros(len(weights)), 0.0, 0])
                entry[0] = entry[0] + mass
                entry[1] += chance
                entry[2] += int(scored.sum())
            sharp = self._sharpness.setdefault((sample.kind, layer), [np.zeros(len(weights)), 0])
            sharp[0] = sharp[0] + weights.max(axis=2).sum(axis=1)
            sharp[1] += tq

    def reports(self) -> list[HeadReport]:
        """One report per (kind, layer, head), in the order of KINDS, layers and heads."""
        out = []
        for (kind, layer), sums in sorted(self._sums.items(), key=lambda item: (KINDS.index(item[0][0]), item[0][1])):
            sharp_sum, sharp_count = self._sharpness[(kind, layer)]
            for head in range(len(sharp_sum)):
                scores = [PatternScore(name, float(mass[head]) / count, chance / count, count)
                          for name, (mass, chance, count) in sums.items() if count >= MIN_QUERIES]
                scores.sort(key=lambda s: -s.lift)
                out.append(HeadReport(kind, layer, head, tuple(scores), float(sharp_sum[head]) / sharp_count))
        return out


def analyse_heads(samples: Sequence[AttentionSample]) -> list[HeadReport]:
    """Reports of every head over ``samples`` (any kinds, any number of examples)."""
    analysis = HeadAnalysis()
    for sample in samples:
        analysis.add(sample)
    return analysis.reports()


def head_profile(weights, causal: bool = False) -> dict[str, float]:
    """One head's map ([Tq, Tk]) in two numbers, for the panel titles of ``plot attention``.

    ``sharpness``: the mean of each query's largest weight (1 = every query reads one key).
    ``positional``/``offset``: the best positional pattern's lift (the scores of ``HeadAnalysis``,
    one definition for both commands) and its offset (key - query); near 1: a positional head.
    """
    weights = as_array(weights)
    tq, tk = weights.shape
    structure_q, structure_k = plain_structure([""] * tq), plain_structure([""] * tk)
    analysis = HeadAnalysis()
    analysis.add(AttentionSample("cross", [weights[None]], structure_q, structure_k, causal))
    (report,) = analysis.reports()
    best = report.best
    offset = next(d for d in range(-MAX_OFFSET, MAX_OFFSET + 1) if offset_name(d) == best.pattern) if best else 0
    return {"sharpness": report.sharpness, "positional": best.lift if best else 0.0, "offset": offset}


def format_head_table(reports: Sequence[HeadReport]) -> str:
    """Markdown: every head, its best pattern (score, chance, lift), whether it follows it, the runner-up."""
    lines = ["| kind | layer | head | best pattern | score | chance | lift | follows | runner-up (lift) | sharpness |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in reports:
        best = r.best
        second = f"{r.scores[1].pattern} ({r.scores[1].lift:.2f})" if len(r.scores) > 1 else "–"
        cells = [best.pattern, f"{best.score:.2f}", f"{best.chance:.2f}", f"{best.lift:.2f}"] if best else ["–"] * 4
        lines.append(f"| {r.kind} | {r.layer} | {r.head} | " + " | ".join(cells) +
                     f" | {'yes' if r.detected else 'no'} | {second} | {r.sharpness:.2f} |")
    return "\n".join(lines)


# ---- attention of a model on one example ---------------------------------------------------------
def example_attention(model: torch.nn.Module, vocab: Vocab, arch: str, source: list[str], target: list[str],
                      structure: Callable[[Sequence[str]], TokenStructure] = plain_structure
                      ) -> list[AttentionSample]:
    """Attention of every kind the model has for ``source`` with teacher forcing on ``target``.

    Decoder queries are ``<bos> target`` (a query's token is the one it reads, not the one it
    predicts); a decoder-only model reads the packed ``source <sep> <bos> target``.
    """
    src = pad_batch([vocab.encode(source, strict=False)], vocab.pad_id)  # [1, S]
    if arch == "encoder":
        maps = model.attention_maps(src)
        return [AttentionSample("encoder_self", [w[0] for w in maps.encoder_self],
                                structure(source), structure(source))]
    tgt_in = torch.tensor([[vocab.bos_id, *vocab.encode(target, strict=False)]])  # [1, T]
    maps = model.attention_maps(src, tgt_in)
    decoder = structure([BOS, *target])
    packed = structure([*source, SEP, BOS, *target])
    samples = [AttentionSample("encoder_self", [w[0] for w in maps.encoder_self], structure(source), structure(source)),
               AttentionSample("decoder_self", [w[0] for w in maps.decoder_self], *(
                   (packed, packed) if arch == "decoder" else (decoder, decoder)), causal=True),
               AttentionSample("cross", [w[0] for w in maps.cross], decoder, structure(source))]
    return [s for s in samples if s.layers]
