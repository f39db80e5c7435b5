"""Token <-> id mapping, and the one home of the special token names and ids.

Every vocabulary starts with the six specials, so their ids are the same for every task and
every checkpoint (a ``vocab.json`` lists them first)::

    <pad>=0  <bos>=1  <eos>=2  <unk>=3  <sep>=4  <mask>=5  then the task's tokens from id 6

``<sep>`` separates source and target in the packed sequence of decoder-only and encoder-only
models. ``EQUATION_SEPARATOR`` is not a special of the vocabulary but a token of the Lyapunov
prefix format (docs/formats.md): it opens each equation of a system and is spelled
``<SPECIAL_3>`` as in the published benchmark files, so it gets an ordinary id after the specials.

A vocabulary may carry a *representation* codec (``seq2math.tokens.representation``): how the
model sees the tokens. ``encode`` then rewrites the file-format tokens before mapping them to
ids, and ``decode`` rewrites the model's tokens back, so everything outside the model (files,
checkers, hypotheses) keeps the file format. ``vocab.json`` records the representation's name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Protocol

PAD, BOS, EOS, UNK, SEP, MASK = "<pad>", "<bos>", "<eos>", "<unk>", "<sep>", "<mask>"
SPECIALS = (PAD, BOS, EOS, UNK, SEP, MASK)
PAD_ID, BOS_ID, EOS_ID, UNK_ID, SEP_ID, MASK_ID = range(len(SPECIALS))
FIRST_TOKEN_ID = len(SPECIALS)  # the id of the first task token

#: the prefix format's equation separator: ``INT+ 2 <SPECIAL_3> e1 <SPECIAL_3> e2`` (a task token)
EQUATION_SEPARATOR = "<SPECIAL_3>"


class Codec(Protocol):
    """A representation: file-format tokens <-> the tokens a model sees (both raise ValueError)."""

    name: str
    extra_tokens: tuple[str, ...]

    def encode(self, tokens: list[str]) -> list[str]: ...

    def decode(self, tokens: list[str]) -> list[str]: ...


class Vocab:
    """An ordered vocabulary; ids 0..5 are always the special tokens above."""

    def __init__(self, tokens: Iterable[str], codec: Codec | None = None):
        self.itos: list[str] = list(SPECIALS)
        self.codec = codec
        #: the representation's name; ``load`` keeps it even before a codec is attached
        self.representation = codec.name if codec is not None else "prefix"
        seen = set(self.itos)
        for token in [*tokens, *(codec.extra_tokens if codec is not None else ())]:
            if token not in seen:
                seen.add(token)
                self.itos.append(token)
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        self.pad_id, self.bos_id, self.eos_id = PAD_ID, BOS_ID, EOS_ID
        self.unk_id, self.sep_id, self.mask_id = UNK_ID, SEP_ID, MASK_ID

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def encode(self, tokens: list[str], strict: bool = True) -> list[int]:
        """Ids of ``tokens``; with ``strict`` an unknown token raises naming it and its index.
        With a codec, ``tokens`` are file-format tokens, rewritten first (a ValueError if they have
        no form in the representation, whatever ``strict``)."""
        if self.codec is not None:
            tokens = self.codec.encode(list(tokens))
        ids = []
        for i, token in enumerate(tokens):
            idx = self.stoi.get(token)
            if idx is None:
                if strict:
                    raise ValueError(f"token {i} {token!r} is not in the vocabulary")
                idx = self.unk_id
            ids.append(idx)
        return ids

    def decode(self, ids: Iterable[int], stop_at_eos: bool = True) -> list[str]:
        """Tokens of ``ids``, dropping specials (and stopping at the first ``<eos>``)."""
        out = []
        for idx in ids:
            idx = int(idx)
            if stop_at_eos and idx == self.eos_id:
                break
            if idx < FIRST_TOKEN_ID:
                continue
            out.append(self.itos[idx])
        if self.codec is not None:
            try:
                return self.codec.decode(out)
            except ValueError:
                return out      # not a sequence of the representation: the file-format reader rejects it
        return out

    def model_length(self, tokens: list[str]) -> int:
        """How many tokens the model sees for file-format ``tokens``."""
        return len(tokens) if self.codec is None else len(self.codec.encode(list(tokens)))

    def save(self, path: str | Path) -> None:
        data: dict = {"tokens": self.itos}
        if self.representation != "prefix":
            data["representation"] = self.representation
        Path(path).write_text(json.dumps(data, indent=0) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "Vocab":
        data = json.loads(Path(path).read_text())
        tokens = data["tokens"]
        if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"{path}: the first tokens must be the specials {SPECIALS}")
        vocab = cls(tokens[len(SPECIALS):])
        vocab.representation = data.get("representation", "prefix")
        return vocab
