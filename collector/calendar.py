"""Working-time arithmetic for step deadlines.

The bureau works office hours in Asia/Jakarta, not on weekends, Indonesian
public holidays or the civil service's joint leave days (cuti bersama).
Deadlines count only working time. A step due in "2 hours" is due after 120
minutes inside office hours. "1 day" is one working day: the minutes of one
normal office day (``BusinessCalendar.day_minutes``), counted across as many
days as needed.

Work outside office hours is allowed and recorded as it happened, but a
clock that starts outside office hours starts counting at the next opening.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

logger = logging.getLogger(__name__)

JAKARTA = ZoneInfo("Asia/Jakarta")

# Mon-Fri 07:30-16:00; the weekday index is datetime.weekday() (Monday is 0).
DEFAULT_OFFICE_HOURS: dict[int, list[tuple[time, time]]] = {
    weekday: [(time(7, 30), time(16, 0))] for weekday in range(5)
}

# Both categories of python-holidays (checked with version 0.109): "public" is
# the national public holidays, "government" the joint leave days decreed for
# civil servants each year. The package lists joint leave days only for the
# years whose decree it includes (up to 2027 in 0.109), so later ones must
# be configured as extra days off.
HOLIDAY_CATEGORIES = ("public", "government")

# Cap on the days a deadline search walks, so that a calendar configured with
# (almost) no working days fails loudly instead of looping.
MAX_SEARCH_DAYS = 3660

_UNITS = {
    "day": "days",
    "days": "days",
    "hari": "days",
    "hour": "hours",
    "hours": "hours",
    "jam": "hours",
    "minute": "minutes",
    "minutes": "minutes",
    "menit": "minutes",
}
_PART = re.compile(r"(\d+)\s*([A-Za-z]+)")


@dataclass(frozen=True)
class WorkingDuration:
    """A span of working time: whole working days plus working minutes."""

    days: int = 0
    minutes: int = 0

    @classmethod
    def parse(cls, text: str) -> WorkingDuration:
        """Parse "1 day", "2 hours", "1 day 4 hours", "30 minutes" (or hari,
        jam, menit). Raise ValueError naming the text when it does not parse."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError(
                f"invalid working duration {text!r}; expected for example "
                "'1 day', '2 hours' or '30 minutes'"
            )

        days = 0
        minutes = 0
        position = 0
        stripped = text.strip()
        for match in _PART.finditer(stripped):
            if stripped[position : match.start()].strip(" ,"):
                break
            unit = _UNITS.get(match.group(2).lower())
            if unit is None:
                raise ValueError(
                    f"invalid working duration {text!r}: unknown unit "
                    f"{match.group(2)!r}; expected days, hours or minutes"
                )
            amount = int(match.group(1))
            if unit == "days":
                days += amount
            elif unit == "hours":
                minutes += amount * 60
            else:
                minutes += amount
            position = match.end()

        if position == 0 or stripped[position:].strip(" ,"):
            raise ValueError(
                f"invalid working duration {text!r}; expected for example "
                "'1 day', '2 hours' or '30 minutes'"
            )
        if days == 0 and minutes == 0:
            raise ValueError(
                f"invalid working duration {text!r}: it must be longer than zero"
            )
        return cls(days=days, minutes=minutes)

    def total_minutes(self, day_minutes: int) -> int:
        """Return the working minutes, counting a day as ``day_minutes``."""
        return self.days * day_minutes + self.minutes

    def __str__(self) -> str:
        parts = []
        if self.days:
            parts.append(f"{self.days} day" + ("s" if self.days != 1 else ""))
        hours, minutes = divmod(self.minutes, 60)
        if hours:
            parts.append(f"{hours} hour" + ("s" if hours != 1 else ""))
        if minutes:
            parts.append(f"{minutes} minute" + ("s" if minutes != 1 else ""))
        return " ".join(parts) or "0 minutes"


