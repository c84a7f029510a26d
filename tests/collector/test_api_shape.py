"""One rule for the times and the error bodies of every JSON response."""

from __future__ import annotations

from flask.testing import FlaskClient

from .conftest import BASE_TIME, Agent, Persona, make_result, minutes, post
from .procedure_support import report_body


def test_case_times_in_calendar_zone(
    client: FlaskClient, agent: Agent, viewer: Persona
) -> None:
    post(client, agent, make_result())
    case_id = client.get("/api/v1/cases", headers=viewer.headers()).get_json()["cases"][
        0
    ]["id"]

    body = client.get(f"/api/v1/cases/{case_id}", headers=viewer.headers()).get_json()

    assert body["opened_at"] == "2026-12-04T10:00:00+07:00"
    assert body["last_seen_at"] == "2026-12-04T10:00:00+07:00"
    assert body["events"][0]["at"] == "2026-12-04T10:00:00+07:00"
    assert body["results"][0]["observed_at"] == "2026-12-04T10:00:00+07:00"
    assert body["results"][0]["received_at"].endswith("+07:00")
    assert body["steps"][0]["started_at"] == "2026-12-04T10:00:00+07:00"


def test_case_history_times_in_calendar_zone(
    client: FlaskClient, agent: Agent, viewer: Persona
) -> None:
    post(client, agent, make_result())
    post(client, agent, make_result(status="OK", at=BASE_TIME + minutes(5)))
    post(client, agent, make_result(at=BASE_TIME + minutes(10)))
    case_id = client.get("/api/v1/cases", headers=viewer.headers()).get_json()["cases"][
        0
    ]["id"]

    body = client.get(f"/api/v1/cases/{case_id}", headers=viewer.headers()).get_json()

    repeated = [event for event in body["events"] if event["kind"] == "repeated"]
    assert repeated[0]["detail"]["after_recovery_at"] == "2026-12-04T10:05:00+07:00"


def test_result_any_offset_parsed(
    client: FlaskClient, agent: Agent, viewer: Persona
) -> None:
    answer = post(client, agent, make_result(observed_at="2026-12-03T22:00:00-05:00"))
    assert answer.status_code == 200

    body = client.get(
        "/api/v1/results?host=app-01&check=root-disk", headers=viewer.headers()
    ).get_json()

    assert body["results"][0]["observed_at"] == "2026-12-04T10:00:00+07:00"


def test_error_role_refused_has_reasons(client: FlaskClient, viewer: Persona) -> None:
    answer = client.post("/api/v1/cases", json=report_body(), headers=viewer.headers())

    assert answer.status_code == 403
    message = (
        "role 'viewer' may not do this; needs one of unit, head, technician, admin"
    )
    assert answer.get_json() == {"error": message, "reasons": [message]}


def test_error_unauthenticated_has_reasons(client: FlaskClient) -> None:
    answer = client.post("/api/v1/cases", json=report_body())

    assert answer.status_code == 401
    assert answer.get_json()["reasons"] == [answer.get_json()["error"]]


def test_error_unknown_path_has_reasons(client: FlaskClient, viewer: Persona) -> None:
    answer = client.get("/api/v1/nothing", headers=viewer.headers())

    assert answer.status_code == 404
    assert answer.get_json()["reasons"] == [answer.get_json()["error"]]


def test_error_refused_values_list_each(
    client: FlaskClient, unit_user: Persona
) -> None:
    body = report_body(application=None, description=None)
    answer = client.post("/api/v1/cases", json=body, headers=unit_user.headers())

    assert answer.status_code == 422
    reasons = answer.get_json()["reasons"]
    assert len(reasons) == 2
    assert answer.get_json()["error"] == "; ".join(reasons)
    assert answer.get_json()["field"] == "application"
