"""Whether a maintenance window is active at a given moment."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from agent.maintenance import (
    OneOffWindow,
    WeeklyWindow,
    parse_time_of_day,
    parse_timestamp,
)

JAKARTA = ZoneInfo("Asia/Jakarta")  # UTC+7 all year
BERLIN = ZoneInfo("Europe/Berlin")


def weekly(
    days: set[int], start: str, end: str, zone: ZoneInfo = JAKARTA
) -> WeeklyWindow:
    return WeeklyWindow(
        name="nightly",
        checks=frozenset(),
        zone=zone,
        days=frozenset(days),
        start_time=parse_time_of_day(start),
        end_time=parse_time_of_day(end),
    )


def test_maintenance_one_off_bounds() -> None:
    window = OneOffWindow(
        name="upgrade",
        checks=frozenset({"app-db"}),
        start=datetime(2026, 12, 5, 22, 0, tzinfo=JAKARTA),
        end=datetime(2026, 12, 5, 23, 30, tzinfo=JAKARTA),
    )

    assert not window.is_active(datetime(2026, 12, 5, 14, 59, tzinfo=UTC))
    assert window.is_active(datetime(2026, 12, 5, 15, 0, tzinfo=UTC))
    assert window.is_active(datetime(2026, 12, 5, 16, 29, tzinfo=UTC))
    assert not window.is_active(datetime(2026, 12, 5, 16, 30, tzinfo=UTC))


def test_maintenance_naive_time_is_utc() -> None:
    window = OneOffWindow(
        name="upgrade",
        checks=frozenset(),
        start=datetime(2026, 12, 5, 15, 0, tzinfo=UTC),
        end=datetime(2026, 12, 5, 16, 0, tzinfo=UTC),
    )

    assert window.is_active(datetime(2026, 12, 5, 15, 30))


def test_maintenance_weekly_same_day() -> None:
    window = weekly({0}, "22:00", "23:30")  # Monday evenings
    monday = datetime(2026, 12, 7, 22, 15, tzinfo=JAKARTA)

    assert window.is_active(monday)
    assert not window.is_active(monday.replace(hour=21, minute=59))
    assert not window.is_active(monday.replace(hour=23, minute=30))
    assert not window.is_active(datetime(2026, 12, 8, 22, 15, tzinfo=JAKARTA))


def test_maintenance_weekly_crosses_midnight() -> None:
    window = weekly({4}, "23:00", "02:00")  # Friday night into Saturday

    assert window.is_active(datetime(2026, 12, 11, 23, 30, tzinfo=JAKARTA))
    assert window.is_active(datetime(2026, 12, 12, 1, 59, tzinfo=JAKARTA))
    assert not window.is_active(datetime(2026, 12, 12, 2, 0, tzinfo=JAKARTA))
    assert not window.is_active(datetime(2026, 12, 11, 1, 0, tzinfo=JAKARTA))
    assert not window.is_active(datetime(2026, 12, 12, 23, 30, tzinfo=JAKARTA))


def test_maintenance_weekly_uses_zone_offset() -> None:
    window = weekly({0, 1, 2, 3, 4, 5, 6}, "22:00", "23:00")

    assert window.is_active(datetime(2026, 12, 7, 15, 30, tzinfo=UTC))
    assert not window.is_active(datetime(2026, 12, 7, 22, 30, tzinfo=UTC))


def test_maintenance_weekly_follows_daylight_saving() -> None:
    window = weekly({0, 1, 2, 3, 4, 5, 6}, "02:00", "03:00", zone=BERLIN)

    assert window.is_active(datetime(2026, 1, 15, 1, 30, tzinfo=UTC))
    assert window.is_active(datetime(2026, 7, 15, 0, 30, tzinfo=UTC))
    assert not window.is_active(datetime(2026, 7, 15, 1, 30, tzinfo=UTC))


def test_maintenance_parse_time_of_day() -> None:
    assert parse_time_of_day("07:05") == time(7, 5)


@pytest.mark.parametrize("text", ["24:00", "7", "7:5", "ab:cd", "12:60"])
def test_maintenance_parse_time_of_day_invalid(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_time_of_day(text)

    assert str(caught.value) == f"invalid time '{text}'; write it like 22:00"


def test_maintenance_parse_timestamp_takes_zone() -> None:
    value = parse_timestamp("2026-12-05T22:00", JAKARTA)

    assert value == datetime(2026, 12, 5, 15, 0, tzinfo=UTC)


def test_maintenance_parse_timestamp_keeps_offset() -> None:
    value = parse_timestamp("2026-12-05T22:00+00:00", JAKARTA)

    assert value == datetime(2026, 12, 5, 22, 0, tzinfo=UTC)


def test_maintenance_parse_timestamp_invalid() -> None:
    with pytest.raises(ValueError) as caught:
        parse_timestamp("tomorrow", JAKARTA)

    assert str(caught.value) == (
        "invalid timestamp 'tomorrow'; write it like 2026-12-05T22:00"
    )
