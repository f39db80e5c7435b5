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

Training reads a file through an ``ExampleIndex``: one pass records the byte offset and the token
lengths of every usable line (numpy arrays, 16 bytes a line), and a line is parsed again from a
memory map only when a batch needs it, so a file of millions of lines is never held whole.
"""

from __future__ import annotations

import json
import mmap
import sys
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

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
BOM = "\ufeff".encode("utf-8")


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
            if line.strip():
                try:
                    check_utf8(line, path, number)
                except DataFormatError as err:
                    line = err
                record = self._record(line, path, number)
                if record is not None:
                    yield record

    def indexed(self) -> Iterator[tuple[int, Record]]:
        """(byte offset of the line, record) of every well-formed line: the pass of ``ExampleIndex``."""
        path, offset = str(self.path), 0
        with open(self.path, "rb") as handle:
            for number, raw in enumerate(handle, 1):
                start, offset = offset, offset + len(raw)
                if number == 1 and raw.startswith(BOM):               # as text_lines: a leading BOM is dropped
                    start, raw = start + len(BOM), raw[len(BOM):]
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    line = DataFormatError(f"not UTF-8 text ({err.reason} at byte {err.start})", path, number)
                if isinstance(line, str) and not line.strip():
                    continue
                record = self._record(line, path, number)
                if record is not None:
                    yield start, record

    def _record(self, line: str | DataFormatError, path: str, number: int) -> Record | None:
        """The record of a line, or None for a malformed line skipped (``on_error="skip"``)."""
        try:
            if isinstance(line, DataFormatError):
                raise line
            record = parse_line(line, path, number, self.counted)
            if self.check is not None:
                self._check(record, path)
        except DataFormatError as err:
            if self.on_error == "raise":
                raise
            print(f"warning: skipping malformed line {err}", file=sys.stderr)
            self.skipped += 1
            return None
        return record

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


class ExampleIndex:
    """The examples of a file by position, parsed from a memory map when asked for.

    ``offsets`` (int64) are the byte offsets of the indexed lines, ``source_lengths`` and
    ``target_lengths`` (int32) their token counts; ``index[i]`` is (source, target) of line
    ``offsets[i]``. The lines were checked when the index was built (``index_records``), so
    the file must not change while the index is in use. Picklable (the map is reopened).
    """

    def __init__(self, path: str | Path, offsets: np.ndarray, source_lengths: np.ndarray,
                 target_lengths: np.ndarray, counted: bool = True):
        self.path, self.counted = Path(path), counted
        self.offsets, self.source_lengths, self.target_lengths = offsets, source_lengths, target_lengths
        self._map: mmap.mmap | None = None

    def __len__(self) -> int:
        return len(self.offsets)

    def __getitem__(self, position: int) -> tuple[list[str], list[str]]:
        if self._map is None:
            with open(self.path, "rb") as handle:
                self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        start = int(self.offsets[position])
        end = self._map.find(b"\n", start)
        line = self._map[start:end if end >= 0 else len(self._map)].decode("utf-8")
        record = parse_line(line, str(self.path), None, self.counted)
        return record.source, record.target

    def __iter__(self) -> Iterator[tuple[list[str], list[str]]]:
        return (self[i] for i in range(len(self)))

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_map"} | {"_map": None}


def index_records(reader: RecordReader, keep: Callable[[Record], bool] = lambda record: True,
                  limit: int | None = None, measure: Callable[[list[str]], int] = len) -> ExampleIndex:
    """One pass over ``reader``'s file: the ``ExampleIndex`` of the records ``keep`` accepts (the
    first ``limit`` of them); ``measure`` counts their tokens (those a model sees, under a representation)."""
    offsets, source_lengths, target_lengths = array("q"), array("i"), array("i")
    for offset, record in reader.indexed():
        if keep(record):
            offsets.append(offset)
            source_lengths.append(measure(record.source))
            target_lengths.append(measure(record.target))
            if limit is not None and len(offsets) >= limit:
                break
    return ExampleIndex(reader.path, _numpy(offsets, np.int64), _numpy(source_lengths, np.int32),
                        _numpy(target_lengths, np.int32), reader.counted)


def _numpy(values: array, dtype: type) -> np.ndarray:
    return np.frombuffer(values, dtype=dtype).copy() if len(values) else np.zeros(0, dtype=dtype)


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
