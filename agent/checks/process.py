"""Count processes by name, command line or pid file, and sum their memory."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psutil

from agent.checks.base import clean_text, one_line_outcome, plural, threshold_outcome
from agent.checks.schema import Option, OptionContext, Threshold
from agent.spec import Category, Outcome, Status
from agent.units import format_size

CATEGORY = Category.APPLICATION

OPTIONS = (
    Option("process_name", "str", help="exact process name, like nginx"),
    Option("cmdline", "str", help="text the command line must contain"),
    Option(
        "cmdline_regex", "regex", help="regular expression the command line matches"
    ),
    Option("pid_file", "path", help="file holding the pid of the one process"),
    Option(
        "min_count",
        "int",
        default=1,
        minimum=0,
        help="minimum number of matching processes",
    ),
    Option("max_count", "int", minimum=0, help="maximum number of matching processes"),
    Option("warning", "size", help="total resident memory (RSS) that warns"),
    Option("critical", "size", help="total resident memory (RSS) that is critical"),
)

THRESHOLDS = (Threshold("warning", "critical"),)

_SELECTORS = ("process_name", "cmdline", "cmdline_regex")


def prepare(options: dict[str, Any], context: OptionContext) -> list[tuple[str, str]]:
    """Require a selector, and pid_file alone; keep min_count below max_count."""
    selectors = [key for key in _SELECTORS if options[key] is not None]
    if options["pid_file"] is not None and selectors:
        return [
            ("pid_file", f"set either pid_file or {', '.join(selectors)}, not both")
        ]
    if options["pid_file"] is None and not selectors:
        return [
            (
                "process_name",
                "missing; give process_name, cmdline, cmdline_regex or pid_file",
            )
        ]
    maximum = options["max_count"]
    if maximum is not None and maximum < options["min_count"]:
        return [
            (
                "max_count",
                f"max_count {maximum} is below min_count {options['min_count']}; "
                "raise max_count",
            )
        ]
    return []


@one_line_outcome
def run(options: Mapping[str, Any], timeout: float) -> Outcome:
    """Find the matching processes and grade their count and memory."""
    if options["pid_file"] is not None:
        found = _from_pid_file(options["pid_file"])
        if isinstance(found, Outcome):
            return found
        processes, description = found
    else:
        processes = _matching(options, time.monotonic() + timeout)
        description = _describe(options)
    if processes is None:
        return Outcome(
            Status.UNKNOWN,
            f"listing processes took longer than {timeout:g}s",
            reason="timeout",
        )
    return _judge(processes, description, options)


def _matching(options: Mapping[str, Any], deadline: float) -> list[dict] | None:
    """Return info of the processes that match every selector, or None on timeout."""
    own = os.getpid()
    matches = []
    for process in psutil.process_iter(["pid", "name", "cmdline", "memory_info"]):
        if time.monotonic() > deadline:
            return None
        info = process.info
        if info["pid"] == own:
            continue
        command_line = " ".join(info["cmdline"] or [])
        wanted = options["process_name"]
        if wanted is not None and wanted not in _names(info):
            continue
        if options["cmdline"] is not None and options["cmdline"] not in command_line:
            continue
        regex = options["cmdline_regex"]
        if regex is not None and not regex.search(command_line):
            continue
        matches.append(info)
    return matches


def _names(info: dict) -> set[str]:
    # Linux cuts the kernel's process name at 15 bytes, so the program's
    # file name counts too.
    names = {info["name"] or ""}
    if info["cmdline"]:
        names.add(os.path.basename(info["cmdline"][0]))
    return names


def _from_pid_file(path: Path) -> tuple[list[dict], str] | Outcome:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except FileNotFoundError:
        return Outcome(
            Status.CRITICAL, f"pid file {path} not found", reason="not_found"
        )
    except OSError as error:
        return Outcome(
            Status.UNKNOWN,
            f"cannot read pid file {path}: {error.strerror}",
            reason="error",
        )
    if not text.isdigit():
        return Outcome(
            Status.CRITICAL,
            f"pid file {path} holds {clean_text(text, 40)!r}, not a pid",
            reason="error",
        )

    description = f"with pid {text} from {path}"
    try:
        process = psutil.Process(int(text))
        info = process.as_dict(["pid", "name", "cmdline", "memory_info"])
    except psutil.NoSuchProcess:
        return [], description
    except psutil.AccessDenied:
        info = {"pid": int(text), "name": None, "cmdline": None, "memory_info": None}
    return [info], description


def _describe(options: Mapping[str, Any]) -> str:
    parts = []
    if options["process_name"] is not None:
        parts.append(f"name {options['process_name']!r}")
    if options["cmdline"] is not None:
        parts.append(f"command line containing {options['cmdline']!r}")
    if options["cmdline_regex"] is not None:
        parts.append(f"command line matching /{options['cmdline_regex'].pattern}/")
    return "with " + " and ".join(parts)


def _judge(
    processes: list[dict], description: str, options: Mapping[str, Any]
) -> Outcome:
    count = len(processes)
    rss = sum(info["memory_info"].rss for info in processes if info["memory_info"])
    values = {"count": count, "rss_bytes": rss}
    minimum, maximum = options["min_count"], options["max_count"]

    if count < minimum:
        return Outcome(
            Status.CRITICAL,
            f"{plural(count, 'process')} {description} running, expected at least "
            f"{minimum}",
            values,
            reason="not_found" if count == 0 else "threshold",
        )
    if maximum is not None and count > maximum:
        return Outcome(
            Status.CRITICAL,
            f"{plural(count, 'process')} {description} running, expected at most "
            f"{maximum}",
            values,
            reason="threshold",
        )

    message = (
        f"{plural(count, 'process')} {description} running, {format_size(rss)} resident"
    )
    return threshold_outcome(
        rss,
        message,
        values,
        options,
        format_size,
    )
