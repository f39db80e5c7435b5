"""Fixtures shared by several test files.

- ``tiny_run_config``: a factory of tiny transformer runs (two-layer, width 32) on 2x2 transposition;
- ``transpose_run``: a factory that trains such a run for a few steps into a fresh directory;
- ``lyapunov_run``: a run directory holding an *untrained* tiny Lyapunov model (what ``load_run``,
  ``export`` and the model method read), with ``TINY_LYAPUNOV`` task options;
- ``tiny_lyapunov``: those task options and the model of ``lyapunov_run``, for tests that train one;
- ``textbook``: x0' = -x0 + x1, x1' = -x0 - x1^3 with V = x0^2 + x1^2, in every form the tests need;
- ``certificate_file_proves``: opens a certificate file and re-proves it for a given system and V;
- ``one_torch_thread``: tiny matrices with extra OpenMP threads only spin against the other test
  processes (and bitwise comparisons need one thread count), so training tests use one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from seq2math.model import ModelConfig
from seq2math.symbolic.poly import Poly, ring
from seq2math.training.config import RunConfig, TrainConfig

#: the 2x2 transposition task of the training tests (P10: the smallest vocabulary)
TRANSPOSE_TASK = {"name": "transpose", "dim": 2, "encoding": "P10"}
#: a model that trains a few steps in well under a second on one CPU thread
TINY_MODEL = dict(d_model=32, n_heads=2, enc_layers=1, dec_layers=1, d_ff=64, dropout=0.0, max_len=64)
#: training options of the tiny runs: CPU, one thread, no tensorboard, small validation sets
TINY_TRAIN = dict(batch_size=8, warmup=2, valid_count=8, verify_count=2, device="cpu", tensorboard=False, threads=1)
#: Lyapunov systems small enough for a tiny model: two variables, quadratic V, short sequences
TINY_LYAPUNOV = {"max_variables": 2, "max_half_degree": 1, "max_cross_terms": 0, "max_rotations": 0,
                 "max_source_tokens": 96, "max_target_tokens": 40}
#: the tiny model for Lyapunov sequences (longer positions than the transposition model)
TINY_LYAPUNOV_MODEL = {**TINY_MODEL, "max_len": 160}


def make_tiny_run_config(task: dict | None = None, model: dict | None = None, **train) -> RunConfig:
    """A tiny run: ``task`` (default 2x2 transposition), ``model`` and ``train`` override the defaults above."""
    return RunConfig(task=dict(task or TRANSPOSE_TASK), model=ModelConfig(**{**TINY_MODEL, **(model or {})}),
                     train=TrainConfig(**{**TINY_TRAIN, **train}))


@pytest.fixture(scope="session")
def tiny_run_config():
    """``make_tiny_run_config`` as a fixture: ``tiny_run_config(model={...}, max_steps=6, ...)``."""
    return make_tiny_run_config


@pytest.fixture(scope="session")
def transpose_run(tmp_path_factory):
    """Train a tiny transposition run for a few steps: ``transpose_run(max_steps=6, eval_every=3)`` -> directory."""
    from seq2math.training.loop import train

    def make(**train_options) -> Path:
        directory = tmp_path_factory.mktemp("transpose-run")
        train(make_tiny_run_config(**train_options), directory, quiet=True)
        return directory

    return make


@pytest.fixture(scope="session")
def lyapunov_run(tmp_path_factory) -> Path:
    """A run directory with an untrained tiny Lyapunov model saved at step 7 (read-only for the tests)."""
    from seq2math.config import save_config
    from seq2math.tasks.base import make_task
    from seq2math.tokens.vocab import Vocab
    from seq2math.training import checkpoint

    directory = tmp_path_factory.mktemp("lyapunov-run")
    config = RunConfig(task={"name": "lyapunov", **TINY_LYAPUNOV}, model=ModelConfig(**TINY_LYAPUNOV_MODEL),
                       train=TrainConfig(valid_count=4, verify_count=0, eval_every=1000, tensorboard=False))
    vocab = Vocab(make_task("lyapunov", TINY_LYAPUNOV).vocabulary())
    torch.manual_seed(0)
    model = checkpoint.build_model_for(config.model, len(vocab))
    save_config(config, directory)
    vocab.save(directory / checkpoint.VOCAB_FILE)
    checkpoint.save_weights(model, directory / checkpoint.MODEL_FILE, step=7)
    return directory


@pytest.fixture(scope="session")
def tiny_lyapunov() -> dict:
    """The tiny Lyapunov set-up: ``{"task": TINY_LYAPUNOV, "model": TINY_LYAPUNOV_MODEL}`` (copies)."""
    return {"task": dict(TINY_LYAPUNOV), "model": dict(TINY_LYAPUNOV_MODEL)}


@pytest.fixture(scope="module")
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@dataclass(frozen=True)
class Textbook:
    """x0' = -x0 + x1, x1' = -x0 - x1^3: globally asymptotically stable, V = x0^2 + x1^2 proves it
    (-dV/dt = 2 x0^2 + 2 x1^4, a sum of squares)."""

    infix: str                 # the system in the infix syntax of the CLI
    V_infix: str
    system: list[Poly]         # the system and V as exact polynomials
    V: Poly
    V_prefix: list[str]        # V as the prefix tokens a model writes
    source: list[str]          # the system as the source tokens of the lyapunov task


@pytest.fixture(scope="session")
def textbook() -> Textbook:
    from seq2math.tasks.base import make_task

    x0, x1 = ring(2).gens()
    infix = "x0' = -x0 + x1; x1' = -x0 - x1^3"
    return Textbook(infix=infix, V_infix="x0^2 + x1^2", system=[-x0 + x1, -x0 - x1**3], V=x0**2 + x1**2,
                    V_prefix="+ ^ x0 INT+ 2 ^ x1 INT+ 2".split(), source=make_task("lyapunov").from_human(infix))


def _certificate_file_proves(path: Path, system: list[Poly], V: Poly, check: str) -> None:
    """A certificate file must be about this very system and V under ``check``, and re-prove every
    condition from scratch (``certificates.recheck``: exact arithmetic, nothing taken from the writer)."""
    from seq2math.sos import certificates
    from seq2math.sos.exact import poly_from_json

    document = certificates.load(path)
    R = ring(len(system))
    assert document["check"] == check and int(document["nvars"]) == len(system)
    assert [R.from_dict(poly_from_json(f)) for f in document["system"]] == system, "another system"
    assert R.from_dict(poly_from_json(document["V"])) == V, "another V"
    ok, why = certificates.recheck(document)
    assert ok, why


@pytest.fixture(scope="session")
def certificate_file_proves():
    return _certificate_file_proves
