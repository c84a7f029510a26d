"""After assignment, the assigned technician is the only technician who may act."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from collector.db import get_database
from collector.tokens import create_user

from .conftest import Persona, login
from .procedure_support import Clock, analysis, file_report, move, start_clock, wib


@pytest.fixture
def clock() -> Clock:
    return start_clock()


@pytest.fixture
def app_config(clock: Clock) -> dict[str, Any]:
    return {"PROCEDURE_CLOCK": clock}


@pytest.fixture
def other_technician(app: Flask, personas: dict[str, Persona]) -> Persona:
    with get_database(app).session() as session:
        created = create_user(session, "budi", "technician", password="budi-password")
        session.commit()
        return Persona(
            id=created.user.id,
            name="budi",
            role="technician",
            password="budi-password",
            token=created.api_token,
        )


@pytest.fixture
def case_id(
    client: FlaskClient, clock: Clock, unit_user: Persona, head: Persona
) -> int:
    clock.now = wib(2026, 12, 4, 14, 30)
    case_id = file_report(client, unit_user, wib(2026, 12, 4, 14))["id"]
    assert move(client, head, case_id, "assignment").status_code == 200
    answer = move(client, head, case_id, "analysis", {"technician": "technician-user"})
    assert answer.status_code == 200
    return case_id


def test_assignee_other_technician_refused(
    client: FlaskClient, other_technician: Persona, case_id: int
) -> None:
    answer = move(client, other_technician, case_id, "minor_repair", analysis("minor"))
    assert answer.status_code == 403
    assert answer.get_json()["error"] == (
        f"case {case_id} is assigned to technician 'technician-user'; user 'budi' "
        "may not act on step 'analysis' (the assigned technician, a head or an "
        "admin may)"
    )


def test_assignee_other_technician_draft_refused(
    client: FlaskClient, other_technician: Persona, case_id: int
) -> None:
    answer = client.post(
        f"/api/v1/cases/{case_id}/fields",
        json={"step": "analysis", "fields": {"findings_software": "x"}},
        headers=other_technician.headers(),
    )
    assert answer.status_code == 403


def test_assignee_assigned_technician_allowed(
    client: FlaskClient, technician: Persona, case_id: int
) -> None:
    answer = move(client, technician, case_id, "minor_repair", analysis("minor"))
    assert answer.status_code == 200


def test_assignee_admin_allowed(
    client: FlaskClient, admin: Persona, case_id: int
) -> None:
    answer = move(client, admin, case_id, "minor_repair", analysis("minor"))
    assert answer.status_code == 200


def test_assignee_before_assignment_any_technician(
    client: FlaskClient,
    clock: Clock,
    unit_user: Persona,
    other_technician: Persona,
) -> None:
    clock.now = wib(2026, 12, 4, 14, 30)
    case_id = file_report(client, unit_user, wib(2026, 12, 4, 14))["id"]
    assert move(client, other_technician, case_id, "assignment").status_code == 200


def _close_as_false_alarm(client: FlaskClient, persona: Persona, case_id: int) -> Any:
    return client.post(
        f"/api/v1/cases/{case_id}/close",
        json={"resolution": "false_alarm", "reason": "not a fault"},
        headers=persona.headers(),
    )


def test_assignee_other_technician_close_refused(
    client: FlaskClient, other_technician: Persona, case_id: int
) -> None:
    answer = _close_as_false_alarm(client, other_technician, case_id)
    assert answer.status_code == 403
    assert answer.get_json()["error"] == (
        f"case {case_id} is assigned to technician 'technician-user'; user 'budi' "
        "may not close it (the assigned technician, a head or an admin may)"
    )
    case = client.get(f"/api/v1/cases/{case_id}", headers=other_technician.headers())
    assert case.get_json()["status"] == "open"


def test_assignee_assigned_technician_close_allowed(
    client: FlaskClient, technician: Persona, case_id: int
) -> None:
    answer = _close_as_false_alarm(client, technician, case_id)
    assert answer.status_code == 200


def test_assignee_other_technician_page_has_no_forms(
    client: FlaskClient, other_technician: Persona, case_id: int
) -> None:
    login(client, other_technician)

    page = client.get(f"/cases/{case_id}").get_data(as_text=True)

    assert 'class="step-form"' not in page
    assert 'class="close-form"' not in page
    assert 'class="comment-form"' in page
    assert "(assigned technician)</span>: technician-user" in page


def test_assignee_assigned_technician_page_has_forms(
    client: FlaskClient, technician: Persona, case_id: int
) -> None:
    login(client, technician)

    page = client.get(f"/cases/{case_id}").get_data(as_text=True)

    assert 'class="step-form"' in page
    assert 'class="close-form"' in page
