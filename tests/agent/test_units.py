"""Durations, sizes and percents as checks.yaml writes them."""

from __future__ import annotations

import pytest

from agent.units import (
    UnitError,
    format_duration,
    format_size,
    format_whole_duration,
    parse_duration,
    parse_percent,
    parse_size,
    plural,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("2h", 7200.0),
        ("1h30m", 5400.0),
        ("1h 30m", 5400.0),
        ("500ms", 0.5),
        ("1.5m", 90.0),
        ("1d", 86400.0),
        ("1w", 604800.0),
        ("45", 45.0),
        ("0.25", 0.25),
        ("2H", 7200.0),
    ],
)
def test_units_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "5 minutes", "1h30", "h", "-5s", "1y"])
def test_units_parse_duration_invalid(text: str) -> None:
    with pytest.raises(UnitError) as caught:
        parse_duration(text)

    assert str(caught.value) == (
        f"invalid duration '{text}'; write it like 90s, 5m, 1h30m or 500ms"
    )


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1024", 1024),
        ("500MiB", 500 * 1024**2),
        ("1.5GB", 1_500_000_000),
        ("10 kB", 10_000),
        ("10KB", 10_000),
        ("2KiB", 2048),
        ("1TiB", 1024**4),
        ("7B", 7),
    ],
)
def test_units_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "big", "5XB", "1,5GB", "-1MB", "MB"])
def test_units_parse_size_invalid(text: str) -> None:
    with pytest.raises(UnitError) as caught:
        parse_size(text)

    assert str(caught.value) == (
        f"invalid size '{text}'; write it like 500MiB, 1.5GB or 1024 (bytes)"
    )


@pytest.mark.parametrize(
    ("text", "value"), [("90%", 90.0), ("12.5 %", 12.5), ("0%", 0.0)]
)
def test_units_parse_percent(text: str, value: float) -> None:
    assert parse_percent(text) == value


@pytest.mark.parametrize("text", ["95x", "90", "0.9", "%", "-5%"])
def test_units_parse_percent_invalid(text: str) -> None:
    with pytest.raises(UnitError) as caught:
        parse_percent(text)

    assert str(caught.value) == f"invalid percent '{text}'; write it like 90%"


def test_units_parse_percent_above_hundred() -> None:
    with pytest.raises(UnitError) as caught:
        parse_percent("150%")

    assert str(caught.value) == "invalid percent '150%'; use a value from 0% to 100%"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (7200, "2h"),
        (5400, "1h30m"),
        (45, "45s"),
        (0.25, "0.250s"),
        (0, "0s"),
        (90061, "1d1h1m1s"),
    ],
)
def test_units_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (7500, "2h 5m"),
        (7530, "2h 5m 30s"),
        (45, "45s"),
        (0, "0s"),
        (90061, "1d 1h 1m 1s"),
        (86400, "1d"),
    ],
)
def test_units_format_whole_duration(seconds: int, text: str) -> None:
    assert format_whole_duration(seconds) == text


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (512, "512 B"),
        (1024, "1.0 KiB"),
        (1536 * 1024**2, "1.5 GiB"),
        (64 * 1024**2, "64.0 MiB"),
    ],
)
def test_units_format_size(size: int, text: str) -> None:
    assert format_size(size) == text


def test_plural_one_and_many() -> None:
    assert plural(1, "issue") == "1 issue"
    assert plural(0, "issue") == "0 issues"
    assert plural(2, "check") == "2 checks"
