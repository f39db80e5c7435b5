"""Token <-> id mapping with the special tokens shared by every model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

PAD, BOS, EOS, UNK, SEP, MASK = "<pad>", "<bos>", "<eos>", "<unk>", "<sep>", "<mask>"
SPECIALS = (PAD, BOS, EOS, UNK, SEP, MASK)


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
        self.pad_id, self.bos_id, self.eos_id = self.stoi[PAD], self.stoi[BOS], self.stoi[EOS]
        self.unk_id, self.sep_id, self.mask_id = self.stoi[UNK], self.stoi[SEP], self.stoi[MASK]

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
            if idx < len(SPECIALS):
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
