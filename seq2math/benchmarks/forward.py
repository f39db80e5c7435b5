"""``seq2math bench generate --mode forward|barrier``: accepted examples per CPU-minute.

Ours: ``search_forward`` (filters, then the findlyap SOS search with sparse matrices handed
to Clarabel's native API, exact re-verification). Baseline, same process, same draws: the
same pipeline with every SDP built and solved through the cvxpy modelling layer (the
usual way of writing it). Every accepted example is re-verified by ``check_candidate``.
"""

from __future__ import annotations

import time

import numpy as np

from seq2math.lyapunov.generation.forward import ForwardConfig, search_forward


def _run(check: str, draws: int, seed: int, backend: str, budget: float) -> tuple[int, int, float, int]:
    """(accepted, draws made, CPU seconds, accepted examples that failed re-verification)."""
    from seq2math.lyapunov.check import check_candidate

    config = ForwardConfig()
    accepted = failed = made = 0
    start = time.process_time()
    for index in range(draws):
        if time.process_time() - start > budget:
            break
        found = search_forward(np.random.default_rng([seed, index]), config, check, backend=backend)
        made += 1
        if found is not None:
            accepted += 1
            failed += check_candidate(found[0], found[1], check).valid is not True
    return accepted, made, time.process_time() - start, failed


def bench_forward(args, check: str = "lyapunov") -> None:
    ours = _run(check, args.count, args.seed, "clarabel", budget=60.0)
    base = _run(check, min(ours[1], args.baseline_count * 10), args.seed, "cvxpy:clarabel", budget=60.0)
    for name, (accepted, made, seconds, failed) in (("ours (native Clarabel, sparse)", ours),
                                                     ("baseline (same pipeline via cvxpy)", base)):
        rate = accepted / seconds * 60 if seconds else float("nan")
        print(f"{check} forward, {name:<36} {rate:8.1f} accepted/CPU-minute "
              f"({accepted} of {made} draws in {seconds:.1f} s CPU; {failed} failed re-verification)")
    ratio = (ours[0] / ours[2]) / (base[0] / base[2]) if base[0] and ours[2] and base[2] else float("nan")
    print(f"ratio: {ratio:.1f}x   (goal: >= 10 accepted systems per CPU-minute per core)")
