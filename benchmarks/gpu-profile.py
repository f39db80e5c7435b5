"""Where the lent GPU's training time goes: the loader, and the training step with and without cuDNN's attention.

The first GPU run of the mixture model (docs/training.md, session 19) made 3-4 steps per second of
32,768-token batches with its main process at 100% CPU, on 14 loader processes and an H200. This
script separates the two suspects, on the real batches of ``--config lyapunov-mixture`` (the BPoly
stream in the monomial representation, token-budget pools):

1. **loader**: ``--workers`` processes each build one pool of ``POOL_STEPS`` batches (what one
   ``DataLoader`` worker item is); steps per second = batches / wall time of the slowest;
2. **steps**: the mixture model's size, bf16 autocast on a GPU (fp32 on a CPU), forward, loss,
   backward, Adam, synchronised every step, on batches it has not seen (new shapes, as in training),
   in turns with cuDNN's attention allowed (PyTorch's choice) and left out
   (``seq2math.training.runtime.shape_free_attention``): steps per second and main-process CPU
   seconds per step, medians of the turns.

usage:  python benchmarks/gpu-profile.py [--device cuda] [--workers 14] [--steps 24] [--turns 2]
        python benchmarks/gpu-profile.py --quick       # a small model and budget on the CPU (tests/test_gpu_scripts.py)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seq2math.config import load_config  # noqa: E402
from seq2math.tasks.base import make_task  # noqa: E402
from seq2math.tokens.representation import make_vocab  # noqa: E402
from seq2math.training import checkpoint as ckpt  # noqa: E402
from seq2math.training.config import RunConfig  # noqa: E402
from seq2math.training.loss import LossModule  # noqa: E402
from seq2math.training.run_data import training_batches, training_source  # noqa: E402

QUICK = ["train.batch_tokens=2048", "model.d_model=32", "model.n_heads=2", "model.enc_layers=1",
         "model.dec_layers=1", "model.d_ff=64", "task.max_variables=3", "task.max_half_degree=2"]


def setup(quick: bool):
    overrides = ["train.mix_data=", "train.batch_tokens=32768"] + (QUICK if quick else [])
    config = load_config(RunConfig, ROOT / "seq2math" / "presets" / "lyapunov-mixture.yaml", overrides)
    task = make_task(config.task["name"], {k: v for k, v in config.task.items() if k != "name"})
    vocab = make_vocab(task.vocabulary(), config.train.representation, task.name)
    return config, vocab, training_batches(config, training_source(config, task, vocab), vocab, "seq2seq")


def build_pool(arguments: tuple[bool, int]) -> tuple[list[dict[str, torch.Tensor]], float]:
    quick, group = arguments
    torch.set_num_threads(1)
    started = time.perf_counter()
    batches = setup(quick)[2][group]
    return batches, time.perf_counter() - started


def train_turn(model, loss_module, optimizer, batches, device, amp) -> tuple[float, float]:
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    wall, cpu = time.perf_counter(), time.process_time()
    for batch in batches:
        batch = {k: v.to(device) for k, v in batch.items()}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss, _, _ = loss_module(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        sync()
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--workers", type=int, default=14, help="loader processes, one pool each")
    parser.add_argument("--steps", type=int, default=24, help="training steps per timed turn")
    parser.add_argument("--turns", type=int, default=2, help="timed turns of each attention setting")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    config, vocab, _ = setup(args.quick)

    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        built = list(pool.map(build_pool, [(args.quick, g) for g in range(args.workers)]))
    wall = time.perf_counter() - started
    batches = [b for pool_batches, _ in built for b in pool_batches]
    per_worker = statistics.median(len(b) / seconds for b, seconds in built)
    print(f"loader: {len(batches)} batches from {args.workers} processes in {wall:.1f} s: {len(batches) / wall:.2f} "
          f"steps/s ({per_worker:.2f} per process)", flush=True)

    torch.manual_seed(0)
    model = ckpt.build_model_for(config.model, len(vocab)).to(device)
    loss_module = LossModule(model, "seq2seq", vocab.pad_id)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-5)
    amp = device.type == "cuda"
    train_turn(model, loss_module, optimizer, batches[:2], device, amp)           # warm-up
    settings = {"cudnn attention allowed": True, "cudnn attention left out": False}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in settings}
    fresh = 2
    for _ in range(args.turns):
        for name, allowed in settings.items():
            if device.type == "cuda":
                torch.backends.cuda.enable_cudnn_sdp(allowed)
            turn = [batches[(fresh + k) % len(batches)] for k in range(args.steps)]
            fresh += args.steps
            seconds, cpu = train_turn(model, loss_module, optimizer, turn, device, amp)
            results[name].append((args.steps / seconds, cpu / args.steps))
    for name, runs in results.items():
        print(f"steps, {name}: {statistics.median(r[0] for r in runs):.2f} steps/s, "
              f"{statistics.median(r[1] for r in runs):.3f} CPU s/step (main process; {device}, "
              f"{'bf16' if amp else 'fp32'}, {config.train.batch_tokens} tokens)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
