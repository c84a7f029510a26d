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
fills in defaults, so `options[key]` exists for every declared key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.spec import redact_url

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
    """What `prepare` may need beyond the kind's own keys."""

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
