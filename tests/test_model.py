"""Model parity and behaviour: attention vs torch.nn.MultiheadAttention, fast = eager path,
cached = uncached decoding, padding invariance, rotary relativity, short training runs."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from seq2math.config import ConfigError, apply_overrides
from seq2math.model import PRESETS, ModelConfig, build_model, count_parameters
from seq2math.model.attention import MultiHeadAttention
from seq2math.model.positions import RotaryEmbedding

VOCAB = 16
POSITIONS = ["sinusoidal", "learned", "rotary"]


def tiny_config(**overrides) -> ModelConfig:
    base = dict(d_model=32, n_heads=4, enc_layers=2, dec_layers=2, d_ff=64, dropout=0.0, max_len=64)
    return ModelConfig(**{**base, **overrides})


def make_model(seed: int = 0, vocab: int = VOCAB, **overrides):
    torch.manual_seed(seed)
    return build_model(tiny_config(**overrides), vocab).eval()


def random_batch(seed: int, batch: int = 3, src_len: int = 7, tgt_len: int = 5):
    """Sources padded at the end with various lengths; targets starting with <bos>."""
    gen = torch.Generator().manual_seed(seed)
    src = torch.randint(6, VOCAB, (batch, src_len), generator=gen)
    for row in range(1, batch):
        src[row, src_len - row:] = 0
    tgt_in = torch.randint(6, VOCAB, (batch, tgt_len), generator=gen)
    tgt_in[:, 0] = 1
    return src, tgt_in


# ---------------------------------------------------------------- attention

def torch_reference(ours: MultiHeadAttention, d_model: int, n_heads: int) -> torch.nn.MultiheadAttention:
    """A torch.nn.MultiheadAttention holding exactly our projection weights."""
    ref = torch.nn.MultiheadAttention(d_model, n_heads, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.q_proj.weight, ours.k_proj.weight, ours.v_proj.weight]))
        ref.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias]))
        ref.out_proj.weight.copy_(ours.out_proj.weight)
        ref.out_proj.bias.copy_(ours.out_proj.bias)
    return ref.eval()


@pytest.mark.parametrize("impl", ["sdpa", "eager"])
def test_self_attention_matches_torch_with_padding_and_causal_masks(impl):
    torch.manual_seed(1)
    d_model, n_heads, batch, length = 24, 3, 2, 6
    ours = MultiHeadAttention(d_model, n_heads, impl=impl).eval()
    ref = torch_reference(ours, d_model, n_heads)
    x = torch.randn(batch, length, d_model)
    padding = torch.zeros(batch, length, dtype=torch.bool)
    padding[1, 4:] = True
    causal_block = torch.triu(torch.ones(length, length, dtype=torch.bool), diagonal=1)  # True = blocked
    for causal, mask in [(False, padding), (True, padding), (True, None), (False, None)]:
        out, weights = ours(x, key_padding_mask=mask, causal=causal, need_weights=True)
        ref_out, ref_weights = ref(x, x, x, key_padding_mask=mask, attn_mask=causal_block if causal else None,
                                   need_weights=True, average_attn_weights=False)
        torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(weights, ref_weights, atol=1e-6, rtol=1e-5)
        fast_out, no_weights = ours(x, key_padding_mask=mask, causal=causal)
        assert no_weights is None
        torch.testing.assert_close(fast_out, ref_out, atol=1e-5, rtol=1e-5)


def test_cross_attention_matches_torch():
    torch.manual_seed(2)
    d_model, n_heads = 16, 2
    ours = MultiHeadAttention(d_model, n_heads).eval()
    ref = torch_reference(ours, d_model, n_heads)
    query, memory = torch.randn(3, 4, d_model), torch.randn(3, 9, d_model)
    padding = torch.zeros(3, 9, dtype=torch.bool)
    padding[0, 5:] = True
    padding[2, 1:] = True
    out, weights = ours(query, memory, key_padding_mask=padding, need_weights=True)
    ref_out, ref_weights = ref(query, memory, memory, key_padding_mask=padding, average_attn_weights=False)
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights, ref_weights, atol=1e-6, rtol=1e-5)
    assert weights[0, :, :, 5:].abs().max() == 0  # padding keys get exactly zero weight


def test_rotary_scores_depend_only_on_relative_position():
    rotary = RotaryEmbedding(head_dim=8, max_len=64)
    torch.manual_seed(3)
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)

    def score(m: int, n: int) -> torch.Tensor:
        rq = rotary(q, torch.tensor([[m]]))
        rk = rotary(k, torch.tensor([[n]]))
        return (rq * rk).sum()

    torch.testing.assert_close(score(3, 1), score(40, 38))
    torch.testing.assert_close(score(0, 0), (q * k).sum())  # position 0 is the identity
    assert not torch.allclose(score(3, 1), score(3, 2))
    norm = rotary(q, torch.tensor([[17]])).norm()  # a rotation keeps the length
    torch.testing.assert_close(norm, q.norm())


# ---------------------------------------------------------------- whole models

@pytest.mark.parametrize("arch", ["seq2seq", "decoder", "encoder"])
@pytest.mark.parametrize("norm", ["pre", "post"])
def test_fast_path_equals_eager_path(arch, norm):
    fast = make_model(arch=arch, norm=norm, positions="rotary" if arch == "decoder" else "sinusoidal")
    eager = build_model(dataclasses.replace(fast.config, attention_impl="eager"), VOCAB).eval()
    eager.load_state_dict(fast.state_dict())
    src, tgt_in = random_batch(4)
    with torch.no_grad():
        if arch == "encoder":
            torch.testing.assert_close(fast(src), eager(src), atol=1e-5, rtol=1e-5)
        else:
            torch.testing.assert_close(fast(src, tgt_in), eager(src, tgt_in), atol=1e-5, rtol=1e-5)


def test_cpu_bf16_autocast_keeps_attention_in_fp32_and_stays_close_to_fp32(monkeypatch):
    """Under CPU bf16 autocast the projections run in bf16 and SDPA in fp32 (its bf16 backward is
    slow on CPU); the logits and gradients stay within bf16 rounding of the fp32 model's."""
    import seq2math.model.attention as attention

    model = make_model()
    src, tgt_in = random_batch(5)
    reference = model(src, tgt_in)
    reference.pow(2).mean().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    seen = []
    original = F.scaled_dot_product_attention

    def spy(q, k, v, **kwargs):
        seen.append((q.dtype, torch.is_autocast_enabled("cpu")))
        return original(q, k, v, **kwargs)

    monkeypatch.setattr(attention.F, "scaled_dot_product_attention", spy)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = model(src, tgt_in)
    assert mixed.dtype == torch.bfloat16
    assert seen and all(dtype == torch.float32 and not autocast for dtype, autocast in seen)
    mixed.float().pow(2).mean().backward()
    torch.testing.assert_close(mixed.float(), reference, atol=0.05, rtol=0.05)
    for name, parameter in model.named_parameters():
        if grads[name].abs().max() > 1e-3:
            cosine = F.cosine_similarity(parameter.grad.flatten(), grads[name].flatten(), dim=0)
            assert cosine > 0.98, name


