"""The representations a model may see its tokens in (docs/formats.md): ``prefix`` (the file
format itself) and ``monomial`` (``seq2math.tokens.monomial``, Lyapunov tasks only).

``make_vocab`` builds a run's vocabulary with its codec; ``load_vocab`` reads ``vocab.json``
and attaches the codec it names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from seq2math.tokens.monomial import MonomialCodec
from seq2math.tokens.vocab import Codec, Vocab

REPRESENTATIONS: dict[str, type | None] = {"prefix": None, "monomial": MonomialCodec}
#: the tasks each representation other than prefix applies to
TASKS = {"monomial": ("lyapunov",)}


def codec_for(representation: str, task: str | None = None) -> Codec | None:
    if representation not in REPRESENTATIONS:
        raise ValueError(f"unknown representation {representation!r}; choose from {', '.join(REPRESENTATIONS)}")
    if task is not None and representation in TASKS and task not in TASKS[representation]:
        raise ValueError(f"the {representation} representation applies to the {', '.join(TASKS[representation])} "
                         f"task, not {task}")
    codec_class = REPRESENTATIONS[representation]
    return None if codec_class is None else codec_class()


def make_vocab(tokens: Iterable[str], representation: str = "prefix", task: str | None = None) -> Vocab:
    return Vocab(tokens, codec_for(representation, task))


def load_vocab(path: str | Path) -> Vocab:
    vocab = Vocab.load(path)
    vocab.codec = codec_for(vocab.representation)
    return vocab
