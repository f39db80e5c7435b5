"""What is fuzzed: one ``Target`` per parser or decoder (docs/reliability.md, "Fuzzing").

A target draws an input (``make``, from ``seq2math.benchmarks.fuzz_inputs``), feeds it to the
reader (``read``) and classifies what happened (``outcome``):

- ``accepted``: the reader returned a value;
- ``rejected``: it raised one of the target's error types (all ``ValueError``) and the message
  names the place: the token or character position, and for lines and files ``FILE:LINE:``;
- ``unclear``: an expected error type whose message does not name the place (a defect);
- ``uncaught``: any other exception (RecursionError, TypeError, ...): a defect.

``round_trip(rng)`` checks writer -> reader -> writer on one valid input (AssertionError when not
identical). The same targets serve ``tests/test_fuzz_*.py`` and ``seq2math bench fuzz``.
"""

from __future__ import annotations

import random
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import yaml

from seq2math.benchmarks import fuzz_inputs as G
from seq2math.config import ConfigError, load_config, to_dict
from seq2math.data.files import format_line, read_records, write_lines
from seq2math.lyapunov.batch import InputError, parse_benchmark_line, parse_problem, read_lines
from seq2math.symbolic import poly as P
from seq2math.symbolic.expr import Binary, Expr, Int, system_to_infix, to_infix, to_poly, variables
from seq2math.tasks.base import DataFormatError
from seq2math.tokens.infix import InfixParseError, parse_infix, parse_infix_system
from seq2math.tokens.matrices import decode_matrix, encode_matrix
from seq2math.tokens.numbers import ENCODINGS, NumberEncoding
from seq2math.tokens.prefix import (
    PREFIX_VOCABULARY,
    PrefixParseError,
    expression_tokens,
    format_benchmark_line,
    parse_full_expression,
    parse_system,
    system_tokens,
)
from seq2math.tokens.reading import ParseError
from seq2math.tokens.vocab import EQUATION_SEPARATOR
from seq2math.training.config import RunConfig

OUTCOMES = ("accepted", "rejected", "unclear", "uncaught")
FILE_NAME, LINE = "fuzz-input.txt", 7  # where the one-line readers are told the line comes from


@dataclass(frozen=True)
class Target:
    """One reader under fuzzing."""

    name: str
    make: Callable[[random.Random], Any]              # one input, valid or garbled
    read: Callable[[Any], Any]                        # the reader; raises on bad input
    errors: tuple[type[BaseException], ...]           # the error types that count as a clear rejection
    names_place: Callable[[str, Any], bool]           # does the message name where the input is wrong?
    round_trip: Callable[[random.Random], None]       # writer -> reader -> writer on a valid input

    def outcome(self, item: Any) -> tuple[str, BaseException | None]:
        """(one of ``OUTCOMES``, the exception raised or None)."""
        try:
            self.read(item)
        except self.errors as err:
            return ("rejected" if self.names_place(str(err), item) else "unclear"), err
        except Exception as err:  # noqa: BLE001 — counted, and reported by the caller
            return "uncaught", err
        return "accepted", None


def _names_token(message: str, _item: Any = None) -> bool:
    return "token" in message or " uses x" in message


def _names_position(message: str, _item: Any = None) -> bool:
    return "position" in message and "^" in message


def _names_line(message: str, _item: Any = None) -> bool:
    return message.startswith(f"{FILE_NAME}:{LINE}: ")


# ---- prefix expressions and systems -----------------------------------------------------------
def _prefix_valid(rng: random.Random) -> list[str]:
    if rng.random() < 0.5:
        return system_tokens(G.random_system(rng))
    return expression_tokens(G.random_expression(rng))


def _prefix_read(tokens: list[str]) -> Any:
    return parse_system(tokens) if tokens[:1] == ["INT+"] else parse_full_expression(tokens)