def step_all(model, src, tgt_in, use_cache: bool) -> torch.Tensor:
    """Logits of feeding tgt_in one token at a time: (B, T, V)."""
    state = model.start(src, use_cache=use_cache)
    logits = []
    for t in range(tgt_in.size(1)):
        step_logits, state = model.step(tgt_in[:, t], state)
        logits.append(step_logits)
    return torch.stack(logits, dim=1)


@pytest.mark.parametrize("arch", ["seq2seq", "decoder"])
@pytest.mark.parametrize("positions", POSITIONS)
def test_cached_decoding_equals_uncached_and_teacher_forcing(arch, positions):
    model = make_model(seed=5, arch=arch, positions=positions, norm="post" if positions == "learned" else "pre")
    src, tgt_in = random_batch(6, tgt_len=6)
    with torch.no_grad():
        cached = step_all(model, src, tgt_in, use_cache=True)
        uncached = step_all(model, src, tgt_in, use_cache=False)
        forced = model(src, tgt_in)
    torch.testing.assert_close(cached, uncached, atol=1e-5, rtol=0)
    torch.testing.assert_close(cached, forced, atol=1e-5, rtol=0)


def test_rnn_step_equals_teacher_forcing():
    model = make_model(seed=6, arch="rnn", rnn_cell="lstm")
    src, tgt_in = random_batch(7)
    with torch.no_grad():
        torch.testing.assert_close(step_all(model, src, tgt_in, use_cache=True), model(src, tgt_in),
                                   atol=1e-5, rtol=0)


@pytest.mark.parametrize("arch,positions", [("seq2seq", "learned"), ("decoder", "sinusoidal"),
                                            ("decoder", "rotary"), ("encoder", "rotary"), ("rnn", "sinusoidal")])
