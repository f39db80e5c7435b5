"""``seq2math bench model``: decoding and attention speed, each next to its baseline in the same run.

1. Beam search with the KV cache (self-attention keys/values appended per step,
   cross-attention keys/values projected once per input) against the same beam search
   without cache (every step re-runs the decoder over the whole prefix), on one random
   model: generated tokens per second and the ratio. Decoding is forced to ``--max-len``
   tokens (no <eos> stops it) so both runs do exactly the same number of steps.
2. The cross-attention cache shared by the beams of an input (one copy of the encoder's keys per input,
   the beams attend as that input's queries) against the keys copied to every beam
   (``attention.SHARE_CROSS_KEYS``), at ``--beam`` and at the Lyapunov setting: one source of
   ``--long-src`` tokens at beam 50 (a bpoly system of 3–5 variables has 1,000–1,400 source tokens).
3. Teacher-forced forward passes with ``F.scaled_dot_product_attention`` against the eager
   ``softmax(QK^T) V`` path, same weights: sequences per second and the ratio; then one
   causal self-attention layer alone on longer sequences (``--attention-len``), where the
   attention itself, not the projections, dominates.
"""

from __future__ import annotations

import time

from seq2math.config import ConfigError
from seq2math.model import ModelConfig, build_model, count_parameters

HELP = ("beam search with vs without KV cache, cross-attention keys shared by the beams vs copied, and SDPA vs "
        "eager attention (ratios, same run)")


def add_arguments(parser) -> None:
    parser.add_argument("--preset", default="tiny", help="model size preset (default: tiny)")
    parser.add_argument("--arch", default="seq2seq", choices=["seq2seq", "decoder", "rnn"])
    parser.add_argument("--batch", type=int, default=8, help="inputs decoded together")
    parser.add_argument("--beam", type=int, default=4, help="beam size")
    parser.add_argument("--src-len", type=int, default=48, help="source length in tokens")
    parser.add_argument("--max-len", type=int, default=48, help="generated tokens per hypothesis")
    parser.add_argument("--vocab", type=int, default=1100, help="vocabulary size (P1000 is ~1,050)")
    parser.add_argument("--long-src", type=int, default=1024,
                        help="source length of the shared cross-attention test at beam 50 (default 1024)")
    parser.add_argument("--attention-len", type=int, default=256, help="sequence length of the attention-only test")
    parser.add_argument("--repeats", type=int, default=2, help="timed repetitions (best kept)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, mps")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0)


