"""The ``guided`` method: the model proposes the monomials of V, an SOS program finds the numbers.

A beam hypothesis that fails verification is often close: the right monomials with the wrong
coefficients. For ẋ0 = −x0 + x1, ẋ1 = −x0 − x1³ the small shipped model proposes
3x1⁴ + 2x0² + 2x0x1 + x1², which is no Lyapunov function, yet its monomials hold those of
V = x0² + x1², which is one. So ``guided`` keeps the model's *supports* (the sets of monomials
of degree ≥ 2 of its readable polynomial hypotheses) and lets the findlyap SOS program
(``findlyap.solve_program``, docs/baselines.md) choose the coefficients on each support:

1. the supports are tried in this order: the union of the supports of the top
   ``UNION_SIZE`` hypotheses first (a larger basis, more often feasible), then each distinct
   support in beam order; a basis equal to one already tried is skipped;
2. each support is completed with the pure even powers xᵢ², xᵢ⁴, …, xᵢ^D (D: the support's
   degree rounded up to even) that positive definiteness and radial unboundedness need, so a
   hypothesis that misses a variable still gives a usable basis;
3. a basis goes to the SDP only if the LP of its conditions at sample points is feasible
   (``screen.may_be_feasible``, a necessary condition that takes milliseconds; on our bpoly
   test set it refutes 177 of the 395 bases of the first 25 systems);
4. a feasible program's numbers first start the gradient-form fit of the repair below
   (``sdp_fitted_candidates``: at most two candidates, in milliseconds for two variables): a
   backward system's program often ends on the boundary of its feasible set, where rounding misses
   the exact V that the fit lands on. Then they are rounded the way ``findlyap``/``sos`` round them
   (``rounded_candidates``: small integers first). Every V is proposed to the solve loop, which
   checks it exactly, builds its certificate and re-checks it. This method proves nothing itself.

The decoded beam is the one ``model`` uses (``model.ranked_hypotheses`` decodes a system once
per process), so ``--methods model,guided`` decodes once. Each SOS solve gets the time left
before the deadline of the solve loop, and no new one starts after it.

Before the SOS programs, the best hypothesis of each distinct set of monomials, in beam order
and within a quarter of the time left (three eighths where the first basis has degree 8 or more),
gets its coefficients *repaired*
(``repair.py``): starting from the hypothesis's own numbers, a Levenberg–Marquardt fit of
f = −G(x)∇V(x) with V on the hypothesis's monomials and a polynomial matrix G. That is the
warm start the SOS programs cannot take (Clarabel takes no initial point); an exact fit, scaled
to simple numbers, is proposed like every other candidate. On our BPoly-like test set it turns
the generator's V with every coefficient moved by −1, 0 or +1 at random back into the right V
for 21 of the first 40 systems (0.2 s each); the exact V itself, 40 of 40.

The fit does not need the hypothesis's numbers, only a support that holds V: until half the time
(three quarters where the first basis has degree 8 or more: there the SDPs rarely finish and add
nothing), ``random_start_fits`` starts it from random numbers, first on ``union_bases`` (the
union of every support of the beam and its Gram closure, which hold V where no single support does) and
the bases read off the system (``system_bases``), then on each basis of ``fit_bases`` (the bases above, with each support's Gram closure, whose SDPs
would not finish in time), each basis with the unrestricted fit and, for two variables, the one
whose G has the generator's shape. On the first 25 systems of our bpoly test set this took
``model,guided`` from 15 to 18 proved (docs/baselines.md, session 16), then to 19–20 (session 18).
"""

from __future__ import annotations

import time
import zlib
from itertools import chain
from typing import Any, Iterable, Iterator

import numpy as np

from seq2math.lyapunov.methods.base import Search, register_method, seconds_left
from seq2math.lyapunov.methods.findlyap import (
    build_program,
    not_polynomial_reason,
    polynomial_system,
    rounded_candidates,
    solve_program,
)
from seq2math.lyapunov.methods.hypotheses import Proposal, read_hypotheses
from seq2math.lyapunov.methods.model import ModelMethod, interleaved
from seq2math.lyapunov.methods.repair import (
    ANTISYMMETRIC_MAX_VARIABLES,
    antisymmetric_fitted_candidates,
    fitted_candidates,
    repaired_candidates,
)
from seq2math.lyapunov.methods.screen import may_be_feasible
from seq2math.symbolic.expr import NotPolynomialError, to_poly
from seq2math.symbolic.poly import Poly

