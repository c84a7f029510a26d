"""Swap space in use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psutil

from agent.checks.base import one_line_outcome
from agent.checks.memory import percent_outcome
from agent.checks.schema import Option, Threshold
from agent.spec import Category, Outcome, Status
from agent.units import format_percent, format_size

CATEGORY = Category.HARDWARE

OPTIONS = (
    Option("warning", "percent", default=50.0, help="used swap that warns"),
    Option("critical", "percent", default=80.0, help="used swap that is critical"),
)

THRESHOLDS = (Threshold("warning", "critical"),)


@one_line_outcome
def run(options: Mapping[str, Any], timeout: float) -> Outcome:
    """Grade the swap in use; a machine without swap is OK."""
    swap = psutil.swap_memory()
    if swap.total == 0:
        values = {"used_percent": 0.0, "total_bytes": 0}
        return Outcome(Status.OK, "no swap configured", values)
    used_percent = swap.used / swap.total * 100
    values = {
        "used_percent": round(used_percent, 2),
        "used_bytes": swap.used,
        "total_bytes": swap.total,
    }
    message = (
        f"swap is {format_percent(used_percent)} used, "
        f"{format_size(swap.used)} of {format_size(swap.total)}"
    )
    return percent_outcome(used_percent, message, values, options)