def _prefix_round_trip(rng: random.Random) -> None:
    expression = G.random_expression(rng, depth=rng.randint(0, 6))
    tokens = expression_tokens(expression)
    assert expression_tokens(parse_full_expression(tokens)) == tokens, tokens
    system = G.random_system(rng)
    assert system_tokens(parse_system(system_tokens(system))) == system_tokens(system)


# ---- infix --------------------------------------------------------------------------------------
def _infix_make(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.02:
        return G.deep_infix(rng)
    if roll < 0.07:
        return G.random_bytes_text(rng)
    text = system_to_infix(G.random_system(rng)) if rng.random() < 0.5 else to_infix(G.random_expression(rng))
    return text if roll < 0.25 else G.mutate_text(rng, text)


def _infix_read(text: str) -> Any:
    return parse_infix_system(text) if "=" in text else parse_infix(text)


def _infix_round_trip(rng: random.Random) -> None:
    expression = G.random_expression(rng, depth=rng.randint(0, 5), polynomial=True)
    n = max(variables(expression), default=0) + 1
    text = to_infix(expression)
    assert to_poly(parse_infix(text), n) == to_poly(expression, n), text


# ---- numbers and matrices ---------------------------------------------------------------------
def _number_target(encoding: NumberEncoding) -> Target:
    vocabulary = encoding.vocabulary()
    integer = encoding.tokens_per_number is None

    def valid(rng: random.Random) -> list[str]:
        if integer:
            return encoding.encode(rng.choice((0, rng.randint(-10**6, 10**6), rng.randint(-10**60, 10**60))))
        return encoding.encode(G.random_float(rng)) if rng.random() > 0.02 else ["Ninf"]

    def read(tokens: list[str]) -> None:
        value = encoding.decode(tokens)
        if integer or np.isfinite(value):               # what is accepted is canonical: it re-encodes to itself
            assert encoding.encode(value) == list(tokens), (tokens, value)

    def round_trip(rng: random.Random) -> None:
        if integer:
            value = rng.randint(-10**80, 10**80)
            assert encoding.decode(encoding.encode(value)) == value
            return
        tokens = encoding.encode(G.random_float(rng))
        if tokens[0] not in ("Ninf", "N-inf"):                  # FP15 overflow decodes to +-inf
            assert encoding.encode(encoding.decode(tokens)) == tokens, tokens

    return Target(f"numbers-{encoding.name}", lambda rng: G.garble(rng, valid, vocabulary), read, (ParseError,),
                  _names_token, round_trip)


_MATRIX_ENCODINGS = ("P10", "P1000", "B1999", "FP15")
_MATRIX_VOCABULARY = {name: ["V0", "V1", "V3", "V4", "V9", *ENCODINGS[name].vocabulary()[::97]]
                      for name in _MATRIX_ENCODINGS}


def _matrix_valid(rng: random.Random) -> tuple[str, list[str]]:
    name = rng.choice(_MATRIX_ENCODINGS)
    shape = (rng.randint(0, 4), rng.randint(0, 4))
    matrix = np.array([G.random_float(rng) for _ in range(shape[0] * shape[1])]).reshape(shape)
    return name, encode_matrix(np.clip(matrix, -1e90, 1e90), ENCODINGS[name])


def _matrix_make(rng: random.Random) -> tuple[str, list[str]]:
    name, tokens = _matrix_valid(rng)
    if rng.random() < 0.25:
        return name, tokens
    return name, G.mutate_tokens(rng, tokens, _MATRIX_VOCABULARY[name])


def _matrix_read(item: tuple[str, list[str]]) -> None:
    name, tokens = item
    matrix = decode_matrix(tokens, ENCODINGS[name])
    if np.all(np.isfinite(matrix)):
        assert encode_matrix(matrix, ENCODINGS[name]) == list(tokens), tokens


def _matrix_round_trip(rng: random.Random) -> None:
    name, tokens = _matrix_valid(rng)
    if "Ninf" not in tokens and "N-inf" not in tokens:
        assert encode_matrix(decode_matrix(tokens, ENCODINGS[name]), ENCODINGS[name]) == tokens


# ---- benchmark lines and problem lines -------------------------------------------------------
def _benchmark_valid(rng: random.Random) -> str:
    return format_benchmark_line(G.random_system(rng), G.random_expression(rng), rng.randint(1, 10**6))


def _benchmark_make(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.02:
        return f"1|INT+ 1 {EQUATION_SEPARATOR} " + " ".join(G.deep_prefix(rng)) + "\tx0"
    if roll < 0.05:
        return G.random_bytes_text(rng)
    line = _benchmark_valid(rng)
    if roll < 0.25:
        return line
    if roll < 0.6:
        return " ".join(G.mutate_tokens(rng, line.split(" "), PREFIX_VOCABULARY))
    return G.mutate_text(rng, line)


def _benchmark_round_trip(rng: random.Random) -> None:
    line = _benchmark_valid(rng)
    count, system, V = parse_benchmark_line(line, FILE_NAME, LINE)
    assert format_benchmark_line(system, V, count) == line, line


def _problem_make(rng: random.Random) -> str:
    system, V = G.random_system(rng), G.random_expression(rng)
    line = system_to_infix(system) + "\t" + to_infix(V)
    roll = rng.random()
    if roll < 0.02:
        return "x0' = " + G.deep_infix(rng) + "\tx0^2"
    return line if roll < 0.25 else G.mutate_text(rng, line)


def _at_equilibrium(f: Expr, n: int) -> Expr:
    """``f - f(0)``: a valid problem has the origin as an equilibrium (``check_system``)."""
    constant = P.value_at_zero(to_poly(f, n))
    return f if constant == 0 else Binary("-", f, Int(int(constant)))


def _problem_round_trip(rng: random.Random) -> None:
    system, V = G.random_system(rng, polynomial=True), G.random_expression(rng, polynomial=True)
    n = len(system)
    system = [_at_equilibrium(f, n) for f in system]
    V = V if max(variables(V), default=0) < n else system[0]
    read_system, read_V = parse_problem(system_to_infix(system) + "\t" + to_infix(V), True, FILE_NAME, LINE)
    assert [to_poly(f, n) for f in read_system] == [to_poly(f, n) for f in system]
    assert to_poly(read_V, n) == to_poly(V, n)


# ---- files (data files, input files of verify/solve) -------------------------------------------
_SCRATCH: list[Path] = []


def scratch_file() -> Path:
    """A file in a temporary folder of this process (the file readers read real files)."""
    if not _SCRATCH:
        _SCRATCH.append(Path(tempfile.mkdtemp(prefix="seq2math-fuzz-")) / "input.txt")
    return _SCRATCH[0]


def _file_make(rng: random.Random) -> bytes:
    lines = [_benchmark_valid(rng) if rng.random() < 0.7 else format_line(
        _prefix_valid(rng), _prefix_valid(rng), rng.choice(("tsv", "jsonl"))) for _ in range(rng.randint(1, 4))]
    if rng.random() > 0.2:
        k = rng.randrange(len(lines))
        lines[k] = G.mutate_text(rng, lines[k]) if rng.random() < 0.8 else G.random_bytes_text(rng)
    data = G.line_endings(rng, lines).encode("utf-8", "surrogatepass")
    if rng.random() < 0.1:                                          # bytes that are not UTF-8
        cut = rng.randint(0, len(data))
        data = data[:cut] + bytes([rng.choice((0x80, 0xC3, 0xFF, 0xED))]) + data[cut:]
    return data


def _names_file_line(message: str, _item: Any = None) -> bool:
    return f"{scratch_file()}:" in message and any(f":{n}:" in message for n in range(1, 100))


def _data_file_read(data: bytes) -> None:
    path = scratch_file()
    path.write_bytes(data)
    read_records(path)


def _problem_file_read(data: bytes) -> None:
    path = scratch_file()
    path.write_bytes(data)
    for line, text in read_lines(path):
        parse_problem(text, False, str(path), line)


def _file_round_trip(rng: random.Random) -> None:
    examples = [(_prefix_valid(rng), _prefix_valid(rng)) for _ in range(rng.randint(1, 5))]
    fmt = rng.choice(("tsv", "prefix", "jsonl"))
    path = scratch_file()
    write_lines(path, [format_line(source, target, fmt) for source, target in examples])
    records, skipped = read_records(path)
    assert skipped == 0 and [(r.source, r.target) for r in records] == examples


# ---- configs: YAML files and dotted overrides ---------------------------------------------------
_CONFIG_KEYS = ("model.d_model", "model.n_heads", "model.enc_layers", "train.lr", "train.batch_size",
                "train.schedule", "train.task_options.x", "task.name", "model", "nope", "train.lr.x", "")


def _config_make(rng: random.Random) -> tuple[str, list[str]]:
    text = yaml.safe_dump(to_dict(RunConfig()))
    if rng.random() < 0.7:
        text = G.mutate_text(rng, text)
    # deep nesting ([[[...]]], 4 s per input in PyYAML) is tested once, in tests/test_fuzz_cli.py
    overrides = [f"{rng.choice(_CONFIG_KEYS)}={G.odd_token(rng, ['8', '64', '3e-4', '1e4', 'cosine', '[1]'])}"
                 for _ in range(rng.randint(0, 3))]
    return text, overrides


def _config_read(item: tuple[str, list[str]]) -> Any:
    text, overrides = item
    path = scratch_file()
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    return load_config(RunConfig, path, overrides)


def _names_config_place(message: str, item: Any) -> bool:
    """The file, or the key being set: every config error names one of them."""
    _, overrides = item
    keys = [o.split("=", 1)[0].strip() for o in overrides]
    return str(scratch_file()) in message or any(k and k in message for k in keys) or "override" in message


def _config_round_trip(rng: random.Random) -> None:
    changes = {"train": {"lr": rng.choice((1e-4, 3e-4, 2.5e-3)), "batch_size": rng.randint(1, 512),
                         "schedule": rng.choice(("cosine", "constant", "inverse_sqrt"))},
               "model": {"enc_layers": rng.randint(1, 8)}}
    path = scratch_file()
    path.write_text(yaml.safe_dump(changes))
    config = load_config(RunConfig, path)
    path.write_text(yaml.safe_dump(to_dict(config)))
    assert load_config(RunConfig, path) == config
    assert config.train.lr == changes["train"]["lr"] and config.model.enc_layers == changes["model"]["enc_layers"]


TARGETS: dict[str, Target] = {target.name: target for target in (
    Target("prefix", lambda rng: G.garble(rng, _prefix_valid, PREFIX_VOCABULARY, G.deep_prefix), _prefix_read,
           (PrefixParseError,), _names_token, _prefix_round_trip),
    Target("infix", _infix_make, _infix_read, (InfixParseError,), _names_position, _infix_round_trip),
    *(_number_target(encoding) for encoding in ENCODINGS.values()),
    Target("matrices", _matrix_make, _matrix_read, (ParseError,), _names_token, _matrix_round_trip),
    Target("benchmark-line", _benchmark_make, lambda line: parse_benchmark_line(line, FILE_NAME, LINE),
           (PrefixParseError, DataFormatError), _names_line, _benchmark_round_trip),
    Target("problem-infix", _problem_make, lambda line: parse_problem(line, True, FILE_NAME, LINE),
           (InputError,), _names_line, _problem_round_trip),
    Target("data-file", _file_make, _data_file_read, (DataFormatError,), _names_file_line, _file_round_trip),
    Target("problem-file", _file_make, _problem_file_read, (DataFormatError, InputError), _names_file_line,
           _file_round_trip),
    Target("config", _config_make, _config_read, (ConfigError,), _names_config_place, _config_round_trip),
)}