def test_padding_does_not_change_real_token_outputs(arch, positions):
    model = make_model(seed=8, arch=arch, positions=positions)
    src, tgt_in = random_batch(9)
    padded_src = torch.cat([src, torch.zeros(src.size(0), 4, dtype=torch.long)], dim=1)
    with torch.no_grad():
        if arch == "encoder":
            real = src != 0
            torch.testing.assert_close(model(src)[real], model(padded_src)[:, : src.size(1)][real], atol=1e-5, rtol=0)
            torch.testing.assert_close(model.predict_head(src), model.predict_head(padded_src), atol=1e-5, rtol=0)
            return
        reference = model(src, tgt_in)
        torch.testing.assert_close(model(padded_src, tgt_in), reference, atol=1e-5, rtol=0)
        # padding the target at the end does not change earlier positions (causality)
        padded_tgt = torch.cat([tgt_in, torch.zeros(tgt_in.size(0), 3, dtype=torch.long)], dim=1)
        torch.testing.assert_close(model(src, padded_tgt)[:, : tgt_in.size(1)], reference, atol=1e-5, rtol=0)
        # a row decoded alone equals the same row inside a padded batch
        row = 2
        alone = model(src[row:row + 1, : int((src[row] != 0).sum())], tgt_in[row:row + 1])
        torch.testing.assert_close(alone[0], reference[row], atol=1e-5, rtol=0)


def test_attention_maps_are_distributions_respecting_masks():
    model = make_model(seed=10, arch="seq2seq")
    src, tgt_in = random_batch(11)
    maps = model.attention_maps(src, tgt_in)
    assert len(maps.encoder_self) == len(maps.decoder_self) == len(maps.cross) == 2
    assert maps.encoder_self[0].shape == (3, 4, 7, 7) and maps.cross[1].shape == (3, 4, 5, 7)
    for weights in maps.encoder_self + maps.decoder_self + maps.cross:
        torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]))
    future = torch.triu(torch.ones(5, 5, dtype=torch.bool), diagonal=1)
    assert maps.decoder_self[0][..., future].abs().max() == 0
    assert maps.cross[0][2, :, :, 5:].abs().max() == 0  # row 2 has 2 padding tokens
    rnn_maps = make_model(arch="rnn").attention_maps(src, tgt_in)
    assert rnn_maps.cross[0].shape == (3, 1, 5, 7)
    torch.testing.assert_close(rnn_maps.cross[0].sum(-1), torch.ones(3, 1, 5))


# ---------------------------------------------------------------- training reduces the loss

DIGITS = 4  # toy tokens 6..9
UNCONDITIONAL_ENTROPY = 5 / 6 * math.log(DIGITS)  # copy loss of a model ignoring the source


def copy_batch(gen: torch.Generator, batch: int = 32, length: int = 5):
    """Copy task: src = x (5 random digits), target = x <eos>."""
    src = torch.randint(6, 6 + DIGITS, (batch, length), generator=gen)
    target = torch.cat([src, torch.full((batch, 1), 2)], dim=1)
    tgt_in = torch.cat([torch.ones(batch, 1, dtype=torch.long), target[:, :-1]], dim=1)
    return src, tgt_in, target


def train_losses(model, loss_fn, steps: int, lr: float) -> list[float]:
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(0)
    model.train()
    losses = []
    for _ in range(steps):
        loss = loss_fn(model, *copy_batch(gen))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def sequence_loss(model, src, tgt_in, target):
    return F.cross_entropy(model(src, tgt_in).flatten(0, 1), target.flatten())


@pytest.mark.parametrize("arch,overrides,lr", [("seq2seq", {}, 5e-3), ("decoder", {"positions": "rotary"}, 5e-3),
                                               ("rnn", {"rnn_layers": 1}, 1e-2)])
def test_generators_learn_to_copy(arch, overrides, lr):
    model = make_model(seed=12, arch=arch, **overrides)
    losses = train_losses(model, sequence_loss, steps=80, lr=lr)
    # well below what a model ignoring the source can reach: the model reads the source
    assert sum(losses[-5:]) / 5 < 0.5 * UNCONDITIONAL_ENTROPY, (arch, losses[:3], losses[-3:])


def test_encoder_learns_masked_tokens_and_regression():
    model = make_model(seed=13, arch="encoder", positions="rotary", n_outputs=1)
    count_variance = 5 * 0.25 * 0.75  # variance of the number of 6s among 5 uniform digits
    parts = {}

    def mlm_and_regression(model, src, _tgt_in, _target):
        doubled = torch.cat([src, src], dim=1)  # x x: the masked second half is readable from the first
        masked = doubled.clone()
        masked[:, 5:] = 5  # <mask>
        parts["mlm"] = F.cross_entropy(model.mlm_logits(masked)[:, 5:].flatten(0, 1), src.flatten())
        count = (src == 6).float().sum(dim=1, keepdim=True)  # needs the whole sequence
        parts["mse"] = F.mse_loss(model.predict_head(src), count)
        return parts["mlm"] + parts["mse"]

    train_losses(model, mlm_and_regression, steps=80, lr=5e-3)
    assert parts["mlm"].item() < 0.5 * math.log(DIGITS)
    assert parts["mse"].item() < 0.5 * count_variance


# ---------------------------------------------------------------- config, presets, errors

