"""Views of a polynomial system: the same system with its variables reordered and their signs flipped.

A signed permutation y = Px (y_i = s_i·x_{order[i]}) turns ẋ = f(x) into ẏ = P f(P⁻¹y), and a Lyapunov
function W of the new system gives V(x) = W(Px) for the old one: the conditions V(0) = 0, V > 0, V̇ ≤ 0 and
properness are unchanged by an invertible linear change of variables. The backward generator draws its
variables alike, so every view of a generated system is as likely a training example as the system itself,
yet the model reads a different token sequence and decodes a different beam. The ``model`` method decodes a
few views after the system as typed and proposes their hypotheses, mapped back to the system's own variables
(``from_view``); each is then checked on the system as typed, so a view changes what is tried, never what is
proved (docs/results.md, session 29).

A non-polynomial system (expression trees: sin, exp, ...) has views too, its variables renamed in the trees
(``substituted`` takes either form). The non-polynomial generator draws its variables alike but writes
``sin(x0)``, never ``sin(-x0)``, so only reorderings are read for it (``views_of(..., signs=False)``:
docs/results.md, session 33).
"""

from __future__ import annotations

from dataclasses import dataclass

from seq2math.symbolic.expr import Binary, Expr, Unary, Var, negate
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


def views_of(n: int, count: int, signs: bool = True) -> list[View]:
    """The first ``count`` distinct views of an n-variable system, the identity first: then the variables
    reversed, shifted by one, every other sign flipped, reversed with every other sign flipped, shifted by two,
    and every sign flipped. On a bpoly development set the first three proved 13 of the 34 systems that the
    identity did not, the next two 4 of the 23 left (session 29). Without ``signs``: the reorderings alone
    (identity, reversed, shifted by one, shifted by two)."""
    alternate = tuple(1 if i % 2 == 0 else -1 for i in range(n)) if signs else (1,) * n
    candidates = [
        identity(n),
        View(tuple(reversed(range(n))), (1,) * n),
        View(tuple((i + 1) % n for i in range(n)), (1,) * n),
        View(tuple(range(n)), alternate),
        View(tuple(reversed(range(n))), alternate),
        View(tuple((i + 2) % n for i in range(n)), (1,) * n),
        View(tuple(range(n)), (-1,) * n if signs else (1,) * n),
    ]
    return list(dict.fromkeys(candidates))[:max(1, count)]


def substituted(p: Poly | Expr, view: View, n: int) -> Poly | Expr:
    """p(y(x)) as a function of x, where y_i = signs[i]·x_{order[i]}: each monomial Π y_i^e_i of a polynomial
    becomes Π (signs[i]·x_{order[i]})^e_i (exact; no arithmetic beyond a sign per term); in an expression tree
    each variable y_i becomes x_{order[i]}, or −x_{order[i]} (``_renamed``)."""
    if isinstance(p, Expr):
        return _renamed(p, view)
    out = []
    for exponents, coefficient in terms(p):
        moved = [0] * n
        negative = False
        for i, e in enumerate(exponents):
            moved[view.order[i]] += e
            negative ^= view.signs[i] < 0 and e % 2 == 1
        out.append((moved, -coefficient if negative else coefficient))
    return from_terms(out, n)


def _renamed(e: Expr, view: View) -> Expr:
    """The tree ``e`` with variable y_i replaced by x_{order[i]} (``negate``d where signs[i] is −1), rebuilt
    bottom-up with an explicit stack (a long sum is a deep right-nested chain)."""
    built: list[Expr] = []
    stack: list[tuple[Expr, bool]] = [(e, False)]
    while stack:
        node, children_built = stack.pop()
        if isinstance(node, Var):
            moved = Var(view.order[node.index])
            built.append(moved if view.signs[node.index] > 0 else negate(moved))
        elif isinstance(node, Binary) and children_built:
            right, left = built.pop(), built.pop()
            built.append(Binary(node.op, left, right))
        elif isinstance(node, Binary):
            stack += [(node, True), (node.right, False), (node.left, False)]
        elif isinstance(node, Unary) and children_built:
            built.append(Unary(node.op, built.pop()))
        elif isinstance(node, Unary):
            stack += [(node, True), (node.arg, False)]
        else:                                    # numbers and named constants
            built.append(node)
    return built.pop()


def system_in_view(equations: list[Poly] | list[Expr], view: View) -> list[Poly] | list[Expr]:
    """ẏ = P f(P⁻¹y): equation i is signs[i]·f_{order[i]} written in the view's variables (polynomials, or
    expression trees)."""
    n = len(equations)
    back = view.inverse()
    moved = [substituted(equations[j], back, n) for j in view.order]
    return [f if sign > 0 else (negate(f) if isinstance(f, Expr) else -f) for f, sign in zip(moved, view.signs)]


def from_view(W: Poly | Expr, view: View, n: int) -> Poly | Expr:
    """V(x) = W(Px): a function of the view's variables (a polynomial or an expression tree) as one of the
    system's own."""
    return substituted(W, view, n)
