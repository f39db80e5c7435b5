"""Progress reporting: a bar on a terminal, periodic log lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


class Progress:
    """``with Progress(total, "generate") as p: p.update(n)``.

    On a terminal this is a tqdm bar; otherwise a line ``desc: done/total (rate/s)`` is
    written to stderr every ``interval`` seconds and once at the end, so logs of
    batch jobs show progress too.
    """

    def __init__(self, total: int | None, desc: str, unit: str = "it", interval: float = 30.0,
                 disable: bool = False, initial: int = 0):
        self.total, self.desc, self.unit, self.interval = total, desc, unit, interval
        self.done, self.initial = initial, initial
        self.disable = disable
        self._start = time.time()
        self._last = self._start
        self._bar = None
        if not disable and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, initial=initial, dynamic_ncols=True)

    def update(self, n: int = 1, **postfix) -> None:
        self.done += n
        if self.disable:
            return
        if self._bar is not None:
            self._bar.update(n)
            if postfix:
                self._bar.set_postfix(postfix, refresh=False)
            return
        now = time.time()
        if now - self._last >= self.interval:
            self._last = now
            self._log(postfix)

    def _log(self, postfix: dict | None = None) -> None:
        elapsed = max(time.time() - self._start, 1e-9)
        total = f"/{self.total}" if self.total is not None else ""
        extra = "".join(f" {k}={v}" for k, v in (postfix or {}).items())
        print(f"{self.desc}: {self.done}{total} {self.unit} ({(self.done - self.initial) / elapsed:.1f} {self.unit}/s,"
              f" {elapsed:.0f}s){extra}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.disable:
            return
        if self._bar is not None:
            self._bar.close()
        else:
            self._log()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def track(items: Iterable[T], total: int | None = None, desc: str = "", unit: str = "it") -> Iterator[T]:
    """Iterate ``items`` while reporting progress."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with Progress(total, desc, unit) as bar:
        for item in items:
            yield item
            bar.update(1)
