"""The loader's rules for the maintenance: list."""

from __future__ import annotations

from datetime import UTC, datetime

from agent.config import load_config
from agent.maintenance import OneOffWindow, WeeklyWindow

from .conftest import ConfigWriter, config_messages

CHECKS = """\
checks:
  - name: app-db
    kind: memory
  - name: web
    kind: swap
maintenance:
"""


def test_maintenance_weekly_window_loads(write_config: ConfigWriter) -> None:
    path = write_config(
        CHECKS
        + """\
  - name: nightly-backup
    checks: [app-db]
    timezone: Asia/Jakarta
    days: [mon, fri]
    from: 22:00
    to: 01:30
"""
    )

    window = load_config(path, {}).maintenance[0]

    assert isinstance(window, WeeklyWindow)
    assert window.checks == frozenset({"app-db"})
    assert window.days == frozenset({0, 4})
    assert window.is_active(datetime(2026, 12, 7, 18, 0, tzinfo=UTC))
    assert not window.is_active(datetime(2026, 12, 7, 14, 0, tzinfo=UTC))


def test_maintenance_days_default_to_every_day(write_config: ConfigWriter) -> None:
    path = write_config(CHECKS + "  - name: n\n    from: '22:00'\n    to: '23:00'\n")

    window = load_config(path, {}).maintenance[0]

    assert window.days == frozenset(range(7))
    assert window.checks == frozenset()


def test_maintenance_one_off_window_loads(write_config: ConfigWriter) -> None:
    path = write_config(
        CHECKS
        + """\
  - name: upgrade
    timezone: Asia/Jakarta
    start: 2026-12-05T22:00
    end: 2026-12-06T02:00
"""
    )

    window = load_config(path, {}).maintenance[0]

    assert isinstance(window, OneOffWindow)
    assert window.start == datetime(2026, 12, 5, 15, 0, tzinfo=UTC)
    assert window.end == datetime(2026, 12, 5, 19, 0, tzinfo=UTC)


def test_maintenance_unknown_check(write_config: ConfigWriter) -> None:
    path = write_config(
        CHECKS
        + "  - name: n\n    checks: [app-bd]\n    from: '22:00'\n    to: '23:00'\n"
    )

    assert config_messages(path) == [
        f"{path}:8: maintenance[0].checks[0]: unknown check 'app-bd'; did you mean "
        "'app-db'?"
    ]


def test_maintenance_invalid_check_reported_once(write_config: ConfigWriter) -> None:
    path = write_config(
        "checks:\n  - name: app-db\n    kind: memory\n    recover_after: 0\n"
        "maintenance:\n"
        "  - name: n\n    checks: [app-db]\n    from: '22:00'\n    to: '23:00'\n"
    )

    assert config_messages(path) == [
        f"{path}:4: checks[0].recover_after: 0 is below the minimum 1; use a "
        "larger value"
    ]


def test_maintenance_unknown_timezone(write_config: ConfigWriter) -> None:
    path = write_config(
        CHECKS
        + "  - name: n\n    timezone: Asia/Jakatra\n    from: 1:00\n    to: 2:00\n"
    )

    assert config_messages(path) == [
        f"{path}:8: maintenance[0].timezone: unknown time zone 'Asia/Jakatra'; use an "
        "IANA name like Asia/Jakarta or UTC"
    ]


def test_maintenance_invalid_day(write_config: ConfigWriter) -> None:
    path = write_config(
        CHECKS
        + "  - name: n\n    days: [mon, moon]\n    from: '1:00'\n    to: '2:00'\n"
    )

    assert config_messages(path) == [
        f"{path}:8: maintenance[0].days[1]: invalid day 'moon'; use mon, tue, wed, "
        "thu, fri, sat or sun"
    ]


def test_maintenance_invalid_time(write_config: ConfigWriter) -> None:
    path = write_config(CHECKS + "  - name: n\n    from: 25:00\n    to: '2:00'\n")

    assert config_messages(path) == [
        f"{path}:8: maintenance[0].from: invalid time '25:00'; write it like 22:00"
    ]


def test_maintenance_missing_to(write_config: ConfigWriter) -> None:
    path = write_config(CHECKS + "  - name: n\n    from: '22:00'\n")

    assert config_messages(path) == [
        f"{path}:7: maintenance[0].to: missing; a window needs start and end, or "
        "days with from and to"
    ]


def test_maintenance_equal_from_and_to(write_config: ConfigWriter) -> None:
    path = write_config(CHECKS + "  - name: n\n    from: '22:00'\n    to: '22:00'\n")

    assert config_messages(path) == [
        f"{path}:9: maintenance[0].to: to 22:00 equals from 22:00; give a different end"
    ]


def test_maintenance_one_off_and_weekly(write_config: ConfigWriter) -> None:
    path = write_config(
        CHECKS + "  - name: n\n    start: 2026-12-05T22:00\n    end: 2026-12-06T01:00\n"
        "    from: '22:00'\n"
    )

    assert config_messages(path) == [
        f"{path}:7: maintenance[0]: set either start and end (one-off) or days, from "
        "and to (weekly), not both"
    ]


def test_maintenance_end_before_start(write_config: ConfigWriter) -> None:
    path = write_config(
        CHECKS + "  - name: n\n    start: 2026-12-05T22:00\n    end: 2026-12-05T21:00\n"
    )

    assert config_messages(path) == [
        f"{path}:9: maintenance[0].end: end 2026-12-05T21:00 is not after start "
        "2026-12-05T22:00; give a later end"
    ]


def test_maintenance_missing_end(write_config: ConfigWriter) -> None:
    path = write_config(CHECKS + "  - name: n\n    start: 2026-12-05T22:00\n")

    assert config_messages(path) == [
        f"{path}:8: maintenance[0].end: missing; a one-off window needs start and end"
    ]


def test_maintenance_invalid_timestamp(write_config: ConfigWriter) -> None:
    path = write_config(
        CHECKS + "  - name: n\n    start: tonight\n    end: 2026-12-05T21:00\n"
    )

    assert config_messages(path) == [
        f"{path}:8: maintenance[0].start: invalid timestamp 'tonight'; write it like "
        "2026-12-05T22:00"
    ]


def test_maintenance_duplicate_name(write_config: ConfigWriter) -> None:
    path = write_config(
        CHECKS + "  - name: n\n    from: '1:00'\n    to: '2:00'\n"
        "  - name: n\n    from: '3:00'\n    to: '4:00'\n"
    )

    assert config_messages(path) == [
        f"{path}:10: maintenance[1].name: duplicate window name 'n'; it is first used "
        "on line 7; give each window its own name"
    ]


def test_maintenance_unknown_key(write_config: ConfigWriter) -> None:
    path = write_config(CHECKS + "  - name: n\n    form: '1:00'\n    to: '2:00'\n")

    assert config_messages(path) == [
        f"{path}:7: maintenance[0].from: missing; a window needs start and end, or "
        "days with from and to",
        f"{path}:8: maintenance[0].form: unknown key; did you mean 'from'?",
    ]
