"""Token <-> id mapping, and the one home of the special token names and ids.

Every vocabulary starts with the six specials, so their ids are the same for every task and
every checkpoint (a ``vocab.json`` lists them first)::

    <pad>=0  <bos>=1  <eos>=2  <unk>=3  <sep>=4  <mask>=5  then the task's tokens from id 6

``<sep>`` separates source and target in the packed sequence of decoder-only and encoder-only
models. ``EQUATION_SEPARATOR`` is not a special of the vocabulary but a token of the Lyapunov
prefix format (docs/formats.md): it opens each equation of a system and is spelled
``<SPECIAL_3>`` as in the published benchmark files, so it gets an ordinary id after the specials.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

PAD, BOS, EOS, UNK, SEP, MASK = "<pad>", "<bos>", "<eos>", "<unk>", "<sep>", "<mask>"
SPECIALS = (PAD, BOS, EOS, UNK, SEP, MASK)
PAD_ID, BOS_ID, EOS_ID, UNK_ID, SEP_ID, MASK_ID = range(len(SPECIALS))
FIRST_TOKEN_ID = len(SPECIALS)  # the id of the first task token

#: the prefix format's equation separator: ``INT+ 2 <SPECIAL_3> e1 <SPECIAL_3> e2`` (a task token)
EQUATION_SEPARATOR = "<SPECIAL_3>"


class Vocab:
    """An ordered vocabulary; ids 0..5 are always the special tokens above."""

    def __init__(self, tokens: Iterable[str]):
        self.itos: list[str] = list(SPECIALS)
        seen = set(self.itos)
        for token in tokens:
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
        """Ids of ``tokens``; with ``strict`` an unknown token raises naming it and its index."""
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
        return out

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"tokens": self.itos}, indent=0) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "Vocab":
        data = json.loads(Path(path).read_text())
        tokens = data["tokens"]
        if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"{path}: the first tokens must be the specials {SPECIALS}")
        return cls(tokens[len(SPECIALS):])