#: the first basis tried is the union of the supports of this many top hypotheses
UNION_SIZE = 3
#: the coefficient repair (the fits) may use this share of the time left, the SOS programs get the rest; LARGE_REPAIR_SHARE
#: where the first basis has degree LARGE_DEGREE or more. On the first 25 systems of our bpoly test set (10 s) the fits
#: alone prove 19 of 25, with 0.75 of the time 20 and with 0.5 18; on fsostools, whose V have degree 4–6 and whose
#: SDPs finish, 0.75 loses one of 20 that 0.5 proves (45 of the first 50 bpoly V have degree 8 or more, no
#: fsostools, fbarr or flyap V does; docs/baselines.md, session 18)
REPAIR_SHARE = 0.5
LARGE_REPAIR_SHARE = 0.75
LARGE_DEGREE = 8
#: rounds of fits from random coefficients over every basis (``random_start_fits``), after the fits from the
#: hypotheses' own numbers and within the repair's share of the time
RANDOM_ROUNDS = 3
#: the Gram closure of the union of every support is a fit basis up to this many monomials (a fit on one of
#: 69–89 monomials takes 0.3–0.4 s with three variables, on 145 about 8 s with four: docs/baselines.md, session 18)
CLOSURE_OF_ALL_MAX = 100
#: rounds of fits from random numbers over ``union_bases`` alone, within the first half of those fits' time
UNION_ROUNDS = 10
#: the fits also try the bases read off the system (``system_bases``); False: the beam's alone (measurements)
SYSTEM_BASES = True
#: a basis read off the system is tried up to this many monomials: with one BLAS thread a fit on 110 monomials of
#: four variables takes about 0.7 s (system 19 of our bpoly test set, whose V such a basis holds; session 20). The
#: every-k basis of a three-variable BPoly system often has 120–180 and holds V where no basis of the beam does
#: (114 and 167 of that set): 180 took solve's default from 190 to 192 of the 200 (session 22)
SYSTEM_BASES_MAX = 180
#: Gram blocks of its programs (``seq2math.sos.sparsity``): lossless sign-symmetry blocks. A model's support
#: is sparse, so V (and often −V̇) keeps sign symmetries that the full findlyap basis does not
SPARSITY = "signs"
#: the SOS solver of its programs: our IPM for Gram blocks of 40 rows or more, Clarabel below
#: (``seq2math.sos.sdp.solve_sos``), its answer taken at this accuracy when it stalls near the degenerate
#: optimum of a backward system (margin 0). On the generator's own supports of the first 25 bpoly test
#: systems this proves 12 within 10 s against Clarabel's 11 at full accuracy, in 0.50x its median time
#: (3.3 s against 6.6 s, both in one run of ``benchmarks/oracle_bases.py --backend clarabel,auto``;
#: docs/baselines.md); the time saved goes to the next basis
BACKEND = "auto"
PROPOSAL_TOLERANCE = 1e-3

Monomial = tuple[int, ...]


def hypothesis_supports(proposals: list[Proposal], nvars: int) -> list[frozenset[Monomial]]:
    """The distinct supports (monomials of degree ≥ 2) of the readable polynomial hypotheses, best first."""
    supports: list[frozenset[Monomial]] = []
    for V in polynomial_hypotheses(proposals, nvars):
        support = frozenset(tuple(int(e) for e in m) for m in V.monoms() if sum(m) >= 2)
        if support and support not in supports:
            supports.append(support)
    return supports


def polynomial_hypotheses(proposals: list[Proposal], nvars: int) -> list[Poly]:
    """The readable polynomial hypotheses, best first."""
    out = []
    for proposal in proposals:
        if proposal.V is None:
            continue
        try:
            out.append(proposal.V if isinstance(proposal.V, Poly) else to_poly(proposal.V, nvars))
        except (NotPolynomialError, ValueError, ZeroDivisionError):
            continue
    return out


def distinct_supports(hypotheses: list[Poly]) -> list[Poly]:
    """The best hypothesis of each distinct set of monomials, in beam order (what the repair starts from)."""
    seen, out = set(), []
    for V in hypotheses:
        key = frozenset(tuple(int(e) for e in m) for m in V.monoms())
        if key not in seen:
            seen.add(key)
            out.append(V)
    return out


def even_degree(monomials) -> int:
    """The largest total degree of ``monomials``, rounded up to even (the degree of V's SOS program)."""
    top = max(sum(m) for m in monomials)
    return top + top % 2


