"""Does the generator's V lie in a basis that ``guided`` can try? (docs/results.md, session 11)

For the first N systems of a test file, decode each system at beam K with each model and count
the systems whose V support (its monomials of degree >= 2) lies inside

- a single completed support of a hypothesis (``guided.completed_basis``: the support plus the pure
  even powers), of any of the models;
- the completed union of the top ``UNION_SIZE`` supports of one model (the first basis guided tries);
- the completed union of every support of every model's beam;
- a single support, and the union of the top three, after ``guided.gram_closure`` (the products of
  every two monomials whose squares the support holds), which ``guided`` does not try
  (docs/results.md, session 12). The mean and largest basis sizes are printed with the counts.

usage: python benchmarks/support_coverage.py FILE N K MODEL [MODEL ...]
  python benchmarks/support_coverage.py tests/data/lyapunov-bpoly-test200.txt 25 50 \\
      seq2math/checkpoints/lyapunov-tiny seq2math/checkpoints/lyapunov-mixture
One line per system (variables, monomials of V, monomials of the union, covered or not, what is
missing), then the counts.
"""

from __future__ import annotations

import sys
from pathlib import Path

from seq2math.lyapunov.batch import parse_benchmark_line
from seq2math.lyapunov.methods.guided import UNION_SIZE, completed_basis, gram_closure, hypothesis_supports
from seq2math.lyapunov.methods.hypotheses import read_hypotheses
from seq2math.lyapunov.methods.model import decode_hypotheses, load_model, system_source
from seq2math.symbolic.expr import to_poly


def main(argv: list[str]) -> int:
    if len(argv) < 4:
        print(__doc__.split("usage: ")[1].split("\n")[0], file=sys.stderr)
        return 2
    path, count, beam, models = argv[0], int(argv[1]), int(argv[2]), argv[3:]
    loaded = [load_model(model) for model in models]
    lines = Path(path).read_text(encoding="utf-8").splitlines()[:count]
    totals = {"single": 0, "top union": 0, "union of all": 0, "single closed": 0, "top union closed": 0}
    sizes: dict[str, list[int]] = {"single": [], "single closed": [], "top union": [], "top union closed": []}
    for number, text in enumerate(lines, 1):
        _, system, V = parse_benchmark_line(text, path, number)
        n = len(system)
        target = frozenset(tuple(int(e) for e in m) for m in to_poly(V, n).monoms() if sum(m) >= 2)

        def complete(support: frozenset) -> frozenset:
            return frozenset(completed_basis(support, n)) if support else frozenset()

        per_model = []
        for model in loaded:
            decoded = decode_hypotheses(model, [system_source(system)], beam)[0]
            per_model.append(hypothesis_supports(read_hypotheses(decoded, n), n))
        every = [support for supports in per_model for support in supports]
        union = complete(frozenset().union(*every)) if every else frozenset()
        tops = [frozenset().union(*supports[:UNION_SIZE]) for supports in per_model if supports]
        bases = {"single": [complete(s) for s in every], "top union": [complete(t) for t in tops],
                 "union of all": [union], "single closed": [complete(gram_closure(s)) for s in every],
                 "top union closed": [complete(gram_closure(t)) for t in tops]}
        covered = {key: any(target <= basis for basis in bases[key]) for key in totals}
        for key, found in sizes.items():
            found.extend(len(basis) for basis in bases[key])
        for key, value in covered.items():
            totals[key] += value
        missing = sorted(target - union)
        print(f"{number}: n={n}, V {len(target)} monomials, union {len(union)}, "
              + ", ".join(f"{key} {'yes' if value else 'no'}" for key, value in covered.items())
              + (f", missing {len(missing)}: {missing[:6]}" if missing else ""), flush=True)
    print("mean basis size: " + ", ".join(f"{key} {sum(v) / max(len(v), 1):.1f} (max {max(v, default=0)})"
                                           for key, v in sizes.items()))
    print("covered: " + ", ".join(f"{key} {value}" for key, value in totals.items()) + f" of {len(lines)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
