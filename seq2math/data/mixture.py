"""A generated training stream with the examples of files mixed in at fixed rates.

The PolyMixture recipe of Alfarano, Charton & Hayat (docs/presets.md): backward BPoly data
plus a few hundred forward (FBarr) examples. ``train.mix_data`` names the file and
``train.mix_fraction`` the share of training positions that take one of its examples; several
files take ``train.mix_data=a.txt:0.35,b.txt:0.03`` (each file with its own share,
``mix_specification``). The choice at each position is a function of (seed, position) alone, so
batches stay a function of the step and resumes stay exact. The generated example of a position
taken by a file is simply not used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seq2math.data.batching import Example, GeneratedSource

MIX_STREAM = 0x5EED_0003


def mix_specification(mix_data: str, mix_fraction: float) -> list[tuple[str, float]]:
    """``(file, share)`` pairs of ``train.mix_data``: "a.txt" with ``mix_fraction``, or "a.txt:0.35,b.txt:0.03"."""
    items = [item.strip() for item in mix_data.split(",") if item.strip()]
    pairs = []
    for item in items:
        path, _, share = item.rpartition(":")
        try:
            pairs.append((path, float(share)) if path else (item, None))
        except ValueError:
            pairs.append((item, None))
    if len(pairs) == 1 and pairs[0][1] is None:
        return [(pairs[0][0], mix_fraction)]
    missing = [path for path, share in pairs if share is None]
    if missing:
        raise ValueError(f"train.mix_data={mix_data!r}: with several files give each its share, "
                         f"FILE:SHARE (no share for {missing[0]})")
    return pairs


@dataclass
class MixedSource:
    generated: GeneratedSource
    extras: list[list[Example]]
    fractions: list[float]
    seed: int

    def __post_init__(self):
        if len(self.extras) != len(self.fractions) or not self.extras:
            raise ValueError("train.mix_data: one share per file")
        for fraction in self.fractions:
            if not 0.0 < fraction < 1.0:
                raise ValueError(f"train.mix_fraction is the share of training examples taken from train.mix_data, "
                                 f"strictly between 0 and 1; got {fraction}")
        if sum(self.fractions) >= 1.0:
            raise ValueError(f"train.mix_data: the shares of the files add up to {sum(self.fractions):g}; "
                             f"they must leave room for the generated stream (< 1)")
        if any(not extra for extra in self.extras):
            raise ValueError("train.mix_data has no usable examples")
        self.bounds = np.cumsum(self.fractions)

    @property
    def extra(self) -> list[Example]:
        """The examples of all the files, in order."""
        return [example for extra in self.extras for example in extra]

    def example(self, position: int) -> Example:
        rng = np.random.default_rng([MIX_STREAM, int(self.seed), int(position)])
        u = rng.random()
        if u < self.bounds[-1]:
            extra = self.extras[int(np.searchsorted(self.bounds, u, side="right"))]
            return extra[int(rng.integers(len(extra)))]
        return self.generated.example(position)
