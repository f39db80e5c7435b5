"""``seq2math bench blas``: guided's gradient-form fits with OpenBLAS at its default threads against one thread.

The Lyapunov search holds numpy's and scipy's BLAS at one thread (``jobs.workers.one_blas_thread``,
docs/performance.md). This benchmark times the same fits both ways in one run, in alternation: for
BPoly-like backward systems (``bench sos``'s generator, one per number of variables), the fit of
``repair.fitted_candidates`` on the basis read off the system (``guided.system_bases``, its first basis)
from ``--starts`` fixed random starts, once under ``threadpool_limits`` of the library's default
thread count and once under one thread. It prints seconds per fit and the ratio default / one.
Run it beside a busy core (a training run) as well as on an idle machine: the gap is widest there.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

HELP = "guided's gradient-form fits with OpenBLAS at its default threads against one thread (ratio)"


def add_arguments(parser) -> None:
    parser.add_argument("--variables", default="2,3,4", help="numbers of variables n, one system each (default 2,3,4)")
    parser.add_argument("--degree", type=int, default=8, help="degree of V (even; default 8)")
    parser.add_argument("--starts", type=int, default=3, help="random starts per system and setting (default 3)")
    parser.add_argument("--seed", type=int, default=0)


def _time_fits(system, basis, starts: np.ndarray, threads: int | None) -> float:
    from threadpoolctl import threadpool_limits

    from seq2math.lyapunov.methods.repair import fitted_candidates

    with threadpool_limits(limits=threads, user_api="blas"):
        began = time.perf_counter()
        for start in starts:
            fitted_candidates(system, basis, start)
        return (time.perf_counter() - began) / len(starts)


def run(args) -> int:
    from threadpoolctl import threadpool_info

    from seq2math.benchmarks.sos import _numbers, cell_systems
    from seq2math.lyapunov.methods.guided import system_bases

    default = max((i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"), default=1)
    print(f"bench blas: gradient-form fits on the system's basis, OpenBLAS at {default} thread(s) (its default "
          f"here) against 1, {args.starts} random starts per system, alternating", flush=True)
    print(f"{'n':>2} {'monomials':>9} {'default s':>10} {'one s':>8} {'ratio':>6}")
    ratios = []
    for n in _numbers(args.variables, "--variables"):
        system, _ = cell_systems(n, args.degree, 1, args.seed)[0]
        bases = system_bases(system)
        if not bases:
            print(f"{n:>2} no system basis within the size limit")
            continue
        starts = np.random.default_rng(args.seed).standard_normal((args.starts, len(bases[0])))
        times = {None: [], 1: []}
        for _ in range(2):                                   # alternate, so that drift in the load hits both
            for threads in times:
                times[threads].append(_time_fits(system, bases[0], starts, threads))
        many, one = statistics.median(times[None]), statistics.median(times[1])
        ratios.append(many / one)
        print(f"{n:>2} {len(bases[0]):>9} {many:>10.3f} {one:>8.3f} {many / one:>6.2f}", flush=True)
    if ratios:
        print(f"median ratio default / one thread: {statistics.median(ratios):.2f}")
    return 0
