"""Fast exact polynomials (python-flint) and expression trees; the hot path never calls sympy.

In reading order:

- ``poly``: polynomials in Q[x0..x{n-1}] (``Poly``, ``ring``, ``in_ring``, ``lie_derivative``,
  ``evaluate``/``NumericPoly``, ``terms``)
- ``polytools``: exact points for the verifier (``exact_value``, ``rationalise``, ``fmt_point``)
- ``expr``: expression trees for the non-polynomial case, ``to_poly`` / ``from_poly``, infix text
- ``calculus``: exact derivatives, light simplification, vectorised evaluation of trees
- ``degree``: a degree bound read off a tree without expanding it
- ``display``: trees as sympy expressions (display and cross-checks only)
"""
