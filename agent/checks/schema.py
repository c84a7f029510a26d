"""The options schema that each check kind declares for the loader.

A kind module provides:

- `CATEGORY`: the `Category` a check of this kind gets when it sets none;
- `OPTIONS`: a tuple of `Option`, one per key the kind accepts;
- `THRESHOLDS`: a tuple of `Threshold` pairs whose order the loader checks;
- optionally `prepare(options, context) -> list[tuple[str, str]]`, which
  checks rules across keys, may fill in derived values and returns
  `(key, message)` pairs for the problems it finds;
- `run(options, timeout) -> Outcome`.

The loader converts every value to its base unit before `run` sees it and
fills in defaults before `run` receives them, so `options[key]` exists for
every declared key.
`NodeReader` does that conversion from YAML nodes for the kinds' options
and for the loader's own sections alike.
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from agent import units
from agent.spec import redact_url

_NULL_TAG = "tag:yaml.org,2002:null"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_TRUE = {"true", "yes", "on"}
_FALSE = {"false", "no", "off"}
_VARIABLE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{")

# Value types an option can declare, with what the loader turns them into.
OPTION_TYPES = {
    "str": "text",
    "int": "whole number",
    "float": "number",
    "bool": "true or false",
    "duration": "seconds, written like 90s, 5m, 1h30m or 500ms",
    "size": "bytes, written like 500MiB, 1.5GB or 1024",
    "percent": "percent, written like 90%",
    "path": "absolute Path; relative paths start at the config file's folder",
    "regex": "compiled regular expression",
    "str_list": "list of texts",
    "int_list": "list of whole numbers",
    "str_map": "mapping of text to text",
    "argv": "list of arguments, or one text split like a shell does",
}


@dataclass(frozen=True)
class Option:
    """One key a check kind accepts, with its type and default.

    `default` is in base units. `secret` keeps the value out of every
    message. `minimum` and `maximum` bound numbers, durations and sizes.
    """

    key: str
    type: str
    default: Any = None
    required: bool = False
    help: str = ""
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    secret: bool = False

    def __post_init__(self) -> None:
        if self.type not in OPTION_TYPES:
            raise ValueError(f"option {self.key}: unknown type {self.type!r}")


@dataclass(frozen=True)
class Threshold:
    """A pair of warning and critical keys on one measured value.

    When `higher_is_worse` (used percent, latency) warning must be below
    critical; otherwise (free bytes, days left) warning must be above it.
    """

    warning: str
    critical: str
    higher_is_worse: bool = True


@dataclass(frozen=True)
class OptionContext:
    """Settings of the check that `prepare` may need beyond the kind's own keys."""

    check: str
    base_dir: Path
    interval: float
    timeout: float


def resolve_path(base_dir: Path, value: str) -> Path:
    """Return `value` as an absolute path, relative ones taken from `base_dir`."""
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    return path


class Secret(str):
    """Text whose repr hides it, for options that hold a password or token."""

    def __repr__(self) -> str:
        return "'***'"


class SecretURL(str):
    """A URL whose repr hides its password."""

    def __repr__(self) -> str:
        return repr(redact_url(self[:]))


class Invalid(Exception):
    """A value that failed its type; the message names the value and the fix."""


Entries = dict[str, tuple[yaml.Node, yaml.Node]]


