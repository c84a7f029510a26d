"""Helpers the check kinds share: grading, message cleaning, bounded calls."""

from __future__ import annotations

import dataclasses
import functools
import re
import threading
from collections.abc import Callable, Hashable, Mapping
from typing import Any, TypeVar

from agent.spec import Outcome, Status

MESSAGE_MAX_LENGTH = 300

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")

T = TypeVar("T")


class CallTimeout(Exception):
    """A bounded call did not return in time; its thread is left behind."""


class StillBlocked(CallTimeout):
    """An earlier call with the same key has not returned, so none was started."""


# Threads of timed-out calls that had a key, so a path on a hung mount
# holds one blocked thread however many runs ask for it.
_blocked: dict[Hashable, threading.Thread] = {}
_blocked_lock = threading.Lock()


def clean_text(text: str, limit: int = MESSAGE_MAX_LENGTH) -> str:
    """Return `text` on one line without control characters, cut to `limit`."""
    flat = _CONTROL.sub(" ", text).strip()
    flat = re.sub(r" {2,}", " ", flat)
    if len(flat) > limit:
        flat = flat[: limit - 3].rstrip() + "..."
    return flat


def grade(
    value: float,
    warning: float | None,
    critical: float | None,
    higher_is_worse: bool = True,
) -> Status:
    """Return the status of `value` against its thresholds (None: not set)."""
    if higher_is_worse:
        if critical is not None and value >= critical:
            return Status.CRITICAL
        if warning is not None and value >= warning:
            return Status.WARNING
        return Status.OK
    if critical is not None and value <= critical:
        return Status.CRITICAL
    if warning is not None and value <= warning:
        return Status.WARNING
    return Status.OK


def limit_for(status: Status, warning: float | None, critical: float | None) -> float:
    """Return the threshold that `status` crossed."""
    value = critical if status is Status.CRITICAL else warning
    assert value is not None
    return value


def threshold_outcome(
    measured: float,
    message: str,
    values: Mapping[str, float],
    options: Mapping[str, Any],
    show_limit: Callable[[float], str],
    higher_is_worse: bool = True,
) -> Outcome:
    """Grade `measured` against the check's `warning` and `critical` options.

    A crossed threshold is named in the message through `show_limit`, for
    example "(critical at 90%)", and gives reason "threshold".
    """
    warning, critical = options["warning"], options["critical"]
    status = grade(measured, warning, critical, higher_is_worse)
    if status is Status.OK:
        return Outcome(status, message, values)
    limit = show_limit(limit_for(status, warning, critical))
    return Outcome(
        status,
        f"{message} ({status.name.lower()} at {limit})",
        values,
        reason="threshold",
    )


def call_with_timeout(
    function: Callable[[], T], timeout: float, key: Hashable | None = None
) -> T:
    """Return `function()`, or raise CallTimeout after `timeout` seconds.

    The call runs in a daemon thread because a hung system call (statvfs of
    a dead NFS mount) cannot be interrupted. On timeout that thread is left
    blocked in the kernel, but the check returns and the agent can exit.
    While the thread of a timed-out call with the same `key` still blocks,
    StillBlocked is raised at once, so repeated runs do not pile up threads.
    """
    if key is not None:
        with _blocked_lock:
            earlier = _blocked.get(key)
            if earlier is not None and earlier.is_alive():
                raise StillBlocked("an earlier call has not returned yet")
            _blocked.pop(key, None)

    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["value"] = function()
        except BaseException as error:  # noqa: B036 - handed to the caller
            outcome["error"] = error

    thread = threading.Thread(target=target, name="bounded-call", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        if key is not None:
            with _blocked_lock:
                _blocked[key] = thread
        raise CallTimeout(f"did not return within {timeout:g}s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def plural(count: int, noun: str) -> str:
    """Return `count` with `noun`, in the plural unless the count is one."""
    if count == 1:
        return f"{count} {noun}"
    suffix = "es" if noun.endswith("s") else "s"
    return f"{count} {noun}{suffix}"


def one_line_outcome(run: Callable[..., Outcome]) -> Callable[..., Outcome]:
    """Wrap a kind's `run` so every message it returns passes clean_text.

    Messages quote target output (status lines, error text, file names), so
    this keeps each one a single line of at most MESSAGE_MAX_LENGTH.
    """

    @functools.wraps(run)
    def wrapper(*args: Any, **kwargs: Any) -> Outcome:
        outcome = run(*args, **kwargs)
        return dataclasses.replace(outcome, message=clean_text(outcome.message))

    return wrapper


def host_port(host: str, port: int) -> str:
    """Return `host:port`, with an IPv6 address in brackets like `[::1]:443`."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
