"""Token-budget batches (``train.batch_tokens``): the budget holds, an epoch of a file is read once,
bucketing changes padding but not the loss, and resumed runs stay bitwise exact."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import TINY_LYAPUNOV, TINY_LYAPUNOV_MODEL, make_tiny_run_config
from safetensors.torch import load_file

from seq2math.data.batching import (
    FileSource,
    GeneratedSource,
    StepBatches,
    collate_seq2seq,
    encode_example,
    padding_counts,
    step_loader,
)
from seq2math.data.buckets import PoolFiller, batch_cost, block_widths, cut_sorted
from seq2math.data.files import format_line
from seq2math.data.token_batches import TokenBudgetBatches
from seq2math.model import ModelConfig
from seq2math.tasks.base import make_task
from seq2math.tokens.vocab import Vocab
from seq2math.training import checkpoint as ckpt
from seq2math.training.loop import train

SYMBOLS = ["a", "b", "c"]


class RaggedTask:
    """Examples of random lengths (source 1..60, target 1..25 tokens): a stand-in task for batching."""

    name = "ragged"

    def vocabulary(self) -> list[str]:
        return list(SYMBOLS)

    def generate(self, rng: np.random.Generator):
        source = rng.choice(SYMBOLS, size=int(rng.integers(1, 61))).tolist()
        return source, rng.choice(SYMBOLS, size=int(rng.integers(1, 26))).tolist()


def ragged_file(count: int, seed: int = 0) -> list[tuple[list[str], list[str]]]:
    rng = np.random.default_rng(seed)
    return [RaggedTask().generate(rng) for _ in range(count)]


def tensor_cost(batch: dict[str, torch.Tensor], layout: str) -> int:
    """Padded tokens of a collated batch, read from its tensors (the <sep> of ``packed`` included)."""
    rows, source = batch["src"].shape
    target = batch["tgt_in"].shape[1] if "tgt_in" in batch else 0
    return rows * (source + target + (1 if layout == "packed" else 0))


# ---- the budget ----------------------------------------------------------------------------------
@pytest.mark.parametrize("layout,objective", [("seq2seq", "seq2seq"), ("packed", "seq2seq"), ("masked", "masked")])
def test_token_budget_batches_never_exceed_the_budget_and_the_cost_is_what_the_tensors_hold(layout, objective):
    vocab, budget = Vocab(SYMBOLS), 400
    for source in (FileSource(ragged_file(300), seed=1), GeneratedSource(RaggedTask(), seed=1)):
        batches = TokenBudgetBatches(source, vocab, budget, seed=1, objective=objective, layout=layout,
                                     pool_steps=8)
        rows = []
        for group in range(3):
            for examples, batch in zip(batches.group_examples(group), batches[group]):
                widths = np.array([block_widths(len(s), len(t), layout) for s, t in examples])
                cost = batch_cost(widths[:, 0], widths[:, 1])
                assert cost == tensor_cost(batch, layout) <= budget
                rows.append(len(examples))
        assert len(rows) == 24 and max(rows) > min(rows)  # row counts follow the lengths
        assert sum(rows) / len(rows) > 5  # ~ 400 / (~45 tokens a row): not one example a batch


def test_greedy_cut_fills_each_batch_until_the_next_example_would_overflow():
    source, target = np.array([2, 2, 3, 5, 5, 9]), np.array([1, 4, 1, 1, 2, 1])
    # budget 21: [2,2,3] costs 3 × (3 + 4) = 21, with the first 5 it would be 4 × 9; [5,5] costs 2 × 7,
    # with the 9 it would be 3 × 11
    assert cut_sorted(source, target, budget=21) == [0, 3, 5]
    # budget 12: [2,2] is 2 × 6 (3 × 7 with the 3); [3,5] 2 × 6 (3 × 7 with the next 5); [5] 1 × 7 (2 × 11)
    assert cut_sorted(source, target, budget=12) == [0, 2, 4, 5]


def test_an_example_longer_than_the_budget_alone_is_an_error():
    vocab = Vocab(SYMBOLS)
    with pytest.raises(ValueError, match=r"train.data: an example of 60 source and 25 target.*batch_tokens=50"):
        TokenBudgetBatches(FileSource([(["a"] * 60, ["b"] * 25), (["a"], ["b"])], 0), vocab, 50, seed=0)
    generated = TokenBudgetBatches(GeneratedSource(RaggedTask(), 0), vocab, 50, seed=0)
    with pytest.raises(ValueError, match=r"training stream position \d+ .*batch_tokens=50"):
        generated[0]
    with pytest.raises(ValueError, match="must be positive"):
        TokenBudgetBatches(FileSource(ragged_file(5), 0), vocab, 0, seed=0)


# ---- every example once per epoch; a pure function of (seed, step, rank) ---------------------------
@pytest.mark.parametrize("world_size", [1, 2])
def test_an_epoch_of_a_file_reads_every_example_exactly_once(world_size):
    examples = ragged_file(257, seed=3)
    ranks = [TokenBudgetBatches(FileSource(examples, 5), Vocab(SYMBOLS), 500, seed=5, rank=r,
                                world_size=world_size) for r in range(world_size)]
    per_epoch = ranks[0].batches_per_epoch
    assert 8 < per_epoch < 257

    def epoch(number: int) -> list[list[int]]:
        seen = []  # global batch q = step * world_size + rank
        for q in range(number * per_epoch, (number + 1) * per_epoch):
            step, rank = divmod(q, world_size)
            seen.append([id(e) for e in ranks[rank].step_examples(step)])
        return seen

    first, second = epoch(0), epoch(1)
    for batches in (first, second):
        flat = [i for batch in batches for i in batch]
        assert len(flat) == len(set(flat)) == len(examples)  # none lost, none duplicated
    assert first != second  # a new order of batches (and of equal-width examples) every epoch


def test_batches_are_a_function_of_seed_step_and_rank_whatever_was_asked_before():
    vocab = Vocab(SYMBOLS)
    for make_source in (lambda: FileSource(ragged_file(200), 2), lambda: GeneratedSource(RaggedTask(), 2)):
        fresh = TokenBudgetBatches(make_source(), vocab, 300, seed=2, pool_steps=4)
        used = TokenBudgetBatches(make_source(), vocab, 300, seed=2, pool_steps=4)
        for step in (9, 3, 40, 0):
            used.step_examples(step)
        assert used.step_examples(13) == fresh.step_examples(13)
        other_rank = TokenBudgetBatches(make_source(), vocab, 300, seed=2, rank=1, world_size=2, pool_steps=4)
        assert other_rank.step_examples(13) != fresh.step_examples(13)
        assert TokenBudgetBatches(make_source(), vocab, 300, seed=3, pool_steps=4).step_examples(13) != \
            fresh.step_examples(13)


def test_generated_pools_use_disjoint_stream_positions_per_rank_and_fill_exactly_their_steps():
    vocab, task = Vocab(SYMBOLS), RaggedTask()
    ranks = [TokenBudgetBatches(GeneratedSource(task, 4), vocab, 300, seed=4, rank=r, world_size=2, pool_steps=6)
             for r in range(2)]
    seen = []
    for group in range(3):
        for batches in ranks:
            pool = batches.group_examples(group)
            assert len(pool) == 6 and all(pool)
            seen += [" ".join(s + ["|"] + t) for batch in pool for s, t in batch]
    assert len(seen) == len(set(seen))  # random 1..60-token sources: equal only if drawn twice


def test_a_pool_is_the_longest_prefix_of_draws_that_fits_its_steps():
    rng = np.random.default_rng(0)
    widths = [(int(rng.integers(1, 40)), int(rng.integers(1, 20))) for _ in range(400)]
    filler, drawn = PoolFiller(pool_steps=5, budget=200), 0
    while not filler.full():
        filler.add(*widths[drawn])
        drawn += 1
    batches = filler.batches()
    used = sorted(int(i) for batch in batches for i in batch)
    assert len(batches) == 5 and used == list(range(len(used))) and len(used) < drawn
    for batch in batches:
        assert batch_cost(*np.array([widths[i] for i in batch]).T) <= 200
    bigger = PoolFiller(pool_steps=5, budget=200)
    for w in widths[: len(used) + 1]:
        bigger.add(*w)
    assert bigger.full()  # one more draw would need a sixth batch


def test_the_loader_with_workers_and_from_a_later_step_gives_the_same_batches():
    batches = TokenBudgetBatches(GeneratedSource(RaggedTask(), 6), Vocab(SYMBOLS), 300, seed=6, pool_steps=4)
    straight = step_loader(batches, 0)
    expected = [next(straight) for _ in range(11)]
    for first, workers in ((0, 2), (6, 0), (5, 2)):
        loader = step_loader(batches, first, workers)
        for step in range(first, 11):
            got = next(loader)
            assert all(torch.equal(got[k], expected[step][k]) for k in expected[step])


# ---- padding, and the loss it must not change ---------------------------------------------------------
def lyapunov_examples(count: int) -> list[tuple[list[str], list[str]]]:
    task = make_task("lyapunov", TINY_LYAPUNOV)
    source = GeneratedSource(task, seed=0)
    return [source.example(i) for i in range(count)]


def test_buckets_pad_far_less_than_fixed_batches_of_as_many_tokens():
    examples = lyapunov_examples(256)
    vocab = Vocab(make_task("lyapunov", TINY_LYAPUNOV).vocabulary())
    fixed = StepBatches(FileSource(examples, 0), vocab, batch_size=16, seed=0)
    real, padded = np.sum([padding_counts(fixed[step], vocab.pad_id) for step in range(16)], axis=0)
    fixed_share = 1 - real / padded
    budget = int(padded / 16)  # as many padded tokens a batch as the fixed batches hold on average
    bucketed = TokenBudgetBatches(FileSource(examples, 0), vocab, budget, seed=0)
    steps = bucketed.batches_per_epoch
    real, padded = np.sum([padding_counts(collate_seq2seq([encode_example(vocab, *e) for e in
                                                           bucketed.step_examples(step)], vocab), vocab.pad_id)
                           for step in range(steps)], axis=0)
    assert real == sum(len(s) + len(t) + 1 for s, t in examples)  # the same tokens, all of them
    assert 1 - real / padded < fixed_share / 3 and steps <= 17


@pytest.mark.parametrize("arch", ["seq2seq", "decoder"])
def test_bucketing_leaves_the_summed_token_loss_of_a_set_of_examples_unchanged(arch, one_torch_thread):
    examples = lyapunov_examples(40)
    vocab = Vocab(make_task("lyapunov", TINY_LYAPUNOV).vocabulary())
    torch.manual_seed(0)
    model = ckpt.build_model_for(ModelConfig(**{**TINY_LYAPUNOV_MODEL, "arch": arch, "dropout": 0.0}), len(vocab))
    model.eval()

    def summed_loss(groups: list[list[tuple[list[str], list[str]]]]) -> float:
        total = 0.0
        with torch.no_grad():
            for group in groups:
                batch = collate_seq2seq([encode_example(vocab, *e) for e in group], vocab)
                logits = model(batch["src"], batch["tgt_in"]).double()
                total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch["tgt_out"].reshape(-1),
                                               ignore_index=vocab.pad_id, reduction="sum"))
        return total

    alone = summed_loss([[e] for e in examples])  # no padding at all
    bucketed = TokenBudgetBatches(FileSource(examples, 1), vocab, 700, seed=1,
                                  layout="packed" if arch == "decoder" else "seq2seq")
    buckets = [bucketed.step_examples(step) for step in range(bucketed.batches_per_epoch)]
    assert len(buckets) > 3 and len({len(b) for b in buckets}) > 1
    fixed = [examples[i: i + 16] for i in range(0, 40, 16)]  # heavily padded
    assert summed_loss(buckets) == pytest.approx(alone, rel=1e-5)
    assert summed_loss(fixed) == pytest.approx(alone, rel=1e-5)


# ---- training ----------------------------------------------------------------------------------------
def lyapunov_run(**train_options):
    return make_tiny_run_config(task={"name": "lyapunov", **TINY_LYAPUNOV}, model=TINY_LYAPUNOV_MODEL,
                                verify_count=0, valid_count=8, eval_every=1000, log_every=2, **train_options)


@pytest.mark.parametrize("data", ["generated", "file"])
def test_resumed_token_budget_run_equals_uninterrupted_run_exactly(tmp_path, data, one_torch_thread):
    options = {"batch_tokens": 900}
    if data == "file":
        path = tmp_path / "train.txt"
        task = make_task("lyapunov", TINY_LYAPUNOV)
        path.write_text("".join(format_line(s, t, task.default_format) + "\n" for s, t in lyapunov_examples(60)))
        options["data"] = str(path)  # 60 examples: the 20 steps run over several epochs
    straight, parted = tmp_path / "straight", tmp_path / "parted"
    train(lyapunov_run(max_steps=20, **options), straight, quiet=True)
    train(lyapunov_run(max_steps=7, **options), parted, quiet=True)  # stops inside the first pool
    assert train(lyapunov_run(max_steps=20, **options), parted, resume=True, quiet=True)["step"] == 20
    a, b = load_file(str(straight / ckpt.MODEL_FILE)), load_file(str(parted / ckpt.MODEL_FILE))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    shares = [r["pad_fraction"] for r in ckpt.read_metrics(straight) if r["kind"] == "train"]
    assert len(shares) == 10 and all(0.0 <= s < 0.5 for s in shares)
