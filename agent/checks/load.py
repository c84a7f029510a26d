"""Load average per CPU."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psutil

from agent.checks.base import one_line_outcome, threshold_outcome
from agent.checks.schema import Option, Threshold
from agent.spec import Category, Outcome

CATEGORY = Category.HARDWARE

OPTIONS = (
    Option(
        "minutes",
        "int",
        default=5,
        choices=(1, 5, 15),
        help="which load average: 1, 5 or 15 minutes",
    ),
    Option("warning", "float", default=1.5, minimum=0, help="load per CPU that warns"),
    Option(
        "critical",
        "float",
        default=2.0,
        minimum=0,
        help="load per CPU that is critical",
    ),
)

THRESHOLDS = (Threshold("warning", "critical"),)

_INDEX = {1: 0, 5: 1, 15: 2}


@one_line_outcome
def run(options: Mapping[str, Any], timeout: float) -> Outcome:
    """Grade the chosen load average divided by the number of CPUs."""
    minutes = options["minutes"]
    load = psutil.getloadavg()[_INDEX[minutes]]
    cpus = psutil.cpu_count() or 1
    per_cpu = load / cpus
    values = {
        "load": round(load, 3),
        "load_per_cpu": round(per_cpu, 3),
        "cpus": cpus,
    }
    message = (
        f"{minutes}-minute load is {load:.2f}, {per_cpu:.2f} per CPU on {cpus} CPUs"
    )

    return threshold_outcome(
        per_cpu,
        message,
        values,
        options,
        lambda limit: f"{limit:g} per CPU",
    )
