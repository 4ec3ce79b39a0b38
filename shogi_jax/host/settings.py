"""Typed settings from YAML: the machinery under every config (training, tournaments).

A config is a tree of frozen dataclasses whose fields are `setting(default, meaning, check)`: the
meaning is the --help text and the check the constraint `check_settings` enforces. The loader is
driven by the fields and their type hints, so a new section needs only a dataclass and a field.
Loading is strict: an unknown key, a wrong type or an impossible value raises `ConfigError` naming
the dotted key, because a silently ignored typo in a long training run costs hours.
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import os
import re
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field
from pathlib import Path
from typing import Any, Optional, Union, get_args, get_origin, get_type_hints

import yaml


class ConfigError(ValueError):
    """A config that cannot be used: unreadable, unknown key, wrong type or impossible value."""


# --- fields: a default, a meaning and a constraint --------------------------------------------

_Check = tuple[Callable[[Any], bool], str]  # (accepts the value, the requirement in words)
POSITIVE: _Check = (lambda v: v > 0, "> 0")
NON_NEGATIVE: _Check = (lambda v: v >= 0, ">= 0")
POSITIVE_EVEN: _Check = (lambda v: v > 0 and v % 2 == 0, "even and > 0")
NON_NEGATIVE_EVEN: _Check = (lambda v: v >= 0 and v % 2 == 0, "even and >= 0")
NONE_OR_POSITIVE: _Check = (lambda v: v is None or v > 0, "None or > 0")
NONE_OR_NON_NEGATIVE: _Check = (lambda v: v is None or v >= 0, "None or >= 0")
UNIT_INTERVAL: _Check = (lambda v: 0 <= v <= 1, "in [0, 1]")
NONE_OR_UNIT_INTERVAL: _Check = (lambda v: v is None or 0 <= v <= 1, "None or in [0, 1]")


def one_of(choices: Sequence[str]) -> _Check:
    return (lambda v: v in choices, f"one of {', '.join(choices)}")


def setting(default: Any, meaning: str, check: Optional[_Check] = None) -> Any:
    """A config field: its default, its meaning (the --help text) and the constraint `validate`
    enforces (None: any value of its type)."""
    return field(default=default, metadata={"help": meaning, "check": check})


def section(section_class: type) -> Any:
    """A nested section of a config, at its defaults."""
    return field(default_factory=section_class)


# --- YAML -------------------------------------------------------------------------------------


class _YamlLoader(yaml.SafeLoader):
    """SafeLoader that also reads `1e-4` as a float.

    YAML 1.1 (PyYAML) only treats exponent numbers with a dot (`1.0e-4`) as floats, so
    `ppo.learning_rate=1e-4` would otherwise arrive as the string "1e-4".
    """


_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_YamlLoader)  # noqa: S506 (a SafeLoader subclass)


# --- mappings -> dataclasses ------------------------------------------------------------------


def _dotted(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _describe(value: Any) -> str:
    return "None" if value is None else f"{type(value).__name__} {value!r}"


def _optional_inner(hint: Any) -> Any | None:
    """X for Optional[X] (or `X | None`), None for any other hint."""
    if get_origin(hint) not in (Union, types.UnionType):
        return None
    members = [member for member in get_args(hint) if member is not type(None)]
    if len(members) != 1 or len(members) == len(get_args(hint)):
        raise TypeError(f"config schema: only Optional[X] unions are supported, got {hint!r}")
    return members[0]


def _tuple_item(hint: Any) -> Any | None:
    """X for tuple[X, ...], None for any other hint."""
    if get_origin(hint) is tuple and len(get_args(hint)) == 2 and get_args(hint)[1] is Ellipsis:
        return get_args(hint)[0]
    return None


def _type_name(hint: Any) -> str:
    if _tuple_item(hint) is not None:
        return f"a list of {_type_name(_tuple_item(hint))}"
    inner = _optional_inner(hint)
    if inner is not None:
        return f"{_type_name(inner)} or None"
    if dataclasses.is_dataclass(hint):
        return "a mapping"
    return hint.__name__


def _convert(value: Any, hint: Any, key: str) -> Any:
    """Checks `value` against the type hint of `key` and returns it in the field's type."""
    if dataclasses.is_dataclass(hint):
        return section_from_mapping(hint, value, key)
    item_hint = _tuple_item(hint)
    if item_hint is not None:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected {_type_name(hint)}, got {_describe(value)}")
        return tuple(_convert(item, item_hint, f"{key}[{i}]") for i, item in enumerate(value))
    scalar_hint = _optional_inner(hint)
    if scalar_hint is None:
        scalar_hint = hint
    elif value is None:
        return None
    if scalar_hint not in (bool, int, float, str):
        raise TypeError(f"config schema: unsupported type {hint!r} for {key}")
    # bool is a subclass of int, but `epochs: true` is a mistake, not the number 1.
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if scalar_hint is bool and isinstance(value, bool):
        return value
    if scalar_hint is int and is_number and isinstance(value, int):
        return value
    if scalar_hint is float and is_number:
        return float(value)
    if scalar_hint is str and isinstance(value, str):
        return value
    raise ConfigError(f"{key}: expected {_type_name(hint)}, got {_describe(value)}")


