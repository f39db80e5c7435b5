"""The registered experiments, by name: importing this module registers all of them."""

from __future__ import annotations

from seq2math.experiments import architectures, linalg, representation  # noqa: F401  (they register)
from seq2math.experiments.base import EXPERIMENTS, Experiment

#: the order of `seq2math experiment --help` and of docs/experiments.md
ORDER = ("representation", "architectures", "linalg")


def experiment_names() -> list[str]:
    return [*ORDER, *(name for name in EXPERIMENTS if name not in ORDER)]


def get_experiment(name: str) -> Experiment:
    """An instance of the experiment ``name``; raises ``ValueError`` naming the known ones."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; experiments: {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]()
