"""``seq2math bench train``: training tokens/s of our encoder-decoder next to ``torch.nn.Transformer``.

Both sides train the same size of model on the same batches in the same process: ours is
``Seq2SeqTransformer`` (``seq2math.model.build_model``), the baseline ``TorchSeq2Seq``
(``seq2math.benchmarks.torch_baseline``: ``torch.nn.Transformer`` with our embeddings and tied
output projection, dropout 0, pre- or post-norm as ours). Their parameter counts are printed,
per stack, and must be equal. A training step is forward, cross-entropy (padding ignored),
backward and an Adam step. The sides are timed in turn, A B A B ..., ``--repeats`` times, each
turn ``--steps`` steps after one warm-up step each; medians are reported, so machine noise
hits both sides alike.

What is counted
---------------
- **tokens**: the non-padding source tokens plus the non-padding target-input tokens
  (``<bos> y``) of the batches; tokens/s = tokens / seconds of the turn.
- **FLOPs** of a step: 6 × (encoder parameters × source tokens + decoder parameters × target
  tokens) (forward 2, backward 4 per parameter and token, Kaplan et al. 2020), where
  *encoder parameters* are those of the encoder block stack (attention, feed-forward and layer
  norms, the final norm included) and *decoder parameters* those of the decoder block stack
  plus the output projection (vocabulary × width: with tied embeddings it is the target
  embedding matrix, counted once, as a matmul per target token). Not counted: the embedding
  lookups (no matmul), the attention score and value products (QK^T and AV: 4 × length × width
  per token and layer forward, a few per cent at 60 tokens) and the Adam update.
- **peak**: a ``--matmul``-sized square fp32 matmul (2n^3 FLOPs), timed in every repeat next to
  the two sides with the same threads; the fraction of peak is median FLOP/s of a side / median
  matmul FLOP/s. Under ``--precision bf16`` both sides train in bf16 autocast and the peak is a
  bf16 matmul.

``--precision both`` times each model twice, in fp32 and in bf16 autocast (a fresh copy of each
model from the same seed, its own Adam state), all sides in turn in every repeat, and adds the
ratios bf16/fp32 of each model, measured in the same run; each side's fraction of peak is against
the matmul peak of its own precision.

``--compile`` also times a ``torch.compile`` copy of each model (same seed, its own Adam state),
in turn with the eager ones, and adds the ratio compiled/eager of each model. Each compiled side
first runs one step on every batch it is timed on, so compilation (and the recompilation with
dynamic sizes that the first new shape triggers) is not timed; its wall time is printed.

``--lyapunov``: real batches instead of random tokens. ``--count`` systems are generated with the
Lyapunov task's defaults (backward generation, ``seq2math.data.generation``); each turn is one
pass over all of them, once in fixed batches of ``--batch`` examples (``train.batch_size``) and
once in token-budget batches (``train.batch_tokens``, ``seq2math.data.token_batches``; docs/
performance.md), so every turn trains exactly the same tokens. The default budget is the
smallest one that cuts the systems into no more batches than the fixed batches: the same mean
tokens per batch. Reported: tokens/s of the four (model, batching) pairs, ours/nn.Transformer
for each batching, token budget/fixed batches for each model, and the padding share.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable

from seq2math.config import ConfigError
from seq2math.model import ModelConfig, build_model, count_parameters

HELP = "training tokens/s of our encoder-decoder next to torch.nn.Transformer of the same size (same run)"


def add_arguments(parser) -> None:
    parser.add_argument("--d-model", type=int, default=256, help="model width (default: 256)")
    parser.add_argument("--heads", type=int, default=8, help="attention heads (default: 8)")
    parser.add_argument("--enc-layers", type=int, default=2, help="encoder layers (default: 2)")
    parser.add_argument("--dec-layers", type=int, default=2, help="decoder layers (default: 2)")
    parser.add_argument("--d-ff", type=int, default=1024, help="feed-forward width (default: 1024)")
    parser.add_argument("--norm", choices=["pre", "post"], default="pre", help="layer norm placement")
    parser.add_argument("--batch", type=int, default=64, help="examples per batch (default: 64)")
    parser.add_argument("--src-len", type=int, default=60, help="source tokens per example (default: 60)")
    parser.add_argument("--tgt-len", type=int, default=60, help="target tokens per example (default: 60)")
    parser.add_argument("--vocab", type=int, default=1041,
                        help="vocabulary size (default: 1041, the Lyapunov prefix vocabulary)")
    parser.add_argument("--steps", type=int, default=2, help="training steps per timed turn (default: 2; with --lyapunov a turn is one pass over the systems)")
    parser.add_argument("--repeats", type=int, default=5, help="timed turns of each side (default: 5)")
    parser.add_argument("--matmul", type=int, default=1024, help="size n of the n x n peak matmul (default: 1024)")
    parser.add_argument("--lyapunov", action="store_true",
                        help="real Lyapunov batches: fixed batches against token-budget batches")
    parser.add_argument("--count", type=int, default=256, help="--lyapunov: systems generated (default: 256)")
    parser.add_argument("--batch-tokens", type=int, default=0,
                        help="--lyapunov: token budget (default 0: as many batches as fixed batches)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, mps")
    parser.add_argument("--precision", choices=["fp32", "bf16", "both"], default="fp32",
                        help="fp32, or bf16 autocast for both sides (the peak is then a bf16 matmul), or both: each model "
                             "in fp32 and in bf16, with their ratio (default fp32)")
    parser.add_argument("--compile", action="store_true",
                        help="also time a torch.compile copy of each model; prints compiled/eager (compiling takes minutes)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0)


@dataclass
class Side:
    """One (model, batches, precision) triple that is timed: a training step per batch."""

    model: str  # "ours" or "nn.Transformer"
    group: str  # the batches: "" (random tokens), "fixed batches" or "token budget"
    precision: str  # "fp32" or "bf16"
    step: Callable[[dict], None]
    batches: list[dict]  # every turn runs these, in order
    tokens: int  # non-padding source + target-input tokens of ``batches``
    flops: float  # counted FLOPs of one pass over ``batches``
    positions: int  # source + target-input positions, padding included

    @property
    def key(self) -> tuple[str, str, str]:
        return self.model, self.group, self.precision


def _validate(args) -> None:
    positive = ("d_model", "heads", "enc_layers", "dec_layers", "d_ff", "batch", "src_len", "tgt_len",
                "steps", "repeats", "matmul", "count")
    for name in positive:
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.d_model % args.heads:
        raise ConfigError(f"--d-model {args.d_model} is not divisible by --heads {args.heads}")
    if args.batch_tokens < 0:
        raise ConfigError(f"--batch-tokens must be >= 0, got {args.batch_tokens}")
    if args.vocab < 7:
        raise ConfigError(f"--vocab must exceed the 6 special tokens, got {args.vocab}")


def model_config(args, max_len: int) -> ModelConfig:
    return ModelConfig(arch="seq2seq", d_model=args.d_model, n_heads=args.heads, enc_layers=args.enc_layers,
                       dec_layers=args.dec_layers, d_ff=args.d_ff, dropout=0.0, norm=args.norm,
                       max_len=max_len)


def stack_parameters(model) -> tuple[int, int]:
    """(encoder parameters, decoder parameters) as counted for FLOPs (see the module docstring)."""
    encoder = sum(p.numel() for p in model.encoder.parameters())
    output = model.embed.tokens.weight if model.output is None else model.output.weight
    decoder = sum(p.numel() for p in model.decoder.parameters()) + output.numel()
    return encoder, decoder


def training_step(model, vocab_size: int, pad_id: int, precision: str = "fp32",
                  compile: bool = False) -> Callable[[dict], None]:
    import contextlib

    import torch
    import torch.nn.functional as F

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    device_type = next(model.parameters()).device.type
    forward = torch.compile(model) if compile else model

    def step(batch: dict) -> None:
        with (torch.autocast(device_type, dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()):
            logits = forward(batch["src"], batch["tgt_in"])  # (B, T, V)
            loss = F.cross_entropy(logits.reshape(-1, vocab_size).float(), batch["tgt_out"].reshape(-1),
                                   ignore_index=pad_id)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def count_batches(batches: list[dict], parameters: tuple[int, int], pad_id: int) -> tuple[int, float, int]:
    """(tokens, FLOPs, positions) of one pass over ``batches``."""
    tokens = flops = positions = 0
    for batch in batches:
        source, target = int((batch["src"] != pad_id).sum()), int((batch["tgt_in"] != pad_id).sum())
        tokens += source + target
        flops += 6.0 * (parameters[0] * source + parameters[1] * target)
        positions += batch["src"].numel() + batch["tgt_in"].numel()
    return tokens, flops, positions


def random_batch(args, device) -> dict:
    import torch

    generator = torch.Generator().manual_seed(args.seed)
    src = torch.randint(6, args.vocab, (args.batch, args.src_len), generator=generator)
    target = torch.randint(6, args.vocab, (args.batch, args.tgt_len), generator=generator)
    bos = torch.full((args.batch, 1), 1, dtype=torch.long)  # <bos> id, seq2math.tokens.vocab
    batch = {"src": src, "tgt_in": torch.cat((bos, target[:, :-1]), dim=1), "tgt_out": target}
    return {key: value.to(device) for key, value in batch.items()}


def time_turn(side: Side, synchronize) -> float:
    synchronize()
    start = time.perf_counter()
    for batch in side.batches:
        side.step(batch)
    synchronize()
    return time.perf_counter() - start


def matmul_rate(size: int, device, synchronize, precision: str = "fp32") -> float:
    """FLOP/s of one ``size`` x ``size`` matmul in ``precision`` (repeated up to ~0.3 s)."""
    import torch

    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    a, b = torch.randn(size, size, device=device, dtype=dtype), torch.randn(size, size, device=device, dtype=dtype)
    a @ b  # warm-up
    synchronize()
    start, count = time.perf_counter(), 0
    while count < 2 or time.perf_counter() - start < 0.3:
        a @ b
        count += 1
        synchronize()
    return 2.0 * size ** 3 * count / (time.perf_counter() - start)


def measure(sides: list[Side], args, device, synchronize) -> tuple[dict[tuple[str, str, str], float],
                                                                    dict[str, float]]:
    """Median tokens/s of each side and median matmul FLOP/s of each precision, the sides interleaved per repeat."""
    for side in sides:  # warm-up: allocator, kernels, Adam state; a compiled side compiles every shape now
        compiled, started = side.model.endswith(COMPILED), time.perf_counter()
        for batch in side.batches if compiled else side.batches[:1]:
            side.step(batch)
        if compiled:
            print(f"compiled {side.model} ({side.group or 'random tokens'}, {side.precision}) in "
                  f"{time.perf_counter() - started:.1f} s (not timed)", flush=True)
    rates: dict[tuple[str, str, str], list[float]] = {side.key: [] for side in sides}
    peaks: dict[str, list[float]] = {precision: [] for precision in precisions(args)}
    for _ in range(args.repeats):
        for side in sides:
            rates[side.key].append(side.tokens / time_turn(side, synchronize))
        for precision, values in peaks.items():
            values.append(matmul_rate(args.matmul, device, synchronize, precision))
    return ({name: statistics.median(values) for name, values in rates.items()},
            {precision: statistics.median(values) for precision, values in peaks.items()})


def precisions(args) -> list[str]:
    """The precisions a run trains in: ``--precision``, or fp32 and bf16 for ``both``."""
    return ["fp32", "bf16"] if args.precision == "both" else [args.precision]


MODELS = ("ours", "nn.Transformer")
COMPILED = ", compiled"


def variants(args) -> tuple[str, ...]:
    """The timed models: ours and nn.Transformer, and with ``--compile`` a compiled copy of each."""
    return MODELS + tuple(name + COMPILED for name in MODELS) if args.compile else MODELS


def run(args) -> int:
    import torch

    from seq2math.benchmarks.torch_baseline import TorchSeq2Seq
    from seq2math.tokens.vocab import PAD_ID

    _validate(args)
    device = torch.device(args.device)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    synchronize = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    if args.lyapunov:
        data = lyapunov_batches(args, device)
        vocab_size, max_len = data.vocab_size, data.max_len
    else:
        data, vocab_size, max_len = None, args.vocab, max(args.src_len, args.tgt_len)
    config = model_config(args, max_len)

    def build(name: str):
        torch.manual_seed(args.seed)
        model = build_model(config, vocab_size, PAD_ID) if name.startswith("ours") \
            else TorchSeq2Seq(config, vocab_size, PAD_ID)
        return model.to(device).train()

    models = {(name, precision): build(name) for precision in precisions(args) for name in variants(args)}
    counts = {name: (count_parameters(models[name, precisions(args)[0]]),
                     *stack_parameters(models[name, precisions(args)[0]])) for name in MODELS}
    print(f"model: d_model={config.d_model} heads={config.n_heads} layers={config.enc_layers}+{config.dec_layers} "
          f"d_ff={config.d_ff} norm={config.norm} dropout=0 vocab={vocab_size} device={device} "
          f"threads={torch.get_num_threads()}")
    for name, (total, encoder, decoder) in counts.items():
        print(f"  parameters {name:15s} {total:,} (encoder stack {encoder:,}, decoder stack + output "
              f"projection {decoder:,})")
    if counts["ours"] != counts["nn.Transformer"]:
        raise RuntimeError(f"the two models differ in size: {counts}")
    print(f"  equal parameter counts: {counts['ours'][0]:,}")
    print("FLOPs = 6 x (encoder stack parameters x source tokens + (decoder stack + output projection) "
          "parameters x target tokens); embedding lookups and attention products not counted")
    if data is None:
        batches = [random_batch(args, device)] * args.steps
        groups = {"": batches}
    else:
        groups = {"fixed batches": data.fixed, "token budget": data.budget}
    sides = []
    for group, batches in groups.items():
        tokens, flops, positions = count_batches(batches, counts["ours"][1:], PAD_ID)
        for (name, precision), model in models.items():
            step = training_step(model, vocab_size, PAD_ID, precision, compile=name.endswith(COMPILED))
            sides.append(Side(name, group, precision, step, batches, tokens, flops, positions))
    rates, peaks = measure(sides, args, device, synchronize)
    report(sides, rates, peaks, args, data)
    return 0


def report(sides: list[Side], rates: dict[tuple[str, str, str], float], peaks: dict[str, float], args,
           data: Any) -> None:
    both = len(peaks) > 1
    print(f"peak: {args.matmul}x{args.matmul} " + "; ".join(f"{precision} matmul {peak / 1e9:.1f} GFLOP/s"
                                                           for precision, peak in peaks.items())
          + f" (median of {args.repeats}); training in {' and '.join(peaks)}")
    for group in dict.fromkeys(side.group for side in sides):
        first = next(side for side in sides if side.group == group)
        if data is None:
            print(f"training, batch={args.batch} src={args.src_len} tgt={args.tgt_len}, {args.steps} steps per turn, "
                  f"median of {args.repeats} turns (A B A B ...)")
        else:
            print(f"training on {group}: {len(first.batches)} batches per turn, padding share "
                  f"{1 - first.tokens / first.positions:.2f}, median of {args.repeats} turns")
        for precision, peak in peaks.items():
            if both:
                print(f" in {precision}:")
            for name in variants(args):
                rate = rates[name, group, precision]
                achieved = rate * first.flops / first.tokens
                print(f"  {name:25s} {rate:10.1f} tokens/s  {achieved / 1e9:7.2f} GFLOP/s  "
                      f"{achieved / peak:6.1%} of peak")
            for suffix in ("", COMPILED) if args.compile else ("",):
                ours, theirs = (rates[name + suffix, group, precision] for name in MODELS)
                print(f"  ratio ours/nn.Transformer{suffix.replace(',', '', 1)}: {ours / theirs:.3f}")
            if args.compile:
                for name in MODELS:
                    ratio = rates[name + COMPILED, group, precision] / rates[name, group, precision]
                    print(f"  ratio compiled/eager ({name}): {ratio:.3f}")
        if both:
            for name in MODELS:
                ratio = rates[name, group, "bf16"] / rates[name, group, "fp32"]
                print(f"  ratio bf16/fp32 ({name}): {ratio:.3f}")
    if data is not None:
        for precision in peaks:
            for name in MODELS:
                ratio = rates[name, "token budget", precision] / rates[name, "fixed batches", precision]
                label = f"{name}, {precision}" if both else name
                print(f"ratio token budget/fixed batches ({label}): {ratio:.3f}")


@dataclass
class LyapunovData:
    """Generated Lyapunov systems, batched twice: fixed-size and token-budget batches."""

    vocab_size: int
    max_len: int  # longest source or target-input row
    fixed: list[dict]
    budget: list[dict]
    batch_tokens: int


def lyapunov_batches(args, device) -> LyapunovData:
    """``--count`` backward-generated systems (the task's defaults), in both kinds of batches."""
    import numpy as np

    from seq2math.data.batching import FileSource, collate_seq2seq, encode_example
    from seq2math.data.generation import generate_example
    from seq2math.data.token_batches import TokenBudgetBatches
    from seq2math.tasks.base import make_task
    from seq2math.tokens.vocab import Vocab

    task = make_task("lyapunov")
    vocab = Vocab(task.vocabulary())
    start = time.perf_counter()
    examples = [generate_example(task, args.seed, index) for index in range(args.count)]
    print(f"data: {args.count} Lyapunov systems (backward generation, task defaults, seed {args.seed}) "
          f"in {time.perf_counter() - start:.1f} s")
    order = np.random.default_rng(args.seed).permutation(len(examples)).tolist()
    fixed = [[examples[i] for i in order[first:first + args.batch]] for first in range(0, len(order), args.batch)]

    def budget_batches(batch_tokens: int) -> TokenBudgetBatches:
        return TokenBudgetBatches(FileSource(examples, args.seed), vocab, batch_tokens, args.seed)

    batch_tokens = args.batch_tokens or _matching_budget(budget_batches, examples, len(fixed))
    plan = budget_batches(batch_tokens)
    budget = [plan.step_examples(step) for step in range(plan.batches_per_epoch)]

    def collate(batches: list[list]) -> list[dict]:
        collated = [collate_seq2seq([encode_example(vocab, *example) for example in batch], vocab)
                    for batch in batches]
        return [{key: value.to(device) for key, value in batch.items()} for batch in collated]

    fixed_batches, budget_batches_ = collate(fixed), collate(budget)
    max_len = max(max(b["src"].size(1), b["tgt_in"].size(1)) for b in fixed_batches)
    print(f"  fixed batches: {len(fixed)} of {args.batch} examples; token budget {batch_tokens:,}: "
          f"{len(budget)} batches")
    return LyapunovData(len(vocab), max_len, fixed_batches, budget_batches_, batch_tokens)


def _matching_budget(budget_batches, examples: list, fixed_count: int) -> int:
    """The smallest budget that cuts ``examples`` into at most ``fixed_count`` batches (bisection)."""
    widest = max(len(source) + len(target) + 1 for source, target in examples)
    low, high = widest - 1, widest * len(examples)  # too small for one example; one batch of all
    while high - low > 1:
        middle = (low + high) // 2
        try:
            fits = budget_batches(middle).batches_per_epoch <= fixed_count
        except ValueError:  # an example alone exceeds this budget
            fits = False
        low, high = (low, middle) if fits else (middle, high)
    return high
