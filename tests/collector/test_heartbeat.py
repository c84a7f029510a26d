"""Cases for agents that stop reporting."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from collector.db import Database, get_database
from collector.heartbeat import HeartbeatMonitor, check_heartbeats
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
    monitor = HeartbeatMonitor(database, interval=0.05)

    monitor.start()
    try:
        deadline = time.monotonic() + 60
        found: list[Case] = []
        while not found and time.monotonic() < deadline:
            time.sleep(0.05)
            session.rollback()
            found = list(session.scalars(select(Case)))
    finally:
        monitor.stop()
        database.dispose()

    assert [case.source for case in found] == ["heartbeat"]
