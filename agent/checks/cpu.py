"""CPU busy time over a short sample window."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psutil

from agent.checks.base import one_line_outcome
from agent.checks.memory import percent_outcome
from agent.checks.schema import Option, OptionContext, Threshold
from agent.spec import Category, Outcome
from agent.units import format_duration, format_percent

CATEGORY = Category.HARDWARE

OPTIONS = (
    Option(
        "sample",
        "duration",
        default=1.0,
        minimum=0.1,
        help="how long to measure CPU use",
    ),
    Option("warning", "percent", default=80.0, help="CPU use that warns"),
    Option("critical", "percent", default=95.0, help="CPU use that is critical"),
)

THRESHOLDS = (Threshold("warning", "critical"),)


def prepare(options: dict[str, Any], context: OptionContext) -> list[tuple[str, str]]:
    """Require the sample window to fit in the check's timeout."""
    if options["sample"] >= context.timeout:
        return [
            (
                "sample",
                f"the sample {format_duration(options['sample'])} is not shorter "
                f"than the timeout {format_duration(context.timeout)}; use a "
                "shorter sample or a longer timeout",
            )
        ]
    return []


@one_line_outcome
def run(options: Mapping[str, Any], timeout: float) -> Outcome:
    """Measure CPU use over `sample` seconds, blocking for that long."""
    # A non-blocking cpu_percent() compares with the previous call, and the
    # first call in a process has nothing to compare with, so always sample.
    sample = min(options["sample"], timeout * 0.9)
    used_percent = psutil.cpu_percent(interval=sample)
    values = {"used_percent": round(used_percent, 2), "cpus": _cpus()}
    message = (
        f"CPU is {format_percent(used_percent)} busy over "
        f"{format_duration(sample)} on {_cpus()} CPUs"
    )
    return percent_outcome(used_percent, message, values, options)


def _cpus() -> int:
    return psutil.cpu_count() or 1