class NodeReader:
    """Reads option values from a composed YAML node tree, collecting problems.

    Scalars are read from the text the user typed, after `${VAR}` and
    `${VAR:-default}` expansion from `environ`, and then converted by the
    option's type. Each problem is kept as (line, key path, message).
    """

    def __init__(self, base_dir: Path, environ: Mapping[str, str]) -> None:
        self.base_dir = base_dir
        self.environ = environ
        self.problems: list[tuple[int, str, str]] = []

    def issue(self, where: yaml.Node | int, key: str, message: str) -> None:
        """Record a problem at a node's line, or at a line number."""
        line = where if isinstance(where, int) else where.start_mark.line + 1
        self.problems.append((line, key, message))

    def mapping(
        self, node: yaml.Node, key: str, what: str
    ) -> dict[str, tuple[yaml.Node, yaml.Node]] | None:
        """Return the entries of a mapping node by key text, reporting duplicates."""
        if not isinstance(node, yaml.MappingNode):
            self.issue(node, key, f"expected {what} as a mapping of key: value")
            return None
        entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        merged: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                for source in _merge_sources(value_node):
                    for merged_key, merged_value in source.value:
                        merged.setdefault(merged_key.value, (merged_key, merged_value))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.issue(key_node, key, "a key must be plain text")
                continue
            name = key_node.value
            if name in entries:
                first = entries[name][0].start_mark.line + 1
                self.issue(
                    key_node,
                    join_key(key, name),
                    f"duplicate key; it is first set on line {first}; keep one",
                )
                continue
            entries[name] = (key_node, value_node)
        for name, entry in merged.items():
            entries.setdefault(name, entry)
        return entries

    def reject_unknown(
        self, entries: dict, key: str, known: list[str] | tuple[str, ...]
    ) -> None:
        for name, (key_node, _) in entries.items():
            if name in known:
                continue
            close = difflib.get_close_matches(name, known, n=1)
            if close:
                hint = f"did you mean '{close[0]}'?"
            else:
                hint = f"known keys are {', '.join(known)}"
            self.issue(key_node, join_key(key, name), f"unknown key; {hint}")

    def read_options(
        self,
        entries: dict,
        key: str,
        options: tuple[Option, ...],
        node: yaml.Node | None = None,
        kind: str = "",
    ) -> dict[str, Any] | None:
        """Return every option's value (default when unset), or None on errors."""
        values, invalid = self.read_each_option(entries, key, options, node, kind)
        return None if invalid else values

    def read_each_option(
        self,
        entries: dict,
        key: str,
        options: tuple[Option, ...],
        node: yaml.Node | None = None,
        kind: str = "",
    ) -> tuple[dict[str, Any], set[str]]:
        """Return every option's value and the keys that were invalid or missing.

        An invalid key's value is None, so rules across keys can skip it and
        still report the problems of the other keys.
        """
        values: dict[str, Any] = {}
        invalid: set[str] = set()
        for option in options:
            entry = entries.get(option.key)
            if entry is None or is_null(entry[1]):
                if option.required:
                    where: yaml.Node | int = node if node is not None else 0
                    if entry is not None:
                        where = entry[1]
                    needed = f"{kind} checks need it" if kind else "add it"
                    self.issue(where, join_key(key, option.key), f"missing; {needed}")
                    invalid.add(option.key)
                values[option.key] = _copy_default(option.default)
                continue
            try:
                values[option.key] = self.convert(
                    option, entry[1], join_key(key, option.key)
                )
            except Invalid as error:
                self.issue(entry[1], join_key(key, option.key), str(error))
                values[option.key] = None
                invalid.add(option.key)
        return values, invalid

    def convert(self, option: Option, node: yaml.Node, key: str) -> Any:
        """Return the value of `node` converted to the option's type."""
        if option.type in ("str_list", "int_list"):
            items = node.value if isinstance(node, yaml.SequenceNode) else [node]
            item_option = Option(option.key, option.type.removesuffix("_list"))
            return [self.convert(item_option, item, key) for item in items]
        if option.type == "argv":
            return self.convert_argv(option, node, key)
        if option.type == "str_map":
            return self.convert_map(node, key)

        if not isinstance(node, yaml.ScalarNode):
            raise Invalid(f"expected {_describe(option)}, not a list or mapping")
        text = self.expand(node.value, option)
        value = _CONVERTERS[option.type](text, option, self.base_dir, node)
        if option.choices and value not in option.choices:
            choices = ", ".join(str(choice) for choice in option.choices)
            raise Invalid(
                f"invalid value '{_shown(text, option)}'; use one of {choices}"
            )
        _check_bounds(option, value, text)
        return value

    def convert_argv(self, option: Option, node: yaml.Node, key: str) -> list[str]:
        if isinstance(node, yaml.SequenceNode):
            argv = [self.text_item(item, option) for item in node.value]
        elif isinstance(node, yaml.ScalarNode):
            text = self.expand(node.value, option)
            try:
                argv = shlex.split(text)
            except ValueError as error:
                raise Invalid(
                    f"cannot split '{text}': {error}; check the quotes"
                ) from None
        else:
            raise Invalid("expected a list of arguments or one command line")
        if not argv:
            raise Invalid("the command is empty; give the program and its arguments")
        return argv

    def text_item(self, node: yaml.Node, option: Option) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise Invalid("expected text items, not a nested list or mapping")
        return self.expand(node.value, option)

    def convert_map(self, node: yaml.Node, key: str) -> dict[str, str]:
        entries = self.mapping(node, key, "a mapping")
        if entries is None:
            raise Invalid("expected a mapping of name: value")
        result = {}
        text_option = Option("value", "str")
        for name, (_, value_node) in entries.items():
            result[name] = self.text_item(value_node, text_option)
        return result

    def text(self, node: yaml.Node, key: str) -> str | None:
        """Return a scalar's text as typed, after ${VAR} expansion."""
        try:
            return self.convert(Option(key, "str"), node, key)
        except Invalid as error:
            self.issue(node, key, str(error))
            return None

    def expand(self, text: str, option: Option) -> str:
        """Return `text` with ${VAR} and ${VAR:-default} replaced from environ."""

        def replace(match: re.Match[str]) -> str:
            whole = match.group(0)
            if whole == "$${":
                return "${"
            name = match.group(1)
            if name is None:
                raise Invalid(
                    "invalid ${...} reference; write ${NAME} or ${NAME:-default}, "
                    "or $${ for a literal ${"
                )
            value = self.environ.get(name)
            if value:
                return value
            if match.group(2) is not None:
                return match.group(2)
            if value is None:
                raise Invalid(
                    f"environment variable {name} is not set; set it or write "
                    f"${{{name}:-default}}"
                )
            return value

        if "$" not in text:
            return text
        return _VARIABLE.sub(replace, text)


