"""Hardware temperatures from the sensors psutil can read."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import psutil

from agent.checks.base import grade, one_line_outcome, plural
from agent.checks.schema import Option, Threshold
from agent.spec import Category, Outcome, Status

CATEGORY = Category.HARDWARE

OPTIONS = (
    Option("sensor", "str", help="sensor chip name like coretemp; default: all"),
    Option("label", "str", help="reading label like 'Package id 0'; default: all"),
    Option(
        "warning",
        "float",
        help="degrees Celsius that warn; default: each sensor's own high mark",
    ),
    Option(
        "critical",
        "float",
        help="degrees Celsius that are critical; default: each sensor's critical mark",
    ),
)

THRESHOLDS = (Threshold("warning", "critical"),)

SensorReader = Callable[[], Mapping[str, list[Any]]]


def read_sensors() -> Mapping[str, list[Any]]:
    """Return psutil's readings, or none where the platform has no sensors."""
    reader = getattr(psutil, "sensors_temperatures", None)
    if reader is None:
        return {}
    return reader()


@one_line_outcome
def run(
    options: Mapping[str, Any],
    timeout: float,
    sensors: SensorReader = read_sensors,
) -> Outcome:
    """Grade the hottest matching reading; `sensors` replaces psutil in tests.

    Each reading has psutil's shape: `label`, `current`, `high`, `critical`.
    """
    try:
        found = sensors()
    except OSError as error:
        return Outcome(
            Status.UNKNOWN, f"reading the sensors failed: {error}", reason="error"
        )
    readings = []
    for chip, entries in found.items():
        if options["sensor"] is not None and chip != options["sensor"]:
            continue
        for entry in entries:
            if options["label"] is not None and entry.label != options["label"]:
                continue
            readings.append((chip, entry))

    if not readings:
        return Outcome(
            Status.UNKNOWN,
            f"no temperature sensor found{_filter_text(options)}",
            reason="unsupported",
        )

    worst: tuple[Status, float, str, str] | None = None
    for chip, entry in readings:
        warning = options["warning"] if options["warning"] is not None else entry.high
        critical = (
            options["critical"] if options["critical"] is not None else entry.critical
        )
        status = grade(entry.current, warning, critical)
        name = f"{chip} {entry.label}".strip() if entry.label else chip
        limit = ""
        if status is not Status.OK:
            crossed = critical if status is Status.CRITICAL else warning
            limit = f" ({status.name.lower()} at {crossed:g} °C)"
        candidate = (status, entry.current, name, limit)
        if worst is None or candidate[:2] > worst[:2]:
            worst = candidate

    status, current, name, limit = worst
    values = {"temperature_celsius": float(current), "sensors": len(readings)}
    message = (
        f"hottest of {plural(len(readings), 'sensor')} is {name} at {current:g} °C"
        f"{limit}"
    )
    reason = "" if status is Status.OK else "threshold"
    return Outcome(status, message, values, reason=reason)


def _filter_text(options: Mapping[str, Any]) -> str:
    parts = []
    if options["sensor"] is not None:
        parts.append(f"sensor {options['sensor']!r}")
    if options["label"] is not None:
        parts.append(f"label {options['label']!r}")
    return f" for {' and '.join(parts)}" if parts else " on this machine"
