"""Typed configuration: nested dataclasses, YAML files, dotted command-line overrides.

Every configurable component owns a dataclass with its defaults (``ModelConfig`` in
``seq2math.model``, ``TrainConfig`` in ``seq2math.training.config``, each task's ``Options``).
This module only knows how to fill such dataclasses from YAML and from overrides
such as ``model.d_model=256``, how to reject unknown keys with a clear message, and
how to save the resolved configuration with the exact command that produced it.
All the changes of one command (YAML, flags, overrides) are collected in ``Changes`` and
applied together, so each dataclass is validated once, whatever the order of the overrides.

Example::

    cfg = load_config(RunConfig, "run.yaml", ["model.d_model=256", "train.lr=3e-4"])
    save_config(cfg, "runs/t")            # writes runs/t/config.json (+ the command)
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import sys
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from seq2math.jobs.files import write_atomically

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration key or value that cannot be accepted."""


def knob(default: Any, help: str) -> Any:
    """A dataclass field with a default and a help text (shown by the flags made from it)."""
    return dataclasses.field(default=default, metadata={"help": help})


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def coerce(value: Any, tp: Any, where: str) -> Any:
    """Convert ``value`` (from YAML or a command-line string) to the annotated type ``tp``."""
    tp, optional = _strip_optional(tp)
    if value is None or (optional and isinstance(value, str) and value.lower() in ("none", "null")):
        if optional or tp is Any:
            return None
        raise ConfigError(f"{where}: None is not allowed (expected {getattr(tp, '__name__', tp)})")
    if tp is Any:
        return _parse_scalar(value) if isinstance(value, str) else value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping for {tp.__name__}, got {value!r}")
        return from_dict(tp, value, where)
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        choices = typing.get_args(tp)
        if isinstance(value, str) and not isinstance(choices[0], str):
            value = _parse_scalar(value)
        if value not in choices:
            raise ConfigError(f"{where}: {value!r} is not one of {list(choices)}")
        return value
    if origin in (list, tuple):
        (item_type, *_rest) = typing.get_args(tp) or (Any,)
        if isinstance(value, str):
            value = [v for v in value.split(",") if v != ""]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        items = [coerce(v, item_type, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "no", "0", "off"):
            return False
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        try:
            if isinstance(value, str):
                try:
                    return int(value.replace("_", ""))
                except ValueError:
                    value = float(value)  # accepts "1e4"
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        except (TypeError, ValueError, OverflowError):  # a list, a dict, inf, 1e999, too many digits
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
    if tp is float:
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(f"{where}: expected a number, got {_short(value)}") from None
        if number != number:
            raise ConfigError(f"{where}: expected a number, got {_short(value)} (NaN is not a setting)")
        return number
    if tp is str:
        return str(value)
    return value


def _short(value: Any) -> str:
    """``repr(value)``, cut to 60 characters (errors quote what they were given)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "..."


def _parse_scalar(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError, ValueError):  # deep [[[...]]] recurses in PyYAML, an int of
        return text                                        # 5000 digits is refused: the text is a string then


def _unknown_keys(data: dict[Any, Any], known: dict[str, Any]) -> list[str]:
    """The keys of ``data`` that are not fields, as text (YAML keys may be numbers, None, ...)."""
    return sorted(str(k) for k in data if not isinstance(k, str) or k not in known)


def from_dict(cls: type[T], data: dict[str, Any], where: str = "") -> T:
    """Build dataclass ``cls`` from a mapping, rejecting unknown keys."""
    types_ = _field_types(cls)
    unknown = _unknown_keys(data, types_)
    if unknown:
        prefix = f"{where}." if where else ""
        raise ConfigError(
            f"unknown key(s) {', '.join(prefix + k for k in unknown)} for {cls.__name__}; "
            f"valid keys: {', '.join(sorted(types_))}"
        )
    kwargs = {k: coerce(v, types_[k], f"{where}.{k}" if where else k) for k, v in data.items()}
    return cls(**kwargs)


def to_dict(obj: Any) -> Any:
    """A JSON-ready copy of a (nested) dataclass."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj


class _Section(dict):
    """Changes to a nested dataclass field (applied by rebuilding that dataclass once)."""


class _Keys(dict):
    """Keys set inside a ``dict``-valued field (``task.dim=6``, ``train.task_options.x=1``)."""


class Changes:
    """Changes to a dataclass from several sources, checked as they come and applied together.

    Each source (a YAML mapping, ``--flag`` values, ``model.d_model=256`` overrides) is checked
    when it is added: an unknown key is rejected with its full dotted name and a value is
    converted to its field's type. Nothing is built until ``apply``, which rebuilds every
    changed dataclass once, so its validation sees all the changes together: on a 6-head
    preset ``model.d_model=256 model.n_heads=8`` works in either order, while
    ``model.d_model=100 model.n_heads=8`` still fails, naming the fields and the sources.
    Later sources win over earlier ones for the same key.

    Example::

        config = Changes(base).mapping(yaml_data, "run.yaml").overrides(["model.n_heads=8"]).apply()
    """

    def __init__(self, base: T) -> None:
        self.base = base
        self._tree: dict[str, Any] = {}
        self._sources: list[str] = []

    def override(self, key: str, value: Any, prefix: str = "") -> Changes:
        """Set the dotted ``key`` (``model.d_model``) to ``value`` (a string is parsed for the field's type).

        ``prefix`` is the part of the key already resolved by the caller, for error messages.
        """
        _record_override(self._tree, self.base, key, value, prefix)
        self._sources.append(f"{prefix}{key}={value}")
        return self

    def overrides(self, items: list[str] | None) -> Changes:
        """Add ``["a.b=1", "c=x"]`` overrides, in order."""
        for item in items or []:
            if "=" not in item:
                raise ConfigError(f"override {item!r} must look like key=value (e.g. model.d_model=256)")
            key, value = item.split("=", 1)
            if not key.strip():
                raise ConfigError(f"override {item!r} has no key before '=' (e.g. model.d_model=256)")
            self.override(key.strip(), value.strip())
        return self

    def mapping(self, data: dict[str, Any], where: str = "") -> Changes:
        """Overlay a nested mapping (a YAML file): sections merge, other fields are replaced whole."""
        _record_mapping(self._tree, self.base, data, where)
        if data:
            self._sources.append(where or "a mapping")
        return self

    def apply(self) -> T:
        """The base with every change; a dataclass's own validation error names the sources."""
        if not self._tree:
            return self.base
        try:
            return _apply(self.base, self._tree)
        except ConfigError:
            raise
        except (ValueError, TypeError, ArithmeticError) as err:  # a dataclass's own check (d_model % n_heads ...)
            raise ConfigError(f"{err} (given: {', '.join(self._sources)})") from None


def _record_override(tree: dict[str, Any], obj: Any, key: str, value: Any, prefix: str) -> None:
    head, _, rest = key.partition(".")
    types_ = _field_types(type(obj))
    if head not in types_:
        raise ConfigError(
            f"unknown key {prefix + key!r} for {type(obj).__name__}; valid keys: {', '.join(sorted(types_))}"
        )
    current = getattr(obj, head)
    if not rest:
        tree[head] = coerce(value, types_[head], prefix + key)
    elif dataclasses.is_dataclass(current):
        if not isinstance(tree.get(head), _Section):
            tree[head] = _Section()
        _record_override(tree[head], current, rest, value, f"{prefix}{head}.")
    elif isinstance(current, dict):
        parsed = _parse_scalar(value) if isinstance(value, str) else value
        if isinstance(tree.get(head), dict):  # keys set before, or a whole dict from a mapping (our copy)
            tree[head][rest] = parsed
        else:
            tree[head] = _Keys({rest: parsed})
    else:
        raise ConfigError(f"key {prefix + key!r}: {head} is not a section and has no sub-key {rest!r}")


def _record_mapping(tree: dict[str, Any], obj: Any, data: dict[str, Any], where: str) -> None:
    types_ = _field_types(type(obj))
    unknown = _unknown_keys(data, types_)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)} for {type(obj).__name__}; "
            f"valid keys: {', '.join(sorted(types_))}"
        )
    for key, value in data.items():
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            if not isinstance(tree.get(key), _Section):
                tree[key] = _Section()
            _record_mapping(tree[key], current, value, f"{where}:{key}")
        else:
            tree[key] = coerce(value, types_[key], f"{where}:{key}")


