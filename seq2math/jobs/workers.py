"""Run checks in worker processes that can be killed at a hard time limit.

C solvers (Clarabel, SCS, z3's nlsat) do not return to Python while they work, so a
Python signal cannot interrupt them. Each job therefore runs in a long-lived worker
process; a job that passes its deadline gets its worker killed (SIGKILL) and replaced,
and the caller receives ``TIMED_OUT``. Workers are reused between jobs, so the process
start-up cost is paid once per worker, not per job. Results come back in input order.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import select
import signal
import time
from multiprocessing.connection import wait
from typing import Any, Callable, Iterable, Iterator

TIMED_OUT = object()


class JobError:
    """An exception raised by the job function inside a worker (its message travels back)."""

    def __init__(self, message: str):
        self.message = message


def _worker_loop(connection, function: Callable[[Any], Any]) -> None:
    while True:
        try:
            item = connection.recv()
        except EOFError:
            return
        if item is None:
            return
        try:
            connection.send(function(item))
        except Exception as err:  # noqa: BLE001 — reported to the caller, never swallowed
            connection.send(JobError(f"{type(err).__name__}: {err}"))


class _Worker:
    def __init__(self, context, function):
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_worker_loop, args=(child, function), daemon=True)
        self.process.start()
        child.close()
        self.job: int | None = None
        self.deadline = float("inf")

    def kill(self) -> None:
        self.process.kill()
        self.process.join()
        self.connection.close()


def run_jobs(function: Callable[[Any], Any], items: Iterable[Any], workers: int = 1,
             timeout: float | None = None) -> Iterator[tuple[Any, Any]]:
    """Yield (item, result) in input order; result is ``TIMED_OUT`` or a ``JobError`` on failure.

    With one worker and no timeout the jobs run in this process (no start-up cost).
    """
    if workers <= 1 and timeout is None:
        for item in items:
            try:
                yield item, function(item)
            except Exception as err:  # noqa: BLE001
                yield item, JobError(f"{type(err).__name__}: {err}")
        return
    context = mp.get_context("fork")
    pool = [_Worker(context, function) for _ in range(max(1, workers))]
    pending = iter(enumerate(items))
    inputs: dict[int, Any] = {}
    done: dict[int, Any] = {}
    next_out, exhausted = 0, False
    try:
        while True:
            for worker in pool:                                    # hand out work
                if worker.job is None and not exhausted:
                    try:
                        index, item = next(pending)
                    except StopIteration:
                        exhausted = True
                        break
                    inputs[index] = item
                    worker.job = index
                    worker.deadline = time.monotonic() + timeout if timeout else float("inf")
                    worker.connection.send(item)
            busy = [w for w in pool if w.job is not None]
            if not busy:
                break
            wait_for = min(w.deadline for w in busy) - time.monotonic()
            ready = wait([w.connection for w in busy], timeout=None if wait_for == float("inf") else max(0, wait_for))
            for i, worker in enumerate(pool):
                if worker.job is None:
                    continue
                if worker.connection in ready:
                    try:
                        done[worker.job] = worker.connection.recv()
                    except EOFError:
                        done[worker.job] = JobError("worker process died")
                        worker.kill()
                        pool[i] = worker = _Worker(context, function)
                    worker.job = None
                elif time.monotonic() >= worker.deadline:
                    done[worker.job] = TIMED_OUT
                    worker.kill()
                    pool[i] = _Worker(context, function)
            while next_out in done:
                yield inputs.pop(next_out), done.pop(next_out)
                next_out += 1
    finally:
        for worker in pool:
            worker.kill()


def call_with_hard_limit(function: Callable[[], Any], seconds: float) -> Any:
    """``function()`` in a forked child that is killed after ``seconds``: its result, ``TIMED_OUT``,
    or a ``JobError``. The child is made with ``os.fork`` (not ``multiprocessing``) so that this
    also works inside the daemonic workers of ``run_jobs``, which may not have children; the
    result comes back pickled through a pipe, so it must be picklable (the function need not be).
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:                                                   # the child: compute, send, exit at once
        os.close(read_end)
        try:
            try:
                payload = pickle.dumps(function())
            except Exception as err:  # noqa: BLE001 — reported to the caller
                payload = pickle.dumps(JobError(f"{type(err).__name__}: {err}"))
            view = memoryview(payload)
            while view:
                view = view[os.write(write_end, view):]
        finally:
            os._exit(0)
    os.close(write_end)
    deadline = time.monotonic() + max(0.0, seconds)
    chunks, finished = [], False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_end], [], [], left)[0]:
                break
            chunk = os.read(read_end, 1 << 16)
            if not chunk:
                finished = True
                break
            chunks.append(chunk)
    finally:
        os.close(read_end)
        if not finished:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    if not finished:
        return TIMED_OUT
    try:
        return pickle.loads(b"".join(chunks))
    except Exception as err:  # noqa: BLE001 — a child that died mid-write
        return JobError(f"no result from the child process ({type(err).__name__})")
