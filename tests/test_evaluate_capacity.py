"""A source longer than the model's positions is an invalid output for that example, not a crash."""

import pytest
import torch

from seq2math.evaluation.decode import Hypothesis, decode_sources, source_capacity
from seq2math.model import ModelConfig, build_model
from seq2math.tokens.vocab import Vocab


def test_too_long_source_gets_an_empty_hypothesis():
    torch.manual_seed(0)
    vocab = Vocab(["a", "b"])
    config = ModelConfig.from_preset("tiny", arch="seq2seq", max_len=12)
    model = build_model(config, len(vocab), vocab.pad_id).eval()
    assert source_capacity(model.config) == 12          # the tiny preset's learned positions: no more
    sources = [["a", "b"] * 3, ["a"] * 30, ["b"] * 5]
    out = decode_sources(model, vocab, sources, beam=2, max_len=4, device="cpu")
    assert len(out) == 3
    assert [h.tokens for h in out[1]] == [[]]          # cannot be read: one empty (invalid) hypothesis
    assert len(out[0]) == 2 and len(out[2]) == 2       # the others are decoded as usual
    alone = decode_sources(model, vocab, [sources[0], sources[2]], beam=2, max_len=4, device="cpu")
    assert [h.tokens for h in out[0]] == [h.tokens for h in alone[0]]


def test_sinusoidal_and_rotary_models_read_past_their_trained_positions_only_in_evaluation():
    """Asked to extrapolate, a model decodes a source between max_len and twice it (the positions are
    functions, the verifier judges the answers); training on it is refused, and learned positions, trained
    vectors, never extrapolate."""
    torch.manual_seed(0)
    vocab = Vocab(["a", "b"])
    long = [["a", "b"] * 9]                                        # 18 tokens, max_len 12
    for arch, positions, capacity in [("seq2seq", "sinusoidal", 24), ("decoder", "rotary", 22),
                                      ("seq2seq", "learned", 12)]:
        config = ModelConfig.from_preset("tiny", arch=arch, positions=positions, max_len=12)
        model = build_model(config, len(vocab), vocab.pad_id).eval()
        assert source_capacity(model.config, extrapolate=True) == capacity
        assert source_capacity(model.config) == (12 if arch == "seq2seq" else 10)
        assert decode_sources(model, vocab, long, beam=2, max_len=4, device="cpu") == [[Hypothesis([])]]
        out = decode_sources(model, vocab, long, beam=2, max_len=4, device="cpu", extrapolate=True)
        assert (out[0] == [Hypothesis([])]) == (positions == "learned"), (arch, positions)
        src = torch.tensor([vocab.encode(long[0])])
        model.train()
        with pytest.raises(ValueError, match="max_len=12"):
            model(src, torch.tensor([[vocab.bos_id]]))
