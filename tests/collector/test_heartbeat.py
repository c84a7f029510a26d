"""Cases for agents that stop reporting."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.delivery import MAX_BACKOFF_SECONDS
from collector.app import (
    HEARTBEAT_GRACE_VARIABLE,
    create_app,
    heartbeat_grace_from_environment,
)
from collector.cli import build_parser
from collector.db import Database, get_database
from collector.heartbeat import (
    DEFAULT_GRACE_SECONDS,
    HeartbeatMonitor,
    check_heartbeats,
)
from collector.ingest import close_case
from collector.models import Case, CaseEvent, Host, utcnow

from .conftest import Agent, post

ROUNDS = 6


def silence(session: Session, host_name: str, seconds: float) -> None:
    """Make the host look silent for `seconds` by moving its last post back."""
    host = session.scalars(select(Host).where(Host.name == host_name)).one()
    host.last_seen_at = utcnow() - timedelta(seconds=seconds)
    session.commit()


def test_heartbeat_opens_case_for_silent_host(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    agent.interval_seconds = 60
    post(client, agent)
    silence(session, agent.host, 121)

    touched = check_heartbeats(session, utcnow())

    [(case, action)] = touched
    assert action == "opened"
    assert case.source == "heartbeat"
    assert case.check.name == "agent-heartbeat"
    assert case.open_key == "app-01/agent-heartbeat"
    assert case.title == "Agent on app-01 not reporting"
    assert case.step == "received"


def test_heartbeat_quiet_within_twice_interval(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    agent.interval_seconds = 60
    post(client, agent)
    silence(session, agent.host, 100)

    assert check_heartbeats(session, utcnow()) == []


def test_heartbeat_skips_host_that_never_reported(
    agent: Agent, session: Session
) -> None:
    assert check_heartbeats(session, utcnow()) == []


def test_heartbeat_one_case_per_silence(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    agent.interval_seconds = 60
    post(client, agent)
    silence(session, agent.host, 300)

    check_heartbeats(session, utcnow())
    second = check_heartbeats(session, utcnow() + timedelta(minutes=5))

    assert second == []
    assert len(session.scalars(select(Case)).all()) == 1


def test_heartbeat_recovery_on_next_post(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    agent.interval_seconds = 60
    post(client, agent)
    silence(session, agent.host, 300)
    [(case, _)] = check_heartbeats(session, utcnow())
    case_id = case.id

    answer = post(client, agent)

    assert answer.get_json()["cases"] == [
        {"id": case_id, "check": "agent-heartbeat", "action": "recovered"}
    ]
    case = session.get(Case, case_id)
    assert case.status == "open"
    assert case.recovered_at is not None
    kinds = session.scalars(
        select(CaseEvent.kind).where(CaseEvent.case_id == case_id)
    ).all()
    assert "recovered" in kinds


def test_heartbeat_silent_again_repeats(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    agent.interval_seconds = 60
    post(client, agent)
    silence(session, agent.host, 300)
    [(case, _)] = check_heartbeats(session, utcnow())
    post(client, agent)
    silence(session, agent.host, 300)

    [(again, action)] = check_heartbeats(session, utcnow())

    assert again.id == case.id
    assert action == "repeated"
    assert again.occurrences == 2
    assert again.recovered_at is None


def test_heartbeat_reopens_closed_case(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    agent.interval_seconds = 60
    post(client, agent)
    silence(session, agent.host, 300)
    [(case, _)] = check_heartbeats(session, utcnow())
    close_case(session, case, "restored", utcnow(), "user:test")
    session.commit()
    silence(session, agent.host, 300)

    [(again, action)] = check_heartbeats(session, utcnow())

    assert action == "reopened"
    assert again.id == case.id


def test_heartbeat_parallel_rounds_open_one_case(
    client: FlaskClient, agent: Agent, session: Session, app: Flask
) -> None:
    agent.interval_seconds = 60
    post(client, agent)
    silence(session, agent.host, 300)
    database = get_database(app)
    start = threading.Barrier(ROUNDS)

    def one_round() -> list[str]:
        with database.session() as own:
            start.wait(30)
            return [action for _, action in check_heartbeats(own, utcnow())]

    with ThreadPoolExecutor(max_workers=ROUNDS) as pool:
        actions = [
            action
            for found in pool.map(lambda _: one_round(), range(ROUNDS))
            for action in found
        ]

    assert actions == ["opened"]
    assert len(session.scalars(select(Case)).all()) == 1


def test_heartbeat_monitor_thread_opens_case(
    client: FlaskClient, agent: Agent, session: Session, database_url: str
) -> None:
    agent.interval_seconds = 60
    post(client, agent)
    silence(session, agent.host, 300)
    database = Database(database_url)
    monitor = HeartbeatMonitor(database, interval=0.05, grace_seconds=0)

    monitor.start()
    try:
        deadline = time.monotonic() + 60
        found: list[Case] = []
        while not found and time.monotonic() < deadline:
            # Every SQLite transaction takes the write lock, so a tighter
            # poll can starve the monitor's own transaction on a busy machine.
            time.sleep(0.25)
            session.rollback()
            found = list(session.scalars(select(Case)))
    finally:
        monitor.stop()
        database.dispose()

    assert [case.source for case in found] == ["heartbeat"]


class ManualClock:
    """A clock for HeartbeatMonitor that moves only when the test advances it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def restarted(
    client: FlaskClient, agent: Agent, session: Session, database_url: str
) -> Iterator[tuple[HeartbeatMonitor, ManualClock]]:
    """A monitor starting 20 minutes after the agent's last post (interval 60 s)."""
    agent.interval_seconds = 60
    post(client, agent)
    silence(session, agent.host, 20 * 60)
    database = Database(database_url)
    clock = ManualClock(utcnow())
    yield HeartbeatMonitor(database, grace_seconds=335, clock=clock), clock
    database.dispose()


