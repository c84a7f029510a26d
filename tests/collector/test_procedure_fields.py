"""Editing recorded step values and commenting on cases."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from .conftest import Persona
from .procedure_support import Clock, analysis, file_report, move, start_clock, wib


@pytest.fixture
def clock() -> Clock:
    return start_clock()


@pytest.fixture
def app_config(clock: Clock) -> dict[str, Any]:
    return {"PROCEDURE_CLOCK": clock}


@pytest.fixture
def case_id(client: FlaskClient, clock: Clock, unit_user: Persona) -> int:
    clock.now = wib(2026, 12, 4, 14, 30)
    return file_report(client, unit_user, wib(2026, 12, 4, 14))["id"]


def edit(
    client: FlaskClient, persona: Persona, case_id: int, step: str, **fields: Any
) -> Any:
    return client.post(
        f"/api/v1/cases/{case_id}/fields",
        json={"step": step, "fields": fields},
        headers=persona.headers(),
    )


def to_analysis(client: FlaskClient, head: Persona, case_id: int) -> None:
    move(client, head, case_id, "assignment")
    move(client, head, case_id, "analysis", {"technician": "technician-user"})


def test_edit_draft_on_current_step(
    client: FlaskClient, head: Persona, technician: Persona, case_id: int
) -> None:
    to_analysis(client, head, case_id)
    answer = edit(client, technician, case_id, "analysis", findings_software="bug")
    assert answer.status_code == 200
    assert answer.get_json()["steps"][-1]["fields"] == {"findings_software": "bug"}


def test_edit_draft_completes_later(
    client: FlaskClient, head: Persona, technician: Persona, case_id: int
) -> None:
    to_analysis(client, head, case_id)
    edit(client, technician, case_id, "analysis", findings_software="bug")
    rest = analysis("minor")
    del rest["findings_software"]
    answer = move(client, technician, case_id, "minor_repair", rest)
    assert answer.status_code == 200
    recorded = [v for v in answer.get_json()["steps"] if v["id"] == "analysis"][0]
    assert recorded["fields"]["findings_software"] == "bug"


def test_edit_draft_invalid_value(
    client: FlaskClient, head: Persona, technician: Persona, case_id: int
) -> None:
    to_analysis(client, head, case_id)
    answer = edit(client, technician, case_id, "analysis", classification="big")
    assert answer.status_code == 422
    assert answer.get_json()["error"] == (
        "field 'classification': invalid value 'big'; expected one of minor, severe"
    )


def test_edit_completed_step(
    client: FlaskClient, head: Persona, technician: Persona, case_id: int
) -> None:
    move(client, head, case_id, "assignment")
    answer = edit(client, technician, case_id, "received", application="SIMPEG v2")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["application"] == "SIMPEG v2"
    assert body["events"][-1]["kind"] == "edit"
    assert body["events"][-1]["detail"]["changed"] == {
        "application": {"from": "SIMPEG", "to": "SIMPEG v2"}
    }


def test_edit_completed_step_stays_complete(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    move(client, head, case_id, "assignment")
    answer = edit(client, head, case_id, "received", application="")
    assert answer.status_code == 422
    assert answer.get_json()["error"] == (
        "missing required field 'application' for step 'received'"
    )


def test_edit_path_choice_refused(
    client: FlaskClient, head: Persona, technician: Persona, case_id: int
) -> None:
    to_analysis(client, head, case_id)
    move(client, technician, case_id, "minor_repair", analysis("minor"))
    answer = edit(client, technician, case_id, "analysis", classification="severe")
    assert answer.status_code == 409
    assert answer.get_json()["error"] == (
        "field 'classification' chose the path of a completed step and cannot "
        "change; close the case as false_alarm and report it again if it was wrong"
    )


def test_edit_step_not_reached(
    client: FlaskClient, technician: Persona, case_id: int
) -> None:
    answer = edit(client, technician, case_id, "report", report="x")
    assert answer.status_code == 409
    assert answer.get_json()["error"] == (
        f"case {case_id} has not reached step 'report'; nothing to edit"
    )


def test_edit_unknown_step(client: FlaskClient, head: Persona, case_id: int) -> None:
    answer = edit(client, head, case_id, "nope", x="y")
    assert answer.status_code == 422
    assert answer.get_json()["error"] == "step: unknown step 'nope'"


def test_edit_role_refused(
    client: FlaskClient, unit_user: Persona, case_id: int
) -> None:
    answer = edit(client, unit_user, case_id, "received", application="x")
    assert answer.status_code == 403
    assert answer.get_json()["error"] == (
        "role 'unit' may not edit step 'received'; allowed roles: head, "
        "technician, admin"
    )


def test_edit_needs_fields(client: FlaskClient, head: Persona, case_id: int) -> None:
    answer = client.post(
        f"/api/v1/cases/{case_id}/fields",
        json={"step": "received"},
        headers=head.headers(),
    )
    assert answer.status_code == 422
    assert answer.get_json()["error"] == (
        "fields: expected an object with the values to change"
    )


def test_comment_by_unit_user(
    client: FlaskClient, unit_user: Persona, case_id: int
) -> None:
    answer = client.post(
        f"/api/v1/cases/{case_id}/comments",
        json={"text": "  still failing  "},
        headers=unit_user.headers(),
    )
    assert answer.status_code == 201
    event = answer.get_json()["events"][-1]
    assert event["kind"] == "comment"
    assert event["actor"] == "user:unit-user"
    assert event["detail"] == {"text": "still failing"}


def test_comment_by_viewer_refused(
    client: FlaskClient, viewer: Persona, case_id: int
) -> None:
    answer = client.post(
        f"/api/v1/cases/{case_id}/comments",
        json={"text": "hello"},
        headers=viewer.headers(),
    )
    assert answer.status_code == 403
    assert answer.get_json()["error"] == (
        "role 'viewer' may not comment; allowed roles: admin, head, technician, "
        "unit, vendor"
    )


def test_comment_empty_refused(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    answer = client.post(
        f"/api/v1/cases/{case_id}/comments", json={"text": ""}, headers=head.headers()
    )
    assert answer.status_code == 422
    assert answer.get_json()["error"] == "text: missing; write the comment"
