"""The Lyapunov method protocol and its registry: a method proposes, the solve loop proves.

A method is one small registered class (``seq2math.lyapunov.methods.model``, ``findlyap``,
``neural.method``), in the manner of the task registry (``seq2math.tasks.base``)::

    @register_method
    class SumOfSquares(Method):
        "Proposes V = x0^2 + ... + x(n-1)^2 (a toy method)."
        name = "sum-of-squares"

        def propose(self, search, check, deadline):
            yield sum(x**2 for x in ring(len(search.system)).gens())

Methods never decide validity: ``seq2math.lyapunov.methods.solve`` checks every proposal
with ``check_candidate``, turns a valid one into an exact certificate and re-checks it
(docs/verification.md), so a method that proposes nonsense costs time, never soundness.

The work of a method on one system comes in three steps, each with a default:

1. ``prepare(systems)``: work done for many systems at once in the calling process (the model
   decodes its beams in batches; ``seq2math report`` does this before it forks workers);
2. ``start(system, time_limit, prepared)``: work done once per system, shared by the checks
   that follow (the neural learner trains and verifies its network here); it returns a
   ``Search``;
3. ``propose(search, check, deadline)``: candidate V for one check, best first.
"""

from __future__ import annotations

import importlib
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Iterator

from seq2math.config import ConfigError


@dataclass(frozen=True)
class MethodOptions:
    """The settings of every method; each method reads the fields it needs (the CLI flags)."""

    max_degree: int = 6            # sos, findlyap: largest (even) degree of V
    model: str | None = None       # model: run directory or export (None: the shipped checkpoint)
    beam: int = 50                 # model: hypotheses decoded per system
    device: str = "cpu"            # model: where the network runs
    checkpoint: str = "best"       # model: which weights of a run directory ("best" or "last")
    views: int = 4                 # model: the system as typed and signed permutations of its variables read
    seed: int = 0                  # neural: seed of the samples and the initial weights
    memory_limit: int | None = None  # every SOS search and check: bytes it may allocate (None: no limit)

    def validate(self) -> None:
        if self.max_degree < 2 or self.max_degree % 2:
            raise ConfigError(f"max_degree must be even and at least 2, got {self.max_degree}")
        if self.views < 1:
            raise ConfigError(f"views must be at least 1 (the system as typed), got {self.views}")
        if self.beam < 1:
            raise ConfigError(f"beam must be at least 1, got {self.beam}")
        if self.checkpoint not in ("best", "last"):
            raise ConfigError(f"checkpoint must be 'best' or 'last', got {self.checkpoint!r}")
        if self.memory_limit is not None and self.memory_limit <= 0:
            raise ConfigError(f"memory_limit must be a positive number of bytes, got {self.memory_limit}")


@dataclass
class Search:
    """One method's work on one system, shared by the checks that follow (``Method.start``)."""

    system: list                                           # the equations (expression trees or polynomials)
    state: Any = None                                      # what the method keeps (model: ranked hypotheses)
    proved: dict[str, Any] = field(default_factory=dict)  # check -> V the solve loop proved for this system
    proofs: dict[str, Any] = field(default_factory=dict)  # check -> the solve loop's ``Proof`` of that V
    reason: str = ""                                       # why nothing is proposed, when nothing is
    interrupted: bool = False                              # a time or memory limit cut the method's own search
    record: dict[str, Any] = field(default_factory=dict)  # fields of report records (neural: its region result)


class Method(ABC):
    """Base class of every method; see the module docstring."""

    name: ClassVar[str]
    #: True when ``prepare`` runs a network in the calling process: the report runs such methods
    #: after the others, so that no worker is forked from a process that has run torch
    batched: ClassVar[bool] = False
    #: True for the SOS methods: on a non-polynomial system the solve loop does not start them (a
    #: method that decodes would decode for nothing) and records why they do not apply
    polynomial_only: ClassVar[bool] = False

    def __init__(self, options: MethodOptions | None = None):
        self.options = options or MethodOptions()
        self.options.validate()

    def prepare(self, systems: list[list]) -> list[Any]:
        """What ``start`` needs for each system, computed for all at once (default: nothing)."""
        return [None] * len(systems)

    def start(self, system: list, time_limit: float | None, prepared: Any = None) -> Search:
        """The work done once per system before any check (default: nothing)."""
        return Search(system, prepared)

    @abstractmethod
    def propose(self, search: Search, check: str, deadline: float | None) -> Iterator[Any]:
        """Candidate V (flint polynomials or expression trees) for ``check``, best first."""


def seconds_left(deadline: float | None) -> float | None:
    """Seconds until ``deadline`` (a ``time.perf_counter`` value; None: no limit)."""
    return None if deadline is None else deadline - time.perf_counter()


METHODS: dict[str, type[Method]] = {}
#: modules whose import registers the built-in methods (no torch at import time)
BUILTIN_MODULES = ("seq2math.lyapunov.methods.model", "seq2math.lyapunov.methods.findlyap",
                   "seq2math.lyapunov.methods.guided", "seq2math.lyapunov.methods.neural.method",
                   "seq2math.lyapunov.methods.nonpoly")


def register_method(cls: type[Method]) -> type[Method]:
    """Class decorator: make ``cls.name`` available to ``solve``, ``report`` and the API."""
    if cls.name in METHODS and METHODS[cls.name] is not cls:
        raise ValueError(f"method {cls.name!r} registered twice")
    METHODS[cls.name] = cls
    return cls


def _load_builtin_methods() -> None:
    for module in BUILTIN_MODULES:  # importing a module registers its methods
        importlib.import_module(module)


def method_names() -> list[str]:
    _load_builtin_methods()
    return sorted(METHODS)


def make_method(name: str, options: MethodOptions | None = None, **overrides) -> Method:
    """The method registered as ``name``; ``overrides`` replace fields of ``options``."""
    _load_builtin_methods()
    if name not in METHODS:
        raise ConfigError(f"unknown method {name!r}; available: {', '.join(sorted(METHODS))}")
    options = options or MethodOptions()
    try:
        options = replace(options, **overrides)
    except TypeError as err:
        raise ConfigError(f"method {name}: {err}") from None
    return METHODS[name](options)
