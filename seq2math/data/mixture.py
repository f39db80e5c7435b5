"""A generated training stream with a file's examples mixed in at a fixed rate.

The PolyMixture recipe of Alfarano, Charton & Hayat (docs/presets.md): backward BPoly data
plus a few hundred forward (FBarr) examples. ``train.mix_data`` names the file and
``train.mix_fraction`` the share of training positions that take one of its examples; the
choice at each position is a function of (seed, position) alone, so batches stay a function
of the step and resumes stay exact. The generated example of a position taken by the file is
simply not used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seq2math.data.batching import Example, GeneratedSource

MIX_STREAM = 0x5EED_0003


@dataclass
class MixedSource:
    generated: GeneratedSource
    extra: list[Example]
    fraction: float
    seed: int

    def __post_init__(self):
        if not 0.0 < self.fraction < 1.0:
            raise ValueError(f"train.mix_fraction is the share of training examples taken from train.mix_data, "
                             f"strictly between 0 and 1; got {self.fraction}")
        if not self.extra:
            raise ValueError("train.mix_data has no usable examples")

    def example(self, position: int) -> Example:
        rng = np.random.default_rng([MIX_STREAM, int(self.seed), int(position)])
        if rng.random() < self.fraction:
            return self.extra[int(rng.integers(len(self.extra)))]
        return self.generated.example(position)
