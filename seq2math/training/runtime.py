"""Where training and decoding run: the device (``auto``: CUDA, then MPS, then CPU), mixed
precision, CPU threads sized to the cores other processes leave idle, the ``torchrun`` process
group, and the SIGINT/SIGTERM handling that lets a long job stop cleanly and resume.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from typing import Any

import torch

from seq2math.jobs.workers import torch_threads_pinned, usable_cores, worker_threads


def resolve_device(name: str = "auto") -> torch.device:
    """``auto``: CUDA, then Apple MPS, then CPU. A CUDA device must exist (a run trained on a GPU
    keeps ``train.device=cuda`` in its config: resumed on a CPU it needs ``train.device=auto``), and
    gets ``shape_free_attention``."""
    if name != "auto":
        device = torch.device(name)
    elif torch.cuda.is_available():
        device = torch.device("cuda")
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        device = torch.device("mps")
    else:
        device = torch.device("cpu")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r}: this PyTorch ({torch.__version__}) sees no CUDA device; use cpu or "
                             f"auto (to resume a run trained on a GPU here: train.device=auto)")
        shape_free_attention()
    return device


def shape_free_attention() -> None:
    """Leave cuDNN out of ``F.scaled_dot_product_attention`` (flash, memory-efficient and math remain).

    cuDNN's attention builds an execution plan for every new tensor shape, hundreds of milliseconds of
    CPU each, and token-budget batches (and beam search) bring a new shape at nearly every step. On the
    lent H200 the mixture model's training ran 3–4 steps per second with its main process at 100% CPU,
    whatever the loader's speed (docs/training.md, session 19): the pattern of that cost, which the next
    GPU session measures (``benchmarks/gpu-profile.py``)."""
    enable = getattr(torch.backends.cuda, "enable_cudnn_sdp", None)
    if enable is not None:
        enable(False)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """Mixed-precision dtype, None = fp32.

    On a GPU, ``auto`` is bf16 where it is supported, fp16 otherwise. On a CPU, ``auto`` is fp32
    and ``bf16`` is autocast to bf16 (worth it where the CPU multiplies bf16 in hardware, e.g.
    AMX: docs/performance.md); fp16 needs a GPU.
    """
    if device.type == "cpu" and precision == "bf16":
        return torch.bfloat16
    if precision == "fp32" or device.type != "cuda":
        if precision == "fp16" or (precision == "bf16" and device.type != "cuda"):
            raise ValueError(f"precision {precision} needs a CUDA device{' or a CPU' if precision == 'bf16' else ''}"
                             f", got {device}")
        return None
    if precision == "bf16" or (precision == "auto" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16
    return torch.float16


def cpu_threads(requested: int = 0, world_size: int = 1, window: float = 0.25) -> int:
    """Intra-op threads for CPU training: ``requested``, or the cores left idle by other processes.

    PyTorch defaults to one thread per core; when other processes already keep cores busy,
    its OpenMP threads spin waiting for each other: on a shared 2-core machine with one core
    busy, one thread ran a training step 3.5x faster than two (0.6 s against 2.2 s). In a worker of
    ``jobs.workers.run_jobs`` never more than its share of the cores (``worker_threads``): its sibling
    workers may be idle at the moment it looks, and busy a second later.
    """
    if requested > 0:
        return requested
    cores = usable_cores()
    busy = busy_cores(window)
    idle = max(1, int(cores - busy + 0.5) // max(world_size, 1))
    share = worker_threads()
    return idle if share is None else min(idle, share)


def limit_cpu_threads(device: torch.device | str, requested: int = 0, world_size: int = 1,
                      window: float = 0.25) -> None:
    """On a CPU device, run torch with ``cpu_threads(requested, world_size)`` intra-op threads
    (train, evaluate and the model method of solve/report all start this way). ``window``: the
    seconds spent sampling how busy the cores are (the model method of ``solve`` takes 0.05 s, as
    its whole answer should take under 2 s). A child forked after torch ran stays at one thread
    (``jobs.workers.after_fork``)."""
    if torch.device(device).type == "cpu" and not torch_threads_pinned():
        torch.set_num_threads(cpu_threads(requested, world_size, window))


def _cpu_times() -> tuple[int, int] | None:
    """(busy, total) jiffies of all cores from /proc/stat, or None where there is no /proc."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def busy_cores(window: float = 0.25) -> float:
    """How many cores other processes keep busy now: /proc/stat sampled over ``window`` seconds
    (this process sleeps meanwhile). The load average is only the fallback: it lags by a minute,
    so right after a heavy job ends it still reports the cores as busy."""
    first = _cpu_times()
    if first is None:
        return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    time.sleep(window)
    second = _cpu_times()
    total = second[1] - first[1]
    if total <= 0:
        return 0.0
    return (second[0] - first[0]) / total * (os.cpu_count() or 1)


@dataclass
class Runtime:
    device: torch.device
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def start_runtime(device_name: str) -> Runtime:
    """Single process, or one rank of a ``torchrun`` job (WORLD_SIZE > 1): NCCL on GPUs, gloo on CPUs."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Runtime(resolve_device(device_name))
    import torch.distributed as dist

    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_name)
    if device.type == "cuda":
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Runtime(device, rank, world_size)


class StopSignals:
    """First SIGINT/SIGTERM: finish the step, save, stop. A second one interrupts at once."""

    def __init__(self) -> None:
        self.received: str | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum, frame) -> None:
        if self.received is not None:
            raise KeyboardInterrupt
        self.received = signal.Signals(signum).name

    def __enter__(self) -> "StopSignals":
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
