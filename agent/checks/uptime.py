"""Time since boot; a reboot since the previous run warns."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import psutil

from agent.checks.base import one_line_outcome
from agent.checks.schema import Option, OptionContext
from agent.spec import Category, Outcome, Status
from agent.units import format_duration

CATEGORY = Category.HARDWARE

OPTIONS = (
    Option(
        "min_uptime",
        "duration",
        help="uptime below which a reboot is reported; default: the check interval",
    ),
    Option("max_uptime", "duration", help="uptime above which it warns (unpatched)"),
)

THRESHOLDS = ()

# Boot time seen by the previous run of each check, keyed by check name.
_last_boot: dict[str, float] = {}
_lock = threading.Lock()

# Boot times from psutil jitter by up to a second between reads.
_BOOT_TOLERANCE = 2.0


def prepare(options: dict[str, Any], context: OptionContext) -> list[tuple[str, str]]:
    """Default min_uptime to the interval and remember the check's name."""
    if options["min_uptime"] is None:
        options["min_uptime"] = context.interval
    options["state_key"] = context.check
    return []


@one_line_outcome
def run(
    options: Mapping[str, Any],
    timeout: float,
    boot_time: float | None = None,
    now: float | None = None,
) -> Outcome:
    """Warn after a reboot; `boot_time` and `now` replace the clock in tests."""
    boot = psutil.boot_time() if boot_time is None else boot_time
    current = time.time() if now is None else now
    uptime = max(current - boot, 0.0)
    values = {"uptime_seconds": round(uptime, 0), "boot_time": boot}
    since = time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(boot))

    key = options.get("state_key", "")
    with _lock:
        previous = _last_boot.get(key)
        _last_boot[key] = boot

    rebooted = previous is not None and abs(previous - boot) > _BOOT_TOLERANCE
    if rebooted or uptime < options["min_uptime"]:
        return Outcome(
            Status.WARNING,
            f"rebooted {format_duration(uptime)} ago, at {since}",
            values,
            reason="threshold",
        )
    if options["max_uptime"] is not None and uptime > options["max_uptime"]:
        return Outcome(
            Status.WARNING,
            f"up for {format_duration(uptime)} since {since}, longer than "
            f"{format_duration(options['max_uptime'])}; reboot to apply updates",
            values,
            reason="threshold",
        )
    return Outcome(Status.OK, f"up for {format_duration(uptime)} since {since}", values)