def _apply(obj: T, tree: dict[str, Any]) -> T:
    """Rebuild ``obj`` once with the changes of ``tree`` (nested sections first)."""
    changes = {}
    for key, change in tree.items():
        current = getattr(obj, key)
        if isinstance(change, _Section):
            changes[key] = _apply(current, change)
        elif isinstance(change, _Keys):
            changes[key] = {**current, **change}
        else:
            changes[key] = change
    return dataclasses.replace(obj, **changes)


def apply_override(obj: T, key: str, value: Any, prefix: str = "") -> T:
    """Return a copy of ``obj`` with the dotted ``key`` (``model.d_model``) set to ``value``.

    ``prefix`` is the part of the key already resolved, so errors name the full dotted key.
    """
    return Changes(obj).override(key, value, prefix).apply()


def apply_overrides(obj: T, overrides: list[str] | None) -> T:
    """Apply ``["a.b=1", "c=x"]`` overrides together (see ``Changes``): their order does not matter
    to validation, and for the same key the last one wins."""
    return Changes(obj).overrides(overrides).apply()


def load_config(cls: type[T], path: str | Path | None = None, overrides: list[str] | None = None,
                base: T | None = None) -> T:
    """Defaults (or ``base``) < YAML file < dotted overrides, applied together (``Changes``)."""
    changes = Changes(base if base is not None else cls())
    if path is not None:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except UnicodeDecodeError as err:
            raise ConfigError(f"{path}: not UTF-8 text (byte {err.start}: 0x{err.object[err.start]:02x})") from None
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: invalid YAML: {err}") from None
        except RecursionError:
            raise ConfigError(f"{path}: invalid YAML: nested too deeply") from None
        except ValueError as err:                          # PyYAML's int() of a 5000-digit number
            raise ConfigError(f"{path}: invalid YAML: {err}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
        changes.mapping(data, str(path))
    return changes.overrides(overrides).apply()


def merge_dict(obj: T, data: dict[str, Any], where: str = "") -> T:
    """Recursively overlay a mapping onto an existing dataclass instance (see ``Changes.mapping``)."""
    return Changes(obj).mapping(data, where).apply()


#: set by ``seq2math.cli.main(argv)`` when called in-process, where ``sys.argv`` is not the command
_COMMAND: list[str] | None = None


def set_command_line(argv: list[str] | None) -> None:
    """Record the command being run (``None``: use ``sys.argv``)."""
    global _COMMAND
    _COMMAND = list(argv) if argv is not None else None


def command_line() -> str:
    """The exact command that started this process (or this in-process ``main`` call), shell-quoted."""
    argv = _COMMAND if _COMMAND is not None else [Path(sys.argv[0]).name, *sys.argv[1:]]
    return " ".join(shlex.quote(a) for a in argv)


def save_config(cfg: Any, directory: str | Path, name: str = "config.json", extra: dict | None = None) -> Path:
    """Write ``directory/config.json`` holding the resolved config and the exact command."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    payload = {"command": command_line(), "config": to_dict(cfg)}
    if extra:
        payload.update(extra)
    path = directory / name
    return write_atomically(path, json.dumps(payload, indent=2, sort_keys=False) + "\n")


def add_dataclass_arguments(parser, cls: type, skip: tuple[str, ...] = ()) -> None:
    """Expose every scalar field of ``cls`` as ``--field-name`` (used by task options)."""
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        tp, _ = _strip_optional(_field_types(cls)[f.name])
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        doc = (f.metadata or {}).get("help", "")
        if tp is bool:
            parser.add_argument(flag, dest=f"opt_{f.name}", default=None, nargs="?", const="true",
                                metavar="BOOL", help=f"{doc} (default: {default})".strip())
        elif typing.get_origin(tp) is typing.Literal:
            parser.add_argument(flag, dest=f"opt_{f.name}", default=None,
                                choices=[str(c) for c in typing.get_args(tp)],
                                help=f"{doc} (default: {default})".strip())
        else:
            parser.add_argument(flag, dest=f"opt_{f.name}", default=None,
                                help=f"{doc} (default: {default})".strip())


def dataclass_from_arguments(cls: type[T], args, base: T | None = None) -> T:
    """Collect ``--field-name`` values given on the command line (see ``add_dataclass_arguments``)."""
    obj = base if base is not None else cls()
    for f in dataclasses.fields(cls):
        value = getattr(args, f"opt_{f.name}", None)
        if value is not None:
            obj = apply_override(obj, f.name, value)
    return obj
