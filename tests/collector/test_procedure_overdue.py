"""Overdue steps: one notification per breach, mailed through a local SMTP server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from collector.db import get_database
from collector.models.procedure import Notification, StepRecord
from collector.procedure_api import WATCHER_KEY, stop_overdue_watcher
from collector.procedure_status import (
    MAX_EMAIL_ATTEMPTS,
    overdue_records,
    run_overdue_check,
    run_overdue_check_once,
)

from .conftest import Persona
from .procedure_support import Clock, analysis, file_report, move, start_clock, wib


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(envelope)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
def clock() -> Clock:
    return start_clock()


@pytest.fixture
def smtp_port() -> int | None:
    return None


@pytest.fixture
def app_config(clock: Clock, smtp_port: int | None) -> dict[str, Any]:
    config: dict[str, Any] = {"PROCEDURE_CLOCK": clock}
    if smtp_port is not None:
        config.update(
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=smtp_port,
            SMTP_FROM="pelihara@localhost",
            NOTIFY_TO="head@localhost, deputy@localhost",
        )
    return config


@pytest.fixture
def case_id(client: FlaskClient, clock: Clock, unit_user: Persona) -> int:
    # Filed Friday 14:00 WIB: the received step is due Monday 7 Dec 14:00.
    clock.now = wib(2026, 12, 4, 14, 30)
    return file_report(client, unit_user, wib(2026, 12, 4, 14))["id"]


def count_notices(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Notification))


def test_overdue_not_before_deadline(app: Flask, case_id: int) -> None:
    assert run_overdue_check(app, wib(2026, 12, 7, 13, 59)) == []


def test_overdue_after_deadline(app: Flask, session: Session, case_id: int) -> None:
    created = run_overdue_check(app, wib(2026, 12, 7, 14, 1))
    assert len(created) == 1
    notice = session.get(Notification, created[0])
    assert notice.case_id == case_id
    assert notice.subject == (
        f"[Pelihara] Kasus {case_id}: tahap received melewati tenggat"
    )


def test_overdue_notified_once_per_breach(
    app: Flask, session: Session, case_id: int
) -> None:
    run_overdue_check(app, wib(2026, 12, 7, 14, 1))
    assert run_overdue_check(app, wib(2026, 12, 7, 15)) == []
    assert run_overdue_check(app, wib(2026, 12, 8, 9)) == []
    assert count_notices(session) == 1


def test_overdue_next_step_is_new_breach(
    app: Flask,
    client: FlaskClient,
    clock: Clock,
    session: Session,
    head: Persona,
    case_id: int,
) -> None:
    run_overdue_check(app, wib(2026, 12, 7, 14, 1))
    # Assignment starts Monday 14:30 and is due 15:30.
    clock.now = wib(2026, 12, 7, 14, 30)
    assert move(client, head, case_id, "assignment").status_code == 200
    assert run_overdue_check(app, wib(2026, 12, 7, 15, 29)) == []
    assert len(run_overdue_check(app, wib(2026, 12, 7, 15, 31))) == 1
    assert count_notices(session) == 2


def test_overdue_completed_step_not_notified(
    app: Flask, client: FlaskClient, clock: Clock, head: Persona, case_id: int
) -> None:
    clock.now = wib(2026, 12, 7, 8)
    assert move(client, head, case_id, "assignment").status_code == 200
    # Only the assignment step (due 09:00) is open at 08:59.
    assert run_overdue_check(app, wib(2026, 12, 7, 8, 59)) == []


def test_overdue_closed_case_not_notified(
    app: Flask, client: FlaskClient, head: Persona, case_id: int
) -> None:
    answer = client.post(
        f"/api/v1/cases/{case_id}/close",
        json={"resolution": "false_alarm", "reason": "sent by mistake"},
        headers=head.headers(),
    )
    assert answer.status_code == 200
    assert run_overdue_check(app, wib(2026, 12, 8, 9)) == []


def test_overdue_records_query(app: Flask, session: Session, case_id: int) -> None:
    found = overdue_records(session, wib(2026, 12, 7, 14, 1))
    assert [(record.case_id, record.step) for record in found] == [
        (case_id, "received")
    ]


def test_overdue_unique_per_record(app: Flask, session: Session, case_id: int) -> None:
    run_overdue_check(app, wib(2026, 12, 7, 14, 1))
    record = session.scalars(select(StepRecord)).one()
    session.add(
        Notification(
            step_record_id=record.id,
            case_id=case_id,
            subject="again",
            body="again",
        )
    )
    with pytest.raises(IntegrityError):
        session.flush()


def test_overdue_shown_in_case(
    app: Flask, client: FlaskClient, clock: Clock, head: Persona, case_id: int
) -> None:
    run_overdue_check(app, wib(2026, 12, 7, 14, 1))
    clock.now = wib(2026, 12, 7, 14, 5)
    body = client.get(f"/api/v1/cases/{case_id}", headers=head.headers()).get_json()
    assert len(body["notifications"]) == 1
    assert body["notifications"][0]["created_at"] == "2026-12-07T14:01:00+07:00"
    assert body["steps"][0]["overdue"] is True
    assert body["compliance"]["bureau"]["overdue_open"] == 1


def test_overdue_metric_before_deadline(
    client: FlaskClient, clock: Clock, case_id: int
) -> None:
    clock.now = wib(2026, 12, 7, 13, 59)

    text = client.get("/metrics").get_data(as_text=True)

    assert "# TYPE pelihara_steps_overdue gauge" in text
    assert "pelihara_steps_overdue{" not in text


def test_overdue_metric_after_deadline(
    client: FlaskClient, clock: Clock, case_id: int
) -> None:
    clock.now = wib(2026, 12, 7, 14, 1)

    text = client.get("/metrics").get_data(as_text=True)

    assert 'pelihara_steps_overdue{party="bureau",step="received"} 1.0' in text


def test_overdue_metric_closed_case_not_counted(
    client: FlaskClient, clock: Clock, head: Persona, case_id: int
) -> None:
    answer = client.post(
        f"/api/v1/cases/{case_id}/close",
        json={"resolution": "false_alarm", "reason": "sent by mistake"},
        headers=head.headers(),
    )
    assert answer.status_code == 200
    clock.now = wib(2026, 12, 8, 9)

    text = client.get("/metrics").get_data(as_text=True)

    assert "pelihara_steps_overdue{" not in text


def test_overdue_list_for_head(
    app: Flask, client: FlaskClient, head: Persona, case_id: int
) -> None:
    run_overdue_check(app, wib(2026, 12, 7, 14, 1))
    answer = client.get("/api/v1/notifications", headers=head.headers())
    assert answer.status_code == 200
    assert [n["case_id"] for n in answer.get_json()["notifications"]] == [case_id]


def test_overdue_list_not_for_technician(
    client: FlaskClient, technician: Persona
) -> None:
    answer = client.get("/api/v1/notifications", headers=technician.headers())
    assert answer.status_code == 403


def test_overdue_without_smtp_sends_nothing(
    app: Flask, session: Session, case_id: int
) -> None:
    created = run_overdue_check(app, wib(2026, 12, 7, 14, 1))
    notice = session.get(Notification, created[0])
    assert notice.email_sent_at is None
    assert notice.email_error is None


class TestMail:
    """Overdue notices mailed to a real SMTP server on 127.0.0.1."""

    @pytest.fixture
    def smtp_port(self, inbox: tuple[Inbox, int]) -> int:
        return inbox[1]

    def test_mail_sent_once(
        self, app: Flask, inbox: tuple[Inbox, int], case_id: int
    ) -> None:
        run_overdue_check(app, wib(2026, 12, 7, 14, 1))
        run_overdue_check(app, wib(2026, 12, 7, 15))
        assert len(inbox[0].messages) == 1

    def test_mail_content(
        self, app: Flask, inbox: tuple[Inbox, int], case_id: int
    ) -> None:
        run_overdue_check(app, wib(2026, 12, 7, 14, 1))
        envelope = inbox[0].messages[0]
        message = message_from_bytes(envelope.content)
        assert envelope.rcpt_tos == ["head@localhost", "deputy@localhost"]
        assert envelope.mail_from == "pelihara@localhost"
        assert message["Subject"] == (
            f"[Pelihara] Kasus {case_id}: tahap received melewati tenggat"
        )
        text = message.get_payload(decode=True).decode("utf-8")
        assert "Tenggat (due): 2026-12-07T14:00:00+07:00" in text
        assert "waktu Biro (bureau)" in text

    def test_mail_recorded_as_sent(
        self, app: Flask, session: Session, inbox: tuple[Inbox, int], case_id: int
    ) -> None:
        created = run_overdue_check(app, wib(2026, 12, 7, 14, 1))
        notice = session.get(Notification, created[0])
        assert notice.email_sent_at is not None
        assert notice.email_error is None


class TestMailFailure:
    """A mail server that refuses connections leaves the error on the notice."""

    @pytest.fixture
    def smtp_port(self) -> int:
        # A port just released has no listener unless another process took it.
        return free_port()

    def test_mail_error_recorded(
        self, app: Flask, session: Session, case_id: int
    ) -> None:
        created = run_overdue_check(app, wib(2026, 12, 7, 14, 1))
        notice = session.get(Notification, created[0])
        assert notice.email_sent_at is None
        assert notice.email_error.startswith("ConnectionRefusedError:")

    def test_mail_error_still_one_notice(
        self, app: Flask, session: Session, case_id: int
    ) -> None:
        run_overdue_check(app, wib(2026, 12, 7, 14, 1))
        run_overdue_check(app, wib(2026, 12, 7, 15))
        assert count_notices(session) == 1


class TestMailRetry:
    """Mail that failed is tried again at later checks, a bounded number of times."""

    @pytest.fixture
    def smtp_port(self) -> int:
        return free_port()

    def test_retry_sends_when_server_is_back(
        self, app: Flask, session: Session, smtp_port: int, case_id: int
    ) -> None:
        created = run_overdue_check(app, wib(2026, 12, 7, 14, 1))
        handler = Inbox()
        controller = Controller(handler, hostname="127.0.0.1", port=smtp_port)
        controller.start()
        try:
            assert run_overdue_check(app, wib(2026, 12, 7, 14, 30)) == []
            run_overdue_check(app, wib(2026, 12, 7, 15))
        finally:
            controller.stop()
        assert len(handler.messages) == 1
        notice = session.get(Notification, created[0])
        assert notice.email_sent_at == wib(2026, 12, 7, 14, 30)
        assert notice.email_attempts == 2
        assert notice.email_error is None

    def test_retry_stops_after_max_attempts(
        self, app: Flask, session: Session, case_id: int
    ) -> None:
        created = run_overdue_check(app, wib(2026, 12, 7, 14, 1))
        for minute in range(2, 10):
            run_overdue_check(app, wib(2026, 12, 7, 14, minute))
        notice = session.get(Notification, created[0])
        assert notice.email_attempts == MAX_EMAIL_ATTEMPTS
        assert notice.email_sent_at is None


class TestWatcher:
    """The background check finds a breach without being called."""

    @pytest.fixture
    def app_config(self, clock: Clock) -> dict[str, Any]:
        return {"PROCEDURE_CLOCK": clock, "OVERDUE_CHECK_SECONDS": 0.05}

    def test_watcher_notifies(
        self, app: Flask, client: FlaskClient, clock: Clock, unit_user: Persona
    ) -> None:
        watcher = app.extensions[WATCHER_KEY]
        try:
            clock.now = wib(2026, 12, 4, 14, 30)
            file_report(client, unit_user, wib(2026, 12, 4, 14))
            clock.now = wib(2026, 12, 7, 15)
            # Generous bound for hang detection only: the check runs every 0.05 s.
            deadline = time.monotonic() + 30
            found = 0
            while time.monotonic() < deadline:
                with get_database(app).session() as session:
                    found = count_notices(session)
                if found:
                    break
                time.sleep(0.05)
            assert found == 1
        finally:
            watcher.stop()
            watcher.join(timeout=10)
        assert not watcher.is_alive()


class SilentMailServer:
    """A loopback listener that accepts one client and stays silent until released.

    An SMTP client waits for the greeting, so a check mailing through it
    stays inside its mail step, with its database session open.
    """

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.accepted = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        connection, _ = self.listener.accept()
        with connection:
            self.accepted.set()
            self.release.wait(60)

    def close(self) -> None:
        self.release.set()
        self.thread.join(timeout=10)
        self.listener.close()


@pytest.fixture
def silent_server() -> Iterator[SilentMailServer]:
    server = SilentMailServer()
    yield server
    server.close()


class TestWatcherStop:
    """Stopping the watcher waits for a check in progress and its connection."""

    @pytest.fixture
    def smtp_port(self, silent_server: SilentMailServer) -> int:
        return silent_server.port

    @pytest.fixture
    def app_config(self, clock: Clock, smtp_port: int) -> dict[str, Any]:
        return {
            "PROCEDURE_CLOCK": clock,
            "OVERDUE_CHECK_SECONDS": 0.05,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": smtp_port,
            "NOTIFY_TO": "head@localhost",
        }

    def test_watcher_stop_waits_for_check(
        self,
        app: Flask,
        session: Session,
        case_id: int,
        silent_server: SilentMailServer,
    ) -> None:
        record = session.scalar(select(StepRecord).where(StepRecord.case_id == case_id))
        # A notice whose mail failed once is mailed again at the next check.
        session.add(
            Notification(
                step_record_id=record.id,
                case_id=case_id,
                kind="overdue",
                subject="overdue",
                body="overdue",
                email_attempts=1,
                email_error="OSError: refused",
            )
        )
        session.commit()
        assert silent_server.accepted.wait(30)

        watcher = app.extensions[WATCHER_KEY]
        stopping = threading.Event()
        seen: dict[str, bool] = {}

        def stop() -> None:
            stopping.set()
            stop_overdue_watcher(app)
            seen["alive_after_stop"] = watcher.is_alive()

        stopper = threading.Thread(target=stop)
        stopper.start()
        assert stopping.wait(30)
        # The check is still waiting for the mail server's greeting.
        silent_server.release.set()
        stopper.join(timeout=60)

        assert not stopper.is_alive()
        assert seen["alive_after_stop"] is False
        assert WATCHER_KEY not in app.extensions
        assert get_database(app).engine.pool.checkedout() == 0


def test_overdue_check_once_counts_new(app: Flask, clock: Clock, case_id: int) -> None:
    clock.now = wib(2026, 12, 7, 14, 1)
    assert run_overdue_check_once(app) == 1


def test_overdue_check_once_twice(app: Flask, clock: Clock, case_id: int) -> None:
    clock.now = wib(2026, 12, 7, 14, 1)
    run_overdue_check_once(app)
    assert run_overdue_check_once(app) == 0


def test_overdue_retry_is_same_breach(
    app: Flask,
    client: FlaskClient,
    clock: Clock,
    session: Session,
    head: Persona,
    technician: Persona,
    case_id: int,
) -> None:
    steps = [
        (wib(2026, 12, 7, 8), head, "assignment", {}),
        (wib(2026, 12, 7, 8, 30), head, "analysis", {"technician": technician.name}),
        (wib(2026, 12, 7, 10), technician, "minor_repair", analysis("minor")),
    ]
    for now, persona, target, fields in steps:
        clock.now = now
        assert move(client, persona, case_id, target, fields).status_code == 200
    # minor_repair (3 days) from Monday 10:00 is due Thursday 10 Dec 10:00.
    assert len(run_overdue_check(app, wib(2026, 12, 10, 10, 1))) == 1
    clock.now = wib(2026, 12, 10, 11)
    failed = {"work_done": "restarted the service", "retest_result": "failed"}
    assert move(client, technician, case_id, "minor_repair", failed).status_code == 200
    # The retry keeps the deadline that already passed, so no second notice.
    assert run_overdue_check(app, wib(2026, 12, 10, 11, 1)) == []
    assert count_notices(session) == 1
