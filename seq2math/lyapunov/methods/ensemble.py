"""Which model of an ensemble proposes first for a system, and which reads past its trained positions.

``routed`` puts the models whose generated training stream held systems of this size and degree first
(``trained_range``, read from each run's ``config.json``); ``longest_reader`` names the model with the most
trained positions, the one that reads longer sources (``extrapolate``). Both read plain JSON, without torch,
so the ``model`` method decides before it loads anything (docs/api.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seq2math.symbolic.poly import Poly, total_degree

_CONFIGS: dict[str, dict[str, Any]] = {}


def model_config(path: Path) -> dict[str, Any]:
    """The resolved run configuration (task, model, train) of a run directory or export as plain JSON, read once per
    process without importing torch (``training.checkpoint.read_run_config`` does: ``start`` routes before it
    knows whether a model will be loaded)."""
    key = str(path.resolve())
    if key not in _CONFIGS:
        payload = json.loads((path / "config.json").read_text())
        _CONFIGS[key] = payload.get("config", payload)
    return _CONFIGS[key]


def trained_range(path: Path) -> tuple[int, int] | None:
    """(variables, system degree): the largest a model's generated training stream held, from its task settings
    (the backward generator's ``max_variables`` and ``max_system_degree``, the forward one's
    ``forward_max_variables`` and ``forward_max_degree``); None when unknown: trained on a file
    (``train.data``) or on non-polynomial systems. Files mixed into the stream (``train.mix_data``) are not
    counted: they are a minority next to the generated stream."""
    config = model_config(path)
    task, train = config.get("task") or {}, config.get("train") or {}
    if train.get("data") or task.get("nonpoly"):
        return None
    if task.get("mode", "backward") == "backward":
        keys = ("max_variables", "max_system_degree")
    else:
        keys = ("forward_max_variables", "forward_max_degree")
    if not all(isinstance(task.get(key), int) for key in keys):
        return None
    return task[keys[0]], task[keys[1]]


def routed(paths: list[Path], equations: list[Poly]) -> list[Path]:
    """``paths`` with the models whose training range (``trained_range``) holds the system first, in their order,
    then the others, in theirs. The default ensemble proposes with the small model first, which settles small
    textbook systems before the mixture model is loaded; on a BPoly-like system (up to 5 variables, degree 15:
    194 of our 200 bpoly test systems lie outside the small model's 3 variables and degree 5) the small
    model's 50 wrong guesses would otherwise spend the time limit before the mixture model proposes
    (docs/results.md, session 25). A model of unknown range counts as holding every system."""
    n = len(equations)
    degree = max((total_degree(f) for f in equations), default=0)

    def holds(path: Path) -> bool:
        limits = trained_range(path)
        return limits is None or (n <= limits[0] and degree <= limits[1])

    inside = [path for path in paths if holds(path)]
    return inside + [path for path in paths if path not in inside]


def longest_reader(paths: list[Path]) -> Path:
    """The model of an ensemble that reads sources longer than it was trained on (``extrapolate``): the one with
    the most trained positions (``model.max_len``), the last of them on a tie, whatever the order the models
    propose in (``routed``)."""
    positions = [int((model_config(path).get("model") or {}).get("max_len", 0)) for path in paths]
    return paths[max(range(len(paths)), key=lambda i: (positions[i], i))]
