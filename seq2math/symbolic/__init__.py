"""Fast exact polynomials (python-flint) and expression trees; the hot path never calls sympy.

``seq2math.symbolic.poly``: polynomials in Q[x0..x{n-1}] (``ring``, ``gradient``,
``lie_derivative``, ``evaluate``, ``terms``). ``seq2math.symbolic.expr``: expression trees
for the non-polynomial case (``diff``, ``evaluate``, ``to_poly``, ``from_poly``).
"""

from seq2math.symbolic import expr, poly  # noqa: F401  (expr first: it re-exports calculus)

__all__ = ["expr", "poly"]
