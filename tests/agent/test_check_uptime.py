"""The uptime kind, with the clock injected for reboots."""

from __future__ import annotations

from collections.abc import Callable

from agent.checks import uptime
from agent.spec import CheckSpec, Status

MakeCheck = Callable[..., CheckSpec]

BOOT = 1_780_000_000.0
DAY = 86400.0


def test_uptime_ok(make_check: MakeCheck) -> None:
    check = make_check("uptime", name="uptime-ok", interval="2h")

    outcome = uptime.run(
        check.options, check.timeout, boot_time=BOOT, now=BOOT + 3 * DAY
    )

    assert outcome.status is Status.OK
    assert outcome.message.startswith("up for 3d since ")
    assert outcome.values["uptime_seconds"] == 3 * DAY


def test_uptime_recent_boot_warns(make_check: MakeCheck) -> None:
    check = make_check("uptime", name="uptime-recent", interval="2h")

    outcome = uptime.run(check.options, check.timeout, boot_time=BOOT, now=BOOT + 600)

    assert outcome.status is Status.WARNING
    assert outcome.message.startswith("rebooted 10m ago, at ")
    assert outcome.reason == "threshold"


def test_uptime_boot_time_change_warns(make_check: MakeCheck) -> None:
    check = make_check("uptime", name="uptime-changed", interval="1h")

    before = uptime.run(check.options, check.timeout, boot_time=BOOT, now=BOOT + DAY)
    after = uptime.run(
        check.options, check.timeout, boot_time=BOOT + DAY, now=BOOT + 3 * DAY
    )
    steady = uptime.run(
        check.options, check.timeout, boot_time=BOOT + DAY, now=BOOT + 4 * DAY
    )

    assert before.status is Status.OK
    assert after.status is Status.WARNING
    assert after.message.startswith("rebooted 2d ago, at ")
    assert steady.status is Status.OK


def test_uptime_state_is_per_check(make_check: MakeCheck) -> None:
    first = make_check("uptime", name="uptime-a", interval="1h")
    second = make_check("uptime", name="uptime-b", interval="1h")

    uptime.run(first.options, first.timeout, boot_time=BOOT, now=BOOT + DAY)
    outcome = uptime.run(
        second.options, second.timeout, boot_time=BOOT + 10, now=BOOT + DAY
    )

    assert outcome.status is Status.OK


def test_uptime_max_uptime(make_check: MakeCheck) -> None:
    check = make_check("uptime", name="uptime-max", max_uptime="30d")

    outcome = uptime.run(
        check.options, check.timeout, boot_time=BOOT, now=BOOT + 45 * DAY
    )

    assert outcome.status is Status.WARNING
    assert outcome.message.endswith("longer than 30d; reboot to apply updates")


def test_uptime_real_machine(make_check: MakeCheck) -> None:
    check = make_check("uptime", name="uptime-real", min_uptime="1s")

    outcome = uptime.run(check.options, check.timeout)

    assert outcome.values["uptime_seconds"] > 0
