"""A network interface must be up, with few errors and drops."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import psutil

from agent.checks.base import grade, one_line_outcome
from agent.checks.schema import Option, OptionContext, Threshold
from agent.spec import Category, Outcome, Status

CATEGORY = Category.HARDWARE

OPTIONS = (
    Option("interface", "str", required=True, help="interface name like eth0"),
    Option(
        "counters",
        "str",
        default="delta",
        choices=("delta", "rate", "total"),
        help="what the thresholds grade: errors and drops since the previous "
        "run (delta), per second since the previous run (rate) or since boot "
        "(total)",
    ),
    Option("errors_warning", "float", minimum=0, help="receive+send errors that warn"),
    Option("errors_critical", "float", minimum=0, help="errors that are critical"),
    Option("drops_warning", "float", minimum=0, help="receive+send drops that warn"),
    Option("drops_critical", "float", minimum=0, help="drops that are critical"),
)

THRESHOLDS = (
    Threshold("errors_warning", "errors_critical"),
    Threshold("drops_warning", "drops_critical"),
)

# Counters and the monotonic time of the previous run of each check, keyed by
# check name.
_previous: dict[str, tuple[int, int, float]] = {}
_lock = threading.Lock()


def prepare(options: dict[str, Any], context: OptionContext) -> list[tuple[str, str]]:
    """Remember the check's name, which keys the counters between runs."""
    options["state_key"] = context.check
    return []


@one_line_outcome
def run(options: Mapping[str, Any], timeout: float) -> Outcome:
    """Check that the interface is up and grade its error and drop counters."""
    name = options["interface"]
    stats = psutil.net_if_stats().get(name)
    if stats is None:
        known = ", ".join(sorted(psutil.net_if_stats())) or "none"
        return Outcome(
            Status.CRITICAL,
            f"interface {name} not found; this machine has {known}",
            reason="not_found",
        )
    if not stats.isup:
        return Outcome(Status.CRITICAL, f"interface {name} is down", reason="error")

    counters = psutil.net_io_counters(pernic=True).get(name)
    if counters is None:
        return Outcome(Status.OK, f"interface {name} is up; no counters", {})
    errors = counters.errin + counters.errout
    drops = counters.dropin + counters.dropout
    values: dict[str, float] = {
        "errors_total": errors,
        "drops_total": drops,
        "speed_bits_per_second": stats.speed * 1_000_000,
    }
    return _grade_counters(name, errors, drops, values, options)


def _grade_counters(
    name: str,
    errors: int,
    drops: int,
    values: dict[str, float],
    options: Mapping[str, Any],
) -> Outcome:
    counted_errors: float = errors
    counted_drops: float = drops
    scope = "since boot"
    if options["counters"] != "total":
        now = time.monotonic()
        key = options.get("state_key", name)
        with _lock:
            previous = _previous.get(key)
            _previous[key] = (errors, drops, now)
        # A counter that went down was reset (driver reload), so start over.
        if previous is None or errors < previous[0] or drops < previous[1]:
            return Outcome(
                Status.OK,
                f"interface {name} is up; counters recorded, compared from the "
                "next run",
                values,
            )
        counted_errors = errors - previous[0]
        counted_drops = drops - previous[1]
        values["errors"] = counted_errors
        values["drops"] = counted_drops
        scope = "since the previous run"
        if options["counters"] == "rate":
            elapsed = max(now - previous[2], 0.001)
            counted_errors /= elapsed
            counted_drops /= elapsed
            values["errors_per_second"] = counted_errors
            values["drops_per_second"] = counted_drops
            scope = "per second since the previous run"

    error_status = grade(
        counted_errors, options["errors_warning"], options["errors_critical"]
    )
    drop_status = grade(
        counted_drops, options["drops_warning"], options["drops_critical"]
    )
    status = max(error_status, drop_status)
    message = (
        f"interface {name} is up; {counted_errors:g} errors and {counted_drops:g} "
        f"drops {scope}"
    )
    reason = "" if status is Status.OK else "threshold"
    return Outcome(status, message, values, reason=reason)