def section_from_mapping(section_class: type, raw: Any, prefix: str) -> Any:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {_describe(raw)}")
    field_names = [f.name for f in dataclasses.fields(section_class) if f.init]
    for key in raw:
        if key not in field_names:
            raise ConfigError(_unknown_key_message(str(key), field_names, prefix))
    hints = get_type_hints(section_class)
    values = {
        name: _convert(raw[name], hints[name], _dotted(prefix, name))
        for name in field_names
        if name in raw
    }
    return section_class(**values)


def _unknown_key_message(key: str, valid_names: Sequence[str], prefix: str) -> str:
    message = f"unknown config key '{_dotted(prefix, key)}'"
    close = difflib.get_close_matches(key, valid_names, n=1)
    if close:
        return f"{message} (did you mean '{_dotted(prefix, close[0])}'?)"
    return f"{message}; valid keys{f' in {prefix}' if prefix else ''}: {', '.join(valid_names)}"


def check_settings(config: Any, prefix: str = "") -> None:
    """ConfigError naming the first setting (in schema order, sections and list items included)
    whose value breaks its constraint."""
    for f in dataclasses.fields(config):
        value, key = getattr(config, f.name), _dotted(prefix, f.name)
        if dataclasses.is_dataclass(value):
            check_settings(value, key)
        elif isinstance(value, tuple) and value and dataclasses.is_dataclass(value[0]):
            for i, item in enumerate(value):
                check_settings(item, f"{key}[{i}]")
        elif f.metadata.get("check") is not None:
            accepts, requirement = f.metadata["check"]
            if not accepts(value):
                raise ConfigError(f"{key} must be {requirement}, got {value!r}")



# --- overrides, files, output -----------------------------------------------------------------


def apply_overrides(raw: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Returns a deep copy of `raw` with each "a.b=value" override set (value read as YAML).

    Unknown keys are left for config_from_dict, so they get the same message as in a file.
    """
    result = copy.deepcopy(dict(raw))
    for override in overrides:
        path, separator, value_text = override.partition("=")
        keys = path.strip().split(".")
        if not separator or not all(keys):
            raise ConfigError(f"malformed override '{override}': expected 'section.key=value'")
        try:
            value = parse_yaml(value_text)
        except yaml.YAMLError as error:
            raise ConfigError(f"override '{override}': value is not valid YAML: {error}") from None
        section = result
        for depth, key in enumerate(keys[:-1]):
            if isinstance(section, list):  # "players.0.kind": an item of a list, by index
                section = section[_list_index(section, key, override, keys[:depth])]
            else:
                section = section.setdefault(key, {})
            if not isinstance(section, (dict, list)):
                parent = ".".join(keys[: depth + 1])
                raise ConfigError(f"override '{override}': '{parent}' is not a section")
        if isinstance(section, list):
            section[_list_index(section, keys[-1], override, keys[:-1])] = value
        else:
            section[keys[-1]] = value
    return result


def _list_index(items: list, key: str, override: str, parents: Sequence[str]) -> int:
    if not key.isdigit() or int(key) >= len(items):
        raise ConfigError(f"override '{override}': '{'.'.join(parents)}' is a list of "
                          f"{len(items)}; '{key}' is not an index into it (0..{len(items) - 1})")
    return int(key)


def read_mapping(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error}") from None
    try:
        raw = parse_yaml(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"invalid YAML in config file {path}: {error}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path}: top level must be a mapping, got {_describe(raw)}")
    return raw


def config_to_dict(config: Any) -> dict[str, Any]:
    """Plain nested dict (lists for tuples) of a config dataclass (training or tournament);
    config_from_dict(config_to_dict(c)) == c, and likewise for tournaments."""
    def plain(value):
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(item) for item in value]
        return value

    return plain(dataclasses.asdict(config))


def config_differences(old: Any, new: Any, prefix: str = ""):
    """(dotted key, old value, new value) for every setting in which two plain configs (as from
    config_to_dict) differ; keys in sorted order, list items as key[i]."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            yield from config_differences(old.get(key), new.get(key), _dotted(prefix, key))
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new)):
            yield from config_differences(a, b, f"{prefix}[{i}]")
    elif old != new:
        yield prefix, old, new


def config_yaml(config: Any) -> str:
    """The config as YAML, in schema order."""
    return yaml.safe_dump(config_to_dict(config), sort_keys=False)


def settings_reference(section_class: type, prefix: str = "") -> list[str]:
    """`dotted.key = default  # meaning [constraint]` for every setting, from the schema, for
    --help."""
    lines = []
    hints = get_type_hints(section_class)
    for f in dataclasses.fields(section_class):
        key = _dotted(prefix, f.name)
        if dataclasses.is_dataclass(hints[f.name]):
            lines += settings_reference(hints[f.name], key)
            continue
        check = f.metadata["check"]
        constraint = f" [{check[1]}]" if check else ""
        lines.append(f"{key} = {f.default!r}  # {f.metadata['help']}{constraint}")
    return lines
