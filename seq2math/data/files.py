"""Data files: one reader and one writer per line format (docs/formats.md).

Every data file holds one example per line, in one of three formats:

``tsv``     ``SOURCE<TAB>TARGET``, tokens separated by spaces (the linear-algebra and roots tasks)::

                V2 V2 + 1 E0 + 2 E0 + 3 E0 + 4 E0<TAB>V2 V2 + 1 E0 + 3 E0 + 2 E0 + 4 E0

``prefix``  ``COUNT|SOURCE<TAB>TARGET``, the Lyapunov benchmark lines; COUNT is the number of
            times the example occurs (written as 1 by the generator, summed by ``data dedup``,
            optional on reading)::

                1|INT+ 2 <SPECIAL_3> * INT- 1 x0 <SPECIAL_3> * INT- 1 x1<TAB>+ ^ x0 INT+ 2 ^ x1 INT+ 2

``jsonl``   ``{"input": "SOURCE", "target": "TARGET"}``, one JSON object a line.

Readers recognise a JSON line by its leading ``{``, so one file may mix ``jsonl`` lines with
text lines. Blank lines are skipped. A malformed line raises ``DataFormatError`` whose message
starts ``FILE:LINE:``; with ``on_error="skip"`` it is reported on stderr, counted and skipped.
Readers keep each line's text, so tools that copy lines (split, mix) copy them byte for byte.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from seq2math.tasks.base import DataFormatError, Task

FORMATS = ("tsv", "prefix", "jsonl")
ON_ERROR = ("raise", "skip")
#: longest COUNT of a ``COUNT|`` head (a count of 10**18 examples is already no real file)
MAX_COUNT_DIGITS = 18


@dataclass(frozen=True)
class Record:
    """One example of a data file."""

    line: int  # 1-based line number in its file
    source: list[str]  # source tokens
    target: list[str]  # target tokens (may be empty)
    count: int | None  # COUNT of a ``COUNT|...`` line; None when absent
    text: str  # the line as read, without its line break

    @property
    def source_text(self) -> str:
        return " ".join(self.source)

    @property
    def target_text(self) -> str:
        return " ".join(self.target)

    @property
    def key(self) -> tuple[str, str]:
        """Two records are the same example when their token sequences are equal."""
        return self.source_text, self.target_text


# ---- reading one line -------------------------------------------------------------------------
def parse_text_line(text: str, path: str | None = None, number: int | None = None,
                    counted: bool = True) -> Record:
    """``[COUNT|]SOURCE<TAB>TARGET`` (``counted``: a ``COUNT|`` head is read, else it is source text)."""
    text = text.rstrip("\r\n")
    count, body = None, text
    head, bar, rest = text.partition("|")
    if counted and bar and "\t" not in head:
        digits = head.strip()
        if not (digits.isdecimal() and digits.isascii()) or len(digits) > MAX_COUNT_DIGITS:
            shown = repr(head) if len(head) <= 40 else repr(head[:40]) + "..."
            raise DataFormatError(f"the count before '|' is not a number: {shown}", path, number)
        count, body = int(head), rest
    tabs = body.count("\t")
    if tabs != 1:
        raise DataFormatError("expected SOURCE<TAB>TARGET, found " + ("no tab" if tabs == 0 else f"{tabs} tabs"),
                              path, number)
    source, target = body.split("\t")
    if not source.split():
        raise DataFormatError("empty source", path, number)
    return Record(number or 0, source.split(), target.split(), count, text)


def parse_jsonl_line(text: str, path: str | None = None, number: int | None = None) -> Record:
    """``{"input": "SOURCE", "target": "TARGET"}``; both values are strings of space-separated tokens."""
    text = text.rstrip("\r\n")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataFormatError(f"bad JSON line ({err})", path, number) from None
    if not isinstance(data, dict):
        raise DataFormatError(f"bad JSON line: expected an object, found {type(data).__name__}", path, number)
    for key in ("input", "target"):
        if key not in data:
            raise DataFormatError(f"bad JSON line: no {key!r} key", path, number)
        if not isinstance(data[key], str):
            raise DataFormatError(f"bad JSON line: {key!r} must be a string of tokens, found "
                                  f"{type(data[key]).__name__}", path, number)
    source = data["input"].split()
    if not source:
        raise DataFormatError("empty source", path, number)
    return Record(number or 0, source, data["target"].split(), None, text)


def parse_line(text: str, path: str | None = None, number: int | None = None, counted: bool = True) -> Record:
    """A line of any format: JSON when it starts with ``{``, else ``[COUNT|]SOURCE<TAB>TARGET``."""
    if text.lstrip().startswith("{"):
        return parse_jsonl_line(text, path, number)
    return parse_text_line(text, path, number, counted)


# ---- reading a file ---------------------------------------------------------------------------
def text_lines(path: str | Path, check: bool = True) -> Iterator[tuple[int, str]]:
    """(1-based number, text) of every line of a UTF-8 file (a leading BOM is dropped).

    A line that is not UTF-8 raises ``DataFormatError`` naming the file, the line and the byte
    (with ``check=False`` it comes through, its bad bytes as lone surrogates: ``check_utf8``).
    """
    # surrogateescape keeps undecodable bytes as lone surrogates, so the other lines still read
    with open(path, encoding="utf-8-sig", errors="surrogateescape") as handle:
        for number, line in enumerate(handle, 1):
            if check:
                check_utf8(line, str(path), number)
            yield number, line


def check_utf8(line: str, path: str | None, number: int | None) -> None:
    """``DataFormatError`` when ``line`` (read by ``text_lines``) held bytes that are not UTF-8."""
    if line.isascii():
        return
    try:
        line.encode("utf-8")
    except UnicodeEncodeError as err:
        byte = ord(line[err.start]) - 0xDC00
        raise DataFormatError(f"not UTF-8 text: byte 0x{byte:02x} at character {err.start + 1}",
                              path, number) from None


class RecordReader:
    """The records of one file, in order; ``skipped`` counts the malformed lines skipped so far.

    ``counted``: read a ``COUNT|`` head (prefix files; False for a task whose lines have none).
    ``check``: called with each record's source tokens; a ``ValueError`` it raises makes the
    line malformed (e.g. ``Task.check_source``: a token that the task cannot read).
    """

    def __init__(self, path: str | Path, on_error: str = "raise", counted: bool = True,
                 check: Callable[[list[str]], None] | None = None):
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path} does not exist")
        self.on_error, self.counted, self.check = on_error, counted, check
        self.skipped = 0

    def __iter__(self) -> Iterator[Record]:
        path = str(self.path)
        for number, line in text_lines(self.path, check=False):
            if not line.strip():
                continue
            try:
                check_utf8(line, path, number)
                record = parse_line(line, path, number, self.counted)
                if self.check is not None:
                    self._check(record, path)
            except DataFormatError as err:
                if self.on_error == "raise":
                    raise
                print(f"warning: skipping malformed line {err}", file=sys.stderr)
                self.skipped += 1
                continue
            yield record

    def _check(self, record: Record, path: str) -> None:
        try:
            self.check(record.source)
        except DataFormatError:
            raise
        except ValueError as err:
            raise DataFormatError(str(err), path, record.line) from None


def read_records(path: str | Path, on_error: str = "raise", counted: bool = True,
                 check: Callable[[list[str]], None] | None = None) -> tuple[list[Record], int]:
    """All well-formed records of a file, and the number of malformed lines skipped."""
    reader = RecordReader(path, on_error, counted, check)
    records = list(reader)
    return records, reader.skipped


def task_records(task: Task, path: str | Path, on_error: str = "raise") -> RecordReader:
    """The records of a data file of ``task``: its own format (``COUNT|`` read only when the task
    writes ``prefix`` lines) or JSONL, each source checked by ``task.check_source``."""
    return RecordReader(path, on_error, counted=task.default_format == "prefix", check=task.check_source)


def read_examples(task: Task, path: str | Path, on_error: str = "raise"
                  ) -> Iterator[tuple[int, list[str], list[str]]]:
    """(line number, source, target) of each example of a data file of ``task`` (``task_records``)."""
    for record in task_records(task, path, on_error):
        yield record.line, record.source, record.target


# ---- writing ------------------------------------------------------------------------------------
def format_text_line(source: list[str], target: list[str], count: int | None = None) -> str:
    """``SOURCE<TAB>TARGET``, with ``COUNT|`` in front when ``count`` is given."""
    head = "" if count is None else f"{count}|"
    return head + " ".join(source) + "\t" + " ".join(target)


def format_jsonl_line(source: list[str], target: list[str]) -> str:
    return json.dumps({"input": " ".join(source), "target": " ".join(target)})


def format_line(source: list[str], target: list[str], fmt: str) -> str:
    """One line of a ``tsv``, ``prefix`` (COUNT 1) or ``jsonl`` file."""
    if fmt == "jsonl":
        return format_jsonl_line(source, target)
    if fmt == "prefix":
        return format_text_line(source, target, count=1)
    if fmt == "tsv":
        return format_text_line(source, target)
    raise ValueError(f"unknown file format {fmt!r}; choose one of {FORMATS}")


def write_lines(path: str | Path, lines: list[str]) -> None:
    """Write ``lines`` (without line breaks) to ``path``, creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
