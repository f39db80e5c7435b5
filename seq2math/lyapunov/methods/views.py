"""Views of a polynomial system: the same system with its variables reordered and their signs flipped.

A signed permutation y = Px (y_i = s_i·x_{order[i]}) turns ẋ = f(x) into ẏ = P f(P⁻¹y), and a Lyapunov
function W of the new system gives V(x) = W(Px) for the old one: the conditions V(0) = 0, V > 0, V̇ ≤ 0 and
properness are unchanged by an invertible linear change of variables. The backward generator draws its
variables alike, so every view of a generated system is as likely a training example as the system itself,
yet the model reads a different token sequence and decodes a different beam. The ``model`` method decodes a
few views after the system as typed and proposes their hypotheses, mapped back to the system's own variables
(``from_view``); each is then checked on the system as typed, so a view changes what is tried, never what is
proved (docs/results.md, session 29).
"""

from __future__ import annotations

from dataclasses import dataclass

from seq2math.symbolic.poly import Poly, from_terms, terms


@dataclass(frozen=True)
class View:
    """y_i = signs[i]·x_{order[i]}: variable i of the view is the system's variable ``order[i]``, sign-flipped
    where ``signs[i]`` is −1."""

    order: tuple[int, ...]
    signs: tuple[int, ...]

    @property
    def is_identity(self) -> bool:
        return self.order == tuple(range(len(self.order))) and all(s == 1 for s in self.signs)

    def inverse(self) -> "View":
        """The view that maps back: x_j = signs'[j]·y_{order'[j]}."""
        order = [0] * len(self.order)
        for i, j in enumerate(self.order):
            order[j] = i
        return View(tuple(order), tuple(self.signs[order[j]] for j in range(len(order))))


def identity(n: int) -> View:
    return View(tuple(range(n)), (1,) * n)


def views_of(n: int, count: int) -> list[View]:
    """The first ``count`` distinct views of an n-variable system, the identity first: then the variables
    reversed, shifted by one, every other sign flipped, reversed with every other sign flipped, shifted by two,
    and every sign flipped. On a bpoly development set the first three proved 13 of the 34 systems that the
    identity did not, the next two 4 of the 23 left (session 29)."""
    alternate = tuple(1 if i % 2 == 0 else -1 for i in range(n))
    candidates = [
        identity(n),
        View(tuple(reversed(range(n))), (1,) * n),
        View(tuple((i + 1) % n for i in range(n)), (1,) * n),
        View(tuple(range(n)), alternate),
        View(tuple(reversed(range(n))), alternate),
        View(tuple((i + 2) % n for i in range(n)), (1,) * n),
        View(tuple(range(n)), (-1,) * n),
    ]
    return list(dict.fromkeys(candidates))[:max(1, count)]


def substituted(p: Poly, view: View, n: int) -> Poly:
    """p(y(x)) as a polynomial in x, where y_i = signs[i]·x_{order[i]}: each monomial Π y_i^e_i becomes
    Π (signs[i]·x_{order[i]})^e_i (exact; no arithmetic beyond a sign per term)."""
    out = []
    for exponents, coefficient in terms(p):
        moved = [0] * n
        negative = False
        for i, e in enumerate(exponents):
            moved[view.order[i]] += e
            negative ^= view.signs[i] < 0 and e % 2 == 1
        out.append((moved, -coefficient if negative else coefficient))
    return from_terms(out, n)


def system_in_view(equations: list[Poly], view: View) -> list[Poly]:
    """ẏ = P f(P⁻¹y): equation i is signs[i]·f_{order[i]} written in the view's variables."""
    n = len(equations)
    back = view.inverse()
    return [substituted(equations[j], back, n) * view.signs[i] for i, j in enumerate(view.order)]


def from_view(W: Poly, view: View, n: int) -> Poly:
    """V(x) = W(Px): a function of the view's variables as one of the system's own."""
    return substituted(W, view, n)
