"""Model rules the database itself enforces, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from collector.models import Case, Host, utcnow


def add_case(session: Session, open_key: str | None) -> Case:
    case = Case(source="memorandum", title="Printer rusak", open_key=open_key)
    session.add(case)
    session.flush()
    return case


def test_models_one_open_case_per_key(session: Session) -> None:
    add_case(session, "app-01/root-disk")

    with pytest.raises(IntegrityError):
        add_case(session, "app-01/root-disk")


def test_models_many_cases_without_key(session: Session) -> None:
    add_case(session, None)
    add_case(session, None)
    session.commit()

    assert len(session.scalars(select(Case)).all()) == 2


def test_models_times_read_back_aware(session: Session) -> None:
    jakarta = timezone(timedelta(hours=7))
    session.add(
        Host(name="app-01", last_seen_at=datetime(2026, 12, 4, 10, 0, tzinfo=jakarta))
    )
    session.commit()
    session.expire_all()

    host = session.scalars(select(Host)).one()

    assert host.last_seen_at.utcoffset() == timedelta(0)
    assert host.last_seen_at == datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
    assert host.created_at.tzinfo is not None


def test_models_naive_time_rejected(session: Session) -> None:
    session.add(Host(name="app-01", last_seen_at=datetime(2026, 12, 4, 3, 0)))

    with pytest.raises(StatementError) as raised:
        session.flush()

    assert "naive datetime" in str(raised.value)


def test_models_case_source_checked(session: Session) -> None:
    session.add(Case(source="email", title="x"))

    with pytest.raises(IntegrityError):
        session.flush()


def test_models_case_defaults(session: Session) -> None:
    before = utcnow()
    case = add_case(session, None)

    assert case.status == "open"
    assert case.occurrences == 1
    assert case.reopen_count == 0
    assert case.opened_at >= before
