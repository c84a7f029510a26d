"""Storing result batches: idempotency, check state and the case rules."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collector import ingest
from collector.app import reopen_window_from_environment
from collector.ingest import close_case
from collector.models import Case, CaseEvent, Check, Host, Result, utcnow

from .conftest import BASE_TIME, Agent, make_result, minutes, post


def cases_of(session: Session) -> list[Case]:
    return list(session.scalars(select(Case).order_by(Case.id)))


def events_of(session: Session, case_id: int) -> list[str]:
    return list(
        session.scalars(
            select(CaseEvent.kind)
            .where(CaseEvent.case_id == case_id)
            .order_by(CaseEvent.id)
        )
    )


def close(session: Session, case_id: int, resolution: str, at: Any = None) -> None:
    case = session.get(Case, case_id)
    close_case(session, case, resolution, at or utcnow(), "user:test")
    session.commit()


def test_ingest_failure_opens_case(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    answer = post(client, agent, make_result())

    assert answer.status_code == 200
    body = answer.get_json()
    assert body["accepted"] == 1
    assert body["duplicates"] == 0
    [case] = cases_of(session)
    assert body["cases"] == [{"id": case.id, "check": "root-disk", "action": "opened"}]
    assert case.status == "open"
    assert case.step == "received"
    assert case.source == "agent"
    assert case.occurrences == 1
    assert case.open_key == "app-01/root-disk"
    assert events_of(session, case.id) == ["opened"]


def test_ingest_repeated_failure_counts_occurrence(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    post(client, agent, make_result(at=BASE_TIME))
    answer = post(client, agent, make_result(at=BASE_TIME + minutes(120)))

    [case] = cases_of(session)
    assert answer.get_json()["cases"][0]["action"] == "repeated"
    assert case.occurrences == 2
    assert case.last_seen_at == BASE_TIME + minutes(120)
    assert events_of(session, case.id) == ["opened", "repeated"]


def test_ingest_same_batch_twice_is_idempotent(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    batch = [make_result("root-disk"), make_result("swap", status="WARNING")]
    post(client, agent, *batch)
    second = post(client, agent, *batch)

    assert second.get_json() == {"accepted": 0, "duplicates": 2, "cases": []}
    assert session.scalar(select(func.count()).select_from(Result)) == 2
    [case] = cases_of(session)
    assert case.occurrences == 1


def test_ingest_duplicate_id_within_batch(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    result = make_result()
    answer = post(client, agent, result, dict(result))

    assert answer.get_json()["accepted"] == 1
    assert answer.get_json()["duplicates"] == 1
    assert session.scalar(select(func.count()).select_from(Result)) == 1


def test_ingest_updates_check_state(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    post(client, agent, make_result(status="WARNING", message="/ is 85% used"))

    check = session.scalars(select(Check)).one()
    assert check.status == "WARNING"
    assert check.message == "/ is 85% used"
    assert check.kind == "disk"
    assert check.category == "hardware"
    assert check.observed_at == BASE_TIME
    assert check.values == {"used_percent": 93.1}


def test_ingest_keeps_integer_values(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    post(client, agent, make_result(values={"files": 3, "used_percent": 93.0}))

    values = session.scalars(select(Check)).one().values
    assert values == {"files": 3, "used_percent": 93.0}
    assert type(values["files"]) is int
    assert type(values["used_percent"]) is float


def test_ingest_late_result_is_history_only(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    post(client, agent, make_result(status="OK", at=BASE_TIME))
    answer = post(client, agent, make_result(at=BASE_TIME - minutes(30)))

    assert answer.get_json()["accepted"] == 1
    assert answer.get_json()["cases"] == []
    check = session.scalars(select(Check)).one()
    assert check.status == "OK"
    late = session.scalars(select(Result).where(Result.status == "CRITICAL")).one()
    assert late.late is True
    assert cases_of(session) == []


def test_ingest_batch_processed_in_time_order(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    answer = post(
        client,
        agent,
        make_result(status="OK", at=BASE_TIME + minutes(5)),
        make_result(status="CRITICAL", at=BASE_TIME),
    )

    actions = [change["action"] for change in answer.get_json()["cases"]]
    assert actions == ["opened", "recovered"]
    check = session.scalars(select(Check)).one()
    assert check.status == "OK"


def test_ingest_recovery_keeps_case_open(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    post(client, agent, make_result(at=BASE_TIME))
    answer = post(client, agent, make_result(status="OK", at=BASE_TIME + minutes(10)))

    [case] = cases_of(session)
    assert answer.get_json()["cases"][0]["action"] == "recovered"
    assert case.status == "open"
    assert case.recovered_at == BASE_TIME + minutes(10)
    assert events_of(session, case.id) == ["opened", "recovered"]


def test_ingest_second_ok_records_no_second_recovery(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    post(client, agent, make_result(at=BASE_TIME))
    post(client, agent, make_result(status="OK", at=BASE_TIME + minutes(10)))
    answer = post(client, agent, make_result(status="OK", at=BASE_TIME + minutes(20)))

    assert answer.get_json()["cases"] == []
    [case] = cases_of(session)
    assert events_of(session, case.id) == ["opened", "recovered"]


def test_ingest_failure_after_recovery_clears_it(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    post(client, agent, make_result(at=BASE_TIME))
    post(client, agent, make_result(status="OK", at=BASE_TIME + minutes(10)))
    post(client, agent, make_result(at=BASE_TIME + minutes(20)))

    [case] = cases_of(session)
    assert case.recovered_at is None
    assert case.occurrences == 2


def test_ingest_unconfirmed_failure_opens_no_case(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    answer = post(client, agent, make_result(confirmed=False))

    assert answer.get_json()["accepted"] == 1
    assert cases_of(session) == []


def test_ingest_suppressed_failure_opens_no_case(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    answer = post(client, agent, make_result(suppressed="maintenance:patching"))

    assert answer.get_json()["cases"] == []
    assert cases_of(session) == []
    stored = session.scalars(select(Result)).one()
    assert stored.suppressed == "maintenance:patching"


def test_ingest_status_outside_open_case_on(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    post(client, agent, make_result(status="WARNING"))
    post(client, agent, make_result("swap", status="WARNING", open_case_on=["WARNING"]))

    [case] = cases_of(session)
    assert case.check.name == "swap"


def test_ingest_reopens_case_closed_within_window(
    client: FlaskClient, agent: Agent, session: Session, app: Flask
) -> None:
    post(client, agent, make_result(at=BASE_TIME))
    [case] = cases_of(session)
    close(session, case.id, "restored", at=BASE_TIME + minutes(60))

    answer = post(client, agent, make_result(at=BASE_TIME + timedelta(days=6)))

    assert answer.get_json()["cases"] == [
        {"id": case.id, "check": "root-disk", "action": "reopened"}
    ]
    [reopened] = cases_of(session)
    assert reopened.status == "open"
    assert reopened.reopen_count == 1
    assert reopened.closed_at is None
    assert reopened.resolution is None
    assert reopened.open_key == "app-01/root-disk"
    # The procedure may add its own entries after these.
    assert events_of(session, case.id)[:3] == ["opened", "closed", "reopened"]
    event = session.scalars(select(CaseEvent).where(CaseEvent.kind == "reopened")).one()
    assert event.detail["earlier"]["resolution"] == "restored"


def test_ingest_opens_new_case_after_window(
    client: FlaskClient, agent: Agent, session: Session, app: Flask
) -> None:
    post(client, agent, make_result(at=BASE_TIME))
    [case] = cases_of(session)
    close(session, case.id, "restored", at=BASE_TIME + minutes(60))

    answer = post(client, agent, make_result(at=BASE_TIME + timedelta(days=8)))

    assert answer.get_json()["cases"][0]["action"] == "opened"
    first, second = cases_of(session)
    assert first.status == "closed"
    assert second.status == "open"


@pytest.mark.parametrize("resolution", ["false_alarm", "duplicate"])
def test_ingest_no_reopen_after_resolution(
    client: FlaskClient, agent: Agent, session: Session, app: Flask, resolution: str
) -> None:
    post(client, agent, make_result(at=BASE_TIME))
    [case] = cases_of(session)
    close(session, case.id, resolution, at=BASE_TIME + minutes(60))

    answer = post(client, agent, make_result(at=BASE_TIME + minutes(120)))

    assert answer.get_json()["cases"][0]["action"] == "opened"
    assert len(cases_of(session)) == 2


@pytest.mark.parametrize("app_config", [{"REOPEN_WINDOW": 3600}])
def test_ingest_reopen_window_from_config(
    client: FlaskClient, agent: Agent, session: Session, app: Flask
) -> None:
    post(client, agent, make_result(at=BASE_TIME))
    [case] = cases_of(session)
    close(session, case.id, "restored", at=BASE_TIME + minutes(10))

    answer = post(client, agent, make_result(at=BASE_TIME + minutes(120)))

    assert answer.get_json()["cases"][0]["action"] == "opened"


def test_ingest_updates_host_heartbeat(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    answer = post(client, agent)

    assert answer.get_json() == {"accepted": 0, "duplicates": 0, "cases": []}
    host = session.scalars(select(Host)).one()
    assert host.last_seen_at is not None
    assert host.interval_seconds == 7200.0
    assert host.agent_version == "0.1.0"


def test_ingest_links_results_to_case(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    post(client, agent, make_result(at=BASE_TIME))
    post(client, agent, make_result(at=BASE_TIME + minutes(5)))
    post(client, agent, make_result(status="OK", at=BASE_TIME + minutes(10)))

    [case] = cases_of(session)
    linked = session.scalars(select(Result.status).where(Result.case_id == case.id))
    assert sorted(linked) == ["CRITICAL", "CRITICAL", "OK"]


def test_ingest_case_per_check(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    post(client, agent, make_result("root-disk"), make_result("postgres-up"))

    names = sorted(case.check.name for case in cases_of(session))
    assert names == ["postgres-up", "root-disk"]


def test_ingest_lost_race_counts_repeat_on_winner(
    client: FlaskClient,
    agent: Agent,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    post(client, agent, make_result(at=BASE_TIME))
    [winner] = cases_of(session)
    real_find = ingest.find_open_case
    calls: list[int] = []

    def stale_find(*args: Any) -> Case | None:
        # The first lookup misses the open case, as one racing another
        # worker's commit would; the open_key constraint must catch it.
        calls.append(1)
        return None if len(calls) == 1 else real_find(*args)

    monkeypatch.setattr(ingest, "find_open_case", stale_find)
    answer = post(client, agent, make_result(at=BASE_TIME + minutes(5)))

    assert answer.get_json()["cases"] == [
        {"id": winner.id, "check": "root-disk", "action": "repeated"}
    ]
    [case] = cases_of(session)
    assert case.occurrences == 2


def test_ingest_lost_reopen_race_counts_repeat(
    client: FlaskClient,
    agent: Agent,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    post(client, agent, make_result(at=BASE_TIME))
    [first] = cases_of(session)
    close(session, first.id, "restored", at=BASE_TIME + minutes(10))
    post(client, agent, make_result(at=BASE_TIME + minutes(20)))
    close(session, first.id, "restored", at=BASE_TIME + minutes(30))
    # A second case is open while the first looks reopenable.
    session.add(
        Case(
            host=first.host,
            check=first.check,
            source="agent",
            title="opened elsewhere",
            open_key="app-01/root-disk",
        )
    )
    session.commit()
    real_find = ingest.find_open_case
    calls: list[int] = []

    def stale_find(*args: Any) -> Case | None:
        calls.append(1)
        return None if len(calls) == 1 else real_find(*args)

    monkeypatch.setattr(ingest, "find_open_case", stale_find)
    answer = post(client, agent, make_result(at=BASE_TIME + minutes(40)))

    [change] = answer.get_json()["cases"]
    assert change["action"] == "repeated"
    assert change["id"] != first.id
    assert session.get(Case, first.id).status == "closed"


def test_ingest_reopen_days_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PELIHARA_REOPEN_DAYS", "2.5")

    assert reopen_window_from_environment() == timedelta(days=2.5)


def test_ingest_reopen_days_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PELIHARA_REOPEN_DAYS", "week")

    with pytest.raises(ValueError) as raised:
        reopen_window_from_environment()

    assert str(raised.value) == (
        "PELIHARA_REOPEN_DAYS='week' is invalid; expected a number of days "
        "(0 or more, e.g. 7)"
    )


def test_ingest_result_from_future_is_logged(
    client: FlaskClient, agent: Agent, caplog: pytest.LogCaptureFixture
) -> None:
    ahead = utcnow() + timedelta(hours=2)

    with caplog.at_level("WARNING", logger="collector.ingest"):
        answer = post(client, agent, make_result(at=ahead))

    assert answer.get_json()["accepted"] == 1
    assert f"observed at {ahead.isoformat()}, ahead of the collector's clock" in (
        caplog.text
    )
