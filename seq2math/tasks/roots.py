"""Real roots of integer polynomials, from the expanded or the factored form (docs/tasks.md, polynomial roots).

The same polynomial can be shown to the model in two representations; comparing models
trained on each is the point of the task (``--representation expanded|factored``):

* expanded: ``V{d+1}`` then the integer coefficients, highest degree first;
* factored: the integer leading constant, then each factor as ``V{k}`` + its coefficients.

Integers use the ``INT`` encoding (sign token then base-1000 digits). The target is
``V{r}`` then the r distinct real roots in increasing order, in a float encoding
(P1000 by default, 3 significant digits). Example, 2(x^2 + 1)(x - 3)(3x + 2):

    expanded  V5 INT+ 6 INT- 14 INT- 6 INT- 14 INT- 12
    factored  INT+ 2 V3 INT+ 1 INT+ 0 INT+ 1 V2 INT+ 1 INT- 3 V2 INT+ 3 INT+ 2
    target    V2 - 667 E-3 + 300 E-2

Generation: degree uniform in [min_degree, degree]; distinct rational real roots p/q with
|p/q| <= max_root and 1 <= q <= max_denominator (linear factors q x - p), the rest of the
degree made of quadratics x^2 + b x + c without real roots, and a leading constant in
+-[1, max_leading]. The verifier recomputes the roots numerically (numpy) from the decoded
source and scores the relative L1 error at 5%, 2%, 1%, 0.5%; a wrong number of roots is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

import numpy as np

from seq2math.config import ConfigError
from seq2math.tasks.base import Task, Verdict, register_task
from seq2math.tasks.numeric import TOLERANCES, EncodingName, relative_l1
from seq2math.tokens.matrices import dimension_vocabulary, encode_vector, read_vector
from seq2math.tokens.numbers import ENCODINGS, get_encoding

INTEGER = ENCODINGS["INT"]


@dataclass
class RootsOptions:
    degree: int = field(default=5, metadata={"help": "largest polynomial degree"})
    min_degree: int = field(default=2, metadata={"help": "smallest polynomial degree"})
    representation: Literal["expanded", "factored"] = field(
        default="expanded", metadata={"help": "how the polynomial is shown: expanded coefficients or factors"})
    min_real_roots: int = field(default=1, metadata={"help": "fewest real roots per polynomial"})
    max_root: int = field(default=10, metadata={"help": "real roots lie in [-max_root, max_root]"})
    max_denominator: int = field(default=3, metadata={"help": "denominators of the rational roots"})
    max_leading: int = field(default=3, metadata={"help": "leading constant in +-[1, max_leading]"})
    encoding: EncodingName = field(default="P1000", metadata={"help": "number encoding of the roots"})


def poly_multiply(a: list[int], b: list[int]) -> list[int]:
    """Exact product of coefficient lists (highest degree first)."""
    out = [0] * (len(a) + len(b) - 1)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            out[i + j] += x * y
    return out


def real_roots(coefficients: list[int]) -> np.ndarray:
    """Sorted real roots of a polynomial, numerically (eigenvalues of the companion matrix)."""
    roots = np.roots(np.array(coefficients, dtype=float))
    scale = np.maximum(1.0, np.abs(roots))
    return np.sort(roots[np.abs(roots.imag) <= 1e-7 * scale].real)


def _format_poly(coefficients: list[int]) -> str:
    degree = len(coefficients) - 1
    terms = []
    for power, c in zip(range(degree, -1, -1), coefficients):
        if c == 0:
            continue
        monomial = "" if power == 0 else ("x" if power == 1 else f"x^{power}")
        body = f"{abs(c)}" if not monomial else (monomial if abs(c) == 1 else f"{abs(c)}*{monomial}")
        terms.append(("- " if c < 0 else "+ ") + body)
    text = " ".join(terms) or "+ 0"
    return text[2:] if text.startswith("+ ") else "-" + text[2:]


@register_task
class Roots(Task):
    """roots: integer polynomial (expanded or factored) -> its real roots, increasing."""

    name = "roots"
    Options = RootsOptions
    metrics = tuple(TOLERANCES)
    primary_metric = "5%"

    def validate_options(self) -> None:
        o = self.options
        if not 1 <= o.min_degree <= o.degree:
            raise ConfigError(f"task roots: need 1 <= min_degree <= degree, got {o.min_degree}, {o.degree}")
        if not 0 <= o.min_real_roots <= o.min_degree:
            raise ConfigError(f"task roots: need 0 <= min_real_roots <= min_degree, got {o.min_real_roots}")
        if min(o.max_root, o.max_denominator, o.max_leading) < 1:
            raise ConfigError("task roots: max_root, max_denominator and max_leading must be >= 1")
        candidates = 2 * o.max_root * o.max_denominator + 1  # at least the p/q on this grid
        if o.degree > candidates:
            raise ConfigError(f"task roots: degree {o.degree} needs more distinct roots than the grid allows")
        self.output_encoding = get_encoding(o.encoding)

    # ---- generation -------------------------------------------------------------------
    def _draw_factors(self, rng: np.random.Generator) -> tuple[int, list[list[int]]]:
        o = self.options
        degree = int(rng.integers(o.min_degree, o.degree + 1))
        quadratics = int(rng.integers(0, (degree - o.min_real_roots) // 2 + 1))
        roots: set[Fraction] = set()
        while len(roots) < degree - 2 * quadratics:
            q = int(rng.integers(1, o.max_denominator + 1))
            roots.add(Fraction(int(rng.integers(-o.max_root * q, o.max_root * q + 1)), q))
        factors = [[r.denominator, -r.numerator] for r in sorted(roots)]
        for _ in range(quadratics):
            b = int(rng.integers(-o.max_root, o.max_root + 1))
            c = b * b // 4 + 1 + int(rng.integers(0, o.max_root))  # b^2 - 4c < 0: no real root
            factors.append([1, b, c])
        leading = int(rng.integers(1, o.max_leading + 1)) * (1 if rng.random() < 0.5 else -1)
        return leading, factors

    def generate(self, rng: np.random.Generator):
        leading, factors = self._draw_factors(rng)
        expanded = [leading]
        for factor in factors:
            expanded = poly_multiply(expanded, factor)
        roots = sorted(Fraction(-f[1], f[0]) for f in factors if len(f) == 2)
        target = encode_vector([float(r) for r in roots], self.output_encoding)
        return self._encode_source(leading, factors, expanded), target

    def _encode_source(self, leading: int, factors: list[list[int]], expanded: list[int]) -> list[str]:
        if self.options.representation == "expanded":
            return [f"V{len(expanded)}", *INTEGER.encode_many(expanded)]
        tokens = INTEGER.encode(leading)
        for factor in factors:
            tokens += [f"V{len(factor)}", *INTEGER.encode_many(factor)]
        return tokens

    def vocabulary(self) -> list[str]:
        tokens = dimension_vocabulary(self.options.degree + 1) + INTEGER.vocabulary()
        return tokens + [t for t in self.output_encoding.vocabulary() if t not in set(tokens)]

    # ---- reading ------------------------------------------------------------------------
    def _read_integers(self, tokens: list[str], pos: int) -> tuple[list[int], int]:
        token = tokens[pos] if pos < len(tokens) else ""
        size = int(token[1:]) if token.startswith("V") and token[1:].isdigit() else None
        if size is None or size < 1:
            where = f"token {pos} {token!r}" if pos < len(tokens) else f"token {pos}: found end of sequence"
            raise ValueError(f"{where}: expected a coefficient count V<int>, int >= 1")
        values, end = INTEGER.read_many(tokens, pos + 1, size)
        if values[0] == 0:
            raise ValueError(f"token {pos + 1}: the leading coefficient must not be zero")
        return [int(v) for v in values], end

    def decode_source(self, source: list[str]) -> list[int]:
        """Expanded integer coefficients (highest degree first) of a source."""
        if self.options.representation == "expanded":
            coefficients, end = self._read_integers(source, 0)
        else:
            leading, end = INTEGER.read(source, 0)
            if leading == 0:
                raise ValueError("token 0: the leading constant must not be zero")
            coefficients = [int(leading)]
            while end < len(source):
                factor, end = self._read_integers(source, end)
                coefficients = poly_multiply(coefficients, factor)
        if end != len(source):
            raise ValueError(f"token {end} {source[end]!r}: unexpected token after the polynomial")
        if len(coefficients) < 2:
            raise ValueError("the polynomial must have degree >= 1")
        return coefficients

    def check_source(self, source: list[str]) -> None:
        self.decode_source(source)

    def size_key(self, source: list[str]) -> str:
        return f"deg{len(self.decode_source(source)) - 1}"

    def verify(self, source: list[str], hypothesis: list[str]) -> Verdict:
        reference = real_roots(self.decode_source(source))
        try:
            answer, end = read_vector(hypothesis, 0, self.output_encoding)
            if end != len(hypothesis):
                raise ValueError(f"token {end} {hypothesis[end]!r}: unexpected token after the roots")
        except ValueError as err:
            return Verdict.invalid(self.metrics, str(err))
        if len(answer) != len(reference):
            return Verdict(True, {m: False for m in self.metrics}, float("inf"),
                           f"{len(answer)} roots given, the polynomial has {len(reference)} real roots")
        with np.errstate(all="ignore"):
            error = relative_l1(answer, reference) if len(reference) else 0.0
        return Verdict(True, {m: error <= tol for m, tol in TOLERANCES.items()}, error)

    # ---- human form ---------------------------------------------------------------------
    def from_human(self, text: str) -> list[str]:
        """``2*x^5 - 30*x^4 + ...`` or ``2*(x^2+1)*(x-3)``: integer coefficients, variable x."""
        import sympy

        x = sympy.Symbol("x")
        try:
            poly = sympy.Poly(sympy.sympify(text.replace("^", "**"), locals={"x": x}), x)
        except (sympy.SympifyError, sympy.PolynomialError, TypeError) as err:
            raise ValueError(f"cannot read {text!r} as a polynomial in x ({err})") from None
        if poly.degree() < 1 or not all(c.is_integer for c in poly.all_coeffs()):
            raise ValueError(f"{text!r}: expected a polynomial of degree >= 1 in x with integer coefficients")
        expanded = [int(c) for c in poly.all_coeffs()]
        content, factor_list = sympy.factor_list(poly)
        factors = [[int(c) for c in f.all_coeffs()] for f, multiplicity in factor_list for _ in range(multiplicity)]
        # the generator's order: linear factors by increasing root, then the others (sympy lists them in its own
        # order, so 2(x^2+1)(x-3)(x-5)(x-7) would otherwise reach a model as (x-7)(x-5)(x-3)(x^2+1))
        linear = sorted((f for f in factors if len(f) == 2), key=lambda f: Fraction(-f[1], f[0]))
        factors = linear + [f for f in factors if len(f) != 2]
        return self._encode_source(int(content), factors, expanded)

    def to_human(self, tokens: list[str]) -> str:
        try:
            return _format_poly(self.decode_source(tokens))
        except ValueError:
            pass
        try:
            return np.array2string(read_vector(tokens, 0, self.output_encoding)[0], precision=4)
        except ValueError:
            return " ".join(tokens)
