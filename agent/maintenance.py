"""Maintenance windows: planned periods in which failures open no case.

A window is either one-off (from `start` to `end`) or weekly (on `days`
from `from` to `to` local time, which may cross midnight). Times are wall
clock times in the window's time zone, so a weekly window follows daylight
saving time changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class OneOffWindow:
    """A single period from `start` (inclusive) to `end` (exclusive)."""

    name: str
    checks: frozenset[str]
    start: datetime
    end: datetime

    def is_active(self, at: datetime) -> bool:
        """Return whether `at` (naive means UTC) falls inside the window."""
        return self.start <= _aware(at) < self.end


@dataclass(frozen=True)
class WeeklyWindow:
    """A period on some weekdays from `start_time` to `end_time` local time.

    When `end_time` is not after `start_time` the period crosses midnight
    and ends on the next day, so `days` names the day each period starts.
    """

    name: str
    checks: frozenset[str]
    zone: ZoneInfo
    days: frozenset[int]  # 0 is Monday, as datetime.weekday() counts
    start_time: time
    end_time: time

    def is_active(self, at: datetime) -> bool:
        """Return whether `at` (naive means UTC) falls inside the window."""
        local = _aware(at).astimezone(self.zone)
        now = local.time().replace(tzinfo=None)
        today = local.weekday()
        if self.start_time < self.end_time:
            return today in self.days and self.start_time <= now < self.end_time

        yesterday = (local.date() - timedelta(days=1)).weekday()
        started_today = today in self.days and now >= self.start_time
        started_yesterday = yesterday in self.days and now < self.end_time
        return started_today or started_yesterday


def parse_time_of_day(text: str) -> time:
    """Return the time in `text` written as HH:MM, or raise ValueError."""
    hours, separator, minutes = text.strip().partition(":")
    if not (separator and hours.isdigit() and minutes.isdigit()):
        raise ValueError(f"invalid time '{text}'; write it like 22:00")
    if len(minutes) != 2 or int(hours) > 23 or int(minutes) > 59:
        raise ValueError(f"invalid time '{text}'; write it like 22:00")
    return time(int(hours), int(minutes))


def parse_timestamp(text: str, zone: ZoneInfo) -> datetime:
    """Return the ISO 8601 time in `text`; without an offset it is in `zone`."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"invalid timestamp '{text}'; write it like 2026-12-05T22:00"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        return at.replace(tzinfo=UTC)
    return at
