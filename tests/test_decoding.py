"""Decoding: beam size 1 = greedy, beam search exact when the beam holds every prefix,
scores = log-probability / len ** length_penalty, batching and caching change nothing,
sampling follows the model's distribution."""

from __future__ import annotations

import functools
import itertools

import pytest
import torch

from seq2math.model import ModelConfig, build_model
from seq2math.model.decoding import Hypothesis, beam_search, greedy, sample

VOCAB = 12
BOS, EOS = 1, 2
ARCHS = [("seq2seq", "sinusoidal"), ("decoder", "rotary"), ("decoder", "learned"), ("rnn", "sinusoidal")]


def random_model(arch: str, positions: str = "sinusoidal", seed: int = 0, vocab: int = VOCAB):
    """An untrained model with peaked, input-dependent next-token distributions and <eos> reachable."""
    torch.manual_seed(seed)
    config = ModelConfig(arch=arch, positions=positions, d_model=32, n_heads=4, enc_layers=1, dec_layers=2,
                         d_ff=64, dropout=0.0, max_len=64, tie_embeddings=False, rnn_layers=1)
    model = build_model(config, vocab).eval()
    if getattr(model, "output", None) is not None:
        torch.nn.init.normal_(model.output.weight, std=0.5)  # sharper than the default init
        model.output.weight.data[EOS] *= 3  # sequences end at various lengths
    return model


def copy_batch(gen: torch.Generator, batch: int = 32, longest: int = 6) -> tuple[torch.Tensor, ...]:
    """Copy task with lengths 1..longest: src = x <pad>..., target = x <eos> <pad>..."""
    lengths = torch.randint(1, longest + 1, (batch,), generator=gen)
    digits = torch.randint(6, VOCAB, (batch, longest), generator=gen)
    columns = torch.arange(longest + 1)
    src = digits.masked_fill(columns[:longest] >= lengths[:, None], 0)
    target = torch.cat([src, torch.zeros(batch, 1, dtype=torch.long)], dim=1)
    target[torch.arange(batch), lengths] = EOS
    tgt_in = torch.cat([torch.full((batch, 1), BOS), target[:, :-1]], dim=1).masked_fill(
        columns > lengths[:, None], 0)
    return src, tgt_in, target


@functools.lru_cache(maxsize=None)
def trained_model(arch: str, positions: str):
    """A model trained briefly to copy: its outputs depend on the input and end at various lengths."""
    model = random_model(arch, positions, seed=11).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    for _ in range(40):
        src, tgt_in, target = copy_batch(gen)
        logits = model(src, tgt_in)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), target.flatten(), ignore_index=0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def sources(seed: int = 1, batch: int = 5, length: int = 6) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    src = torch.randint(6, VOCAB, (batch, length), generator=gen)
    for row in range(1, batch):
        src[row, length - row % 4:] = 0  # various amounts of padding at the end
    return src


def sequence_log_prob(model, src_row: torch.Tensor, tokens: list[int], finished: bool) -> float:
    """log p(tokens [+ <eos>] | src) by teacher forcing (<pad> excluded), the reference for beam scores."""
    target = torch.tensor(tokens + ([EOS] if finished else []))
    tgt_in = torch.tensor([BOS] + tokens + ([EOS] if finished else []))[: len(target)]
    with torch.no_grad():
        logits = model(src_row.unsqueeze(0), tgt_in.unsqueeze(0))[0]  # (T, V)
        log_probs = logits.index_fill(1, torch.tensor([0]), float("-inf")).log_softmax(-1)
    return float(log_probs.gather(1, target.unsqueeze(1)).sum())


@pytest.mark.parametrize("arch,positions", ARCHS)
def test_beam_size_one_equals_greedy(arch, positions):
    model, src = trained_model(arch, positions), sources(batch=8)
    for max_len in (4, 10):  # some outputs are cut at 4 tokens
        greedy_out = greedy(model, src, max_len=max_len)
        beams = beam_search(model, src, beam_size=1, max_len=max_len)
        assert [hyps[0].tokens for hyps in beams] == greedy_out
        assert greedy(model, src, max_len=max_len, use_cache=False) == greedy_out
    assert any(hyps[0].finished for hyps in beams) and len({len(g) for g in greedy_out}) > 1  # non-trivial


