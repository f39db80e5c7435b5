"""Global Lyapunov functions: from a dynamical system ẋ = f(x), predict V (Alfarano, Charton, Hayat 2024).

One example, in the benchmark line format (docs/formats.md): the system ẋ0 = −x0,
ẋ1 = −2·x1 + x0³ with V = x0² + x1² is ::

    1|INT+ 2 <SPECIAL_3> * INT- 1 x0 <SPECIAL_3> + * INT- 2 x1 ^ x0 INT+ 3<TAB>+ ^ x0 INT+ 2 ^ x1 INT+ 2

``--mode backward`` (default) draws V first and builds a system it stabilises (every pair is
correct by construction; ``--nonpoly`` for non-polynomial V and f); ``--mode forward`` and
``--mode barrier`` draw a random system and search V by SOS programming
(``seq2math.lyapunov.generation.forward``). Hypotheses are scored by ``seq2math.lyapunov.check`` under two
checks: ``barrier`` (V ≥ 0 and −V̇ SOS) and ``lyapunov`` (V positive definite and proper,
−V̇ SOS; the primary metric).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from seq2math.config import knob
from seq2math.lyapunov.check import check_candidate
from seq2math.lyapunov.generation.backward import BackwardConfig, generate_backward
from seq2math.lyapunov.generation.forward import ForwardConfig
from seq2math.symbolic.degree import degree_bound
from seq2math.symbolic.expr import system_to_infix, to_infix, variables
from seq2math.tasks.base import Task, Verdict, register_task
from seq2math.tokens.infix import parse_infix_system
from seq2math.tokens.prefix import (
    PREFIX_VOCABULARY,
    PrefixParseError,
    parse_full_expression,
    parse_system,
    system_tokens,
)
from seq2math.tokens.vocab import EQUATION_SEPARATOR


@dataclass
class LyapunovOptions(BackwardConfig, ForwardConfig):
    """Options of ``seq2math generate lyapunov`` (flat: every field is a ``--flag``)."""

    mode: Literal["backward", "forward", "barrier"] = knob(
        "backward", "backward: V first, then a system it stabilises; forward: random system, V by SOS "
                    "search; barrier: forward with the barrier check")
    nonpoly: bool = knob(False, "backward mode only: exp/sqrt/ln compositions and trigonometric cross terms")


@register_task
class LyapunovTask(Task):
    """Lyapunov functions: system -> V (backward, forward or barrier generation; prefix format)."""

    name = "lyapunov"
    Options = LyapunovOptions
    metrics = ("barrier", "lyapunov")  # most lenient first
    primary_metric = "lyapunov"
    default_format = "prefix"
    #: seconds per check of one hypothesis (None: no limit); decoded hypotheses can be slow to settle
    verify_timeout: float | None = 20.0
    #: candidates whose degree may exceed this are reported undecided instead of expanded and checked
    max_check_degree: int = 40

    def validate_options(self) -> None:
        self.options.validate()

    # ---- generation -------------------------------------------------------------------
    def generate(self, rng: np.random.Generator) -> tuple[list[str], list[str]] | None:
        if self.options.mode in ("forward", "barrier"):
            try:
                from seq2math.lyapunov.generation.forward import generate_forward
            except ImportError as err:
                raise RuntimeError(f"--mode {self.options.mode} needs seq2math.lyapunov.generation.forward, "
                                   f"which is not available ({err})") from None
            return generate_forward(rng, self.options)
        if self.options.nonpoly:
            from seq2math.lyapunov.generation.nonpoly import generate_nonpoly

            result = generate_nonpoly(rng, self.options)
        else:
            result = generate_backward(rng, self.options)
        return None if result is None else (result[1], result[2])

    def vocabulary(self) -> list[str]:
        """The whole prefix vocabulary (x0..x11, digits 0..999): the same for every option set,
        so models trained on different generators or on mixed files share one vocabulary."""
        return list(PREFIX_VOCABULARY)

    # ---- files (lines are read and written by seq2math.data.files, in default_format) ----------
    def check_source(self, source: list[str]) -> None:
        parse_system(source)

    def size_key(self, source: list[str]) -> str:
        try:
            return f"n={len(parse_system(source))}"
        except PrefixParseError:
            return "invalid"

    # ---- checking -----------------------------------------------------------------------
    def verify(self, source: list[str], hypothesis: list[str]) -> Verdict:
        system = parse_system(source)  # a bad source is a data error, not a bad hypothesis
        try:
            candidate = parse_full_expression(hypothesis)
        except PrefixParseError as err:
            return Verdict.invalid(self.metrics, f"invalid syntax: {err}")
        extra = sorted(v for v in variables(candidate) if v >= len(system))
        if extra:
            return Verdict.invalid(self.metrics, f"V uses x{extra[-1]} but the system has {len(system)} variables")

        bound = degree_bound(candidate)
        if bound > self.max_check_degree:  # a decoded x0^999 would expand and run SOS for hours
            return Verdict(valid=True, scores={m: None for m in self.metrics},
                           reason=f"undecided: V may have degree up to {bound} > {self.max_check_degree} (not checked)")
        results = {}
        for metric in ("lyapunov", "barrier"):
            if metric == "barrier" and results["lyapunov"][0] is True:
                results[metric] = (True, "implied by the lyapunov certificate")  # V − εΣx^2k SOS ⇒ V SOS
                continue
            outcome = check_candidate(system, candidate, check=metric, timeout=self.verify_timeout)
            results[metric] = (outcome.valid, outcome.reason)
        return self._verdict(results["barrier"], results["lyapunov"])

    def _verdict(self, barrier: tuple[bool | None, str], lyapunov: tuple[bool | None, str]) -> Verdict:
        reason = f"lyapunov: {lyapunov[1]}; barrier: {barrier[1]}"
        return Verdict(valid=True, scores={"barrier": barrier[0], "lyapunov": lyapunov[0]}, reason=reason)

    # ---- human form ---------------------------------------------------------------------
    def from_human(self, text: str) -> list[str]:
        """``"x0' = -x0 + x1^3; x1' = -x1"`` -> source tokens."""

        return system_tokens(parse_infix_system(text))

    def to_human(self, tokens: list[str]) -> str:

        if tokens and tokens[0] == "INT+" and EQUATION_SEPARATOR in tokens:
            return system_to_infix(parse_system(tokens))
        return to_infix(parse_full_expression(tokens))

