"""When the generator's V lies in a basis, does guided's SOS program find a certified V in time?

``benchmarks/support_coverage.py`` counts the systems whose V lies in a basis the model proposes;
this script asks the next question without the model: for the first N systems of a test file it
builds, from the generator's own V (the file's target),

- ``support``: the completed support of V (``guided.completed_basis``), the smallest basis guided
  could be given;
- ``closure``: the completed Gram closure of that support (``guided.gram_closure``), the size of
  basis a hypothesis that writes V's squares gives after the closure;

and solves the findlyap SOS program of guided (``findlyap.build_program``/``solve_program``, the
lyapunov check) on each basis with each Gram sparsity level (``seq2math/sos/sparsity.py``: "signs",
the lossless blocks guided uses, and "terms", one TSSOS step that falls back to "signs" when it
finds no margin), within TIME seconds per solve; the level "random" solves no SDP: it runs the
gradient-form fit from random numbers (``guided.random_start_fits``) until a V is proved or TIME passes
(only when ``--cells`` names it, e.g. support/random). Every V of the gradient-form fit from the solver's
numbers (``guided.sdp_fitted_candidates``), then every rounded V (``rounded_candidates``), in
guided's order, goes to the exact checker (``check.check_candidate``); a cell counts a system only
when one of them is proved, and says how many the fit proved. One line per system, then per cell:
certified, solver statuses, median and largest time.

``--backend`` picks the SDP solvers (``seq2math.sos.sdp.solve_sos``: clarabel, what guided used up to
session 12; auto, our IPM for Gram blocks of 40 rows or more; a comma list runs each in turn on every
system, and the summary gives each one's median time as a ratio to the first's) and ``--loose`` the
accuracy at which the IPM's best iterate is accepted as a proposal when it stalls (docs/results.md,
session 13); ``--cells`` limits the cells (e.g. support/signs).

usage: python benchmarks/oracle_bases.py FILE N TIME [--backend B,...] [--loose TOL] [--cells C,...]
  python benchmarks/oracle_bases.py tests/data/lyapunov-bpoly-test200.txt 25 10
  python benchmarks/oracle_bases.py tests/data/lyapunov-bpoly-test200.txt 25 10 --backend clarabel,auto --loose 1e-3 \\
      --cells support/signs
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from seq2math.lyapunov.batch import parse_benchmark_line
from seq2math.lyapunov.check import check_candidate
from seq2math.lyapunov.methods.findlyap import polynomial_system, rounded_candidates, solve_program
from seq2math.lyapunov.methods.guided import (
    completed_basis,
    even_degree,
    gram_closure,
    random_start_fits,
    sdp_fitted_candidates,
)
from seq2math.symbolic.expr import to_poly

LEVELS = ("signs", "terms", "random")


def oracle_bases(V, n: int) -> dict[str, list[tuple[int, ...]]]:
    """The two bases built from the generator's V: its completed support and its completed Gram closure."""
    support = frozenset(tuple(int(e) for e in m) for m in to_poly(V, n).monoms() if sum(m) >= 2)
    return {"support": completed_basis(support, n), "closure": completed_basis(gram_closure(support), n)}


def certify(system, basis, sparsity: str, time_limit: float, backend: str = "clarabel",
            loose_tolerance: float | None = None) -> tuple[str, float, str]:
    """(solver status, seconds, how a V was proved or "") of guided's SOS program on ``basis`` with ``sparsity``:
    the gradient-form fit from its numbers first (``guided.sdp_fitted_candidates``), then their roundings."""
    start = time.perf_counter()
    if sparsity == "random":
        return "fits", *fits_from_random_numbers(system, basis, start + time_limit)
    attempt, coefficients, basis = solve_program(system, even_degree(basis), "lyapunov", basis, time_limit, backend,
                                                 sparsity=sparsity, loose_tolerance=loose_tolerance)
    if coefficients is None:
        return attempt.status, time.perf_counter() - start, ""
    fitted = sdp_fitted_candidates(system, basis, coefficients, start + time_limit)
    for way, candidates in (("proved by the fit", fitted),
                            ("proved", rounded_candidates(coefficients, basis, len(system), exact_directions=True))):
        for candidate in candidates:
            left = time_limit - (time.perf_counter() - start)
            if left <= 0:
                return attempt.status, time.perf_counter() - start, ""
            if check_candidate(system, candidate, "lyapunov", timeout=left).valid:
                return attempt.status, time.perf_counter() - start, way
    return attempt.status, time.perf_counter() - start, ""