@pytest.mark.parametrize("arch,positions", ARCHS)
@pytest.mark.parametrize("length_penalty", [0.0, 1.0, 2.0])
def test_beam_scores_are_penalised_log_probs_ranked_best_first(arch, positions, length_penalty):
    model, src = trained_model(arch, positions), sources(3, batch=3)
    results = beam_search(model, src, beam_size=4, max_len=8, length_penalty=length_penalty, n_best=3)
    for row, hyps in enumerate(results):
        assert len(hyps) == 3
        assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
        for hyp in hyps:
            length = len(hyp.tokens) + int(hyp.finished)
            assert EOS not in hyp.tokens and (hyp.finished or length == 8)
            reference = sequence_log_prob(model, src[row][src[row] != 0], hyp.tokens, hyp.finished)
            assert hyp.log_prob == pytest.approx(reference, abs=1e-4)
            assert hyp.score == pytest.approx(reference / length ** length_penalty, abs=1e-4)


def all_log_probs(model, src_row: torch.Tensor, prefixes: torch.Tensor, finished: bool) -> torch.Tensor:
    """Batched ``sequence_log_prob`` of every row of ``prefixes`` (N, L) -> (N,)."""
    count, length = prefixes.shape
    bos = torch.full((count, 1), BOS)
    target = torch.cat([prefixes, torch.full((count, 1), EOS)], dim=1) if finished else prefixes
    tgt_in = torch.cat([bos, prefixes], dim=1)[:, : target.size(1)]
    with torch.no_grad():
        logits = model(src_row.expand(count, -1), tgt_in)  # (N, T, V)
        log_probs = logits.index_fill(2, torch.tensor([0]), float("-inf")).log_softmax(-1)
    return log_probs.gather(2, target.unsqueeze(2)).squeeze(2).sum(dim=1)  # (N,)


@pytest.mark.parametrize("arch,positions", [("seq2seq", "learned"), ("decoder", "rotary"), ("rnn", "sinusoidal")])
@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
def test_wide_beam_finds_the_exact_best_sequences(arch, positions, length_penalty):
    """With K >= (V-2)^(max_len-1) beams nothing is pruned: compare with brute-force enumeration."""
    vocab, max_len = 7, 3
    model = random_model(arch, positions, seed=4, vocab=vocab)
    src = torch.tensor([[6, 6, 0], [6, 0, 0]])
    results = beam_search(model, src, beam_size=vocab ** 2, max_len=max_len, length_penalty=length_penalty,
                          early_stopping=False)
    non_eos = [t for t in range(1, vocab) if t != EOS]  # <pad>=0 is never generated
    for row, hyps in enumerate(results):
        real_src = src[row][src[row] != 0].unsqueeze(0)
        candidates = []
        for length in range(max_len + 1):
            finished = length < max_len  # a prefix of max_len tokens is an unfinished hypothesis
            total = length + int(finished)
            if total == 0:
                continue
            prefixes = torch.tensor(list(itertools.product(non_eos, repeat=length)), dtype=torch.long)
            prefixes = prefixes.view(len(non_eos) ** length, length)  # (N, L)
            scores = all_log_probs(model, real_src, prefixes, finished) / total ** length_penalty
            candidates += [(float(score), prefix.tolist()) for score, prefix in zip(scores, prefixes)]
        candidates.sort(key=lambda c: c[0], reverse=True)
        for hyp, (score, tokens) in zip(hyps[:5], candidates[:5]):
            assert hyp.tokens == tokens
            assert hyp.score == pytest.approx(score, abs=1e-4)


@pytest.mark.parametrize("arch,positions", ARCHS)
def test_batched_cached_beams_equal_single_uncached_beams(arch, positions):
    model, src = trained_model(arch, positions), sources(6)
    batched = beam_search(model, src, beam_size=3, max_len=9)
    for row in range(src.size(0)):
        single = beam_search(model, src[row:row + 1][:, src[row] != 0], beam_size=3, max_len=9, use_cache=False)[0]
        assert [h.tokens for h in single] == [h.tokens for h in batched[row]]
        assert [h.score for h in single] == pytest.approx([h.score for h in batched[row]], abs=1e-5)


