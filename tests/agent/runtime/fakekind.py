"""A check kind for runtime tests, driven entirely by its options.

Options (all optional):
- `sleep`: seconds to sleep before answering, ignoring the timeout;
- `raise`: a message; the run raises RuntimeError with it;
- `statuses`: a list of status names, one popped per run (last one repeats);
- `status`, `message`, `values`, `reason`: the fixed outcome;
- `starts`: a list the run appends its start time to;
- `release`: a threading.Event the run waits on (at most 60 s) before answering.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from agent.spec import Outcome, Status


def run(options: Mapping[str, Any], timeout: float) -> Outcome:
    if "starts" in options:
        options["starts"].append(time.monotonic())
    if "release" in options:
        options["release"].wait(60)
    if "sleep" in options:
        time.sleep(options["sleep"])
    if "raise" in options:
        raise RuntimeError(options["raise"])

    status_name = options.get("status", "OK")
    statuses = options.get("statuses")
    if statuses:
        status_name = statuses.pop(0) if len(statuses) > 1 else statuses[0]
    status = Status[status_name]
    reason = options.get("reason", "" if status == Status.OK else "threshold")
    return Outcome(
        status,
        options.get("message", f"fake {status.name}"),
        options.get("values", {}),
        reason,
    )


def load(kind: str) -> Any:
    """Kind loader for Runner: every kind is this module."""
    import sys

    return sys.modules[__name__]
