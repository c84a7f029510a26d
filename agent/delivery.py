"""Send spooled results to the collector, at least once.

A single delivery thread posts the oldest spooled results in batches to
`<collector>/api/v1/results` (docs/protocol.md) and removes them from the
spool only on a 2xx response. Every request has connect and read timeouts, so
a collector that accepts a connection and never answers holds up only this
thread, never the checks. Failed posts are retried with exponential backoff
and full jitter. A batch answered with a 4xx status other than those in
RETRY_STATUSES is invalid: it is split in halves until the invalid results
are isolated, and those are moved to `spool/rejected/`. A 4xx whose error
`field` is outside `results` (`agent.host`, say) faults the agent's own
settings, not the results, so the batch stays in the spool and is retried.
When nothing is pending, a heartbeat (a post with no results) keeps the
collector's "last seen" fresh; `run --once` turns heartbeats off, since its
results already show the host is alive.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from agent import __version__
from agent.metrics import Metrics
from agent.runner import one_line
from agent.spec import redact_url
from agent.spool import Entry, Spool
from agent.units import plural

log = logging.getLogger(__name__)

RESULTS_PATH = "/api/v1/results"

#: Responses that say nothing about the batch itself, so it is sent again later.
#: 403 (token of another host), 404 and 405 (wrong collector URL) are
#: configuration faults: setting the batch aside would lose every result
#: until the operator notices, while retrying keeps them in the spool.
RETRY_STATUSES = frozenset({401, 403, 404, 405, 408, 429})

#: Limits of the retry schedule. The collector derives the grace it gives
#: agents after its own restart from them (collector.heartbeat).
MAX_BACKOFF_SECONDS = 300.0
CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 30.0

#: Fix to log for each envelope field the collector may reject.
ENVELOPE_FIXES = {
    "agent.host": (
        "set `host` in the agent section of checks.yaml to the host name the "
        "collector's token was issued for (at most 255 characters)"
    ),
}
ENVELOPE_FIX_DEFAULT = (
    "the agent and the collector may speak different protocol versions; "
    "upgrade the older one"
)

SENT = "sent"
IDLE = "idle"
FAILED = "failed"


def backoff_delay(
    attempt: int, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Return the wait before retry number `attempt` (0 for the first).

    Full jitter: uniform in [0, min(cap, base * 2**attempt)], which spreads
    a fleet of agents retrying against a collector that just came back.
    """
    draw = (rng or random).uniform
    return draw(0.0, min(cap, base * 2.0 ** min(attempt, 32)))


@dataclass(frozen=True)
class Target:
    """Collector URL and agent identity for posts, taken from AgentSettings."""

    collector: str
    token: str | None = field(repr=False)
    host: str
    interval_seconds: float
    batch_size: int = 500
    ca_bundle: Path | None = None


