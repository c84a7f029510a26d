"""Cases for agents that stopped reporting.

An agent silent for more than twice its interval gets one "agent not
reporting" case on the reserved check `agent-heartbeat`. The recovery is
recorded on that case by the next post of the agent (see
`collector.ingest.ingest_batch`). Several collector processes may run this
job at once (`serve` starts one in each gunicorn worker): the open_key
constraint keeps it to one case per host.

Time the collector was not running does not count against agents. An
agent that found the collector down retries on exponential backoff, so
after the collector starts it may need up to the agent's maximum backoff
to post again. An agent last seen before the monitor started is therefore
silent only once both twice its interval and a grace period after the
start have passed.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.delivery import (
    CONNECT_TIMEOUT_SECONDS,
    MAX_BACKOFF_SECONDS,
    READ_TIMEOUT_SECONDS,
)
from collector.db import Database
from collector.ingest import (
    DEFAULT_REOPEN_WINDOW,
    find_open_case,
    get_check,
    open_or_repeat_case,
)
from collector.models import HEARTBEAT_CHECK, Case, Host, utcnow

logger = logging.getLogger(__name__)

DEFAULT_CHECK_SECONDS = 60.0
SILENCE_FACTOR = 2
#: Maximum time an agent's retry can take: its maximum backoff, then one post
#: that may wait for the connect and read timeouts (agent.delivery).
DEFAULT_GRACE_SECONDS = (
    MAX_BACKOFF_SECONDS + CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS
)


def _is_silent(
    host: Host, now: datetime, started_at: datetime | None, grace: timedelta
) -> bool:
    if host.last_seen_at is None or host.interval_seconds is None:
        return False
    deadline = host.last_seen_at + timedelta(
        seconds=SILENCE_FACTOR * host.interval_seconds
    )
    if started_at is not None and host.last_seen_at < started_at:
        # Last seen before the collector started, so the agent may still be
        # waiting out a backoff from the time the collector was down.
        # NOTE: a database outage while the collector runs starts no grace,
        # so agents backing off from its 503 responses may still get cases.
        deadline = max(deadline, started_at + grace)
    return now > deadline


def _open_for_host(
    session: Session, host: Host, now: datetime, reopen_window: timedelta
) -> tuple[Case, str] | None:
    check = get_check(session, host, HEARTBEAT_CHECK)
    case = find_open_case(session, host, check)
    if case is not None and case.recovered_at is None:
        # Still silent since the case was opened; nothing new to record.
        return None
    check.kind = "heartbeat"
    check.status = "CRITICAL"
    check.observed_at = now
    check.message = (
        f"no results since {host.last_seen_at.isoformat()} "
        f"(interval {host.interval_seconds:g} s)"
    )
    return open_or_repeat_case(
        session,
        host=host,
        check=check,
        source="heartbeat",
        title=f"Agent on {host.name} not reporting",
        at=now,
        actor="system",
        reopen_window=reopen_window,
    )


def check_heartbeats(
    session: Session,
    now: datetime | None = None,
    reopen_window: timedelta = DEFAULT_REOPEN_WINDOW,
    *,
    started_at: datetime | None = None,
    grace: timedelta = timedelta(0),
) -> list[tuple[Case, str]]:
    """Open or repeat a case for each silent host and commit.

    Returns the cases touched with their action ("opened", "repeated" or
    "reopened"). Hosts that never reported are skipped: a token alone does
    not mean an agent was installed. A host last seen before `started_at`
    (when the collector started) is silent no earlier than `grace` after it.
    """
    now = now or utcnow()
    candidates = session.scalars(
        select(Host.id).where(
            Host.last_seen_at.is_not(None), Host.interval_seconds.is_not(None)
        )
    ).all()
    touched: list[tuple[Case, str]] = []
    for host_id in candidates:
        # Locked and read again, so a post that arrives meanwhile wins.
        host = session.scalars(
            select(Host)
            .where(Host.id == host_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
        if not _is_silent(host, now, started_at, grace):
            session.commit()
            continue
        change = _open_for_host(session, host, now, reopen_window)
        session.commit()
        if change is not None:
            case, action = change
            logger.warning(
                "agent on host %s not reporting since %s; case %d %s",
                host.name,
                host.last_seen_at.isoformat(),
                case.id,
                action,
            )
            touched.append(change)
    return touched


class HeartbeatMonitor:
    """A daemon thread running check_heartbeats every `interval` seconds.

    Agents last seen before the monitor started (or before its first round,
    when rounds are run without `start`) get `grace_seconds` after that to
    post again. `clock` returns the current UTC time.
    """

    def __init__(
        self,
        database: Database,
        interval: float = DEFAULT_CHECK_SECONDS,
        reopen_window: timedelta = DEFAULT_REOPEN_WINDOW,
        app: Flask | None = None,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        # With `app`, rounds run in its application context, so that new
        # cases start on the procedure that app is configured with.
        self.app = app
        self.database = database
        self.interval = interval
        self.reopen_window = reopen_window
        self.grace = timedelta(seconds=grace_seconds)
        self._clock = clock
        self.started_at: datetime | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="pelihara-heartbeat", daemon=True
        )

    def start(self) -> None:
        self.started_at = self._clock()
        logger.info(
            "heartbeat monitor started, checking every %g s; agents last seen "
            "before now have %g s to report again",
            self.interval,
            self.grace.total_seconds(),
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        logger.info("heartbeat monitor stopped")

    def run_once(self) -> list[tuple[int, str]]:
        """Run one round; return the id and action of each case touched."""
        now = self._clock()
        if self.started_at is None:
            self.started_at = now
        context = self.app.app_context() if self.app else contextlib.nullcontext()
        with context, self.database.session() as session:
            touched = check_heartbeats(
                session,
                now,
                self.reopen_window,
                started_at=self.started_at,
                grace=self.grace,
            )
            return [(case.id, action) for case, action in touched]

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - one failed round must not end the loop
                logger.exception(
                    "heartbeat round failed; retrying in %g s", self.interval
                )
