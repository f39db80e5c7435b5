"""Decoded hypotheses of the Lyapunov models: reading a beam, and the exact-fit screen of the gradient form.

``read_hypotheses`` parses a ranked beam and marks what is not worth proving (unreadable, repeated, constant, of
absurd degree); ``exact_fits`` keeps the hypotheses V with which the system is exactly f = −G∇V for a polynomial
G (docs/results.md, session 28). The ``model`` and ``guided`` methods (``seq2math.lyapunov.methods.model``) read
their beams with them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from seq2math.symbolic.degree import degree_bound
from seq2math.symbolic.expr import NotPolynomialError, to_poly, variables
from seq2math.symbolic.poly import Poly, in_ring
from seq2math.tokens.prefix import PrefixParseError, parse_full_expression

#: candidates whose degree may exceed this are not proposed (an x0^999 would never verify in time)
MAX_PROPOSED_DEGREE = 40
#: a hypothesis whose gradient-form residual (``exact_fits``) is below this is proposed before the others
EXACT_FIT = 1e-6


@dataclass
class Proposal:
    """One decoded hypothesis: its tokens, beam score and, when readable, the expression."""

    tokens: list[str]
    score: float | None
    V: Any = None
    problem: str = ""  # why it is not proposed ("invalid syntax: ...", "repeat", "degree ...")


def read_hypotheses(decoded: list[tuple[list[str], float | None]], nvars: int | None = None) -> list[Proposal]:
    """Parse ranked hypotheses; mark unreadable ones, repeats, constants and absurd degrees (never raises)."""

    seen: set[tuple[str, ...]] = set()
    proposals = []
    for tokens, score in decoded:
        proposal = Proposal(list(tokens), score)
        key = tuple(tokens)
        if key in seen:
            proposal.problem = "repeat"
        else:
            seen.add(key)
            try:
                proposal.V = parse_full_expression(list(tokens))
            except (PrefixParseError, ValueError, RecursionError) as err:
                proposal.problem = f"invalid syntax: {err}"
        if proposal.V is not None:
            extra = [v for v in variables(proposal.V) if nvars is not None and v >= nvars]
            bound = degree_bound(proposal.V)
            if extra:
                proposal.problem, proposal.V = f"uses x{max(extra)} with {nvars} variables", None
            elif not variables(proposal.V):      # V(0) = 0 fails, or V = c proves nothing about the system
                proposal.problem, proposal.V = "a constant", None
            elif bound > MAX_PROPOSED_DEGREE:
                proposal.problem, proposal.V = f"degree up to {bound} > {MAX_PROPOSED_DEGREE}", None
        proposals.append(proposal)
    return proposals


def exact_fits(equations: list[Poly] | None, hypotheses: list[Any], until: float | None = None) -> list[Any]:
    """The polynomial hypotheses, in order, whose gradient-form residual (``repair.gradient_form_residual``) is
    below ``EXACT_FIT``: V fits f = −G∇V exactly, as the generator's V does for every backward-generated system.
    On the systems of a bpoly development set where the ensemble ran out of time and a hypothesis was valid, it
    was one of the one or two exact fits of its 72–99 (docs/results.md, session 28). No screen after ``until``
    (a perf_counter value)."""
    from seq2math.lyapunov.methods.repair import gradient_form_residual

    if equations is None:
        return []
    n, out = len(equations), []
    for V in hypotheses:
        if until is not None and time.perf_counter() > until:
            break
        try:
            polynomial = in_ring(V, n) if isinstance(V, Poly) else to_poly(V, n)
        except NotPolynomialError:
            continue
        residual = gradient_form_residual(equations, polynomial)
        if residual is not None and residual < EXACT_FIT:
            out.append(V)
    return out


def unusable_reason(proposals: list[Proposal], source_length: int) -> str:
    """Why a beam proposes nothing ("" when some hypothesis is a readable V): the decoder returns one
    empty hypothesis for a source longer than the model's positions (``evaluation.decode``)."""
    if any(proposal.V is not None for proposal in proposals):
        return ""
    if all(not proposal.tokens for proposal in proposals):
        return (f"model: no hypothesis: the system's source has {source_length} tokens, more than the model "
                f"can read (a model trained on longer systems is needed)")
    problems = [proposal.problem for proposal in proposals if proposal.problem]
    return f"model: none of the {len(proposals)} hypotheses is a usable V ({problems[0] if problems else 'empty'})"
