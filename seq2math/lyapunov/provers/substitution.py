"""The substitution prover ("substitution+sos"): lift, then prove on a semialgebraic set by SOS, exactly.

``prove(system, V, check, time_limit) -> ProverVerdict`` (docs/verification.md):

1. V and V̇ = Σ ∂ᵢV·fᵢ are lifted to polynomials in x and new variables for sin/cos/exp/...
   (``lifting.py``), with side facts g ≥ 0 and h = 0 that every real x satisfies.
2. Each condition p ≥ 0 (the domain first: p = q − q(0)/2, or q² − q(0)²/2, for every ln q and
   every divisor q, and p = q for every sqrt q, so that V and f are defined at every x; then p = V − Σ εᵢₖ xᵢ^(2k) with Σₖ εᵢₖ > 0 for
   a lyapunov check, p = V for a barrier, and p = −V̇) is proved on that set by a Positivstellensatz certificate of degree D:
   p − Σⱼ σⱼ·gⱼ − Σₗ λₗ·hₗ = zᵀQz with SOS multipliers σⱼ, polynomial multipliers λₗ, Q ⪰ 0
   (Putinar's form; one SOS program solved by the project's solver, ``sos/sdp.py``).
3. The answer is made exact: ε rounded down to rationals, each σⱼ's Gram matrix clipped to its
   PSD part and rounded (then checked by exact LDLᵀ), λₗ rounded, the residual computed in
   rationals and its Gram matrix rounded and projected (``sos/exact.py``).
4. ``recheck`` re-derives the lifted conditions and facts from the expressions and re-proves the
   whole certificate in rationals; only then is the verdict "proved" (globally: no region).

Anything that fails (an unliftable function, a program too large, no certificate found, rounding
failed) gives "unknown" with the reason; this prover never refutes.
"""

from __future__ import annotations

import time

import flint

from seq2math.lyapunov.provers.conditions import Condition, condition_options, conditions
from seq2math.lyapunov.provers.lifting import Unsupported
from seq2math.lyapunov.provers.putinar import (
    _as_dict,
    _from_dict,
    _search_degrees,
    _syntactic_bound,
    search,
)
from seq2math.lyapunov.provers.verdict import ProverVerdict
from seq2math.sos import exact as X

__all__ = ["NAME", "conditions", "search", "check_part", "recheck", "prove"]

NAME = "substitution+sos"


def check_part(cond: Condition, part: dict) -> tuple[bool, str]:
    """Exact re-check of one condition's certificate part against the freshly lifted condition."""
    R = cond.target.context()
    if part.get("name") != cond.name or X.poly_from_json(part["polynomial"]) != _as_dict(cond.target):
        return False, f"{cond.name}: the certificate is for another polynomial"
    if "syntactic" in part:
        if cond.syntactic is None or _syntactic_bound(cond) is None:
            return False, f"{cond.name}: its form gives no bound that proves it"
        return True, f"{cond.name}: bounded below by its form"
    residual = cond.target
    if cond.definite:
        totals = {i: flint.fmpq(0) for i in range(cond.n)}
        for label, text in part["epsilon"].items():
            i, power = (int(v) for v in label[1:].split("^"))
            eps = X._parse_q(text)
            if eps < 0 or power % 2 or power < 2 or not 0 <= i < cond.n:
                return False, f"{cond.name}: bad epsilon term {label} = {text}"
            totals[i] += eps
            residual -= eps * R.gen(i) ** power
        if any(total <= 0 for total in totals.values()):
            return False, f"{cond.name}: the epsilon terms do not make V definite in every variable"
    facts = {str(sorted(X.poly_to_json(_as_dict(g)))) for g in cond.inequalities}
    for entry in part["multipliers"]:
        g = X.poly_from_json(entry["constraint"])
        if str(sorted(X.poly_to_json(g))) not in facts:
            return False, f"{cond.name}: a multiplier's constraint is not a fact of the lifting"
        basis, gram = X.gram_from_json(entry)
        if any(gram[a][b] != gram[b][a] for a in range(len(gram)) for b in range(a)) or not X.is_psd_exact(gram):
            return False, f"{cond.name}: a multiplier is not a sum of squares (exact LDLᵀ)"
        residual -= _from_dict(R, X.gram_polynomial(basis, gram)) * _from_dict(R, g)
    equalities = {str(sorted(X.poly_to_json(_as_dict(h)))) for h in cond.equalities}
    for entry in part["equalities"]:
        h = X.poly_from_json(entry["constraint"])
        if str(sorted(X.poly_to_json(h))) not in equalities:
            return False, f"{cond.name}: an equality is not a fact of the lifting"
        residual -= _from_dict(R, X.poly_from_json(entry["multiplier"])) * _from_dict(R, h)
    basis, gram = X.gram_from_json(part["residual"])
    ok, why = X.verify_gram(_as_dict(residual), basis, gram)
    return ok, f"{cond.name}: {why}"


def recheck(system, V, check: str, certificate: dict) -> tuple[bool, str]:
    """Re-prove a substitution certificate from the expressions, in rationals: (ok, reason)."""
    try:
        lifted = conditions(system, V, check, int(certificate.get("positivity", 0)))
    except ValueError as error:
        return False, str(error)
    parts = certificate.get("conditions", [])
    if certificate.get("prover") != NAME or [p.get("name") for p in parts] != [c.name for c in lifted]:
        return False, "not a substitution certificate for these conditions"
    for cond, part in zip(lifted, parts):
        ok, why = check_part(cond, part)
        if not ok and cond.alternative is not None:
            ok, why = check_part(cond.alternative, part)
        if not ok:
            return False, why
    return True, "every condition re-proved exactly"


def prove(system, V, check: str, time_limit: float | None) -> ProverVerdict:
    """See the module docstring. ``time_limit`` (seconds) bounds the SOS solves."""
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    try:
        options = condition_options(system, V, check)
    except Unsupported as error:
        return ProverVerdict("unknown", NAME, f"no exact substitution: {error}")
    except ValueError as error:
        return ProverVerdict("unknown", NAME, str(error))
    found_parts: dict[tuple[str, str], dict] = {}      # conditions shared by the options are searched once
    failures = []
    for option, lifted in enumerate(options):
        parts, why = [], None
        for cond in lifted:
            key = (cond.name, str(cond.target))
            if key not in found_parts:
                found, reasons = _search_degrees(cond, deadline)
                if not isinstance(found, dict) and cond.alternative is not None:
                    found, more = _search_degrees(cond.alternative, deadline)
                    reasons += ["squared:"] + more
                if not isinstance(found, dict):
                    why = f"{cond.name}: " + "; ".join(reasons)
                    if cond.name.startswith("domain") or cond.name == "decrease":
                        return ProverVerdict("unknown", NAME, "; ".join(failures + [why]))
                    break
                found_parts[key] = found
            parts.append(found_parts[key])
        if why is not None:
            failures.append(why)
            continue
        certificate = {"prover": NAME, "check": check, "positivity": option, "conditions": parts}
        ok, why = recheck(system, V, check, certificate)
        if not ok:
            return ProverVerdict("unknown", NAME, f"the certificate did not re-check: {why}")
        variables = sorted({name for part in parts for name in part["variables"]})
        return ProverVerdict("proved", NAME, f"positivstellensatz certificates re-checked in rationals, "
                             f"lifted variables {', '.join(variables)}")
    return ProverVerdict("unknown", NAME, "; ".join(failures))

