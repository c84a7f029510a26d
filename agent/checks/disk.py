"""Disk space and inodes of one path's filesystem, or of every real mount."""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import psutil

from agent.checks.base import (
    CallTimeout,
    StillBlocked,
    call_with_timeout,
    grade,
    limit_for,
    one_line_outcome,
)
from agent.checks.schema import Option, OptionContext, Threshold
from agent.spec import Category, Outcome, Status
from agent.units import format_percent, format_size

logger = logging.getLogger(__name__)

CATEGORY = Category.HARDWARE

OPTIONS = (
    Option("path", "path", help="a path on the filesystem to check"),
    Option("all", "bool", default=False, help="check every real mount instead"),
    Option("warning", "percent", default=80.0, help="used space that warns"),
    Option("critical", "percent", default=90.0, help="used space that is critical"),
    Option("free_warning", "size", help="free space at or below which it warns"),
    Option("free_critical", "size", help="free space that is critical"),
    Option("inodes_warning", "percent", help="used inodes that warn"),
    Option("inodes_critical", "percent", help="used inodes that are critical"),
)

THRESHOLDS = (
    Threshold("warning", "critical"),
    Threshold("free_warning", "free_critical", higher_is_worse=False),
    Threshold("inodes_warning", "inodes_critical"),
)

# Filesystems that hold no user data, or are read-only images that are
# always 100% used (iso9660, squashfs, erofs, cramfs); `all: true` skips them.
PSEUDO_FILESYSTEMS = frozenset(
    {
        "aufs",
        "autofs",
        "binfmt_misc",
        "bpf",
        "cgroup",
        "cgroup2",
        "configfs",
        "cramfs",
        "debugfs",
        "devfs",
        "devpts",
        "devtmpfs",
        "efivarfs",
        "erofs",
        "fuse.gvfsd-fuse",
        "fuse.lxcfs",
        "fuse.portal",
        "fuse.snapfuse",
        "fusectl",
        "hugetlbfs",
        "iso9660",
        "mqueue",
        "nfsd",
        "nsfs",
        "overlay",
        "proc",
        "pstore",
        "ramfs",
        "rpc_pipefs",
        "securityfs",
        "selinuxfs",
        "squashfs",
        "sysfs",
        "tmpfs",
        "tracefs",
    }
)


@dataclass(frozen=True)
class Usage:
    """Space and inodes of one filesystem, as df counts them."""

    path: str
    used_percent: float
    free_bytes: int
    total_bytes: int
    inodes_used_percent: float | None  # None where the filesystem has no inode count


def prepare(options: dict[str, Any], context: OptionContext) -> list[tuple[str, str]]:
    """Require exactly one of path and all."""
    if options["all"] and options["path"] is not None:
        return [("all", "set either path or all: true, not both")]
    if not options["all"] and options["path"] is None:
        return [("path", "missing; give a path like / or set all: true")]
    return []


@one_line_outcome
def run(
    options: Mapping[str, Any],
    timeout: float,
    statvfs: Callable[[str], os.statvfs_result] = os.statvfs,
) -> Outcome:
    """Measure the filesystem of `path`, or every real mount with `all`.

    `statvfs` is the call that measures one path. Tests pass one that blocks.
    """
    if options["all"]:
        try:
            paths = real_mounts()
        except OSError as error:
            return Outcome(
                Status.UNKNOWN, f"cannot list mounts: {error}", reason="error"
            )
    else:
        paths = [str(options["path"])]

    usages = []
    deadline = time.monotonic() + timeout
    for path in paths:
        remaining = max(deadline - time.monotonic(), 0.001)
        # The existence check happens inside statvfs on purpose, because a
        # stat of a path on a hung mount blocks as long as statvfs does.
        try:
            usages.append(
                call_with_timeout(
                    functools.partial(measure, path, statvfs),
                    remaining,
                    key=(statvfs, path),
                )
            )
        except StillBlocked:
            return Outcome(
                Status.UNKNOWN,
                f"statvfs of {path} from an earlier run has still not returned; "
                "the mount hangs",
                reason="timeout",
            )
        except CallTimeout:
            # The agent could not measure the filesystem, so the result is
            # UNKNOWN; the thread is abandoned instead of hanging the agent.
            return Outcome(
                Status.UNKNOWN,
                f"statvfs of {path} did not return within {timeout:g}s; "
                "the mount may hang",
                reason="timeout",
            )
        except OSError as error:
            # A listed mount that vanished since is not the missing path
            # that the user configured.
            missing = isinstance(error, FileNotFoundError | NotADirectoryError)
            if missing and not options["all"]:
                return Outcome(
                    Status.CRITICAL,
                    f"{path} not found; is it mounted?",
                    reason="not_found",
                )
            return Outcome(
                Status.UNKNOWN, f"statvfs of {path} failed: {error}", reason="error"
            )
    return evaluate(usages, options)


