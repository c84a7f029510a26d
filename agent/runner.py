"""Run one check under a hard timeout.

A kind's `run` is expected to give up after its timeout, but a kind can hang
in a C call or a stuck socket, so the runner does not rely on it. Each run
is a daemon thread, and a waiter thread gives up on it after `timeout` plus
a small grace. The abandoned thread keeps the check marked as running, so the
scheduler never starts a second copy of it, and being a daemon thread it
never keeps the process from exiting. At most one run per check is alive, so
the number of threads is bounded by twice the number of checks.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType

from agent.checks import load_kind
from agent.checks.schema import Secret, SecretURL
from agent.spec import REASONS, CheckSpec, Outcome, Status, redact_text

log = logging.getLogger(__name__)

#: Seconds the runner waits past a check's timeout before it abandons the run.
GRACE_SECONDS = 1.0


@dataclass(frozen=True)
class Run:
    """One finished (or abandoned) run of a check.

    `caught` is true when the runner made the outcome itself because the
    kind raised, timed out or returned something that is not an Outcome.
    """

    spec: CheckSpec
    outcome: Outcome
    observed_at: datetime
    duration_seconds: float
    caught: bool


def one_line(text: str) -> str:
    """Return `text` with its line breaks and runs of blanks folded to spaces."""
    return " ".join(text.split())


def format_seconds(seconds: float) -> str:
    """Return a duration like `30s` or `1.5s` for messages."""
    return f"{seconds:g}s"


class Runner:
    """Starts check runs in threads and tracks which checks are still running."""

    def __init__(
        self,
        kind_loader: Callable[[str], ModuleType] = load_kind,
        grace: float = GRACE_SECONDS,
    ) -> None:
        self._kind_loader = kind_loader
        self._grace = grace
        self._lock = threading.Lock()
        self._running: dict[str, tuple[threading.Thread, threading.Thread]] = {}

    def is_running(self, name: str) -> bool:
        """Return whether a run of check `name` (or its abandoned thread) lives."""
        with self._lock:
            return self._is_running_locked(name)

    def _is_running_locked(self, name: str) -> bool:
        threads = self._running.get(name)
        if threads is None:
            return False
        if any(thread.is_alive() for thread in threads):
            return True
        del self._running[name]
        return False

    def is_abandoned(self, name: str) -> bool:
        """Return whether check `name` timed out and its thread still runs."""
        with self._lock:
            threads = self._running.get(name)
            if threads is None:
                return False
            worker, waiter = threads
            return worker.is_alive() and not waiter.is_alive()

    def start(self, spec: CheckSpec, on_done: Callable[[Run], None]) -> bool:
        """Start a run of `spec` and call `on_done` with it from another thread.

        Returns False, and starts nothing, while a run of the same check is
        alive. `on_done` is called at the latest `timeout + grace` seconds
        after the start, even if the kind never returns.
        """
        box: list[object] = []
        worker = threading.Thread(
            target=self._call_kind,
            args=(spec, box),
            name=f"check-{spec.name}",
            daemon=True,
        )
        waiter = threading.Thread(
            target=self._wait,
            args=(spec, worker, box, on_done),
            name=f"wait-{spec.name}",
            daemon=True,
        )
        with self._lock:
            if self._is_running_locked(spec.name):
                return False
            # Started under the lock: a registered thread not yet started
            # would look finished to a concurrent caller.
            waiter.start()
            self._running[spec.name] = (worker, waiter)
        return True

    def run_now(self, spec: CheckSpec) -> Run:
        """Run `spec` and return its Run, blocking at most timeout + grace."""
        done: list[Run] = []
        finished = threading.Event()

        def collect(run: Run) -> None:
            done.append(run)
            finished.set()

        if not self.start(spec, collect):
            raise RuntimeError(f"check {spec.name!r} is already running")
        finished.wait()
        return done[0]

    def _call_kind(self, spec: CheckSpec, box: list[object]) -> None:
        try:
            kind = self._kind_loader(spec.kind)
            box.append(kind.run(spec.options, spec.timeout))
        except BaseException as exc:
            # Even SystemExit from a kind must become an UNKNOWN result, not
            # end a thread silently.
            box.append(exc)

    def _wait(
        self,
        spec: CheckSpec,
        worker: threading.Thread,
        box: list[object],
        on_done: Callable[[Run], None],
    ) -> None:
        started = time.monotonic()
        worker.start()
        worker.join(spec.timeout + self._grace)
        duration = time.monotonic() - started
        try:
            outcome, caught = self._outcome_of(spec, worker, box)
        except Exception as exc:
            # A bug here must still end the run with a result, or the
            # scheduler would wait for this check forever.
            message = one_line(f"result not readable: {type(exc).__name__}: {exc}")
            log.exception("check %s: %s", spec.name, message)
            outcome, caught = Outcome(Status.UNKNOWN, message, reason="error"), True
        run = Run(
            spec=spec,
            outcome=outcome,
            observed_at=datetime.now(UTC),
            duration_seconds=duration,
            caught=caught,
        )
        try:
            on_done(run)
        except Exception:
            log.exception("handling the result of check %s failed", spec.name)

    def _outcome_of(
        self, spec: CheckSpec, worker: threading.Thread, box: list[object]
    ) -> tuple[Outcome, bool]:
        if worker.is_alive() or not box:
            log.warning(
                "check %s timed out after %s; its thread is abandoned",
                spec.name,
                format_seconds(spec.timeout),
            )
            message = f"timed out after {format_seconds(spec.timeout)}"
            return Outcome(Status.UNKNOWN, message, reason="timeout"), True

        value = box[0]
        if isinstance(value, BaseException):
            message = _hide_secrets(spec, one_line(f"{type(value).__name__}: {value}"))
            log.error("check %s raised %s", spec.name, message)
            return Outcome(Status.UNKNOWN, message, reason="error"), True

        if not isinstance(value, Outcome):
            message = f"kind {spec.kind} returned {type(value).__name__}, not Outcome"
            log.error("check %s: %s", spec.name, message)
            return Outcome(Status.UNKNOWN, message, reason="error"), True

        return _normalize(spec, value), False


def _hide_secrets(spec: CheckSpec, text: str) -> str:
    """Return `text` without the secrets of the check's options.

    A kind hides them in its own messages, but an exception it did not
    expect may repeat a URL with its password or token, or the value of a
    secret header or environment variable.
    """
    for value in spec.options.values():
        if isinstance(value, SecretURL):
            text = redact_text(text, value)
        nested = value.values() if isinstance(value, Mapping) else [value]
        for item in nested:
            if isinstance(item, Secret) and item:
                text = text.replace(item, "***")
    return text


def _normalize(spec: CheckSpec, outcome: Outcome) -> Outcome:
    """Keep the reason label closed, values finite and URL secrets out of messages."""
    message = _hide_secrets(spec, outcome.message)
    if message != outcome.message:
        outcome = Outcome(outcome.status, message, outcome.values, outcome.reason)
    # JSON has no infinity or NaN, so one such value (a plugin's `a=1e400`)
    # would make every batch that contains the result impossible to send.
    finite = {
        name: value
        for name, value in outcome.values.items()
        if _is_finite_number(value)
    }
    if len(finite) != len(outcome.values):
        dropped = sorted(set(outcome.values) - set(finite))
        log.warning(
            "check %s: dropped values that are not finite numbers: %s",
            spec.name,
            ", ".join(f"{name}={outcome.values[name]}" for name in dropped),
        )
        outcome = Outcome(outcome.status, outcome.message, finite, outcome.reason)
    if outcome.reason == "" or outcome.reason in REASONS:
        return outcome
    log.warning(
        "check %s: kind %s returned unknown reason %r; using 'error'",
        spec.name,
        spec.kind,
        outcome.reason,
    )
    return Outcome(outcome.status, outcome.message, outcome.values, "error")


def _is_finite_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int past the float range, such as 10**400
        return False