def fits_from_random_numbers(system, basis, deadline: float) -> tuple[float, str]:
    """(seconds, "proved by the fit" or "") of the gradient-form fits from random numbers on ``basis``
    (``guided.random_start_fits``, no SDP), one after the other until one is proved or ``deadline`` passes."""
    start = time.perf_counter()
    for candidate in random_start_fits(system, [basis], deadline, rounds=10**6):
        left = deadline - time.perf_counter()
        if left > 0 and check_candidate(system, candidate, "lyapunov", timeout=left).valid:
            return time.perf_counter() - start, "proved by the fit"
    return time.perf_counter() - start, ""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="oracle_bases.py", usage=__doc__.split("usage: ")[1].split("\n")[0][7:])
    parser.add_argument("file")
    parser.add_argument("count", type=int)
    parser.add_argument("time_limit", type=float)
    parser.add_argument("--backend", default="clarabel", help="clarabel, auto or ipm, or a comma list of them")
    parser.add_argument("--loose", type=float, default=None)
    parser.add_argument("--cells", default=None)
    args = parser.parse_args(argv)
    path, time_limit, backends = args.file, args.time_limit, args.backend.split(",")
    unknown = sorted(set(backends) - {"clarabel", "auto", "ipm"})
    if unknown:
        parser.error(f"--backend: unknown solver {unknown[0]!r}; choose clarabel, auto or ipm")
    lines = Path(path).read_text(encoding="utf-8").splitlines()[:args.count]
    cells = {(basis, level, backend): {"proved": 0, "fitted": 0, "seconds": [], "statuses": []}
             for basis in ("support", "closure") for level in LEVELS for backend in backends
             if (level != "random" if args.cells is None else f"{basis}/{level}" in args.cells.split(","))}
    for number, text in enumerate(lines, 1):
        _, system, V = parse_benchmark_line(text, path, number)
        polys = polynomial_system(system)
        bases = oracle_bases(V, len(polys))
        parts = []
        for (name, level, backend), cell in cells.items():
            status, seconds, proved = certify(polys, bases[name], level, time_limit, backend, args.loose)
            cell["proved"] += bool(proved)
            cell["fitted"] += proved == "proved by the fit"
            cell["seconds"].append(seconds)
            cell["statuses"].append(status)
            parts.append(f"{label(name, level, backend, backends)} {len(bases[name])} {status} {seconds:.1f}s "
                         f"{proved or '-'}")
        print(f"{number}: n={len(polys)}, " + "; ".join(parts), flush=True)
    for (name, level, backend), cell in cells.items():
        statuses = ", ".join(f"{s} x{cell['statuses'].count(s)}" for s in dict.fromkeys(cell["statuses"]))
        median = statistics.median(cell["seconds"])
        ratio = ""
        if backend != backends[0]:
            baseline = statistics.median(cells[name, level, backends[0]]["seconds"])
            ratio = f" ({median / baseline:.2f}x the median of {backends[0]})"
        print(f"{label(name, level, backend, backends)}: proved {cell['proved']} of {len(lines)} "
              f"({cell['fitted']} by the fit); {statuses}; median {median:.1f} s{ratio}, max {max(cell['seconds']):.1f} s")
    return 0


def label(name: str, level: str, backend: str, backends: list[str]) -> str:
    """basis/sparsity, and /solver when several solvers run."""
    return f"{name}/{level}" + (f"/{backend}" if len(backends) > 1 else "")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
