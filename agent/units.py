"""Parse and format the units written in checks.yaml: durations, sizes, percents.

Parsers take the text the user typed and raise `UnitError` with a message
that shows the value and how to write it. Results are in base units:
seconds, bytes and percent (0 to 100).
"""

from __future__ import annotations

import math
import re

DURATION_UNITS = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
}

SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "pb": 1000**5,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
    "pib": 1024**5,
}

_NUMBER = r"\d+(?:\.\d+)?|\.\d+"
_DURATION_PART = re.compile(rf"({_NUMBER})\s*(ms|s|m|h|d|w)", re.IGNORECASE)
_SIZE = re.compile(rf"({_NUMBER})\s*([a-z]*)", re.IGNORECASE)
_PERCENT = re.compile(rf"({_NUMBER})\s*%")


class UnitError(ValueError):
    """A value that is not a valid duration, size or percent."""


def parse_duration(text: str) -> float:
    """Return the seconds in `text`: `90s`, `2h`, `1h30m`, `500ms` or `45`."""
    value = text.strip()
    hint = f"invalid duration '{text}'; write it like 90s, 5m, 1h30m or 500ms"
    if not value:
        raise UnitError(hint)
    if re.fullmatch(_NUMBER, value):
        return float(value)

    total = 0.0
    position = 0
    for match in _DURATION_PART.finditer(value):
        if match.start() != position:
            raise UnitError(hint)
        total += float(match.group(1)) * DURATION_UNITS[match.group(2).lower()]
        position = match.end()
        while position < len(value) and value[position] == " ":
            position += 1
    if position != len(value):
        raise UnitError(hint)
    return total


def parse_size(text: str) -> int:
    """Return the bytes in `text`: `500MiB`, `1.5GB`, `10 kB`, or `1024` (bytes).

    SI units (kB, MB, GB, TB, PB) are powers of 1000 and IEC units (KiB,
    MiB, GiB, TiB, PiB) powers of 1024, as both standards define them.
    """
    match = _SIZE.fullmatch(text.strip())
    unit = match.group(2).lower() if match else ""
    if match is None or (unit and unit not in SIZE_UNITS):
        raise UnitError(
            f"invalid size '{text}'; write it like 500MiB, 1.5GB or 1024 (bytes)"
        )
    return int(float(match.group(1)) * SIZE_UNITS.get(unit, 1))


def parse_percent(text: str) -> float:
    """Return the percent in `text`, written with a percent sign like `90%`."""
    match = _PERCENT.fullmatch(text.strip())
    if match is None:
        raise UnitError(f"invalid percent '{text}'; write it like 90%")
    value = float(match.group(1))
    if value > 100:
        raise UnitError(f"invalid percent '{text}'; use a value from 0% to 100%")
    return value


def format_duration(seconds: float) -> str:
    """Return `seconds` as short text like `2h`, `1h30m`, `45s` or `0.250s`."""
    if seconds < 60 and not float(seconds).is_integer():
        return f"{seconds:.3f}s"
    remaining = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def format_whole_duration(seconds: int) -> str:
    """Return whole `seconds` as text like `2h 5m`, `1d 3h 20s` or `0s`.

    Every non-zero unit is shown, so the text converts back to exactly
    `seconds`.
    """
    parts = []
    remaining = seconds
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts) or "0s"


def format_size(size: float) -> str:
    """Return `size` bytes as short IEC text like `1.5 GiB` or `512 B`."""
    if size < 1024:
        return f"{size:.0f} B"
    exponent = min(int(math.log(size, 1024)), 5)
    unit = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")[exponent]
    return f"{size / 1024**exponent:.1f} {unit}"


def format_percent(value: float) -> str:
    """Return `value` as text like `93.1%`."""
    return f"{value:.1f}%"


def plural(count: int, noun: str) -> str:
    """Return `count` with `noun`, adding an s unless the count is 1: `1 issue`."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
