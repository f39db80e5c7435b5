"""Crash-safe writes: whole files replaced atomically, append-only files with a line-level rule.

The contract every long job keeps (docs/reliability.md, "Crash safety"):

- a file written whole (a report, a summary, a certificate, a config) goes to a temporary
  name in the same directory and is moved into place with ``os.replace``: a reader sees the
  old file or the new one, never a truncated mix;
- an append-only file of records (JSONL results, generated data) is written one complete
  line at a time and flushed; a process killed mid-write can leave only its *last* line
  torn (no newline), and ``drop_torn_tail`` cuts that line off before the file is continued,
  so the record is redone and never glued to the next one.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_atomically(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` through ``PATH.tmp`` + ``os.replace`` (parent created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return path


def drop_torn_tail(path: str | Path) -> list[str]:
    """The complete (newline-terminated) lines of ``path``, after cutting a torn last line off
    the file itself; ``[]`` when the file does not exist. Lines keep their ``\\n``."""
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end != len(data):
        os.truncate(path, end)
    return data[:end].decode("utf-8", errors="replace").splitlines(keepends=True)
