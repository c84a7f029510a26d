"""Damage reports (memoranda) filed by work units through the API."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from .conftest import Persona
from .procedure_support import Clock, file_report, report_body, start_clock, wib


@pytest.fixture
def clock() -> Clock:
    return start_clock()


@pytest.fixture
def app_config(clock: Clock) -> dict[str, Any]:
    return {"PROCEDURE_CLOCK": clock}


def report(client: FlaskClient, persona: Persona, **overrides: Any) -> Any:
    return client.post(
        "/api/v1/cases", json=report_body(**overrides), headers=persona.headers()
    )


def test_report_by_unit_user(
    client: FlaskClient, clock: Clock, unit_user: Persona
) -> None:
    clock.now = wib(2026, 12, 4, 14, 30)
    body = file_report(client, unit_user, wib(2026, 12, 4, 14), unit=None)
    assert body["source"] == "memorandum"
    assert body["unit"] == "Bagian Umum"
    assert body["application"] == "SIMPEG"
    assert body["step"] == "received"
    assert body["title"] == "SIMPEG: login page shows error 500"
    assert body["host"] is None


def test_report_first_step_fields(
    client: FlaskClient, clock: Clock, unit_user: Persona
) -> None:
    clock.now = wib(2026, 12, 4, 14, 30)
    body = file_report(client, unit_user, wib(2026, 12, 4, 14))
    assert body["steps"][0]["fields"] == {
        "source": "memorandum",
        "application": "SIMPEG",
        "unit": "Bagian Umum",
        "letter_number": "M-12/BU/2026",
        "letter_date": "2026-12-04",
    }


def test_report_received_in_past(
    client: FlaskClient, clock: Clock, unit_user: Persona
) -> None:
    clock.now = wib(2026, 12, 7, 9)
    body = file_report(client, unit_user, wib(2026, 12, 4, 14))
    received = body["steps"][0]
    assert received["started_at"] == "2026-12-04T14:00:00+07:00"
    # 1 day from Friday 14:00: Friday 120 min, Monday 07:30 + 390 min.
    assert received["due_at"] == "2026-12-07T14:00:00+07:00"
    assert body["opened_at"] == "2026-12-04T14:00:00+07:00"


def test_report_received_now_by_default(
    client: FlaskClient, clock: Clock, unit_user: Persona
) -> None:
    clock.now = wib(2026, 12, 7, 9)
    answer = report(client, unit_user)
    assert answer.status_code == 201
    received = answer.get_json()["steps"][0]
    assert received["started_at"] == "2026-12-07T09:00:00+07:00"
    # 510 min from Monday 09:00: Monday 09:00-16:00 is 420, Tuesday 07:30 + 90.
    assert received["due_at"] == "2026-12-08T09:00:00+07:00"


def test_report_after_hours_clock_starts_next_opening(
    client: FlaskClient, clock: Clock, unit_user: Persona
) -> None:
    clock.now = wib(2026, 12, 7, 9)
    body = file_report(client, unit_user, wib(2026, 12, 4, 18))
    received = body["steps"][0]
    assert received["started_at"] == "2026-12-04T18:00:00+07:00"
    assert received["clock_started_at"] == "2026-12-07T07:30:00+07:00"
    assert received["due_at"] == "2026-12-07T16:00:00+07:00"


def test_report_on_joint_leave_day(
    client: FlaskClient, clock: Clock, unit_user: Persona
) -> None:
    # Thursday 24 Dec is joint leave and Friday 25 Dec Christmas: the clock
    # starts Monday 28 Dec 07:30 and a working day later is 16:00.
    clock.now = wib(2026, 12, 28, 8)
    body = file_report(client, unit_user, wib(2026, 12, 24, 10))
    assert body["steps"][0]["due_at"] == "2026-12-28T16:00:00+07:00"


def test_report_by_head_for_unit(
    client: FlaskClient, clock: Clock, head: Persona
) -> None:
    answer = report(client, head, unit="Biro Hukum")
    assert answer.status_code == 201
    assert answer.get_json()["unit"] == "Biro Hukum"


def test_report_by_head_needs_unit(client: FlaskClient, head: Persona) -> None:
    answer = report(client, head, unit=None)
    assert answer.status_code == 422
    assert answer.get_json() == {
        "error": "unit: missing; give it as text",
        "reasons": ["unit: missing; give it as text"],
        "field": "unit",
    }


@pytest.mark.parametrize(
    "key", ["application", "memorandum_number", "memorandum_date", "description"]
)
def test_report_missing_field(
    client: FlaskClient, unit_user: Persona, key: str
) -> None:
    answer = report(client, unit_user, **{key: None})
    assert answer.status_code == 422
    assert answer.get_json()["error"] == f"{key}: missing; give it as text"
    assert answer.get_json()["field"] == key


def test_report_invalid_date(client: FlaskClient, unit_user: Persona) -> None:
    answer = report(client, unit_user, memorandum_date="04-12-2026")
    assert answer.status_code == 422
    assert answer.get_json()["error"] == (
        "memorandum_date: invalid date '04-12-2026'; expected YYYY-MM-DD, for "
        "example 2026-12-04"
    )


def test_report_not_text(client: FlaskClient, unit_user: Persona) -> None:
    answer = report(client, unit_user, application=7)
    assert answer.status_code == 422
    assert answer.get_json()["error"] == "application: expected text, got 7"


def test_report_received_in_future(
    client: FlaskClient, clock: Clock, unit_user: Persona
) -> None:
    answer = report(client, unit_user, received_at="2026-12-04T18:00:00+07:00")
    assert answer.status_code == 422
    assert answer.get_json()["error"] == (
        "received_at: 2026-12-04T18:00:00+07:00 is in the future; give the time "
        "it happened"
    )


def test_report_received_without_offset(
    client: FlaskClient, unit_user: Persona
) -> None:
    answer = report(client, unit_user, received_at="2026-12-04T10:00:00")
    assert answer.status_code == 422
    assert answer.get_json()["error"] == (
        "received_at: invalid time '2026-12-04T10:00:00'; expected ISO 8601 with "
        "an offset, for example 2026-12-04T09:30:00+07:00"
    )


def test_report_for_other_unit_refused(client: FlaskClient, unit_user: Persona) -> None:
    answer = report(client, unit_user, unit="Biro Hukum")
    assert answer.status_code == 403
    assert answer.get_json()["error"] == (
        "unit: user 'unit-user' belongs to 'Bagian Umum' and may not report for "
        "'Biro Hukum'"
    )


@pytest.mark.parametrize("role", ["vendor", "viewer"])
def test_report_role_refused(
    client: FlaskClient, personas: dict[str, Persona], role: str
) -> None:
    answer = report(client, personas[role])
    assert answer.status_code == 403
    assert answer.get_json()["error"] == (
        f"role {role!r} may not do this; needs one of unit, head, technician, admin"
    )


def test_report_listed_with_cases(
    client: FlaskClient, unit_user: Persona, head: Persona
) -> None:
    created = report(client, unit_user).get_json()
    listed = client.get("/api/v1/cases", headers=head.headers()).get_json()
    assert [(case["id"], case["source"]) for case in listed["cases"]] == [
        (created["id"], "memorandum")
    ]


def test_report_history_has_memorandum(client: FlaskClient, unit_user: Persona) -> None:
    body = report(client, unit_user).get_json()
    opened = body["events"][0]
    assert opened["kind"] == "opened"
    assert opened["actor"] == "user:unit-user"
    assert opened["detail"]["memorandum_number"] == "M-12/BU/2026"


def test_report_every_problem_named(client: FlaskClient, unit_user: Persona) -> None:
    answer = report(
        client,
        unit_user,
        application=None,
        memorandum_date="04-12-2026",
        description=None,
    )
    assert answer.status_code == 422
    assert answer.get_json() == {
        "error": "application: missing; give it as text; memorandum_date: invalid "
        "date '04-12-2026'; expected YYYY-MM-DD, for example 2026-12-04; "
        "description: missing; give it as text",
        "reasons": [
            "application: missing; give it as text",
            "memorandum_date: invalid date '04-12-2026'; expected YYYY-MM-DD, for "
            "example 2026-12-04",
            "description: missing; give it as text",
        ],
        "field": "application",
    }