def completed_basis(support: frozenset[Monomial], nvars: int) -> list[Monomial]:
    """``support`` plus every xᵢ^2k with 2k ≤ D (D: ``even_degree`` of the support), sorted."""
    top = even_degree(support)
    pure = {tuple(power if j == i else 0 for j in range(nvars)) for i in range(nvars) for power in range(2, top + 1, 2)}
    return sorted(set(support) | pure)


def gram_closure(support: frozenset[Monomial]) -> frozenset[Monomial]:
    """``support`` plus the product of every two monomials whose squares are in it.

    An SOS V = zᵀQz has its monomials in z + z; where the model wrote the squares zᵢ² of a
    Gram basis but dropped a cross term zᵢzⱼ (the xᵢ^dᵢ·xⱼ^dⱼ of a gᵀPg proper part, the products of
    a squared polynomial's terms), this puts it back.
    """
    halves = sorted({tuple(e // 2 for e in m) for m in support if all(e % 2 == 0 for e in m)})
    products = {tuple(x + y for x, y in zip(a, b)) for i, a in enumerate(halves) for b in halves[i + 1:]}
    return frozenset(support) | products


def guided_bases(supports: list[frozenset[Monomial]], nvars: int, union_size: int = UNION_SIZE
                 ) -> list[list[Monomial]]:
    """The bases to try, in order: the union of the top ``union_size`` supports, then each support.

    Their Gram closures (``gram_closure``) are not tried: on our bpoly test set they cover the
    generator's V for 13 of the first 25 systems instead of 10, but their SDPs did not finish
    within 10 s and certified nothing more (docs/results.md, session 12)."""
    if not supports:
        return []
    return distinct(completed_basis(support, nvars)
                    for support in [frozenset().union(*supports[:union_size]), *supports])


def union_bases(supports: list[frozenset[Monomial]], nvars: int, large: bool = True) -> list[list[Monomial]]:
    """The completed unions that the fits from random numbers try first and most often: the union of the top
    ``UNION_SIZE`` supports (``guided_bases``'s first basis), the union of every support of the beam, that
    union's Gram closure, and the Gram closure of the completed union (its pure powers xᵢ^2k pair with the
    other squares; only when ``large``: the first basis has degree ``LARGE_DEGREE`` or more), each closure when
    it has at most ``CLOSURE_OF_ALL_MAX`` monomials.

    A beam spreads V's monomials over its hypotheses, so the union of every support holds V where no single
    support does, and a fit on the larger basis still lands on V from random numbers. On the first 25
    systems of our bpoly test set (the committed models' beams, 5 s of fits per basis, no SDP) the union of
    every support proves 16 and its closure 14, 18 together, against 4 for the top three's union; the
    closure of the completed union adds system 3. On small forward systems its fits land on wrong V whose
    checks take the SDPs' time (fsostools system 6 was lost with it; docs/baselines.md, session 18)."""
    if not supports:
        return []
    every = frozenset().union(*supports)
    completed_every = completed_basis(every, nvars)
    # the closure of the union, then of the completed union (whose pure powers xᵢ^2k pair with the rest)
    closures = [completed_basis(closed, nvars) for closed in
                [gram_closure(every)] + ([gram_closure(frozenset(completed_every))] if large else [])]
    return distinct([completed_basis(frozenset().union(*supports[:UNION_SIZE]), nvars), completed_every,
                     *(basis for basis in closures if len(basis) <= CLOSURE_OF_ALL_MAX)])


def fit_bases(first: list[list[Monomial]], supports: list[frozenset[Monomial]], nvars: int) -> list[list[Monomial]]:
    """The bases of the fits from random numbers: ``first`` (the bases of the first rounds: ``union_bases``,
    then the system's own, ``system_bases``), then each support and its completed Gram closure. A fit costs
    milliseconds on a basis whose SDP would not finish, so the closures that ``guided_bases`` leaves out are
    tried here (on the first 25 systems of our bpoly test set, one closure holds the generator's V for 18
    systems, one support for 15; docs/baselines.md, session 16)."""
    return distinct([*first, *(completed_basis(closed, nvars) for support in supports
                               for closed in (support, gram_closure(support)))])


def system_bases(system: list[Poly], beam: frozenset[Monomial] = frozenset()) -> list[list[Monomial]]:
    """Bases read off the system itself, completed, each of at most ``SYSTEM_BASES_MAX`` monomials: the
    monomials x^(a + eᵢ) for every term x^a of fᵢ, then x^(a + eₖ) for every k; then each of the two with
    ``beam`` (the union of the beam's supports) added, where that adds a monomial.

    A backward system is f = −G∇V plus terms that do not change V: where G is diagonal, fᵢ carries ∂ᵢV's
    monomials (times G's), so integrating each term of fᵢ in xᵢ gives a set that holds V's monomials; a G
    with off-diagonal entries mixes the gradients, hence every k. On our bpoly test set this holds V for
    systems that no basis of the beam holds: 14, 17 and 36 of the first 50 (fits on it proved them in 0.4–6 s;
    docs/baselines.md, session 19). Where G cancels a monomial of ∂ᵢV, the beam often has it: system 8's V lies
    in the every-k set joined with the beam's union (107 monomials) and in neither alone (session 20). The model
    still proposes the rest: on the first 50 systems of our bpoly test set these bases hold V for 35, the
    beam's (the committed models at beam 50) for 43, the two together for 47."""
    n = len(system)
    terms = [[tuple(int(e) for e in m) for m in f.monoms()] for f in system]
    integrated = [{tuple(e + (j == i) for j, e in enumerate(a)) for i, fi in enumerate(terms) for a in fi},
                  {tuple(e + (j == k) for j, e in enumerate(a)) for fi in terms for a in fi for k in range(n)}]
    integrated = [{m for m in monomials if sum(m) >= 2} for monomials in integrated]
    joined = [monomials | beam for monomials in integrated if beam - monomials]
    bases = [completed_basis(frozenset(monomials), n) for monomials in integrated + joined if monomials]
    return distinct(basis for basis in bases if len(basis) <= SYSTEM_BASES_MAX)


def distinct(bases: Iterable[list[Monomial]]) -> list[list[Monomial]]:
    """``bases`` in their order, each once."""
    seen: set[tuple[Monomial, ...]] = set()
    out = []
    for basis in bases:
        if tuple(basis) not in seen:
            seen.add(tuple(basis))
            out.append(basis)
    return out


def sdp_fitted_candidates(system: list[Poly], basis: list[Monomial], coefficients, deadline: float | None
                          ) -> list[Poly]:
    """The gradient-form fit (``repair.fitted_candidates``) started from an SOS program's numerical V.

    Where the program's optimum lies on the boundary of its feasible set (a backward system's −V̇ has a
    singular Gram matrix), rounding the solver's numbers rarely gives an exact certificate; the fit of
    f = −G∇V from them lands on the exact V when the numbers are near it. A program's basis has only
    monomials of degree ≥ 2 (``findlyap.build_program`` refuses others), the support the fit takes."""
    return fitted_candidates(system, [tuple(m) for m in basis], np.asarray(coefficients, dtype=float), deadline)


def random_start_fits(system: list[Poly], bases: list[list[Monomial]], deadline: float | None,
                      rounds: int = RANDOM_ROUNDS, salt: int = 0) -> Iterator[Poly]:
    """The gradient-form fit on each basis from random coefficients: ``rounds`` passes over ``bases``.

    The fit needs the support, not the numbers: on the completed supports of the generator's V, for the
    two-variable systems among the first 25 of our bpoly test set, 34 of 85 fits from standard normal
    coefficients end exact, and every system but one gets an exact fit within five
    (docs/baselines.md, session 16). So a basis that holds V but whose hypotheses' numbers and
    SOS program (a degenerate optimum, a timeout) both miss it is still proved. Each round passes over the
    bases, and on each basis runs the unrestricted fit (milliseconds to 0.2 s), then, for two variables, the
    fit whose G has the generator's shape (diagonal plus antisymmetric:
    ``repair.antisymmetric_fitted_candidates``), which pins a separable V; basis by basis rather than fit by
    fit, so that the first bases get both fits before the time runs out (system 14 of our bpoly test set is
    proved by the second fit on its third basis, after a whole pass of the first fit took 2.7 s: docs/baselines.md,
    session 18). The generator is seeded by the system and ``salt`` (two calls on the same bases with different
    salts start from different numbers), so a run is reproducible. A fit stops at ``deadline``."""
    rng = np.random.default_rng([zlib.crc32(" ; ".join(map(str, system)).encode()), salt])
    fits = [fitted_candidates] + ([antisymmetric_fitted_candidates] if len(system) <= ANTISYMMETRIC_MAX_VARIABLES else [])
    for _ in range(rounds):
        for basis in bases:
            for fit in fits:
                if deadline is not None and time.perf_counter() > deadline:
                    return
                yield from fit(system, basis, rng.standard_normal(len(basis)), deadline)


@register_method
class GuidedMethod(ModelMethod):
    """The findlyap SOS program on the monomials of the model's hypotheses; see the module docstring.

    It shares ``model``'s options (``--model``, ``--beam``, ``--device``) and its decoding
    (``prepare``/``start``). Under the barrier check the V proved under the lyapunov check, when
    there is one, is tried first.
    """

    name = "guided"
    polynomial_only = True

    def propose(self, search: Search, check: str, deadline: float | None) -> Iterator[Any]:
        if deadline is not None and time.perf_counter() > deadline:
            return
        if check == "barrier" and "lyapunov" in search.proved:
            yield search.proved["lyapunov"]
        system = polynomial_system(search.system)
        if system is None:
            search.reason = not_polynomial_reason(self.name, search.system)
            return
        hypotheses = interleaved(list(search.state or []))     # every model's beam, taken in turn by rank
        if not hypotheses:                       # the model was skipped, or decoded nothing in time
            search.reason = search.reason or f"{self.name}: no hypothesis finished within the time limit"
            search.interrupted = True
            return
        n = len(system)
        proposals = read_hypotheses(hypotheses, n)
        repaired = 0
        supports = hypothesis_supports(proposals, n)
        bases = guided_bases(supports, n)
        # the fits' share of the time: larger where the first basis is of degree LARGE_DEGREE or more, whose SDPs
        # rarely finish in time while the fits land (BPoly-sized); on small bases the SDPs keep half the time
        large = bool(bases) and even_degree(bases[0]) >= LARGE_DEGREE
        share = LARGE_REPAIR_SHARE if large else REPAIR_SHARE
        repair_until = None if deadline is None else time.perf_counter() + share * seconds_left(deadline)
        # the fits from the hypotheses' numbers get the first half of the repair's time, those from random ones the rest
        numbers_until = None if deadline is None else time.perf_counter() + share * seconds_left(deadline) / 2
        for V in distinct_supports(polynomial_hypotheses(proposals, n)):
            if numbers_until is not None and time.perf_counter() > numbers_until:
                break
            for candidate in repaired_candidates(system, V, numbers_until):
                repaired += 1
                yield candidate
        if not bases:
            search.reason = "guided: no readable polynomial hypothesis in the beam"
            return
        # the unions and the system's own bases for the first half of the random fits' time (behind the unions, the
        # system basis of bpoly system 19, four variables, got one fit in 60 s; session 20), then a few rounds over
        # every fit basis
        unions_until = None if repair_until is None else (time.perf_counter() + repair_until) / 2
        own = system_bases(system, frozenset().union(*supports)) if SYSTEM_BASES else []
        first = distinct([*union_bases(supports, n, large), *own])
        for candidate in chain(random_start_fits(system, first, unions_until, rounds=UNION_ROUNDS),
                               random_start_fits(system, fit_bases(first, supports, n), repair_until, salt=1)):
            repaired += 1
            yield candidate
        statuses = []
        for basis in bases:
            left = seconds_left(deadline)
            if left is not None and left <= 0:
                statuses.append("timeout")
                break
            degree = even_degree(basis)
            built = build_program(system, degree, check, basis, SPARSITY)
            if not may_be_feasible(built[0], time_limit=seconds_left(deadline)):   # ms, where an SDP takes s
                statuses.append("refuted at sample points")
                continue
            attempt, coefficients, basis = solve_program(system, degree, check, basis, seconds_left(deadline),
                                                          BACKEND, memory_limit=self.options.memory_limit,
                                                          sparsity=SPARSITY, built=built,
                                                          loose_tolerance=PROPOSAL_TOLERANCE)
            statuses.append(attempt.status)
            if coefficients is not None:
                yield from sdp_fitted_candidates(system, basis, coefficients, deadline)
                yield from rounded_candidates(coefficients, basis, n, exact_directions=True)
        search.reason = (f"guided: {repaired} repaired hypotheses and {len(statuses)} of {len(bases)} bases tried, "
                         f"none gave a proved V "
                         f"(SOS program: {', '.join(f'{s} x{statuses.count(s)}' for s in dict.fromkeys(statuses))})")
