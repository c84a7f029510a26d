"""The newest file matching a glob pattern must be recent and large enough."""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from agent.checks.base import (
    CallTimeout,
    StillBlocked,
    call_with_timeout,
    one_line_outcome,
)
from agent.checks.schema import Option
from agent.spec import Category, Outcome, Status
from agent.units import format_duration, format_size, format_whole_duration

CATEGORY = Category.HARDWARE

OPTIONS = (
    Option(
        "path",
        "path",
        required=True,
        help="glob pattern of backup files, like /srv/backups/*.sql.gz",
    ),
    Option("max_age", "duration", required=True, help="oldest acceptable newest file"),
    Option("min_size", "size", default=1, minimum=0, help="smallest acceptable size"),
)

THRESHOLDS = ()


Newest = tuple[str, os.stat_result, int]


@one_line_outcome
def run(
    options: Mapping[str, Any],
    timeout: float,
    find_newest: Callable[[str], Newest | None] | None = None,
) -> Outcome:
    """Find the newest matching file and check its age and size.

    `find_newest` lists the pattern (default `_newest`). Tests pass one
    that blocks like a hung mount.
    """
    pattern = str(options["path"])
    find = find_newest or _newest
    try:
        newest = call_with_timeout(lambda: find(pattern), timeout, key=(find, pattern))
    except StillBlocked:
        return Outcome(
            Status.UNKNOWN,
            f"listing {pattern} from an earlier run has still not finished; the "
            "mount hangs",
            reason="timeout",
        )
    except CallTimeout:
        # Like disk, a listing that hangs on its mount could not measure
        # anything, so it is UNKNOWN rather than a hung agent.
        return Outcome(
            Status.UNKNOWN,
            f"listing {pattern} did not finish within {timeout:g}s; the mount may hang",
            reason="timeout",
        )
    if newest is None:
        return Outcome(
            Status.CRITICAL,
            f"no backup found: no file matches {pattern}",
            {"files": 0},
            reason="not_found",
        )

    path, stat, count = newest
    # Whole seconds, so that the message and age_seconds show the same age.
    age = round(max(time.time() - stat.st_mtime, 0.0))
    values = {"age_seconds": age, "size_bytes": stat.st_size, "files": count}
    described = (
        f"newest backup {path} is {format_whole_duration(age)} old, "
        f"{format_size(stat.st_size)}"
    )
    if age > options["max_age"]:
        return Outcome(
            Status.CRITICAL,
            f"{described}; older than {format_duration(options['max_age'])}",
            values,
            reason="threshold",
        )
    if stat.st_size < options["min_size"]:
        return Outcome(
            Status.CRITICAL,
            f"{described}; smaller than {format_size(options['min_size'])}",
            values,
            reason="threshold",
        )
    return Outcome(Status.OK, described, values)


def _newest(pattern: str) -> Newest | None:
    """Return the newest regular file matching `pattern`, its stat and the count."""
    newest = None
    count = 0
    for path in glob.iglob(pattern, recursive=True):
        try:
            stat = os.stat(path)
        except OSError:
            continue  # removed while listing
        if not os.path.isfile(path):
            continue
        count += 1
        if newest is None or stat.st_mtime > newest[1].st_mtime:
            newest = (path, stat)
    if newest is None:
        return None
    return newest[0], newest[1], count
