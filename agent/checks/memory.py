"""Memory in use, as the share of total memory that is not available."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psutil

from agent.checks.base import one_line_outcome, threshold_outcome
from agent.checks.schema import Option, Threshold
from agent.spec import Category, Outcome
from agent.units import format_percent, format_size

CATEGORY = Category.HARDWARE

OPTIONS = (
    Option("warning", "percent", default=80.0, help="used memory that warns"),
    Option("critical", "percent", default=90.0, help="used memory that is critical"),
)

THRESHOLDS = (Threshold("warning", "critical"),)


@one_line_outcome
def run(options: Mapping[str, Any], timeout: float) -> Outcome:
    """Grade the memory in use; page cache that can be freed counts as free."""
    memory = psutil.virtual_memory()
    used_percent = (memory.total - memory.available) / memory.total * 100
    values = {
        "used_percent": round(used_percent, 2),
        "available_bytes": memory.available,
        "total_bytes": memory.total,
    }
    message = (
        f"memory is {format_percent(used_percent)} used, "
        f"{format_size(memory.available)} of {format_size(memory.total)} available"
    )
    return percent_outcome(used_percent, message, values, options)


def percent_outcome(
    used_percent: float,
    message: str,
    values: Mapping[str, float],
    options: Mapping[str, Any],
) -> Outcome:
    """Return an Outcome graded on `used_percent` against warning and critical."""
    return threshold_outcome(
        used_percent,
        message,
        values,
        options,
        lambda limit: f"{limit:g}%",
    )
