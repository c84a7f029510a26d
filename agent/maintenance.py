"""Maintenance windows: planned periods in which failures open no case.

A window is either one-off (from `start` to `end`) or weekly (on `days`
from `from` to `to` local time, which may cross midnight). Times are wall
clock times in the window's time zone, so a weekly window follows daylight
saving time changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from agent.checks.schema import NodeReader, Option, item_node, suggestion
from agent.spec import MaintenanceWindow

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_DAY_SPELLINGS = set(DAY_NAMES) | {
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
}

OPTIONS = (
    Option("name", "str", required=True),
    Option("checks", "str_list", default=()),
    Option("timezone", "str", default="UTC"),
    Option("start", "str"),
    Option("end", "str"),
    Option("days", "str_list", default=DAY_NAMES),
    Option("from", "str"),
    Option("to", "str"),
)


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


def read_windows(
    reader: NodeReader, node: yaml.Node, check_names: set[str]
) -> list[MaintenanceWindow]:
    """Return the windows of the `maintenance:` list; problems go to `reader`."""
    if not isinstance(node, yaml.SequenceNode):
        reader.issue(
            node,
            "maintenance",
            "expected a list of windows, each starting with '- name:'",
        )
        return []
    windows: list[MaintenanceWindow] = []
    first_line: dict[str, int] = {}
    for index, item in enumerate(node.value):
        key = f"maintenance[{index}]"
        window = _read_window(reader, item, key, check_names)
        if window is None:
            continue
        if window.name in first_line:
            reader.issue(
                item,
                f"{key}.name",
                f"duplicate window name '{window.name}'; it is first used on "
                f"line {first_line[window.name]}; give each window its own name",
            )
            continue
        first_line[window.name] = item.start_mark.line + 1
        windows.append(window)
    return windows


def _read_window(
    reader: NodeReader, node: yaml.Node, key: str, check_names: set[str]
) -> MaintenanceWindow | None:
    entries = reader.mapping(node, key, "a maintenance window")
    if entries is None:
        return None
    reader.reject_unknown(entries, key, [option.key for option in OPTIONS])
    values = reader.read_options(entries, key, OPTIONS, node)
    if values is None:
        return None

    valid = True
    for index, name in enumerate(values["checks"]):
        if name not in check_names:
            reader.issue(
                item_node(entries["checks"][1], index),
                f"{key}.checks[{index}]",
                f"unknown check '{name}'{suggestion(name, sorted(check_names))}",
            )
            valid = False

    try:
        zone = ZoneInfo(values["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        reader.issue(
            entries["timezone"][1],
            f"{key}.timezone",
            f"unknown time zone '{values['timezone']}'; use an IANA name like "
            "Asia/Jakarta or UTC",
        )
        return None

    one_off = [name for name in ("start", "end") if name in entries]
    weekly = [name for name in ("days", "from", "to") if name in entries]
    if one_off and weekly:
        reader.issue(
            node,
            key,
            "set either start and end (one-off) or days, from and to "
            "(weekly), not both",
        )
        return None
    if one_off:
        window = _read_one_off(reader, entries, key, values, zone)
    else:
        window = _read_weekly(reader, node, entries, key, values, zone)
    return window if valid else None


def _read_one_off(
    reader: NodeReader, entries: dict, key: str, values: dict, zone: ZoneInfo
) -> OneOffWindow | None:
    times = {}
    for name in ("start", "end"):
        if values[name] is None:
            reader.issue(
                entries.get("start", entries.get("end"))[0],
                f"{key}.{name}",
                "missing; a one-off window needs start and end",
            )
            continue
        try:
            times[name] = parse_timestamp(values[name], zone)
        except ValueError as error:
            reader.issue(entries[name][1], f"{key}.{name}", str(error))
    if len(times) != 2:
        return None
    if times["end"] <= times["start"]:
        reader.issue(
            entries["end"][1],
            f"{key}.end",
            f"end {values['end']} is not after start {values['start']}; "
            "give a later end",
        )
        return None
    return OneOffWindow(
        name=values["name"],
        checks=frozenset(values["checks"]),
        start=times["start"],
        end=times["end"],
    )


def _read_weekly(
    reader: NodeReader,
    node: yaml.Node,
    entries: dict,
    key: str,
    values: dict,
    zone: ZoneInfo,
) -> WeeklyWindow | None:
    clock = {}
    for name in ("from", "to"):
        if values[name] is None:
            reader.issue(
                node,
                f"{key}.{name}",
                "missing; a window needs start and end, or days with from and to",
            )
            continue
        try:
            clock[name] = parse_time_of_day(values[name])
        except ValueError as error:
            reader.issue(entries[name][1], f"{key}.{name}", str(error))

    days = set()
    for index, day in enumerate(values["days"]):
        if day.lower()[:3] in DAY_NAMES and day.lower() in _DAY_SPELLINGS:
            days.add(DAY_NAMES.index(day.lower()[:3]))
            continue
        reader.issue(
            item_node(entries["days"][1], index),
            f"{key}.days[{index}]",
            f"invalid day '{day}'; use mon, tue, wed, thu, fri, sat or sun",
        )
    if len(clock) != 2 or len(days) != len(set(values["days"])) or not days:
        if "days" in entries and not values["days"]:
            reader.issue(
                entries["days"][1],
                f"{key}.days",
                "the list is empty; name at least one day",
            )
        return None
    if clock["from"] == clock["to"]:
        reader.issue(
            entries["to"][1],
            f"{key}.to",
            f"to {values['to']} equals from {values['from']}; give a different end",
        )
        return None
    return WeeklyWindow(
        name=values["name"],
        checks=frozenset(values["checks"]),
        zone=zone,
        days=frozenset(days),
        start_time=clock["from"],
        end_time=clock["to"],
    )