def _best_time(function, repeats: int, synchronize) -> float:
    best = float("inf")
    for _ in range(repeats):
        synchronize()
        start = time.perf_counter()
        function()
        synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def run(args) -> int:
    import dataclasses

    import torch

    from seq2math.model.decoding import beam_search


    if min(args.batch, args.beam, args.src_len, args.max_len, args.repeats, args.attention_len, args.long_src) < 1:
        raise ConfigError("--batch, --beam, --src-len, --max-len, --repeats, --attention-len and --long-src must "
                          "be >= 1")
    device = torch.device(args.device)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    synchronize = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    torch.manual_seed(args.seed)
    config = ModelConfig.from_preset(args.preset, arch=args.arch, dropout=0.0,
                                     max_len=max(1024, args.src_len + args.max_len + 2, args.long_src + 2))
    model = build_model(config, args.vocab).to(device).eval()
    src = torch.randint(6, args.vocab, (args.batch, args.src_len), device=device)
    print(f"model: preset={args.preset} arch={args.arch} parameters={count_parameters(model):,} "
          f"device={device} threads={torch.get_num_threads()}")

    tokens = args.batch * args.beam * args.max_len

    def decode(use_cache: bool):
        # eos_id=-1 never occurs: every hypothesis runs the full max_len steps
        return lambda: beam_search(model, src, args.beam, args.max_len, eos_id=-1, use_cache=use_cache)

    decode(True)()  # warm-up (allocator, kernels)
    cached = _best_time(decode(True), args.repeats, synchronize)
    uncached = _best_time(decode(False), args.repeats, synchronize)
    print(f"beam search  batch={args.batch} beam={args.beam} src={args.src_len} steps={args.max_len}")
    print(f"  with KV cache     {tokens / cached:10.0f} tokens/s  ({cached:.3f} s)")
    print(f"  without cache     {tokens / uncached:10.0f} tokens/s  ({uncached:.3f} s)")
    print(f"  speed-up of the cache: {uncached / cached:.2f}x")

    if args.arch == "rnn":
        return 0
    if args.arch == "seq2seq":
        long_src = torch.randint(6, args.vocab, (1, args.long_src), device=device)
        _shared_keys(model, [(src, args.beam), (long_src, 50)], args, synchronize)
    eager_model = build_model(dataclasses.replace(config, attention_impl="eager"), args.vocab).to(device).eval()
    eager_model.load_state_dict(model.state_dict())
    tgt_in = torch.randint(6, args.vocab, (args.batch * args.beam, args.max_len), device=device)
    source = src.repeat_interleave(args.beam, dim=0)

    def forward(m):
        def go():
            with torch.no_grad():
                m(source, tgt_in)
        return go

    forward(model)()
    forward(eager_model)()
    fast = _best_time(forward(model), args.repeats * 3, synchronize)
    eager = _best_time(forward(eager_model), args.repeats * 3, synchronize)
    rows = source.size(0)
    print(f"teacher-forced forward  batch={rows} src={args.src_len} tgt={args.max_len}")
    print(f"  SDPA attention    {rows / fast:10.1f} sequences/s  ({fast:.4f} s)")
    print(f"  eager attention   {rows / eager:10.1f} sequences/s  ({eager:.4f} s)")
    print(f"  speed-up of SDPA: {eager / fast:.2f}x")
    _attention_only(args, config, device, synchronize)
    return 0


def _shared_keys(model, settings: list, args, synchronize) -> None:
    """Cached beam search with the cross-attention keys shared by an input's beams against copied to each."""
    from seq2math.model import attention
    from seq2math.model.decoding import beam_search

    for source, beam in settings:
        def decode():
            return beam_search(model, source, beam, args.max_len, eos_id=-1)

        times = {}
        for shared in (True, False):
            attention.SHARE_CROSS_KEYS = shared
            try:
                decode()
                times[shared] = _best_time(decode, args.repeats, synchronize)
            finally:
                attention.SHARE_CROSS_KEYS = True
        tokens = source.size(0) * beam * args.max_len
        print(f"cross-attention keys  batch={source.size(0)} beam={beam} src={source.size(1)} steps={args.max_len}")
        print(f"  shared per input  {tokens / times[True]:10.0f} tokens/s  ({times[True]:.3f} s)")
        print(f"  copied per beam   {tokens / times[False]:10.0f} tokens/s  ({times[False]:.3f} s)")
        print(f"  speed-up of sharing: {times[False] / times[True]:.2f}x")


def _attention_only(args, config, device, synchronize) -> None:
    import torch

    from seq2math.model.attention import MultiHeadAttention

    layer = MultiHeadAttention(config.d_model, config.n_heads).to(device).eval()
    x = torch.randn(args.batch, args.attention_len, config.d_model, device=device)

    def attend(impl: str):
        def go():
            layer.impl = impl
            with torch.no_grad():
                layer(x, causal=True)
        return go

    attend("sdpa")()
    attend("eager")()
    fast = _best_time(attend("sdpa"), args.repeats * 3, synchronize)
    eager = _best_time(attend("eager"), args.repeats * 3, synchronize)
    print(f"one causal self-attention layer  batch={args.batch} length={args.attention_len}")
    print(f"  SDPA attention    {fast * 1e3:10.2f} ms")
    print(f"  eager attention   {eager * 1e3:10.2f} ms")
    print(f"  speed-up of SDPA: {eager / fast:.2f}x")
