"""What the tasks with numeric answers (linalg, roots) share: number encodings, tolerances, the error.

An answer is scored by its relative L1 error ``||hypothesis - reference||_1 / ||reference||_1``
against a reference recomputed from the decoded source, and passes a metric when that error is at
most the metric's tolerance (``TOLERANCES``: 5%, 2%, 1%, 0.5%; the first is the primary metric of
both task families). The number encodings are those of ``seq2math.tokens.numbers``
(docs/formats.md); the scoring of each task is in docs/tasks.md.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

#: the float encodings a task option may name (see seq2math.tokens.numbers)
EncodingName = Literal["P10", "P10P", "P1000", "B1999", "FP15"]
#: metric name -> largest relative L1 error that passes it
TOLERANCES = {"5%": 0.05, "2%": 0.02, "1%": 0.01, "0.5%": 0.005}
#: floor of the reference norm: an all-zero reference gives the absolute L1 error, not a division by zero
TINY = 1e-300


def relative_l1(hypothesis: np.ndarray, reference: np.ndarray) -> float:
    """``||hypothesis - reference||_1 / ||reference||_1``; inf when not finite (overflow, nan)."""
    error = float(np.abs(hypothesis - reference).sum() / max(np.abs(reference).sum(), TINY))
    return error if np.isfinite(error) else float("inf")