def test_presets_and_overrides():
    assert set(PRESETS) >= {"tiny", "small", "base", "paper", "lyapunov-tiny"}
    paper = ModelConfig.from_preset("paper")
    assert (paper.enc_layers, paper.dec_layers, paper.d_model, paper.n_heads) == (6, 6, 640, 10)
    assert ModelConfig.from_preset("tiny", arch="decoder").arch == "decoder"
    assert apply_overrides(ModelConfig(), ["d_model=64", "n_heads=2"]).d_model == 64
    with pytest.raises(ValueError, match="unknown model preset"):
        ModelConfig.from_preset("huge")
    with pytest.raises(ValueError, match="not divisible"):
        apply_overrides(ModelConfig(), ["n_heads=7"])
    with pytest.raises(ConfigError, match="d_modle"):
        apply_overrides(ModelConfig(), ["d_modle=64"])
    small = build_model(ModelConfig.from_preset("lyapunov-tiny"), 200)
    assert 1_000_000 < count_parameters(small) < 10_000_000


def test_bad_inputs_give_clear_errors():
    model = make_model(arch="seq2seq")
    src, tgt_in = random_batch(14)
    with pytest.raises(ValueError, match=r"src\[0, 0\] = 99 is outside the vocabulary"):
        model(torch.full_like(src, 99), tgt_in)
    with pytest.raises(ValueError, match="shape"):
        model(src[0], tgt_in)
    model(torch.full((1, 70), 7), tgt_in[:1])          # sinusoidal positions: twice max_len in evaluation
    with pytest.raises(ValueError, match="max_len=64 positions, read up to 128 in evaluation"):
        model(torch.full((1, 130), 7), tgt_in[:1])
    with pytest.raises(ValueError, match="max_len=64 positions "):
        model.train()(torch.full((1, 70), 7), tgt_in[:1])
    with pytest.raises(ValueError, match="rows"):
        model(src, tgt_in[:2])


# ---------------------------------------------------------------- the committed checkpoint

def test_the_committed_checkpoint_gives_its_recorded_outputs():
    """Speed work on attention/blocks must not change what the shipped model computes: logits and
    greedy decodings of three generated systems, recorded with the model code of commit 30f7d51."""
    from pathlib import Path

    import seq2math
    from seq2math.data.batching import collate_seq2seq, encode_example
    from seq2math.data.generation import generate_example
    from seq2math.model.decoding import greedy
    from seq2math.training.checkpoint import load_run

    run = load_run(Path(seq2math.__file__).parent / "checkpoints" / "lyapunov-tiny")
    examples = [generate_example(run.task, 7, index) for index in range(3)]
    batch = collate_seq2seq([encode_example(run.vocab, *example) for example in examples], run.vocab)
    with torch.no_grad():
        logits = run.model(batch["src"], batch["tgt_in"])  # (3, 38, V)
    assert logits.shape == (3, 38, 1041)
    assert float(logits.sum()) == pytest.approx(-276868.90625, rel=1e-5)
    assert float(logits.abs().sum()) == pytest.approx(1154912.75, rel=1e-5)
    torch.testing.assert_close(logits[0, 0, :3], torch.tensor([-7.305270, 0.992197, -1.197393]), atol=1e-4, rtol=0)
    assert greedy(run.model, batch["src"], 40) == [
        [12, 14, 7, 46, 16, 29, 7, 43, 12, 14, 8, 43, 14, 29, 30, 12, 14, 7, 43, 14, 29, 31, 12, 14, 7, 44, 16,
         30, 7, 43, 14, 7, 43, 16, 31, 7, 43],
        [12, 14, 7, 43, 16, 29, 7, 45, 12, 14, 7, 43, 16, 30, 7, 45, 14, 7, 43, 16, 31, 7, 43],
        [12, 16, 29, 7, 43, 14, 7, 44, 16, 30, 7, 43]]


def test_shape_stable_linear_pads_rows_only_under_cpu_bf16_training_and_changes_nothing():
    from seq2math.model.linear import ROW_GRID, Linear, shape_stable

    layer = Linear(8, 5)
    x = torch.randn(3, ROW_GRID // 2 + 1, 8, requires_grad=True)  # rows not a multiple of the grid
    assert not shape_stable(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert shape_stable(x)
        with torch.no_grad():
            assert not shape_stable(x)  # decoding keeps its shapes
        padded = layer(x)
        plain = F.linear(x, layer.weight, layer.bias)
    assert padded.shape == plain.shape == (3, ROW_GRID // 2 + 1, 5)
    torch.testing.assert_close(padded, plain)
    grads = torch.autograd.grad(padded.float().square().sum(), (x, layer.weight, layer.bias))
    expected = torch.autograd.grad(plain.float().square().sum(), (x, layer.weight, layer.bias))
    for got, want in zip(grads, expected):
        torch.testing.assert_close(got, want, atol=1e-2, rtol=1e-2)