def test_monitor_restart_gives_grace_to_agents(
    restarted: tuple[HeartbeatMonitor, ManualClock],
) -> None:
    monitor, clock = restarted

    first_round = monitor.run_once()
    clock.advance(3 * 60)
    within_grace = monitor.run_once()

    assert first_round == []
    assert within_grace == []


def test_monitor_opens_case_after_grace(
    restarted: tuple[HeartbeatMonitor, ManualClock], session: Session
) -> None:
    monitor, clock = restarted

    monitor.run_once()
    clock.advance(336)
    touched = monitor.run_once()

    assert [action for _, action in touched] == ["opened"]
    case = session.get(Case, touched[0][0])
    assert case is not None
    assert case.source == "heartbeat"


def test_monitor_agent_reporting_in_grace_no_case(
    restarted: tuple[HeartbeatMonitor, ManualClock],
    client: FlaskClient,
    agent: Agent,
    session: Session,
) -> None:
    monitor, clock = restarted

    monitor.run_once()
    clock.advance(200)
    post(client, agent)
    # The post stamps the real time; move it to the monitor's clock.
    host = session.scalars(select(Host).where(Host.name == agent.host)).one()
    host.last_seen_at = clock.now
    session.commit()
    clock.advance(100)
    touched = monitor.run_once()

    assert touched == []
    assert session.scalars(select(Case)).all() == []


def test_monitor_agent_silent_after_start_no_grace(
    restarted: tuple[HeartbeatMonitor, ManualClock], client: FlaskClient, agent: Agent
) -> None:
    monitor, clock = restarted

    monitor.run_once()
    post(client, agent)
    clock.advance(2 * 60 + 5)
    touched = monitor.run_once()

    assert [action for _, action in touched] == ["opened"]


def test_monitor_start_sets_started_at(
    restarted: tuple[HeartbeatMonitor, ManualClock],
) -> None:
    monitor, clock = restarted
    monitor.interval = 3600

    monitor.start()
    monitor.stop()

    assert monitor.started_at == clock.now


def test_default_grace_covers_agent_backoff() -> None:
    assert DEFAULT_GRACE_SECONDS > MAX_BACKOFF_SECONDS


def test_grace_from_environment_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HEARTBEAT_GRACE_VARIABLE, raising=False)
    assert heartbeat_grace_from_environment() == DEFAULT_GRACE_SECONDS


def test_grace_from_environment_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HEARTBEAT_GRACE_VARIABLE, "90")
    assert heartbeat_grace_from_environment() == 90.0


@pytest.mark.parametrize("text", ["-1", "soon", "inf", "nan"])
def test_grace_from_environment_invalid(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    monkeypatch.setenv(HEARTBEAT_GRACE_VARIABLE, text)
    with pytest.raises(ValueError, match=HEARTBEAT_GRACE_VARIABLE):
        heartbeat_grace_from_environment()


def test_app_passes_grace_to_monitor(database_url: str, tmp_path: Any) -> None:
    application = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "DATA_DIR": str(tmp_path / "data"),
            "SECRET_KEY": "test-secret-key",
            "HEARTBEAT_SECONDS": 3600,
            "HEARTBEAT_GRACE_SECONDS": 42,
        }
    )
    monitor = application.extensions["pelihara.heartbeat"]
    monitor.stop()
    get_database(application).dispose()

    assert monitor.grace == timedelta(seconds=42)


def test_serve_grace_option_parsed() -> None:
    arguments = build_parser().parse_args(["serve", "--heartbeat-grace-seconds", "120"])
    assert arguments.heartbeat_grace_seconds == 120.0


def test_serve_grace_option_rejects_negative(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--heartbeat-grace-seconds", "-5"])
    assert "must be 0 or more, got -5" in capsys.readouterr().err


def test_serve_heartbeat_seconds_rejects_negative(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--heartbeat-seconds", "-1"])
    assert "must be 0 or more, got -1" in capsys.readouterr().err
