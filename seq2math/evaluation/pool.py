"""Verification of ranked hypotheses, in this process or a pool of worker processes.

Contract: checking never stops an evaluation. A hypothesis that makes the task's verifier raise
an ``Exception`` gets an invalid verdict naming the error; a solver panic (a ``BaseException``
raised by the SDP solver's native code, see ``seq2math.sos.sdp.is_solver_panic``) gets an
*undecided* verdict (every score None); any other ``BaseException`` (KeyboardInterrupt,
SystemExit) propagates. What each verdict proves: docs/verification.md.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor

from seq2math.jobs.workers import after_fork
from seq2math.sos.sdp import is_solver_panic
from seq2math.tasks.base import Task, Verdict

#: (source tokens, hypotheses best first)
Job = tuple[list[str], list[list[str]]]


def safe_verify(task: Task, source: list[str], hypothesis: list[str]) -> Verdict:
    """``task.verify``, with any exception turned into an invalid verdict naming it."""

    try:
        verdict = task.verify(source, hypothesis)
    except Exception as err:  # a malformed hypothesis must never stop an evaluation
        return Verdict.invalid(task.metrics, f"verifier raised {type(err).__name__}: {err}")
    except BaseException as err:
        if not is_solver_panic(err):
            raise
        return Verdict(valid=True, scores={m: None for m in task.metrics},
                       reason=f"undecided: the solver panicked ({err})")
    if not isinstance(verdict, Verdict):
        return Verdict.invalid(task.metrics, f"verifier returned {type(verdict).__name__}, not a Verdict")
    return verdict


def fully_verified(verdict: Verdict) -> bool:
    """True when the hypothesis passes every metric: later hypotheses cannot add anything."""
    return verdict.valid and all(score is True for score in verdict.scores.values())


def verify_ranked(task: Task, source: list[str], hypotheses: list[list[str]]) -> tuple[list[Verdict], float]:
    """Verdicts of the hypotheses in rank order, and the seconds spent.

    Identical hypotheses (beam search often ends several beams on the same tokens) are
    checked once; checking stops after the first hypothesis that passes every metric, since
    the any-of-K outcome is then settled. The list is therefore at most ``len(hypotheses)`` long.
    """
    started = time.perf_counter()
    seen: dict[tuple[str, ...], Verdict] = {}
    verdicts: list[Verdict] = []
    for hypothesis in hypotheses:
        key = tuple(hypothesis)
        if key not in seen:
            seen[key] = safe_verify(task, source, hypothesis)
        verdicts.append(seen[key])
        if fully_verified(verdicts[-1]):
            break
    return verdicts, time.perf_counter() - started


# ---- worker processes --------------------------------------------------------------------------
_POOL_TASK: Task | None = None  # the task of this worker process, set once by the pool initializer


def _init_pool(task: Task) -> None:
    global _POOL_TASK
    after_fork()
    _POOL_TASK = task


def _verify_many(job: Job) -> tuple[list[Verdict], float]:
    source, hypotheses = job
    assert _POOL_TASK is not None
    return verify_ranked(_POOL_TASK, source, hypotheses)


class Verifier:
    """Checks lists of hypotheses, in ``workers`` processes when > 1 (verification can be slow).

    Results come back in the order of the jobs whatever the number of workers, so a report does
    not depend on ``workers``. Use as a context manager: leaving it shuts the pool down.
    """

    def __init__(self, task: Task, workers: int = 1):
        self.task, self.workers, self._pool = task, workers, None
        if workers > 1:
            self._pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"), initializer=_init_pool,
                                             initargs=(task,))

    def __call__(self, jobs: list[Job]) -> list[list[Verdict]]:
        """Per job (source, ranked hypotheses): the verdicts of ``verify_ranked``."""
        return [verdicts for verdicts, _ in self.timed(jobs)]

    def timed(self, jobs: list[Job]) -> list[tuple[list[Verdict], float]]:
        """Per job: the verdicts of ``verify_ranked`` and the seconds they took."""
        if self._pool is None:
            return [verify_ranked(self.task, s, hyps) for s, hyps in jobs]
        return list(self._pool.map(_verify_many, jobs))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()

    def __enter__(self) -> "Verifier":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
