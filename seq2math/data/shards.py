"""Shards: disjoint parts of one seeded job, and the merge that joins them (docs/scale.md).

``--shard i/N`` (``generate``, ``verify``, ``solve FILE``, ``report``) does the contiguous
block ``[i × T // N, (i + 1) × T // N)`` of the job's ``T`` items: example indices for
``generate``, problem lines (blank and ``#`` lines left out) of the input file for the
others. Every item depends only on the seed and its index, never on the process doing it,
so the shards' outputs, joined in shard order, are the one-process output line for line
(``seq2math data merge``). Contiguous blocks keep ``--resume`` per shard as it is for one
process: a shard continues after its last complete line.

Each sharded run writes a sidecar ``OUT.shard.json`` (``DIR/shard.json`` for a report
directory) before its work starts::

    {"command": "generate", "shard": 1, "shards": 4, "lines": 250, "identity": {...}}

``lines`` is the number of output lines a complete shard holds, ``identity`` what every shard
of one job must share (task options, seed, input file, checks, limits). ``check_shards``
refuses a set of shards with mixed ``shards`` or ``identity``, a shard given twice or
missing, or an incomplete shard, naming the file. This module uses only the standard library.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ShardError(ValueError):
    """Shards that do not make one complete job; the message names the file and the problem."""


@dataclass(frozen=True)
class Shard:
    """Part ``index`` of ``count`` (0 <= index < count)."""

    index: int  # which part, from 0
    count: int  # how many parts the job is cut into

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"a shard is i/N with 0 <= i < N, got {self.index}/{self.count}")

    def block(self, total: int) -> range:
        """The indices of ``range(total)`` this shard does (contiguous, sizes differ by at most one)."""
        return range(self.index * total // self.count, (self.index + 1) * total // self.count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``"1/4"`` -> ``Shard(1, 4)``; a clear ``ValueError`` otherwise."""
    head, slash, tail = text.partition("/")
    if not slash or not head.strip().isdecimal() or not tail.strip().isdecimal():
        raise ValueError(f"a shard is written i/N (e.g. 0/4), got {text!r}")
    return Shard(int(head), int(tail))


def sidecar_path(out: str | Path) -> Path:
    """``OUT.shard.json`` next to a file, ``DIR/shard.json`` inside a directory."""
    out = Path(out)
    return out / "shard.json" if out.is_dir() else out.with_name(out.name + ".shard.json")


def write_sidecar(out: str | Path, shard: Shard, command: str, identity: dict[str, Any], lines: int,
                  extra: dict[str, Any] | None = None) -> Path:
    """Record what shard ``shard`` of a ``command`` job must hold (see the module docstring);
    ``extra`` fields are kept for the merge but need not agree between shards."""
    path = sidecar_path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"command": command, "shard": shard.index, "shards": shard.count, "lines": lines,
               "identity": identity} | (extra or {})
    path.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    return path


def read_sidecar(out: str | Path) -> dict[str, Any]:
    path = sidecar_path(out)
    if not Path(out).exists():
        raise ShardError(f"{out}: no such shard")
    if not path.exists():
        raise ShardError(f"{out}: no {path.name} next to it, so it is not the output of a --shard run")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ShardError(f"{path}: not valid JSON ({err})") from None
    missing = {"command", "shard", "shards", "lines", "identity"} - set(data)
    if missing:
        raise ShardError(f"{path}: missing {', '.join(sorted(missing))}")
    return data


def count_lines(path: str | Path) -> int:
    """Newline-terminated lines of a file, read in blocks (never whole in memory)."""
    lines = 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            lines += block.count(b"\n")
    return lines


def check_shards(paths: list[str | Path], output: str = "lines", lines_of=count_lines) -> list[dict[str, Any]]:
    """The sidecars of ``paths`` in shard order, after checking they make one complete job.

    ``lines_of(path)`` counts a shard's output (default: lines of the file); ``output`` names
    what it counts in the error message.
    """
    if not paths:
        raise ShardError("name the shards to merge")
    sidecars = [read_sidecar(p) | {"path": str(p)} for p in paths]
    first = sidecars[0]
    for side in sidecars[1:]:
        for key in ("command", "shards", "identity"):
            if side[key] != first[key]:
                raise ShardError(f"{side['path']} and {first['path']} are not shards of one job: "
                                 f"{key} {side[key]!r} differs from {first[key]!r}")
    by_index: dict[int, dict[str, Any]] = {}
    for side in sidecars:
        if side["shard"] in by_index:
            raise ShardError(f"shard {side['shard']}/{side['shards']} is given twice: "
                             f"{by_index[side['shard']]['path']} and {side['path']}")
        by_index[side["shard"]] = side
    missing = [str(i) for i in range(first["shards"]) if i not in by_index]
    if missing:
        total = first["shards"]
        named = ", ".join(f"{i}/{total}" for i in missing)
        raise ShardError(f"shard{'s' if len(missing) > 1 else ''} {named} {'are' if len(missing) > 1 else 'is'} "
                         f"missing (have {len(sidecars)} of {total})")
    ordered = [by_index[i] for i in range(first["shards"])]
    for side in ordered:
        have = lines_of(side["path"])
        if have != side["lines"]:
            raise ShardError(f"{side['path']}: shard {side['shard']}/{side['shards']} is incomplete: {have} of "
                             f"{side['lines']} {output}; finish it with --resume")
    return ordered


def concatenate(paths: list[str | Path], out: str | Path) -> None:
    """Join files byte for byte, in order, into ``out`` (copied in blocks)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as sink:
        for path in paths:
            with open(path, "rb") as source:
                shutil.copyfileobj(source, sink, 1 << 20)