def test_a_cross_attention_cache_keeps_one_entry_per_input_through_beam_steps():
    """The encoder's keys are stored once per input, not once per beam: a reorder into equal blocks of rows
    keeps one entry per block, anything else falls back to one entry per row; either way a step attends
    exactly as with the keys copied to every row."""
    from seq2math.model.attention import KVCache, MultiHeadAttention

    torch.manual_seed(0)
    keys, values = torch.randn(3, 2, 5, 4), torch.randn(3, 2, 5, 4)     # 3 inputs, 2 heads, 5 source tokens
    cache = KVCache(keys=keys, values=values, static=True)
    cache.reorder(torch.arange(3).repeat_interleave(4))                   # the beam starts: 4 rows per input
    assert cache.rows == 4 and cache.keys is keys
    cache.reorder(torch.tensor([1, 0, 3, 3, 8, 9, 8, 8]))                # input 1 finished
    assert cache.rows == 4 and torch.equal(cache.keys, keys[[0, 2]]) and torch.equal(cache.values, values[[0, 2]])
    cache.reorder(torch.tensor([0, 5, 6]))                               # blocks of 1 and 2 rows
    assert cache.rows == 1 and torch.equal(cache.keys, keys[[0, 2, 2]])

    attention = MultiHeadAttention(8, 2).eval()
    query, padding = torch.randn(6, 1, 8), torch.zeros(6, 5, dtype=torch.bool)
    padding[3:, 3:] = True                                               # the second input is shorter
    shared = KVCache(keys=keys[:2], values=values[:2], static=True, rows=3)
    copied = KVCache(keys=keys[:2].repeat_interleave(3, 0), values=values[:2].repeat_interleave(3, 0), static=True)
    with torch.no_grad():
        fast, _ = attention(query, key_padding_mask=padding, cache=shared)
        reference, _ = attention(query, key_padding_mask=padding, cache=copied)
        weighed, weights = attention(query, key_padding_mask=padding, cache=shared, need_weights=True)
    assert torch.allclose(fast, reference, atol=1e-6) and torch.allclose(weighed, reference, atol=1e-6)
    assert weights.shape == (6, 2, 1, 5) and float(weights[3:, :, :, 3:].abs().max()) == 0


def test_late_stopping_never_returns_a_worse_best_hypothesis():
    model, src = random_model("seq2seq", seed=6), sources(7, batch=6)
    early = beam_search(model, src, beam_size=3, max_len=12, length_penalty=1.5, early_stopping=True)
    late = beam_search(model, src, beam_size=3, max_len=12, length_penalty=1.5, early_stopping=False)
    for early_hyps, late_hyps in zip(early, late):
        assert late_hyps[0].score >= early_hyps[0].score - 1e-6


def test_the_default_stopping_rule_keeps_better_long_hypotheses_that_early_stopping_loses():
    """Stopping as soon as K hypotheses are finished loses longer ones with better normalised scores;
    the default rule ("next") never returns a worse best hypothesis and here finds better ones."""
    better = 0
    for seed in range(6, 10):
        model, src = random_model("seq2seq", seed=seed), sources(seed + 1, batch=6)
        early = beam_search(model, src, beam_size=3, max_len=12, early_stopping=True)
        default = beam_search(model, src, beam_size=3, max_len=12)
        exact = beam_search(model, src, beam_size=3, max_len=12, early_stopping=False)
        for early_hyps, hyps, exact_hyps in zip(early, default, exact):
            assert hyps[0].score >= early_hyps[0].score - 1e-6
            assert exact_hyps[0].score >= hyps[0].score - 1e-6
            better += hyps[0].score > early_hyps[0].score + 1e-6
    assert better >= 3
    with pytest.raises(ValueError, match="early_stopping"):
        beam_search(model, src, beam_size=3, max_len=12, early_stopping="heuristic")


def test_a_deadline_stops_decoding_with_what_is_finished():
    import time

    model, src = random_model("seq2seq", seed=6), sources(7, batch=4)
    past = time.perf_counter() - 1.0
    assert beam_search(model, src, beam_size=3, max_len=12, deadline=past) == [[], [], [], []]
    assert greedy(model, src, max_len=12, deadline=past) == [[], [], [], []]
    later = time.perf_counter() + 600.0                      # a deadline far away changes nothing
    assert [[h.tokens for h in hyps] for hyps in beam_search(model, src, beam_size=3, max_len=12, deadline=later)] \
        == [[h.tokens for h in hyps] for hyps in beam_search(model, src, beam_size=3, max_len=12)]