class BusinessCalendar:
    """Office hours, days off and extra working days of the bureau.

    ``office_hours`` maps a weekday (Monday is 0) to its open intervals in
    local time; a weekday missing from it is closed. ``extra_days_off`` close
    single dates and ``extra_working_days`` open single dates (a Saturday
    made a working day, say) with ``extra_day_hours``, which default to the
    longest weekday's hours. An extra working day beats a holiday.
    """

    def __init__(
        self,
        office_hours: Mapping[int, Sequence[tuple[time, time]]] | None = None,
        timezone: str = "Asia/Jakarta",
        extra_days_off: Iterable[date] = (),
        extra_working_days: Iterable[date] = (),
        extra_day_hours: Sequence[tuple[time, time]] | None = None,
        day_minutes: int | None = None,
        use_holidays: bool = True,
    ) -> None:
        hours = DEFAULT_OFFICE_HOURS if office_hours is None else office_hours
        self.office_hours: dict[int, list[tuple[time, time]]] = {}
        for weekday, intervals in hours.items():
            if weekday not in range(7):
                raise ValueError(
                    f"office hours: invalid weekday {weekday!r}; expected 0 "
                    "(Monday) to 6 (Sunday)"
                )
            self.office_hours[weekday] = _checked_intervals(
                f"office hours of weekday {weekday}", intervals
            )
        daily = {
            weekday: _interval_minutes(intervals)
            for weekday, intervals in self.office_hours.items()
            if intervals
        }
        if not daily:
            raise ValueError(
                "office hours: no weekday has office hours; give at least one"
            )

        longest_weekday = max(daily, key=lambda weekday: (daily[weekday], -weekday))
        if extra_day_hours is None:
            self.extra_day_hours = list(self.office_hours[longest_weekday])
        else:
            self.extra_day_hours = _checked_intervals(
                "extra working day hours", extra_day_hours
            )
        self.day_minutes = (
            daily[longest_weekday] if day_minutes is None else day_minutes
        )
        if self.day_minutes <= 0:
            raise ValueError(
                f"day_minutes: invalid value {self.day_minutes}; it must be "
                "greater than zero"
            )

        self.timezone = ZoneInfo(timezone)
        self.extra_days_off = frozenset(extra_days_off)
        self.extra_working_days = frozenset(extra_working_days)
        self.use_holidays = use_holidays
        self.holidays = (
            holidays.country_holidays(
                "ID", categories=HOLIDAY_CATEGORIES, language="id"
            )
            if use_holidays
            else {}
        )

    def has_joint_leave_days(self, year: int) -> bool:
        """Return whether joint leave days of ``year`` are known.

        They are known when the holidays package lists some for that year
        (its government category), or when the configuration names an extra
        day off in that year.
        """
        if any(day.year == year for day in self.extra_days_off):
            return True
        if not self.use_holidays:
            return False
        government = holidays.country_holidays(
            "ID", categories=("government",), years=year
        )
        return len(government) > 0

    def day_off_reason(self, day: date) -> str | None:
        """Return why ``day`` is not a working day, or None if it is one."""
        if day in self.extra_working_days:
            return None
        if day in self.extra_days_off:
            return "extra day off"
        holiday = self.holidays.get(day)
        if holiday:
            return str(holiday)
        if not self.office_hours.get(day.weekday()):
            return "weekend"
        return None

    def intervals_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """Return the office intervals of ``day`` as aware local datetimes."""
        if day in self.extra_working_days:
            spans = self.extra_day_hours
        elif self.day_off_reason(day) is not None:
            return []
        else:
            spans = self.office_hours.get(day.weekday(), [])
        return [
            (
                datetime.combine(day, start, tzinfo=self.timezone),
                datetime.combine(day, end, tzinfo=self.timezone),
            )
            for start, end in spans
        ]

    def clock_start(self, at: datetime) -> datetime:
        """Return ``at`` if it is inside office hours, else the next opening."""
        local = self._local(at, "at")
        day = local.date()
        for _ in range(MAX_SEARCH_DAYS):
            for start, end in self.intervals_on(day):
                if local < end:
                    return max(local, start)
            day += timedelta(days=1)
        raise ValueError(
            f"no office hours within {MAX_SEARCH_DAYS} days after {at.isoformat()}; "
            "check the office hours and extra days off"
        )

    def add_working_time(self, start: datetime, duration: WorkingDuration) -> datetime:
        """Return when ``duration`` of working time has passed after ``start``.

        The result is local time. A duration that ends exactly at closing
        time is due at closing time, not at the next opening.
        """
        remaining = timedelta(minutes=duration.total_minutes(self.day_minutes))
        cursor = self.clock_start(start)
        day = cursor.date()
        for _ in range(MAX_SEARCH_DAYS):
            for interval_start, interval_end in self.intervals_on(day):
                if cursor >= interval_end:
                    continue
                begin = max(cursor, interval_start)
                available = interval_end - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
                cursor = interval_end
            day += timedelta(days=1)
        raise ValueError(
            f"deadline of {duration} after {start.isoformat()} lies more than "
            f"{MAX_SEARCH_DAYS} days ahead; check the office hours and extra days off"
        )

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Return the working time from ``a`` to ``b``, negative if b < a."""
        first = self._local(a, "a")
        second = self._local(b, "b")
        if second < first:
            return -self.working_time_between(second, first)

        total = timedelta()
        day = first.date()
        while day <= second.date():
            for interval_start, interval_end in self.intervals_on(day):
                overlap = min(second, interval_end) - max(first, interval_start)
                if overlap > timedelta():
                    total += overlap
            day += timedelta(days=1)
        return total

    def _local(self, value: datetime, name: str) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"{name}: naive datetime {value.isoformat()}; give a timezone "
                "(for example +07:00 or UTC)"
            )
        return value.astimezone(self.timezone)


def _checked_intervals(
    where: str, intervals: Sequence[tuple[time, time]]
) -> list[tuple[time, time]]:
    checked = sorted(intervals)
    for index, (start, end) in enumerate(checked):
        if end <= start:
            raise ValueError(
                f"{where}: interval {start:%H:%M}-{end:%H:%M} ends before it "
                "starts; give start-end with end later"
            )
        if index and start < checked[index - 1][1]:
            raise ValueError(
                f"{where}: interval {start:%H:%M}-{end:%H:%M} overlaps the "
                "previous one; merge them"
            )
    return checked


def _interval_minutes(intervals: Sequence[tuple[time, time]]) -> int:
    return sum(
        (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
        for start, end in intervals
    )


def parse_office_hours(text: str) -> dict[int, list[tuple[time, time]]]:
    """Parse office hours like "mon-thu 07:30-16:00; fri 07:30-16:30".

    Each ";"-separated part names a weekday or a range of weekdays and one or
    more comma-separated intervals. Weekdays not named are closed.
    """
    names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    result: dict[int, list[tuple[time, time]]] = {}
    for part in filter(None, (piece.strip() for piece in text.split(";"))):
        days_text, _, spans_text = part.partition(" ")
        first, _, last = days_text.lower().partition("-")
        if first not in names or (last and last not in names):
            raise ValueError(
                f"office hours {part!r}: invalid weekday {days_text!r}; expected "
                "mon, tue, wed, thu, fri, sat, sun or a range like mon-fri"
            )
        start_index = names.index(first)
        end_index = names.index(last) if last else start_index
        spans = []
        for span in filter(None, (s.strip() for s in spans_text.split(","))):
            try:
                opening, closing = (
                    time.fromisoformat(value.strip()) for value in span.split("-")
                )
            except ValueError:
                raise ValueError(
                    f"office hours {part!r}: invalid interval {span!r}; expected "
                    "HH:MM-HH:MM, for example 07:30-16:00"
                ) from None
            spans.append((opening, closing))
        if not spans:
            raise ValueError(
                f"office hours {part!r}: no interval; add one like 07:30-16:00"
            )
        for weekday in range(start_index, end_index + 1):
            result[weekday] = spans
    return result
