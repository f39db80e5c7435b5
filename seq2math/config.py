"""Typed configuration: nested dataclasses, YAML files, dotted command-line overrides.

Every configurable component owns a dataclass with its defaults (``ModelConfig`` in
``seq2math.model``, ``TrainConfig`` in ``seq2math.training.config``, each task's ``Options``).
This module only knows how to fill such dataclasses from YAML and from overrides
such as ``model.d_model=256``, how to reject unknown keys with a clear message, and
how to save the resolved configuration with the exact command that produced it.

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
        except ValueError:
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
    if tp is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if tp is str:
        return str(value)
    return value


def _parse_scalar(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def from_dict(cls: type[T], data: dict[str, Any], where: str = "") -> T:
    """Build dataclass ``cls`` from a mapping, rejecting unknown keys."""
    types_ = _field_types(cls)
    unknown = sorted(set(data) - set(types_))
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


def apply_override(obj: T, key: str, value: Any, prefix: str = "") -> T:
    """Return a copy of ``obj`` with the dotted ``key`` (``model.d_model``) set to ``value``.

    ``prefix`` is the part of the key already resolved, so errors name the full dotted key.
    """
    head, _, rest = key.partition(".")
    types_ = _field_types(type(obj))
    if head not in types_:
        raise ConfigError(
            f"unknown key {prefix + key!r} for {type(obj).__name__}; valid keys: {', '.join(sorted(types_))}"
        )
    current = getattr(obj, head)
    if rest:
        if dataclasses.is_dataclass(current):
            return dataclasses.replace(obj, **{head: apply_override(current, rest, value, f"{prefix}{head}.")})
        if isinstance(current, dict):
            updated = dict(current)
            updated[rest] = _parse_scalar(value) if isinstance(value, str) else value
            return dataclasses.replace(obj, **{head: updated})
        raise ConfigError(f"key {prefix + key!r}: {head} is not a section and has no sub-key {rest!r}")
    return dataclasses.replace(obj, **{head: coerce(value, types_[head], prefix + key)})


def apply_overrides(obj: T, overrides: list[str] | None) -> T:
    """Apply ``["a.b=1", "c=x"]`` overrides in order."""
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key=value (e.g. model.d_model=256)")
        key, value = item.split("=", 1)
        obj = apply_override(obj, key.strip(), value.strip())
    return obj


def load_config(cls: type[T], path: str | Path | None = None, overrides: list[str] | None = None,
                base: T | None = None) -> T:
    """Defaults (or ``base``) < YAML file < dotted overrides."""
    cfg = base if base is not None else cls()
    if path is not None:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: invalid YAML: {err}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
        cfg = merge_dict(cfg, data, str(path))
    return apply_overrides(cfg, overrides)


def merge_dict(obj: T, data: dict[str, Any], where: str = "") -> T:
    """Recursively overlay a mapping onto an existing dataclass instance."""
    types_ = _field_types(type(obj))
    unknown = sorted(set(data) - set(types_))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)} for {type(obj).__name__}; "
            f"valid keys: {', '.join(sorted(types_))}"
        )
    changes = {}
    for key, value in data.items():
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            changes[key] = merge_dict(current, value, f"{where}:{key}")
        else:
            changes[key] = coerce(value, types_[key], f"{where}:{key}")
    return dataclasses.replace(obj, **changes)


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
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    return path


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
