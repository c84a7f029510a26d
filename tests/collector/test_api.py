"""The JSON API: authentication, validation errors and the case endpoints."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from collector.models import Case, Host, utcnow
from collector.tokens import create_agent_token, revoke_agent_token

from .conftest import BASE_TIME, Agent, Persona, error_body, make_result, minutes, post


def test_api_results_without_token_is_401(client: FlaskClient, agent: Agent) -> None:
    answer = client.post("/api/v1/results", json=agent.batch())

    assert answer.status_code == 401
    assert answer.get_json() == error_body(
        {"error": "missing agent token: send 'Authorization: Bearer <token>'"}
    )


def test_api_results_unknown_token_is_401(client: FlaskClient, agent: Agent) -> None:
    answer = client.post(
        "/api/v1/results",
        json=agent.batch(),
        headers={"Authorization": "Bearer pa_not-a-real-token"},
    )

    assert answer.status_code == 401
    assert answer.get_json() == error_body({"error": "unknown or revoked agent token"})


def test_api_results_revoked_token_is_401(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    revoke_agent_token(session, agent.token_id)
    session.commit()

    answer = post(client, agent, make_result())

    assert answer.status_code == 401
    assert answer.get_json() == error_body({"error": "unknown or revoked agent token"})


def test_api_results_user_token_is_401(
    client: FlaskClient, agent: Agent, viewer: Persona
) -> None:
    answer = client.post(
        "/api/v1/results", json=agent.batch(), headers=viewer.headers()
    )

    assert answer.status_code == 401


def test_api_results_other_host_is_403(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    create_agent_token(session, "db-01")
    session.commit()
    batch = agent.batch(make_result())
    batch["agent"]["host"] = "db-01"

    answer = client.post("/api/v1/results", json=batch, headers=agent.headers())

    assert answer.status_code == 403
    assert answer.get_json() == error_body(
        {
            "error": "agent.host 'db-01' does not match the token's host 'app-01'; "
            "use the token issued for 'db-01'",
            "field": "agent.host",
        }
    )
    assert session.scalars(select(Case)).all() == []


def test_api_results_not_json_is_400(client: FlaskClient, agent: Agent) -> None:
    answer = client.post(
        "/api/v1/results",
        data="results=1",
        headers={**agent.headers(), "Content-Type": "text/plain"},
    )

    assert answer.status_code == 400
    assert answer.get_json()["error"].startswith("the body is not JSON")


INVALID_RESULTS = [
    (
        {"status": "BAD"},
        "results[0].status",
        "results[0].status: invalid value 'BAD'; expected one of OK, WARNING, "
        "CRITICAL, UNKNOWN",
    ),
    (
        {"id": "xyz"},
        "results[0].id",
        "results[0].id: invalid id 'xyz'; expected 32 hex digits",
    ),
    (
        {"observed_at": "2026-12-04T03:40:00"},
        "results[0].observed_at",
        "results[0].observed_at: timestamp '2026-12-04T03:40:00' has no UTC "
        "offset; add one, e.g. +00:00",
    ),
    (
        {"observed_at": "yesterday"},
        "results[0].observed_at",
        "results[0].observed_at: invalid timestamp 'yesterday'; expected ISO 8601",
    ),
    (
        {"values": {"used_percent": "93%"}},
        "results[0].values.used_percent",
        "results[0].values.used_percent: expected a number, got str",
    ),
    (
        {"values": {"used_percent": 10**400}},
        "results[0].values.used_percent",
        "results[0].values.used_percent: expected a finite number, got an "
        "integer beyond 1.8e308",
    ),
    (
        {"confirmed": "yes"},
        "results[0].confirmed",
        "results[0].confirmed: expected true or false, got str",
    ),
    (
        {"suppressed": "because"},
        "results[0].suppressed",
        "results[0].suppressed: invalid value 'because'; expected "
        "'maintenance:<window>' or 'depends_on:<check>'",
    ),
    (
        {"open_case_on": ["CRITICAL", "BAD"]},
        "results[0].open_case_on[1]",
        "results[0].open_case_on[1]: invalid value 'BAD'; expected one of OK, "
        "WARNING, CRITICAL, UNKNOWN",
    ),
    (
        {"check": "a/b"},
        "results[0].check",
        "results[0].check: invalid check name 'a/b'; it must not be empty or "
        "contain '/' or control characters",
    ),
    (
        {"check": "agent-heartbeat"},
        "results[0].check",
        "results[0].check: check name 'agent-heartbeat' is reserved for the "
        "collector; rename the check",
    ),
    (
        {"category": "network"},
        "results[0].category",
        "results[0].category: invalid value 'network'; expected one of "
        "application, database, hardware",
    ),
]


@pytest.mark.parametrize(("override", "field", "message"), INVALID_RESULTS)
def test_api_results_invalid_field_is_422(
    client: FlaskClient,
    agent: Agent,
    session: Session,
    override: dict[str, Any],
    field: str,
    message: str,
) -> None:
    answer = post(client, agent, make_result(**override))

    assert answer.status_code == 422
    assert answer.get_json() == error_body({"error": message, "field": field})


def test_api_results_missing_field_is_422(client: FlaskClient, agent: Agent) -> None:
    result = make_result()
    del result["check"]

    answer = post(client, agent, result)

    assert answer.get_json() == error_body(
        {
            "error": "results[0].check: missing; it is required",
            "field": "results[0].check",
        }
    )


def test_api_results_invalid_batch_stores_nothing(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    answer = post(client, agent, make_result(), make_result(status="BAD"))

    assert answer.status_code == 422
    assert answer.get_json()["field"] == "results[1].status"
    assert session.scalars(select(Case)).all() == []


def test_api_results_invalid_interval_is_422(client: FlaskClient, agent: Agent) -> None:
    batch = agent.batch()
    batch["agent"]["interval_seconds"] = 0

    answer = client.post("/api/v1/results", json=batch, headers=agent.headers())

    assert answer.get_json() == error_body(
        {
            "error": "agent.interval_seconds: must be positive, got 0",
            "field": "agent.interval_seconds",
        }
    )


def test_api_results_interval_above_maximum_is_422(
    client: FlaskClient, agent: Agent
) -> None:
    batch = agent.batch()
    batch["agent"]["interval_seconds"] = 1e308

    answer = client.post("/api/v1/results", json=batch, headers=agent.headers())

    assert answer.status_code == 422
    assert answer.get_json() == error_body(
        {
            "error": "agent.interval_seconds: must be at most 31622400 (366 days), "
            "got 1e+308",
            "field": "agent.interval_seconds",
        }
    )


def test_api_results_long_message_is_cut(
    client: FlaskClient, agent: Agent, viewer: Persona
) -> None:
    post(client, agent, make_result(message="x" * 10_000))

    [case] = client.get("/api/v1/cases", headers=viewer.headers()).get_json()["cases"]
    detail = client.get(f"/api/v1/cases/{case['id']}", headers=viewer.headers())
    assert len(detail.get_json()["results"][0]["message"]) == 4000


def test_api_cases_requires_user_token(client: FlaskClient, agent: Agent) -> None:
    answer = client.get("/api/v1/cases", headers=agent.headers())

    assert answer.status_code == 401
    assert answer.get_json()["error"].startswith("authentication required")


def test_api_cases_lists_newest_first(
    client: FlaskClient, agent: Agent, viewer: Persona
) -> None:
    post(client, agent, make_result("root-disk"))
    post(client, agent, make_result("postgres-up", at=BASE_TIME + minutes(1)))

    answer = client.get("/api/v1/cases", headers=viewer.headers())

    assert answer.status_code == 200
    cases = answer.get_json()["cases"]
    assert [case["check"] for case in cases] == ["postgres-up", "root-disk"]
    first = cases[1]
    assert first["host"] == "app-01"
    assert first["status"] == "open"
    assert first["step"] == "received"
    assert first["source"] == "agent"
    assert first["occurrences"] == 1
    assert first["title"] == "root-disk CRITICAL on app-01"
    assert first["resolution"] is None
    assert first["recovered_at"] is None
    assert first["closed_at"] is None
    assert first["last_seen_at"] == "2026-12-04T10:00:00+07:00"
    assert first["opened_at"].endswith("+07:00")


def test_api_cases_filters(
    client: FlaskClient, agent: Agent, viewer: Persona, session: Session
) -> None:
    post(client, agent, make_result("root-disk"), make_result("postgres-up"))
    other, token = create_agent_token(session, "db-01")
    session.commit()
    db_agent = Agent(host="db-01", token=token, token_id=other.id)
    post(client, db_agent, make_result("root-disk"))

    def checks(**params: str) -> list[tuple[str, str]]:
        answer = client.get(
            "/api/v1/cases", query_string=params, headers=viewer.headers()
        )
        return sorted((c["host"], c["check"]) for c in answer.get_json()["cases"])

    assert checks(host="db-01") == [("db-01", "root-disk")]
    assert checks(check="root-disk") == [
        ("app-01", "root-disk"),
        ("db-01", "root-disk"),
    ]
    assert checks(status="closed") == []
    assert len(checks(status="open")) == 3


def test_api_cases_invalid_status_is_400(client: FlaskClient, viewer: Persona) -> None:
    answer = client.get("/api/v1/cases?status=done", headers=viewer.headers())

    assert answer.status_code == 400
    assert answer.get_json() == error_body(
        {
            "error": "invalid status 'done'; expected one of open, closed",
            "field": "status",
        }
    )


def test_api_case_detail_has_results_and_events(
    client: FlaskClient, agent: Agent, viewer: Persona
) -> None:
    first = make_result(at=BASE_TIME)
    post(client, agent, first)
    post(client, agent, make_result(at=BASE_TIME + minutes(5)))
    [case] = client.get("/api/v1/cases", headers=viewer.headers()).get_json()["cases"]

    answer = client.get(f"/api/v1/cases/{case['id']}", headers=viewer.headers())

    body = answer.get_json()
    assert body["occurrences"] == 2
    assert [result["id"] for result in body["results"]][0] == first["id"]
    assert [event["kind"] for event in body["events"]] == ["opened", "repeated"]
    assert body["events"][0]["actor"] == "agent:app-01"


def test_api_case_not_found_is_404_json(client: FlaskClient, viewer: Persona) -> None:
    answer = client.get("/api/v1/cases/999", headers=viewer.headers())

    assert answer.status_code == 404
    assert answer.get_json() == error_body({"error": "case 999 not found"})


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/cases/2147483648",
        "/api/v1/cases/99999999999999999999/steps",
        "/api/v1/complaints/99999999999999999999",
    ],
)
def test_api_id_beyond_integer_is_404_json(
    client: FlaskClient, viewer: Persona, path: str
) -> None:
    answer = client.get(path, headers=viewer.headers())

    assert answer.status_code == 404
    assert "error" in answer.get_json()


def test_api_unknown_path_is_404_json(client: FlaskClient) -> None:
    answer = client.get("/api/v1/nothing")

    assert answer.status_code == 404
    assert "error" in answer.get_json()


def test_api_wrong_method_is_405_json(client: FlaskClient) -> None:
    answer = client.delete("/api/v1/results")

    assert answer.status_code == 405
    assert "error" in answer.get_json()


def test_api_healthz(client: FlaskClient) -> None:
    answer = client.get("/healthz")

    assert answer.status_code == 200
    assert answer.get_json() == {"status": "ok"}


def test_api_metrics_counts(client: FlaskClient, agent: Agent) -> None:
    result = make_result()
    post(client, agent, result, make_result("swap", status="OK"))
    post(client, agent, result)
    post(client, agent, make_result(status="BAD"))
    client.post("/api/v1/results", json=agent.batch())

    text = client.get("/metrics").get_data(as_text=True)

    assert 'pelihara_results_received_total{status="CRITICAL"} 1.0' in text
    assert 'pelihara_results_received_total{status="OK"} 1.0' in text
    assert "pelihara_result_duplicates_total 1.0" in text
    assert 'pelihara_ingest_errors_total{kind="invalid"} 1.0' in text
    assert 'pelihara_ingest_errors_total{kind="unauthorized"} 1.0' in text
    assert 'pelihara_cases_open{source="agent",step="received"} 1.0' in text
    assert "pelihara_hosts_not_reporting 0.0" in text


def test_api_cases_unit_sees_own_unit(
    client: FlaskClient,
    agent: Agent,
    session: Session,
    unit_user: Persona,
    technician: Persona,
) -> None:
    post(client, agent, make_result("root-disk"), make_result("postgres-up"))
    mine = session.scalars(select(Case).order_by(Case.id)).first()
    mine.unit = "Bagian Umum"
    session.commit()

    listed = client.get("/api/v1/cases", headers=unit_user.headers()).get_json()
    everything = client.get("/api/v1/cases", headers=technician.headers()).get_json()

    assert [case["id"] for case in listed["cases"]] == [mine.id]
    assert len(everything["cases"]) == 2


def test_api_case_of_other_unit_is_404(
    client: FlaskClient, agent: Agent, session: Session, unit_user: Persona
) -> None:
    post(client, agent, make_result())
    case = session.scalars(select(Case)).one()

    answer = client.get(f"/api/v1/cases/{case.id}", headers=unit_user.headers())

    assert answer.status_code == 404
    assert answer.get_json() == error_body({"error": f"case {case.id} not found"})


def test_api_metrics_count_silent_host(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    agent.interval_seconds = 60
    post(client, agent)
    host = session.scalars(select(Host)).one()
    host.last_seen_at = utcnow() - timedelta(seconds=121)
    session.commit()

    text = client.get("/metrics").get_data(as_text=True)

    assert "pelihara_hosts_not_reporting 1.0" in text


def test_api_cases_unit_page_not_emptied(
    client: FlaskClient, agent: Agent, session: Session, unit_user: Persona
) -> None:
    post(client, agent, make_result("root-disk", at=BASE_TIME))
    post(client, agent, make_result("postgres-up", at=BASE_TIME + minutes(1)))
    oldest = session.scalars(select(Case).order_by(Case.id)).first()
    oldest.unit = " bagian umum "
    session.commit()

    answer = client.get("/api/v1/cases?limit=1", headers=unit_user.headers())

    assert [case["id"] for case in answer.get_json()["cases"]] == [oldest.id]


@pytest.mark.parametrize("app_config", [{"SQLITE_BUSY_TIMEOUT_MS": 200}])
def test_api_results_locked_database_is_503(
    client: FlaskClient, agent: Agent, database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("only a SQLite file can be locked from outside this way")
    blocker = sqlite3.connect(make_url(database_url).database, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        answer = post(client, agent, make_result())
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    assert answer.status_code == 503
    assert answer.get_json() == error_body(
        {"error": "database unavailable; retry later"}
    )
    assert answer.headers["Retry-After"] == "30"


def test_api_results_long_value_name_is_422(client: FlaskClient, agent: Agent) -> None:
    answer = post(client, agent, make_result(values={"x" * 101: 1.0}))

    assert answer.status_code == 422
    assert answer.get_json() == error_body(
        {
            "error": f"results[0].values: value name {'x' * 40!r}... is longer than "
            "100 characters",
            "field": "results[0].values",
        }
    )
