"""Times of an agent case: all taken from the agent's observations."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from collector.models import Case
from collector.models.procedure import StepRecord

from .conftest import BASE_TIME, Agent, make_result, minutes, post


def test_ingest_opened_at_is_observed_time(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    post(client, agent, make_result(at=BASE_TIME))

    case = session.scalars(select(Case)).one()

    assert case.opened_at == BASE_TIME


def test_ingest_opened_at_matches_first_step(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    post(client, agent, make_result(at=BASE_TIME))

    case = session.scalars(select(Case)).one()
    record = session.scalars(select(StepRecord)).one()

    assert record.started_at == case.opened_at


def test_ingest_opened_not_after_last_seen(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    post(client, agent, make_result(at=BASE_TIME))
    post(client, agent, make_result(at=BASE_TIME + minutes(5)))

    case = session.scalars(select(Case)).one()

    assert case.opened_at == BASE_TIME
    assert case.last_seen_at == BASE_TIME + minutes(5)