def test_sampling_follows_the_model_distribution():
    model = random_model("seq2seq", seed=7)
    src = sources(8, batch=1).repeat(4000, 1)
    with torch.no_grad():
        probs = model(src[:1], torch.tensor([[BOS]]))[0, 0, 1:].softmax(-1)  # (V - 1,): no <pad>
        probs = torch.cat([torch.zeros(1), probs])
    draws = sample(model, src, max_len=1, generator=torch.Generator().manual_seed(0))
    first = torch.tensor([d[0] if d else EOS for d in draws])
    frequencies = torch.bincount(first, minlength=VOCAB).float() / len(draws)
    assert (frequencies - probs).abs().max() < 0.03  # ~4 standard errors at n = 4000
    top2 = sample(model, src[:500], max_len=1, top_k=2, generator=torch.Generator().manual_seed(1))
    allowed = set(probs.topk(2).indices.tolist())
    assert {d[0] if d else EOS for d in top2} <= allowed


def test_sampling_limits_are_greedy_and_seeds_reproduce():
    model, src = random_model("decoder", "rotary", seed=8), sources(9)
    reference = greedy(model, src, max_len=8)
    assert sample(model, src, max_len=8, top_k=1) == reference
    assert sample(model, src, max_len=8, temperature=1e-4) == reference
    first = sample(model, src, max_len=8, temperature=1.5, generator=torch.Generator().manual_seed(3))
    again = sample(model, src, max_len=8, temperature=1.5, generator=torch.Generator().manual_seed(3))
    assert first == again


def test_decoding_rejects_what_it_cannot_do():
    src = sources()
    with pytest.raises(TypeError, match="encoder-only"):
        greedy(random_model("encoder"), src, max_len=4)
    model = random_model("seq2seq")
    with pytest.raises(ValueError, match="n_best"):
        beam_search(model, src, beam_size=2, max_len=4, n_best=3)
    with pytest.raises(ValueError, match="temperature"):
        sample(model, src, max_len=4, temperature=0)
    with pytest.raises(ValueError, match="shape"):
        greedy(model, src[0], max_len=4)
    assert isinstance(beam_search(model, src, beam_size=2, max_len=4)[0][0], Hypothesis)


def test_model_benchmark_command_runs(capsys):
    """The numbers are measurements: positive, rate x time = the work done, speed-up = time ratio."""
    import re

    from seq2math.cli import main

    argv = ["bench", "model", "--batch", "2", "--beam", "2", "--src-len", "5", "--max-len", "4", "--vocab", "20",
            "--repeats", "1", "--attention-len", "8"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    number = r"([0-9.]+)"
    printed = dict(rel=0.15, abs=0.01)     # the printed values are rounded (speed-ups to 0.01)

    def bounds(text: str) -> tuple[float, float]:
        """The interval a printed number was rounded from (times of a few ms have one significant digit)."""
        half = 0.5 * 10.0 ** -len(text.partition(".")[2])
        return float(text) - half, float(text) + half

    rates = {name: (bounds(rate), bounds(seconds)) for name, rate, seconds in re.findall(
        r"^\s+(with KV cache|without cache|SDPA attention|eager attention)\s+" + number + r" \w+/s\s+\(" + number
        + r" s\)", out, re.M)}
    assert set(rates) == {"with KV cache", "without cache", "SDPA attention", "eager attention"}, out
    assert all(rate[1] > 0 and seconds[1] > 0 for rate, seconds in rates.values())
    for name, work in [("with KV cache", 16), ("without cache", 16),      # batch 2 x beam 2 x 4 steps = 16 tokens
                       ("SDPA attention", 4), ("eager attention", 4)]:    # one forward over a batch of 4 sequences
        (rate_low, rate_high), (low, high) = rates[name]
        assert rate_low * low * 0.99 <= work <= rate_high * high * 1.01, (name, out)
    speedups = [float(x) for x in re.findall(r"speed-up of (?:the cache|SDPA): " + number + "x", out)]
    assert len(speedups) == 3 and all(x > 0 for x in speedups)
    for speedup, (slow, fast) in zip(speedups, [("without cache", "with KV cache"),
                                                 ("eager attention", "SDPA attention")]):
        (slow_low, slow_high), (fast_low, fast_high) = rates[slow][1], rates[fast][1]
        assert slow_low / fast_high - 0.01 <= speedup <= slow_high / max(fast_low, 1e-9) + 0.01, out
    layer = [float(x) for x in re.findall(r"attention\s+" + number + " ms", out)]
    assert len(layer) == 2 and all(ms > 0 for ms in layer)
    assert speedups[2] == pytest.approx(layer[1] / layer[0], **printed)
    assert main(["bench", "model", "--beam", "0"]) == 2
