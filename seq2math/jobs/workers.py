"""Run checks in worker processes that can be killed at a hard time limit.

C solvers (Clarabel, SCS, z3's nlsat) do not return to Python while they work, so a
Python signal cannot interrupt them. Each job therefore runs in a long-lived worker
process; a job that passes its deadline gets its worker killed (SIGKILL) and replaced,
and the caller receives ``TIMED_OUT``. Workers are reused between jobs, so the process
start-up cost is paid once per worker, not per job. Results come back in input order.
"""

from __future__ import annotations

import faulthandler
import multiprocessing as mp
import os
import pickle
import resource
import select
import signal
import sys
import tempfile
import time
from multiprocessing.connection import wait
from typing import Any, Callable, Iterable, Iterator

TIMED_OUT = object()
_THREAD_POOL_STARTED = False
_TORCH_PINNED = False
#: in a worker process of ``run_jobs``: the cores it may use (``worker_threads``); None elsewhere
_WORKER_THREADS: int | None = None
#: what ``call_with_hard_limit`` returns when the child ran out of its memory limit
MEMORY_OUT = object()


class JobError:
    """An exception raised by the job function inside a worker (its message travels back), or a
    process that died without an answer (``died``; ``error_type`` is then empty)."""

    def __init__(self, message: str, error_type: str = "", died: bool = False):
        self.message = message
        self.error_type = error_type      # the exception's class name, e.g. "MemoryError", "PanicException"
        self.died = died

    @classmethod
    def of(cls, err: BaseException) -> JobError:
        return cls(f"{type(err).__name__}: {err}", type(err).__name__)


def after_fork() -> None:
    """Make torch safe in a child forked from a process that has run it: one intra-op thread.

    GNU OpenMP (torch's CPU thread pool) keeps no threads across ``fork``, and a child whose parent
    had entered a parallel region waits forever in its own first one (a model's beam search, a
    matrix product). With one thread torch never enters the pool. Each forked worker is one
    process per core anyway. Nothing happens where torch was never imported (docs/reliability.md).
    Code that sets torch's threads (``training.runtime.limit_cpu_threads``) asks
    ``torch_threads_pinned`` first: raising them again in the child would bring the hang back.
    """
    global _TORCH_PINNED
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "set_num_threads"):
        torch.set_num_threads(1)
        _TORCH_PINNED = True


def one_blas_thread():
    """Hold the BLAS of numpy and scipy (OpenBLAS) at one thread in this process; children forked later keep
    it. Torch's own threads (OpenMP) are left alone. The limit holds from the call on; used as a context manager
    (``with one_blas_thread(): ...``, what ``solve_system`` does in the caller's process) it is lifted again on
    exit, so a program that calls ``seq2math.solve`` keeps its own BLAS threads. About 1.5 ms a call.

    The Lyapunov search's linear algebra is many small products and factorisations (the gradient-form fits
    of ``guided``: 280 × 280 Cholesky factors, 110-column products; the IPM's Gram blocks), where a second
    BLAS thread only waits for the first: on this 2-core CPU one fit took 0.76 s with one thread and 1.55 s
    with two on an idle machine, and 5.6 s with two beside a training run, which held the other core
    (docs/performance.md). Every search process is one process per core anyway (``--workers``)."""
    from threadpoolctl import threadpool_limits
    return threadpool_limits(1, user_api="blas")


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def worker_threads() -> int | None:
    """In a worker of ``run_jobs`` with N workers: the cores each may use, this machine's cores // N (at least
    one); None in any other process. Torch's threads are capped by it (``training.runtime.cpu_threads``): two
    workers that each loaded a model while the other was still idle took both cores each, and their OpenMP
    threads spun against each other (the model method 4x slower, docs/reliability.md)."""
    return _WORKER_THREADS


def torch_threads_pinned() -> bool:
    """Whether this process is a child forked after torch ran, held at one thread by ``after_fork``."""
    return _TORCH_PINNED


def _worker_loop(connection, function: Callable[[Any], Any], threads: int) -> None:
    global _WORKER_THREADS
    after_fork()
    one_blas_thread()
    _WORKER_THREADS = threads
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
            connection.send(JobError.of(err))