def _convert_str(text: str, option: Option, base_dir: Path, node: yaml.Node) -> str:
    return text


def _convert_int(text: str, option: Option, base_dir: Path, node: yaml.Node) -> int:
    if not re.fullmatch(r"[+-]?\d+", text.strip()):
        raise Invalid(f"invalid whole number '{_shown(text, option)}'; write it like 3")
    return int(text)


def _convert_float(text: str, option: Option, base_dir: Path, node: yaml.Node) -> float:
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text.strip()):
        raise Invalid(f"invalid number '{_shown(text, option)}'; write it like 1.5")
    return float(text)


def _convert_bool(text: str, option: Option, base_dir: Path, node: yaml.Node) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise Invalid(f"invalid value '{_shown(text, option)}'; use true or false")


def _unit(parse: Callable[[str], Any]) -> Callable[[str, Option, Path, yaml.Node], Any]:
    def convert(text: str, option: Option, base_dir: Path, node: yaml.Node) -> Any:
        try:
            return parse(text)
        except units.UnitError as error:
            raise Invalid(str(error)) from None

    return convert


def _convert_path(text: str, option: Option, base_dir: Path, node: yaml.Node) -> Path:
    if not text.strip():
        raise Invalid("the path is empty; give a file or folder path")
    return resolve_path(base_dir, text)


def _convert_regex(
    text: str, option: Option, base_dir: Path, node: yaml.Node
) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as error:
        raise Invalid(
            f"invalid regular expression '{text}': {error}; fix the pattern"
        ) from None


_CONVERTERS: dict[str, Callable[[str, Option, Path, yaml.Node], Any]] = {
    "str": _convert_str,
    "int": _convert_int,
    "float": _convert_float,
    "bool": _convert_bool,
    "duration": _unit(units.parse_duration),
    "size": _unit(units.parse_size),
    "percent": _unit(units.parse_percent),
    "path": _convert_path,
    "regex": _convert_regex,
}


def _check_bounds(option: Option, value: Any, text: str) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return
    if option.minimum is not None and value < option.minimum:
        limit = format_value(option, option.minimum)
        raise Invalid(
            f"{_shown(text, option)} is below the minimum {limit}; use a larger value"
        )
    if option.maximum is not None and value > option.maximum:
        limit = format_value(option, option.maximum)
        raise Invalid(
            f"{_shown(text, option)} is above the maximum {limit}; use a smaller value"
        )


def format_value(option: Option, value: Any) -> str:
    if option.type == "duration":
        return units.format_duration(value)
    if option.type == "size":
        return units.format_size(value)
    if option.type == "percent":
        return f"{value:g}%"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _shown(text: str, option: Option) -> str:
    if option.secret:
        return "***"
    return redact_url(text) if "://" in text else text


def _describe(option: Option) -> str:
    return {"str": "text", "path": "a path"}.get(option.type, f"a {option.type}")


def _copy_default(default: Any) -> Any:
    if isinstance(default, tuple):
        return list(default)
    if isinstance(default, dict):
        return dict(default)
    return default


def is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG


def join_key(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def item_node(node: yaml.Node, index: int) -> yaml.Node:
    if isinstance(node, yaml.SequenceNode) and index < len(node.value):
        return node.value[index]
    return node


def _merge_sources(node: yaml.Node) -> list[yaml.MappingNode]:
    if isinstance(node, yaml.MappingNode):
        return [node]
    if isinstance(node, yaml.SequenceNode):
        return [item for item in node.value if isinstance(item, yaml.MappingNode)]
    return []


def suggestion(name: str, names: list[str]) -> str:
    """Return "; did you mean 'x'?" for the closest of `names`, or a hint."""
    close = difflib.get_close_matches(name, names, n=1)
    if close:
        return f"; did you mean '{close[0]}'?"
    return "; name a check of this file"
