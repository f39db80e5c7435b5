"""``seq2math bench newton``: Newton-polytope membership above ``sos.newton.HULL_MAX_RANK`` dimensions, by
separating hyperplanes (linear programs, what ``hull_membership`` does there) against the hull's facets (qhull,
what it does up to that dimension), on the same random lattice supports in the same run.

A lifted non-polynomial condition has 10–15 variables; its support's affine dimension decides the cost of listing
facets, which grows like m^(r/2) for m points of dimension r (docs/verification.md). Each cell: ``--points``
even exponent vectors of entries 0..6 in r dimensions and ``--queries`` doubled lattice points, the median of
``--repeats`` timings each way after an untimed first call (imports), their ratio, and whether both masks agree (they must).
"""

from __future__ import annotations

import statistics
import time

HELP = "Newton-polytope membership by separating hyperplanes against qhull's facets (ratio, same run)"


def add_arguments(parser) -> None:
    parser.add_argument("--dimensions", default="6,7,8", help="affine dimensions r (default 6,7,8)")
    parser.add_argument("--points", type=int, default=80, help="support points per cell (default 80)")
    parser.add_argument("--queries", type=int, default=2000, help="candidate monomials per cell (default 2000)")
    parser.add_argument("--repeats", type=int, default=3, help="timings per way, the median kept (default 3)")
    parser.add_argument("--seed", type=int, default=0)


def run(args) -> int:
    import numpy as np

    from seq2math.benchmarks.sos import _numbers
    from seq2math.config import ConfigError
    from seq2math.sos import newton

    dimensions = _numbers(args.dimensions, "--dimensions")
    if min(dimensions) < 2 or min(args.points, args.queries, args.repeats) < 1:
        raise ConfigError("--dimensions must be >= 2; --points, --queries and --repeats >= 1")
    rng = np.random.default_rng(args.seed)
    print("| dimension | points | queries | inside | facets (qhull) s | hyperplanes (LPs) s | ratio | same mask |")
    print("|---|---|---|---|---|---|---|---|")
    for r in dimensions:
        points = 2 * rng.integers(0, 4, size=(args.points, r))
        queries = 2 * rng.integers(0, 4, size=(args.queries, r))
        timings, masks = {}, {}
        for way, limit in (("facets", r), ("programs", r - 1)):
            masks[way] = newton.hull_membership(points, queries, limit)      # untimed: imports, first calls
            runs = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                masks[way] = newton.hull_membership(points, queries, limit)
                runs.append(time.perf_counter() - started)
            timings[way] = statistics.median(runs)
        same = bool((masks["facets"] == masks["programs"]).all())
        print(f"| {r} | {args.points} | {args.queries} | {int(masks['facets'].sum())} | {timings['facets']:.3f} | "
              f"{timings['programs']:.3f} | {timings['facets'] / timings['programs']:.1f}x | {'yes' if same else 'NO'} |")
    return 0