def real_mounts() -> list[str]:
    """Return the mount points whose filesystem can hold data, each once."""
    seen = set()
    mounts = []
    for partition in psutil.disk_partitions(all=True):
        if partition.fstype in PSEUDO_FILESYSTEMS or partition.mountpoint in seen:
            continue
        seen.add(partition.mountpoint)
        mounts.append(partition.mountpoint)
    return mounts


def measure(
    path: str, statvfs: Callable[[str], os.statvfs_result] = os.statvfs
) -> Usage:
    """Return the usage of the filesystem holding `path`."""
    stat = statvfs(path)
    free = stat.f_bavail * stat.f_frsize
    used = (stat.f_blocks - stat.f_bfree) * stat.f_frsize
    # Like df, space reserved for root counts neither as used nor as free.
    usable = used + free
    used_percent = used / usable * 100 if usable else 0.0
    inodes = None
    if stat.f_files:
        inodes = (stat.f_files - stat.f_ffree) / stat.f_files * 100
    return Usage(path, used_percent, free, stat.f_blocks * stat.f_frsize, inodes)


def evaluate(usages: list[Usage], options: Mapping[str, Any]) -> Outcome:
    """Grade each filesystem and return the worst finding."""
    worst = Status.OK
    findings = []
    for usage in usages:
        status, finding = grade_usage(usage, options)
        if status > worst:
            worst, findings = status, []
        if status == worst and finding:
            findings.append(finding)

    values: dict[str, float] = {
        "used_percent": round(max(u.used_percent for u in usages), 2),
        "free_bytes": min(u.free_bytes for u in usages),
    }
    inodes = [
        u.inodes_used_percent for u in usages if u.inodes_used_percent is not None
    ]
    if inodes:
        values["inodes_used_percent"] = round(max(inodes), 2)
    if options["all"]:
        values["mounts"] = len(usages)

    if worst is Status.OK:
        if len(usages) == 1:
            usage = usages[0]
            message = (
                f"{usage.path} is {format_percent(usage.used_percent)} used, "
                f"{format_size(usage.free_bytes)} free"
            )
        else:
            message = (
                f"{len(usages)} mounts fine, fullest is "
                f"{format_percent(values['used_percent'])} used"
            )
        return Outcome(Status.OK, message, values)
    return Outcome(worst, "; ".join(findings), values, reason="threshold")


def grade_usage(usage: Usage, options: Mapping[str, Any]) -> tuple[Status, str]:
    """Return the worst status of one filesystem and what crossed its limit."""
    measures = [
        (
            f"{usage.path} is {format_percent(usage.used_percent)} used",
            usage.used_percent,
            options["warning"],
            options["critical"],
            True,
            _percent_limit,
        ),
        (
            f"{usage.path} has {format_size(usage.free_bytes)} free",
            usage.free_bytes,
            options["free_warning"],
            options["free_critical"],
            False,
            format_size,
        ),
    ]
    if usage.inodes_used_percent is not None:
        measures.append(
            (
                f"{usage.path} inodes are {format_percent(usage.inodes_used_percent)} "
                "used",
                usage.inodes_used_percent,
                options["inodes_warning"],
                options["inodes_critical"],
                True,
                _percent_limit,
            )
        )

    worst, finding = Status.OK, ""
    for text, value, warning, critical, higher_is_worse, show in measures:
        status = grade(value, warning, critical, higher_is_worse)
        if status > worst:
            limit = limit_for(status, warning, critical)
            worst = status
            finding = f"{text} ({status.name.lower()} at {show(limit)})"
    return worst, finding


def _percent_limit(value: float) -> str:
    return f"{value:g}%"
