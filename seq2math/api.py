"""The Python API of seq2math: ``solve``, ``verify``, ``generate``, ``load_model`` (docs/api.md).

The command line calls these functions (``seq2math solve`` and ``seq2math verify``)::

    from seq2math import solve, verify, generate, load_model

    solution = solve("x0' = -x0 + x1; x1' = -x0 - x1^3")
    solution.found, str(solution.V), solution.proof     # True, 'x0^2 + x1^2', 'sos-exact'
    solution.V.tokens                                   # ['+', '^', 'x0', 'INT+', '2', '^', 'x1', 'INT+', '2']

    result = verify("x0' = -x0; x1' = x1", "x0^2 + x1^2")
    result.valid, result.counterexample["point"]        # False, an exact rational point

    examples = list(generate("lyapunov", count=10, seed=0, mode="backward"))
    examples[0].line                                    # the line `seq2math generate` writes

    model = load_model()                                # the shipped checkpoint
    for hypothesis in model.beam("x0' = -x0; x1' = -x1", size=5):
        print(hypothesis.rank, hypothesis.score, hypothesis.V, hypothesis.valid)

Systems and candidate functions are accepted as infix text (``"x0' = -x0; x1' = -x1"``,
``"x0^2 + x1^2"``), expression trees (``seq2math.symbolic.expr``), flint polynomials
(``seq2math.symbolic.poly``) or ``Expression`` objects. Bad input raises ``ValueError``
naming what is wrong. A ``valid``/``found`` answer is a proof (docs/verification.md).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from seq2math.config import ConfigError
from seq2math.lyapunov.check import check_candidate
from seq2math.lyapunov.methods.base import Method, MethodOptions, make_method
from seq2math.lyapunov.methods.model import (
    decode_hypotheses,
    read_hypotheses,
    resolve_model_path,
    system_source,
)
from seq2math.lyapunov.methods.model import load_model as load_run
from seq2math.lyapunov.methods.solve import DEFAULT_METHODS, Attempt, prove, solve_system
from seq2math.lyapunov.result import CHECKS, CheckResult
from seq2math.symbolic.expr import Expr, as_expr, from_poly, system_to_infix, to_infix
from seq2math.symbolic.poly import Poly
from seq2math.tokens.infix import parse_infix, parse_infix_system
from seq2math.tokens.prefix import expression_tokens


@dataclass(frozen=True)
class Expression:
    """An expression (V, or one equation of a system): prints in infix, gives prefix tokens and sympy."""

    tree: Expr

    @classmethod
    def of(cls, value: Any) -> Expression:
        """An ``Expression`` of infix text, an expression tree, a flint polynomial or an ``Expression``."""
        if isinstance(value, Expression):
            return value
        if isinstance(value, Poly):
            return cls(from_poly(value))
        if isinstance(value, str):
            try:
                return cls(parse_infix(value))
            except ValueError as err:
                raise ValueError(f"cannot read the expression {value!r}: {err}") from None
        try:
            return cls(as_expr(value))
        except (TypeError, ValueError) as err:
            raise ValueError(f"not an expression: {value!r} ({err})") from None

    @property
    def tokens(self) -> list[str]:
        """Prefix tokens (docs/formats.md)."""
        return expression_tokens(self.tree)

    @property
    def prefix(self) -> str:
        return " ".join(self.tokens)

    def sympy(self):
        """The sympy expression (imports sympy)."""
        from seq2math.symbolic.display import to_sympy

        return to_sympy(self.tree)

    def __str__(self) -> str:
        return to_infix(self.tree)


def read_system(system: Any) -> list[Expr]:
    """Expression trees of a system: infix text ``"x0' = ...; x1' = ..."`` or a sequence of equations."""
    if isinstance(system, str):
        try:
            return parse_infix_system(system)
        except ValueError as err:
            raise ValueError(f"cannot read the system {system!r}: {err}") from None
    if not isinstance(system, Sequence) or not system:
        raise ValueError(f"a system is infix text or a non-empty sequence of equations, got {system!r}")
    return [Expression.of(equation).tree for equation in system]


@dataclass(frozen=True)
class Solution:
    """What ``solve`` found: a V proved under ``check`` (when ``found``), and what was tried."""

    found: bool
    system: tuple[Expression, ...]
    check: str
    V: Expression | None              # the proved function
    proof: str | None                 # how it was proved: "sos-exact", "sos-exact+z3", "substitution+sos", ...
    method: str | None                # the method that proposed it
    seconds: float
    tried: tuple[Attempt, ...]        # one per method, in order: candidates, time, last reason
    verification: CheckResult | None  # the check's full answer for V
    certificate: dict | None          # the exact certificate that was re-proved (polynomial systems)

    def to_json(self) -> dict[str, Any]:
        """The record ``seq2math solve --json`` prints."""
        record = {"system": system_to_infix([e.tree for e in self.system]), "found": self.found, "check": self.check,
                  "seconds": round(self.seconds, 6), "tried": [attempt.summary() for attempt in self.tried]}
        if self.found:
            record |= {"V": str(self.V), "V_prefix": self.V.prefix, "method": self.method, "proof": self.proof,
                       "asymptotic": self.verification.asymptotic}
        return record


def make_methods(methods: str | Sequence[str | Method], options: MethodOptions | None = None) -> list[Method]:
    """Method objects of ``"model,sos"``, ``["model", "sos"]`` or ``Method`` instances."""
    names = [m.strip() for m in methods.split(",")] if isinstance(methods, str) else list(methods)
    names = [m for m in names if not isinstance(m, str) or m]
    if not names:
        raise ConfigError("no method given (choose from model, guided, findlyap, sos, neural)")
    return [m if isinstance(m, Method) else make_method(m, options) for m in names]


def default_methods(options: MethodOptions) -> tuple[list[Method], list[str]]:
    """The methods of ``DEFAULT_METHODS`` (quadratic, model, guided, sos) that can run, and why the others cannot
    (``model`` and ``guided`` need a trained model: the shipped checkpoint or ``model=``)."""
    methods, skipped = [], []
    for name in DEFAULT_METHODS:
        try:
            methods.append(make_method(name, options))
        except ValueError as err:                     # no shipped checkpoint: say so, and go on without it
            if options.model is not None:
                raise                                 # a model the user named must exist
            skipped.append(f"{name}: not run: {err}")
    return methods, skipped


def solve(system: Any, methods: str | Sequence[str | Method] | None = None, check: str = "lyapunov",
          time_limit: float | None = 60.0, model: str | Path | None = None, beam: int = 50, max_degree: int = 6,
          seed: int = 0, require_certificate: bool = False, memory_limit: int | None = None,
          views: int = MethodOptions.views) -> Solution:
    """Find V for ``system`` and prove it: each method proposes, the solve loop proves, first proved wins.

    ``methods`` are tried in order, each within its share of ``time_limit`` seconds
    (``seq2math.lyapunov.methods.solve.SHARES``; time a method leaves unused passes on). The
    default, None, is ``quadratic → model → guided → sos``: ``quadratic`` settles a quadratic V of a small
    system first (at most a second, without torch), the trained model proposes, ``guided`` fits SOS
    coefficients on its monomials, ``sos`` searches without it (without a trained model, only
    ``quadratic`` and ``sos`` run and ``tried`` says why). ``model``/``beam``/``views`` configure the model
    method (default: the shipped checkpoint; ``views``: how many orderings and sign flips of the variables it
    reads, docs/api.md), ``max_degree`` the sos and findlyap searches,
    ``seed`` the neural one. With ``require_certificate`` only a V whose exact certificate was
    re-proved counts (non-polynomial systems are then never solved). ``memory_limit`` (bytes)
    caps each SOS search and check, which run in child processes (docs/reliability.md)::

        >>> solution = solve("x0' = -x0 + x1; x1' = -x0 - x1^3", time_limit=30)
        >>> solution.found, solution.proof, solution.method, [a.method for a in solution.tried]
        (True, 'sos-exact', 'quadratic', ['quadratic'])

    "not found" is no proof of instability: ``tried`` says what each method did.
    """
    if check not in CHECKS:
        raise ValueError(f"unknown check {check!r}; expected one of {', '.join(CHECKS)}")
    if time_limit is not None and time_limit <= 0:
        raise ValueError(f"time_limit must be positive, got {time_limit}")
    equations = read_system(system)
    options = MethodOptions(max_degree=max_degree, model=None if model is None else str(model), beam=beam, seed=seed,
                            memory_limit=memory_limit, views=views)
    skipped: list[str] = []
    if methods is None:
        chosen, skipped = default_methods(options)
    else:
        chosen = make_methods(methods, options)
    outcome = solve_system(equations, chosen, check, time_limit, require_certificate, shared=True)
    tried = [Attempt(text.partition(":")[0], check, reason=text) for text in skipped] + list(outcome.tried)
    V = Expression.of(outcome.V) if outcome.found else None
    return Solution(outcome.found, tuple(Expression(e) for e in equations), check, V,
                    outcome.verification.proof if outcome.found else None, outcome.method, outcome.seconds,
                    tuple(tried), outcome.verification, outcome.certificate)


def verify(system: Any, V: Any, check: str = "lyapunov", time_limit: float | None = None, proof: str = "exact",
           asymptotic: bool = False, use_z3: bool = True, certificate: bool = False, seed: int = 0,
           timeout: float | None = None, memory_limit: int | None = None) -> CheckResult:
    """Is ``V`` a Lyapunov (``check="lyapunov"``) or barrier function of ``system``? The CLI's verdict.

    ``valid`` is True only with exact proofs (``proof`` names the proof), False only with a
    counterexample (``counterexample``), None when undecided (``reason``). A non-polynomial V that
    no prover settles is None with ``numerical`` ("no counterexample found (...)": sampling, not a
    proof), or with ``region`` when it was proved on a region only (docs/verification.md). Options as
    ``seq2math verify``: ``time_limit`` seconds (None: no limit), ``proof="numerical"`` accepts
    the solver's word, ``asymptotic`` also tries strict decrease, ``certificate`` keeps the
    rational Gram matrices, ``memory_limit`` (bytes) caps the check (docs/reliability.md).
    ``timeout=`` is the old name of ``time_limit`` (a
    ``DeprecationWarning``; it goes away in 0.3.0 with the CLI's old spellings)::

        >>> verify("x0' = -x0 + x1; x1' = -x0 - x1^3", "x0^2 + x1^2").valid
        True
        >>> verify("x0' = -x0; x1' = x1", "x0^2 + x1^2").valid
        False
    """
    if timeout is not None:
        if time_limit is not None:
            raise TypeError("verify() got both time_limit and its old name timeout; pass time_limit only")
        warnings.warn("verify(timeout=...) is the old name of verify(time_limit=...); it goes away in seq2math 0.3.0",
                      DeprecationWarning, stacklevel=2)
        time_limit = timeout
    if time_limit is not None and time_limit <= 0:
        raise ValueError(f"time_limit must be positive, got {time_limit}")
    equations = system if isinstance(system, list) and all(isinstance(p, Poly) for p in system) \
        else read_system(system)
    candidate = V if isinstance(V, Poly) else Expression.of(V).tree
    return check_candidate(equations, candidate, check, timeout=time_limit, proof=proof, asymptotic=asymptotic,
                           use_z3=use_z3, certificate=certificate, seed=seed, memory_limit=memory_limit)


@dataclass(frozen=True)
class Example:
    """One generated example: its index in the data set, source and target tokens, and its file line."""

    index: int
    source: tuple[str, ...]
    target: tuple[str, ...]
    line: str                          # as ``seq2math generate`` writes it (the task's default format)


def generate(task: str, count: int | None = 1000, seed: int = 0, start: int = 0, **options) -> Iterator[Example]:
    """Examples ``start .. count-1`` of the data set ``seq2math generate TASK --seed SEED`` writes.

    ``options`` are the task's options (``mode="backward"``, ``max_variables=3``, ...; the
    generate command's flags with ``_`` for ``-``); unknown names raise ``ConfigError``.
    ``count=None`` never stops. Example ``i`` depends only on (options, seed, i)::

        >>> [e.line for e in generate("transpose", count=2, seed=0, dim=2)] == \\
        ...     open("t.txt").read().splitlines()   # after `seq2math generate transpose --dim 2 --count 2 --out t.txt`
        True
    """
    from seq2math.data.generation import format_example, generate_example  # here: solve and verify do not need
    from seq2math.tasks.base import make_task  # the generators (import time)

    made = make_task(task, options)
    index = start
    while count is None or index < count:
        source, target = generate_example(made, seed, index)
        yield Example(index, tuple(source), tuple(target), format_example(made, source, target, "default"))
        index += 1


@dataclass(frozen=True)
class Hypothesis:
    """One decoded hypothesis of a model, in beam order, with the solve loop's verdict on it."""

    rank: int                            # 1 = best beam score
    tokens: tuple[str, ...]
    score: float | None                  # beam score (docs/formats.md); None for greedy decoding
    V: Expression | None                 # None when the tokens give no usable V (see ``problem``)
    problem: str                         # why V is None: "invalid syntax: ...", "repeat", "degree ..."
    verification: CheckResult | None     # check_candidate's answer for V (None: not checked)
    certified: bool | None               # True: V's exact certificate was re-proved

    @property
    def valid(self) -> bool:
        """True when V was proved (with a re-proved certificate on polynomial systems)."""
        return self.verification is not None and self.verification.valid is True and self.certified is not False


class LyapunovModel:
    """A trained Lyapunov model: ``beam`` and ``predict`` decode a system and check every V."""

    def __init__(self, run: Any, path: Path):
        self.run, self.path = run, path        # run: seq2math.training.checkpoint.LoadedRun

    @classmethod
    def load(cls, path: str | Path | None = None, device: str = "cpu", checkpoint: str = "best") -> LyapunovModel:
        resolved = resolve_model_path(path)
        return cls(load_run(resolved, device, checkpoint), resolved)

    def beam(self, system: Any, size: int = 10, check: str = "lyapunov", time_limit: float | None = 10.0,
             verify: bool = True) -> list[Hypothesis]:
        """``size`` hypotheses, best beam score first; each readable V checked (``time_limit`` s each)."""
        if size < 1:
            raise ValueError(f"beam size must be at least 1, got {size}")
        equations = read_system(system)
        decoded = decode_hypotheses(self.run, [system_source(equations)], size)[0]
        out = []
        for rank, proposal in enumerate(read_hypotheses(decoded, len(equations)), 1):
            proof = None
            if verify and proposal.V is not None:
                deadline = None if time_limit is None else time.perf_counter() + time_limit
                proof = prove(equations, proposal.V, check, deadline)
            out.append(Hypothesis(rank, tuple(proposal.tokens), proposal.score,
                                  None if proposal.V is None else Expression.of(proposal.V), proposal.problem,
                                  None if proof is None else proof.result, None if proof is None else proof.certified))
        return out

    def predict(self, system: Any, check: str = "lyapunov", time_limit: float | None = 10.0) -> Hypothesis:
        """The greedy hypothesis, checked."""
        return self.beam(system, 1, check, time_limit)[0]


def load_model(path: str | Path | None = None, device: str = "cpu", checkpoint: str = "best"):
    """A trained Lyapunov model (default: the shipped checkpoint seq2math/checkpoints/lyapunov-tiny).

    Returns a ``LyapunovModel``: ``model.beam(system, size)`` gives ranked ``Hypothesis``
    objects, each V checked by the solve loop (check, certificate, re-check);
    ``model.predict(system)`` the greedy one::

        >>> model = load_model()
        >>> [(h.rank, str(h.V), h.valid) for h in model.beam("x0' = -x0; x1' = -x1", size=3)]
    """
    return LyapunovModel.load(path, device, checkpoint)
