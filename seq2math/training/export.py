"""Small, self-contained checkpoints: export a run's weights (fp16), and start a run from one.

An exported checkpoint is a directory that ``seq2math.training.checkpoint.load_run`` reads like a
run directory (``config.json`` + ``vocab.json`` + ``model.safetensors``) but without the
optimiser state, so it is small enough to commit (the lyapunov-tiny model: about 7 MB in
fp16). ``seq2math.checkpoints/lyapunov-tiny`` inside the package is the one that
``seq2math solve --methods model,sos`` uses when no ``--model`` is given.

``run_from_export`` turns an exported checkpoint back into a resumable run directory, so
training can continue in a later session even if the original run directory is gone:
the weights come back in fp32, the step and schedule position are kept, and Adam starts
from fresh moment estimates (they are not exported).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from seq2math.jobs.files import write_atomically
from seq2math.training import checkpoint as ckpt

#: the committed checkpoint used by ``solve --methods model`` when ``--model`` is not given
MAX_EXPORT_BYTES = 20 * 1024 * 1024
DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}


def export_checkpoint(run_dir: str | Path, out: str | Path, which: str = "best", dtype: str = "fp16",
                      max_bytes: int | None = MAX_EXPORT_BYTES) -> dict[str, Any]:
    """Write ``out/{model.safetensors, config.json, vocab.json}`` from a run; returns a summary.

    Raises ``ValueError`` when the weights would exceed ``max_bytes`` (None: no limit), before
    anything is written.
    """
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    loaded = ckpt.load_run(run_dir, "cpu", which=which)
    model = loaded.model.to(DTYPES[dtype])
    size = sum(p.numel() * p.element_size() for p in {id(p): p for p in model.parameters()}.values())
    if max_bytes is not None and size > max_bytes:
        raise ValueError(f"{run_dir}: the {dtype} weights take {size / 2**20:.1f} MiB, more than the "
                         f"{max_bytes / 2**20:.0f} MiB limit (use --dtype fp16 or --max-mb)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt.save_weights(model, out / ckpt.MODEL_FILE, loaded.step, extra={"dtype": dtype})
    _, payload = ckpt.read_run_config(run_dir)
    payload.pop("checksums", None)            # of the source's files; the new file carries its own
    payload["export"] = {"from": str(Path(run_dir).resolve()), "weights": loaded.weights.name,
                         "step": loaded.step, "dtype": dtype, "validation": _last_validation(Path(run_dir))}
    write_atomically(out / ckpt.CONFIG_FILE, json.dumps(payload, indent=2) + "\n")
    shutil.copyfile(Path(run_dir) / ckpt.VOCAB_FILE, out / ckpt.VOCAB_FILE)
    written = (out / ckpt.MODEL_FILE).stat().st_size
    return {"out": str(out), "step": loaded.step, "weights": loaded.weights.name, "dtype": dtype, "bytes": written}


def _last_validation(run_dir: Path) -> dict[str, Any] | None:
    """The last validation record of the run (kept in the export as a note of its quality)."""
    path = run_dir / ckpt.METRICS_FILE
    if not path.exists():
        return None
    records = ckpt.validations(ckpt.read_metrics(path))
    return records[-1] if records else None


def run_from_export(exported: str | Path, out: str | Path) -> dict[str, Any]:
    """A run directory that ``seq2math train --resume --out OUT`` continues from ``exported``."""
    out = Path(out)
    if (out / ckpt.STATE_FILE).exists() or (out / ckpt.MODEL_FILE).exists():
        raise FileExistsError(f"{out} already holds a run; choose another --out")
    loaded = ckpt.load_run(exported, "cpu", which="last")
    config, payload = ckpt.read_run_config(exported)
    model = loaded.model.float()
    out.mkdir(parents=True, exist_ok=True)
    payload.setdefault("resumed", []).append({"step": loaded.step, "from_export": str(Path(exported).resolve())})
    write_atomically(out / ckpt.CONFIG_FILE, json.dumps(payload, indent=2) + "\n")
    shutil.copyfile(Path(exported) / ckpt.VOCAB_FILE, out / ckpt.VOCAB_FILE)
    ckpt.save_weights(model, out / ckpt.MODEL_FILE, loaded.step)
    ckpt.save_weights(model, out / ckpt.BEST_FILE, loaded.step)
    t = config.train
    optimizer_class = torch.optim.AdamW if t.weight_decay > 0 else torch.optim.Adam
    optimizer = optimizer_class(model.parameters(), lr=t.lr, betas=(t.beta1, t.beta2), weight_decay=t.weight_decay)
    ckpt.save_train_state(out, {
        "step": loaded.step, "elapsed": 0.0, "bad_evals": 0, "best": None, "best_step": -1,
        "last_valid_step": -1, "optimizer": optimizer.state_dict(), "scaler": {}, "rng": ckpt.rng_state()})
    return {"out": str(out), "step": loaded.step}