class Delivery:
    """Moves results from the spool to the collector in its own thread."""

    def __init__(
        self,
        spool: Spool,
        target: Target,
        *,
        metrics: Metrics | None = None,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
        read_timeout: float = READ_TIMEOUT_SECONDS,
        backoff_base: float = 1.0,
        backoff_cap: float = MAX_BACKOFF_SECONDS,
        heartbeat_interval: float | None = None,
        heartbeats: bool = True,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spool = spool
        self._metrics = metrics
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._heartbeat_interval = heartbeat_interval
        self._heartbeats = heartbeats
        self._rng = rng or random.Random()
        self._clock = clock
        self._lock = threading.Lock()
        self._session = requests.Session()
        self._target = target
        self._last_success: float | None = None
        self._failures = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def target(self) -> Target:
        return self._target

    def retarget(self, target: Target) -> None:
        """Send to `target` from the next post on (after a reload)."""
        with self._lock:
            self._target = target
        self.notify()

    def heartbeat_interval(self) -> float:
        """Return the seconds of silence after which a heartbeat is sent."""
        if self._heartbeat_interval is not None:
            return self._heartbeat_interval
        # The collector calls an agent silent after twice interval_seconds.
        return max(1.0, self._target.interval_seconds / 2)

    def notify(self) -> None:
        """Wake the delivery thread because results may be pending."""
        self._wake.set()

    def start(self) -> None:
        """Start the delivery thread."""
        self._thread = threading.Thread(target=self._loop, name="delivery", daemon=True)
        self._thread.start()
        log.info("delivering results to %s", redact_url(self._target.collector))

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the delivery thread to stop and wait up to `timeout` seconds.

        A post in flight is not cut short; if it outlives `timeout`, the
        daemon thread is left behind and its batch stays in the spool.
        """
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._session.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                outcome = self.step()
            except Exception:
                log.exception("delivery step failed unexpectedly")
                outcome = FAILED
            if outcome == SENT:
                continue
            if outcome == FAILED:
                self._stop.wait(self._next_backoff())
                continue
            self._wake.wait(
                self._seconds_until_heartbeat() if self._heartbeats else None
            )
            self._wake.clear()

    def _next_backoff(self) -> float:
        delay = backoff_delay(
            self._failures - 1, self._backoff_base, self._backoff_cap, self._rng
        )
        log.info("retrying delivery in %.1fs", delay)
        return delay

    def _seconds_until_heartbeat(self) -> float:
        if self._last_success is None:
            return 0.0
        due = self._last_success + self.heartbeat_interval()
        return max(0.0, due - self._clock())

    def step(self, read_timeout: float | None = None) -> str:
        """Post one batch, or a heartbeat when one is due; return the outcome.

        SENT when something was acknowledged or set aside, IDLE when nothing
        was due, FAILED when the post must be retried later.
        """
        with self._lock:
            target = self._target
        entries = self.spool.pending(target.batch_size)
        if not entries and self.spool.refresh():
            entries = self.spool.pending(target.batch_size)
        if not entries and (
            not self._heartbeats or self._seconds_until_heartbeat() > 0
        ):
            return IDLE

        ok = self._send(target, entries, read_timeout)
        if ok:
            if self._failures:
                log.info(
                    "delivery to %s works again after %s",
                    redact_url(target.collector),
                    plural(self._failures, "failed attempt"),
                )
            self._failures = 0
            self._last_success = self._clock()
            return SENT if entries else IDLE
        self._failures += 1
        return FAILED

    def wait_until_empty(self, timeout: float) -> bool:
        """Wait until the spool is empty or `timeout` seconds have passed.

        The delivery thread does the sending. `--once` calls this after its
        last check to give the thread time for what is still spooled.
        Returns whether every result was acknowledged or set aside.
        """
        self.notify()
        deadline = self._clock() + timeout
        while len(self.spool):
            remaining = deadline - self._clock()
            if remaining <= 0:
                return False
            time.sleep(min(remaining, 0.05))
        return True

    def _send(
        self, target: Target, entries: Sequence[Entry], read_timeout: float | None
    ) -> bool:
        status, detail, error_field = self._post(target, entries, read_timeout)
        if status is not None and 200 <= status < 300:
            self.spool.ack(entries)
            if self._metrics is not None:
                self._metrics.delivered_results.inc(len(entries))
            log.debug(
                "collector acknowledged %s: %s", plural(len(entries), "result"), detail
            )
            return True

        if status is not None and 400 <= status < 500 and status not in RETRY_STATUSES:
            if error_field is not None and not names_a_result(error_field):
                self._report_envelope_error(target, entries, error_field, detail)
                return False
            return self._handle_invalid(target, entries, status, detail, read_timeout)

        self._count_failure(_failure_class(status, detail))
        log.error(
            "delivery of %s to %s failed: %s",
            plural(len(entries), "result"),
            redact_url(target.collector),
            detail,
        )
        return False

    def _report_envelope_error(
        self, target: Target, entries: Sequence[Entry], error_field: str, detail: str
    ) -> None:
        self._count_failure("agent_config")
        fix = ENVELOPE_FIXES.get(error_field, ENVELOPE_FIX_DEFAULT)
        log.error(
            "collector %s rejected the agent's field %r, not the results (%s); "
            "keeping %s in the spool and retrying with backoff. To fix: %s",
            redact_url(target.collector),
            error_field,
            detail,
            plural(len(entries), "result"),
            fix,
        )

    def _handle_invalid(
        self,
        target: Target,
        entries: Sequence[Entry],
        status: int,
        detail: str,
        read_timeout: float | None,
    ) -> bool:
        self._count_failure("rejected")
        if len(entries) > 1:
            half = len(entries) // 2
            log.warning(
                "collector rejected a batch of %d results (%s); splitting it",
                len(entries),
                detail,
            )
            first = self._send(target, entries[:half], read_timeout)
            return self._send(target, entries[half:], read_timeout) and first

        if not entries:
            log.error("collector rejected the heartbeat: %s", detail)
            return False

        ids = ", ".join(f"{e.id} (check {e.payload.get('check')})" for e in entries)
        log.error(
            "collector rejected result %s as invalid: %s; moved it to %s",
            ids,
            detail,
            self.spool.directory / "rejected",
        )
        self.spool.reject(entries, f"HTTP {status}: {detail}")
        if self._metrics is not None:
            self._metrics.rejected_results.inc(len(entries))
        return True

    def _post(
        self, target: Target, entries: Sequence[Entry], read_timeout: float | None
    ) -> tuple[int | None, str, str | None]:
        """Post a batch and return its HTTP status, a one-line detail and error field.

        The status is None without a response. The field is the `field` of
        a JSON error body, None when the body names none.
        """
        body = self._body(target, entries)
        headers = {"Content-Type": "application/json"}
        if target.token:
            headers["Authorization"] = f"Bearer {target.token}"
        url = target.collector.rstrip("/") + RESULTS_PATH
        timeout = (self._connect_timeout, read_timeout or self._read_timeout)
        verify: bool | str = str(target.ca_bundle) if target.ca_bundle else True
        if self._metrics is not None:
            self._metrics.delivery_attempts.inc()
        try:
            response = self._session.post(
                url, json=body, headers=headers, timeout=timeout, verify=verify
            )
        except requests.exceptions.SSLError as exc:
            return None, f"tls: {one_line(str(exc))[:300]}", None
        except requests.Timeout as exc:
            return None, f"timeout: {one_line(str(exc))[:300]}", None
        except requests.ConnectionError as exc:
            return None, f"connection: {one_line(str(exc))[:300]}", None
        except requests.RequestException as exc:
            return (
                None,
                f"error: {type(exc).__name__}: {one_line(str(exc))[:300]}",
                None,
            )
        detail = f"HTTP {response.status_code} {one_line(response.text)[:300]}"
        return response.status_code, detail, _error_field(response)

    def _body(self, target: Target, entries: Sequence[Entry]) -> dict[str, Any]:
        return {
            "agent": {
                "host": target.host,
                "version": __version__,
                "interval_seconds": max(1, round(target.interval_seconds)),
            },
            "results": [dict(entry.payload) for entry in entries],
        }

    def _count_failure(self, reason: str) -> None:
        if self._metrics is not None:
            self._metrics.delivery_failures.labels(reason).inc()


def names_a_result(error_field: str) -> bool:
    """Return whether a collector error `field` points into the `results` list."""
    return error_field == "results" or error_field.startswith(("results[", "results."))


def _error_field(response: requests.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error_field = body.get("field") if isinstance(body, dict) else None
    return error_field if isinstance(error_field, str) else None


def _failure_class(status: int | None, detail: str) -> str:
    """Return a bounded label for a failed post."""
    if status is None:
        return detail.split(":", 1)[0]
    if status == 401:
        return "unauthorized"
    if status == 403:
        return "forbidden"
    if status == 429:
        return "throttled"
    if status >= 500:
        return "server_error"
    return "http_error"
