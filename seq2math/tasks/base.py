"""The Task protocol: generator + tokenizer + verifier, and the task registry.

A task is one file plus a registry entry::

    @register_task
    class Transpose(Task):
        name = "transpose"
        Options = MatrixOptions          # a dataclass; its fields become CLI flags and config keys
        ...

A task turns a seeded ``numpy.random.Generator`` into one tokenised example
(``generate``), knows every token it may emit (``vocabulary``), names the line format of
its data files (``default_format``: ``tsv`` or ``prefix``) and checks a source read from
one (``check_source``), and scores a decoded hypothesis by mathematics, never by string
match alone (``verify``). Lines themselves are read and written by ``seq2math.data.files``
alone (``task_records``, ``format_line``), one reader for every task: the task does not
parse lines, because ``data.files`` imports this module and a call back would close a cycle.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from seq2math.config import ConfigError, from_dict


class DataFormatError(ValueError):
    """A malformed line of a data file; the message names the file, the line and the problem."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        elif line is not None:
            where = f"line {line}: "
        super().__init__(where + message)
        self.path, self.line, self.detail = path, line, message


@dataclass
class Verdict:
    """The result of checking one hypothesis.

    ``scores`` maps each of the task's metrics to True (correct), False (wrong) or
    None (undecided, e.g. a solver timeout). ``valid`` is False when the hypothesis
    could not even be decoded (invalid syntax); then every score is False.
    """

    valid: bool
    scores: dict[str, bool | None]
    error: float | None = None
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def invalid(cls, metrics: tuple[str, ...], reason: str) -> "Verdict":
        return cls(valid=False, scores={m: False for m in metrics}, reason=reason)


class Task(ABC):
    """Base class of every task; see the module docstring."""

    name: ClassVar[str]
    Options: ClassVar[type]
    #: metric names, most lenient first; ``primary_metric`` is the one reported by default
    metrics: ClassVar[tuple[str, ...]] = ()
    primary_metric: ClassVar[str] = ""
    #: default file format of ``seq2math generate``
    default_format: ClassVar[str] = "tsv"

    def __init__(self, options: Any = None):
        if options is None:
            options = self.Options()
        elif isinstance(options, dict):
            options = from_dict(self.Options, options, where=f"task {self.name}")
        self.options = options
        self.validate_options()

    def validate_options(self) -> None:
        """Raise ``ConfigError`` for inconsistent options."""

    # ---- generation -------------------------------------------------------------------
    @abstractmethod
    def generate(self, rng: np.random.Generator) -> tuple[list[str], list[str]] | None:
        """One example as (source tokens, target tokens), or None to reject and retry."""

    @abstractmethod
    def vocabulary(self) -> list[str]:
        """Every token that sources and targets of this task may contain (no specials)."""

    # ---- checking -----------------------------------------------------------------------
    @abstractmethod
    def verify(self, source: list[str], hypothesis: list[str]) -> Verdict:
        """Score a decoded hypothesis for the problem given by ``source``."""

    def check_source(self, source: list[str]) -> None:
        """Raise ``ValueError`` naming the bad token if ``source`` is not a valid problem."""

    def size_key(self, source: list[str]) -> str:
        """Group label for per-size breakdowns in evaluation reports."""
        return "all"

    # ---- human form ---------------------------------------------------------------------
    def from_human(self, text: str) -> list[str]:
        """Tokenise a problem typed by a user (e.g. a matrix as nested lists)."""
        raise NotImplementedError(f"task {self.name} has no human input form")

    def to_human(self, tokens: list[str]) -> str:
        """Render a source or target for a person."""
        return " ".join(tokens)


TASKS: dict[str, type[Task]] = {}


def register_task(cls: type[Task]) -> type[Task]:
    if not dataclasses.is_dataclass(cls.Options):
        raise TypeError(f"{cls.__name__}.Options must be a dataclass")
    if cls.name in TASKS and TASKS[cls.name] is not cls:
        raise ValueError(f"task {cls.name!r} registered twice")
    TASKS[cls.name] = cls
    return cls


def _load_builtin_tasks() -> None:
    # Importing the modules registers their tasks. Missing optional modules are skipped
    # only while the package is under construction; each module imports cleanly once present.
    import importlib

    for module in ("seq2math.tasks.linalg", "seq2math.tasks.lyapunov", "seq2math.tasks.roots"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name != module:
                raise


def task_names() -> list[str]:
    _load_builtin_tasks()
    return sorted(TASKS)


def get_task_class(name: str) -> type[Task]:
    _load_builtin_tasks()
    try:
        return TASKS[name]
    except KeyError:
        raise ConfigError(f"unknown task {name!r}; available: {', '.join(sorted(TASKS))}") from None


def make_task(name: str, options: Any = None) -> Task:
    return get_task_class(name)(options)