class _Worker:
    def __init__(self, context, function, threads: int):
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_worker_loop, args=(child, function, threads), daemon=True)
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
                yield item, JobError.of(err)
        return
    context = mp.get_context("fork")
    threads = max(1, usable_cores() // max(1, workers))
    pool = [_Worker(context, function, threads) for _ in range(max(1, workers))]
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
                        done[worker.job] = JobError("worker process died", died=True)
                        worker.kill()
                        pool[i] = worker = _Worker(context, function, threads)
                    worker.job = None
                elif time.monotonic() >= worker.deadline:
                    done[worker.job] = TIMED_OUT
                    worker.kill()
                    pool[i] = _Worker(context, function, threads)
            while next_out in done:
                yield inputs.pop(next_out), done.pop(next_out)
                next_out += 1
    finally:
        for worker in pool:
            worker.kill()


def note_thread_pool() -> None:
    """Say that this process has started a native thread pool (Clarabel's, ``sos/sdp.py``)."""
    global _THREAD_POOL_STARTED
    _THREAD_POOL_STARTED = True


def can_fork_safely() -> bool:
    """Whether a child forked now can run the SOS solver. A native thread pool does not survive
    ``os.fork`` (its threads are gone in the child) and Clarabel waits on it forever there; callers
    then run in this process with the solver's own time limit instead (docs/reliability.md)."""
    return not _THREAD_POOL_STARTED


def total_memory() -> int:
    """The machine's RAM in bytes (``os.sysconf``; 0 when unknown)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def default_memory_limit(workers: int = 1) -> int | None:
    """A safe share of the machine's RAM for one check: total RAM / (workers + 1); None when unknown."""
    total = total_memory()
    return total // (max(1, workers) + 1) if total > 0 else None


def _virtual_size() -> int:
    """This process's virtual address space in bytes (``/proc/self/statm``; 0 when unknown)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _limit_memory(extra_bytes: int) -> None:
    """Cap the address space (RLIMIT_AS) at what this process maps now plus ``extra_bytes``.

    The child starts as a copy of its parent, whose mappings (libraries, torch, caches) already
    count against RLIMIT_AS; the limit is therefore on the memory the job adds.
    """
    limit = _virtual_size() + max(0, int(extra_bytes))
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


#: how much of a dead child's standard error its ``JobError`` quotes
CHILD_STDERR_CHARS = 400


def quiet_stderr(fd: int) -> None:
    """In a forked child: standard error, the file descriptor and Python's ``sys.stderr`` alike, goes to ``fd``;
    the fault handler (on under pytest) stays silent, since the parent reports the child's death itself."""
    os.dup2(fd, 2)
    sys.stderr = open(2, "w", closefd=False, errors="backslashreplace")
    faulthandler.disable()


def call_with_hard_limit(function: Callable[[], Any], seconds: float | None,
                         memory_limit: int | None = None) -> Any:
    """``function()`` in a forked child killed after ``seconds`` (None: no time limit): its result,
    ``TIMED_OUT``, ``MEMORY_OUT`` or a ``JobError``.

    ``memory_limit`` (bytes) caps what the child may allocate beyond its parent's address space
    (``resource.setrlimit(RLIMIT_AS)``, set in the child only); a ``MemoryError`` in the child, or
    a child that dies without a result under a memory limit (C and Rust code abort when an
    allocation fails), gives ``MEMORY_OUT``. The child is made with ``os.fork`` (not
    ``multiprocessing``) so that this also works inside the daemonic workers of ``run_jobs``,
    which may not have children; the result comes back pickled through a pipe, so it must be
    picklable (the function need not be).

    The child writes its standard error to a temporary file, not to the terminal: what the solvers'
    native code prints before it fails (a Rust panic's message, "memory allocation of N bytes failed")
    is then part of the ``JobError`` of a child that died (its last ``CHILD_STDERR_CHARS`` characters), and
    a report over hundreds of systems is not interleaved with it.
    """
    errors = tempfile.TemporaryFile()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:                                                   # the child: compute, send, exit at once
        os.close(read_end)
        try:
            try:
                quiet_stderr(errors.fileno())
                after_fork()
                if memory_limit is not None:
                    _limit_memory(memory_limit)
                payload = pickle.dumps(function())
            except BaseException as err:  # noqa: BLE001 — reported to the caller (solver panics too)
                payload = pickle.dumps(JobError.of(err))
            view = memoryview(payload)
            while view:
                view = view[os.write(write_end, view):]
        finally:
            os._exit(0)
    os.close(write_end)
    deadline = float("inf") if seconds is None else time.monotonic() + max(0.0, seconds)
    chunks, finished = [], False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_end], [], [], None if left == float("inf") else left)[0]:
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
        _, status = os.waitpid(pid, 0)
        errors.seek(max(0, os.fstat(errors.fileno()).st_size - CHILD_STDERR_CHARS))
        printed = errors.read().decode(errors="replace").strip()
        errors.close()
    if not finished:
        return TIMED_OUT
    try:
        result = pickle.loads(b"".join(chunks))
    except Exception as err:  # noqa: BLE001 — a child that died mid-write (or before writing)
        if memory_limit is not None and (not chunks or os.WIFSIGNALED(status)):
            return MEMORY_OUT
        said = f": {' '.join(printed.split())}" if printed else ""
        return JobError(f"no result from the child process ({type(err).__name__}){said}", died=True)
    if memory_limit is not None and isinstance(result, JobError) and result.error_type == "MemoryError":
        return MEMORY_OUT
    return result
