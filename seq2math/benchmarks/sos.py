"""``seq2math bench sos``: seconds per system of the findlyap SOS search, sparse Gram blocks against dense.

Systems come from the backward generator with the BPoly preset's settings
(``seq2math/presets/lyapunov-bpoly.yaml``), one cell per number of variables n and V degree d
(``max_half_degree`` and ``max_cross_degree`` d/2, ``max_lyapunov_degree`` d: deg V ≤ d). Each system is searched twice in
the same run, in alternation, with the same per-system time limit: by today's dense findlyap
(one Gram matrix per condition, ``sparsity="dense"``) and by the sparse path (``sparsity="terms"``:
the first TSSOS step, redone with the lossless sign-symmetry blocks when it gets no margin;
``seq2math/sos/sparsity.py``), and a third time by the dense search with the sample-point screen of
the ``sos`` method (``screen=True``: a degree whose program fails at sample points skips its SDP;
``seq2math/lyapunov/methods/screen.py``). All search V of degree 2, 4, …, d, every solve in a killable child
process, and count a system only when a rounded V was proved exactly (docs/verification.md).
The table gives, per cell, the median seconds of each, the ratios dense / sparse and dense / screened,
and the certified counts; a system cut by the time limit counts its full limit. Two more columns time the
exact check of the generator's own V (``check_candidate``, the stage every model or guided
candidate goes through) with the dense program and with the sparse one (``sparsity="signs"``).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from seq2math.commands.options import add_time_limit

HELP = "seconds per system of the findlyap SOS search, sparse Gram blocks against today's dense one"
PRESET = Path(__file__).resolve().parents[1] / "presets" / "lyapunov-bpoly.yaml"


def add_arguments(parser) -> None:
    parser.add_argument("--variables", default="2,3,4,5", help="numbers of variables n (default 2,3,4,5)")
    parser.add_argument("--degrees", default="4,6,8,10,12", help="degrees of V (even; default 4,6,8,10,12)")
    parser.add_argument("--per-cell", type=int, default=1, help="systems per (n, degree) cell (default 1)")
    add_time_limit(parser, what="per system and method", default=10.0)
    parser.add_argument("--seed", type=int, default=0)


def _numbers(text: str, what: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{what}: expected comma-separated integers, got {text!r}") from None
    if not values:
        raise ValueError(f"{what}: no value in {text!r}")
    return values


def cell_systems(nvars: int, degree: int, count: int, seed: int) -> list:
    """``count`` BPoly-like backward (system, V) pairs (flint polynomials) with n = ``nvars`` and deg V ≤ ``degree``."""
    import yaml

    from seq2math.api import generate
    from seq2math.lyapunov.batch import parse_problem
    from seq2math.lyapunov.methods.findlyap import polynomial_system
    from seq2math.symbolic.expr import to_poly

    options = yaml.safe_load(PRESET.read_text())["task"]
    options.pop("name")
    options |= {"min_variables": nvars, "max_variables": nvars, "max_half_degree": degree // 2,
                "max_cross_degree": degree // 2, "max_lyapunov_degree": degree}
    systems = []
    for example in generate("lyapunov", count=count, seed=seed, **options):
        system, V = parse_problem(example.line, False, "generated", example.index)
        polys = polynomial_system(system)
        systems.append((polys, to_poly(V, nvars)))
    return systems


def _timed_check(system, V, sparsity: str, time_limit: float) -> tuple[float, bool]:
    from seq2math.lyapunov import conditions
    from seq2math.lyapunov.check import check_candidate

    saved, conditions.SPARSITY = conditions.SPARSITY, sparsity
    try:
        start = time.perf_counter()
        valid = check_candidate(system, V, "lyapunov", timeout=time_limit).valid is True
        return min(time.perf_counter() - start, time_limit), valid
    finally:
        conditions.SPARSITY = saved


def run(args) -> int:
    from seq2math.lyapunov.methods.findlyap import findlyap

    variables = _numbers(args.variables, "--variables")
    degrees = _numbers(args.degrees, "--degrees")
    if any(d < 2 or d % 2 for d in degrees) or any(n < 1 for n in variables) or args.per_cell < 1:
        raise ValueError("--degrees must be even and >= 2, --variables and --per-cell >= 1")
    print(f"bench sos: findlyap search up to deg V = d, BPoly-like backward systems (seed {args.seed}), "
          f"{args.per_cell} per cell, {args.time_limit:g} s per system and method")
    print(f"{'n':>2} {'d':>3} {'dense s':>9} {'sparse s':>9} {'ratio':>6} {'screened s':>11} {'ratio':>6}"
          f" {'dense ok':>9} {'sparse ok':>10} {'screened ok':>12}"
          f" {'check V dense s':>16} {'sparse s':>9} {'ok d/s':>7}")
    totals = {"dense": [0, 0], "terms": [0, 0], "screened": [0, 0], "check dense": [0, 0], "check signs": [0, 0]}
    for nvars in variables:
        for degree in degrees:
            seconds = {key: [] for key in totals}
            certified = {key: 0 for key in totals}
            for system, V in cell_systems(nvars, degree, args.per_cell, args.seed):
                for key, sparsity, screen in (("dense", "dense", False), ("terms", "terms", False),
                                              ("screened", "dense", True)):
                    start = time.perf_counter()
                    result = findlyap(system, max_degree=degree, time_limit=args.time_limit, sparsity=sparsity,
                                      screen=screen)
                    seconds[key].append(min(time.perf_counter() - start, args.time_limit))
                    certified[key] += result.status == "found"
                for sparsity in ("dense", "signs"):
                    took, valid = _timed_check(system, V, sparsity, args.time_limit)
                    seconds[f"check {sparsity}"].append(took)
                    certified[f"check {sparsity}"] += valid
            dense, sparse = statistics.median(seconds["dense"]), statistics.median(seconds["terms"])
            screened = statistics.median(seconds["screened"])
            for key in totals:
                totals[key][0] += certified[key]
                totals[key][1] += len(seconds[key])
            print(f"{nvars:>2} {degree:>3} {dense:9.2f} {sparse:9.2f} {dense / max(sparse, 1e-9):6.2f} "
                  f"{screened:11.2f} {dense / max(screened, 1e-9):6.2f} "
                  f"{certified['dense']:>5}/{len(seconds['dense'])} {certified['terms']:>6}/{len(seconds['terms'])}"
                  f" {certified['screened']:>8}/{len(seconds['screened'])}"
                  f" {statistics.median(seconds['check dense']):16.2f} {statistics.median(seconds['check signs']):9.2f}"
                  f" {certified['check dense']:>3}/{certified['check signs']}", flush=True)
    print("certified: " + ", ".join(f"{key.replace('terms', 'sparse')} {done}/{total}"
                                    for key, (done, total) in totals.items()))
    return 0
