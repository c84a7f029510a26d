"""Complaints from work units: through the head, or directly once approved."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from collector.db import get_database
from collector.tokens import create_user

from .conftest import Persona
from .procedure_support import Clock, file_report, start_clock, wib


@pytest.fixture
def clock() -> Clock:
    return start_clock()


@pytest.fixture
def app_config(clock: Clock) -> dict[str, Any]:
    return {"PROCEDURE_CLOCK": clock}


def submit(client: FlaskClient, persona: Persona, **body: Any) -> Any:
    payload = {"text": "reports are still slow after the repair", **body}
    return client.post("/api/v1/complaints", json=payload, headers=persona.headers())


def advance(
    client: FlaskClient,
    persona: Persona,
    complaint_id: int,
    to: str,
    **fields: Any,
) -> Any:
    return client.post(
        f"/api/v1/complaints/{complaint_id}/transitions",
        json={"to": to, "fields": fields},
        headers=persona.headers(),
    )


@pytest.fixture
def complaint_id(client: FlaskClient, unit_user: Persona) -> int:
    answer = submit(client, unit_user, application="SIMPEG")
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["id"]


def test_complaint_received(client: FlaskClient, unit_user: Persona) -> None:
    body = submit(client, unit_user).get_json()
    assert body["status"] == "received"
    assert body["unit"] == "Bagian Umum"
    assert body["channel"] == "head"
    assert body["next"] == "assigned"
    assert body["created_at"] == "2026-12-04T14:00:00+07:00"


def test_complaint_flow_to_agenda(
    client: FlaskClient,
    head: Persona,
    technician: Persona,
    complaint_id: int,
) -> None:
    steps = [
        (head, "assigned", {"assigned_to": technician.name}),
        (technician, "followed_up", {"follow_up": "index added to report table"}),
        (technician, "on_agenda", {"agenda": "report speed"}),
    ]
    body: dict[str, Any] = {}
    for persona, target, fields in steps:
        answer = advance(client, persona, complaint_id, target, **fields)
        assert answer.status_code == 200, answer.get_json()
        body = answer.get_json()
    assert body["status"] == "on_agenda"
    assert body["assigned_to"] == "technician-user"
    assert body["approved_by"] == "head-user"
    assert body["follow_up"] == "index added to report table"
    assert body["agenda"] == "report speed"
    assert body["on_agenda_at"] == "2026-12-04T14:00:00+07:00"
    # No case is at the coordination step, so it waits for the next meeting.
    assert body["meeting"] is None
    assert [event["kind"] for event in body["events"]] == [
        "received",
        "assigned",
        "followed_up",
        "on_agenda",
    ]


def test_complaint_direct_needs_head_approval(
    client: FlaskClient, unit_user: Persona, head: Persona, technician: Persona
) -> None:
    created = submit(
        client, unit_user, channel="direct", addressed_to=technician.name
    ).get_json()
    # The addressed technician cannot start before the head approves.
    early = advance(client, technician, created["id"], "assigned")
    assert early.status_code == 403
    assert early.get_json()["error"] == (
        "role 'technician' may not move a complaint from received; allowed roles: "
        "head, admin"
    )
    approved = advance(client, head, created["id"], "assigned").get_json()
    assert approved["assigned_to"] == "technician-user"
    assert approved["approved_by"] == "head-user"


def test_complaint_direct_needs_addressee(
    client: FlaskClient, unit_user: Persona
) -> None:
    answer = submit(client, unit_user, channel="direct")
    assert answer.status_code == 422
    assert answer.get_json()["error"] == "addressed_to: missing"


def test_complaint_direct_to_non_technician(
    client: FlaskClient, unit_user: Persona
) -> None:
    answer = submit(client, unit_user, channel="direct", addressed_to="viewer-user")
    assert answer.status_code == 422
    assert answer.get_json()["error"] == (
        "addressed_to: no active technician 'viewer-user'"
    )


def test_complaint_invalid_channel(client: FlaskClient, unit_user: Persona) -> None:
    answer = submit(client, unit_user, channel="phone")
    assert answer.status_code == 422
    assert answer.get_json()["error"] == (
        "channel: invalid value 'phone'; expected head or direct"
    )


def test_complaint_missing_text(client: FlaskClient, unit_user: Persona) -> None:
    answer = client.post(
        "/api/v1/complaints", json={"text": " "}, headers=unit_user.headers()
    )
    assert answer.status_code == 422
    assert answer.get_json()["error"] == "text: missing"


def test_complaint_for_other_unit(client: FlaskClient, unit_user: Persona) -> None:
    answer = submit(client, unit_user, unit="Biro Hukum")
    assert answer.status_code == 403
    assert answer.get_json()["error"] == (
        "unit: user 'unit-user' belongs to 'Bagian Umum' and may not complain "
        "for 'Biro Hukum'"
    )


def test_complaint_by_head_needs_unit(client: FlaskClient, head: Persona) -> None:
    answer = submit(client, head)
    assert answer.status_code == 422
    assert answer.get_json()["error"] == "unit: missing"


def test_complaint_unknown_case(client: FlaskClient, unit_user: Persona) -> None:
    answer = submit(client, unit_user, case_id=999)
    assert answer.status_code == 422
    assert answer.get_json()["error"] == "case_id: case 999 not found"


def test_complaint_other_units_case_not_found(
    client: FlaskClient, head: Persona, unit_user: Persona
) -> None:
    other = file_report(client, head, wib(2026, 12, 4, 9), unit="Biro Hukum")

    answer = submit(client, unit_user, case_id=other["id"])

    assert answer.status_code == 422
    assert answer.get_json()["error"] == f"case_id: case {other['id']} not found"


def test_complaint_case_id_beyond_integer(
    client: FlaskClient, unit_user: Persona
) -> None:
    answer = submit(client, unit_user, case_id=2**31)
    assert answer.status_code == 422
    assert answer.get_json()["error"] == "case_id: case 2147483648 not found"


def test_complaint_vendor_refused(client: FlaskClient, vendor_user: Persona) -> None:
    answer = submit(client, vendor_user)
    assert answer.status_code == 403
    assert answer.get_json()["error"] == (
        "role 'vendor' may not submit complaints; allowed roles: unit, head, "
        "technician, admin"
    )


def test_complaint_wrong_next_state(
    client: FlaskClient, head: Persona, complaint_id: int
) -> None:
    answer = advance(client, head, complaint_id, "closed", outcome="x")
    assert answer.status_code == 409
    assert answer.get_json()["error"] == (
        f"complaint {complaint_id} is received and can only go to 'assigned', "
        "not 'closed'"
    )


def test_complaint_assign_needs_technician(
    client: FlaskClient, head: Persona, complaint_id: int
) -> None:
    answer = advance(client, head, complaint_id, "assigned")
    assert answer.status_code == 422
    assert answer.get_json()["error"] == "assigned_to: missing"


def test_complaint_follow_up_missing(
    client: FlaskClient, head: Persona, technician: Persona, complaint_id: int
) -> None:
    advance(client, head, complaint_id, "assigned", assigned_to=technician.name)
    answer = advance(client, technician, complaint_id, "followed_up")
    assert answer.status_code == 422
    assert answer.get_json()["error"] == "follow_up: missing"


def test_complaint_assigned_technician_acts(
    app: Flask, client: FlaskClient, head: Persona, complaint_id: int
) -> None:
    with get_database(app).session() as session:
        other = create_user(session, "other-tech", "technician", password="pw-other")
        session.commit()
    advance(client, head, complaint_id, "assigned", assigned_to="other-tech")
    answer = client.post(
        f"/api/v1/complaints/{complaint_id}/transitions",
        json={"to": "followed_up", "fields": {"follow_up": "x"}},
        headers={"Authorization": f"Bearer {other.api_token}"},
    )
    assert answer.status_code == 200
    assert answer.get_json()["status"] == "followed_up"


def test_complaint_unassigned_technician_refused(
    app: Flask,
    client: FlaskClient,
    head: Persona,
    technician: Persona,
    complaint_id: int,
) -> None:
    with get_database(app).session() as session:
        create_user(session, "other-tech", "technician", password="pw-other")
        session.commit()
    advance(client, head, complaint_id, "assigned", assigned_to="other-tech")
    answer = advance(client, technician, complaint_id, "followed_up", follow_up="x")
    assert answer.status_code == 403
    assert answer.get_json()["error"] == (
        f"complaint {complaint_id} is assigned to 'other-tech', not 'technician-user'"
    )


def test_complaint_hidden_from_other_unit(
    app: Flask, client: FlaskClient, head: Persona
) -> None:
    created = submit(client, head, unit="Biro Hukum").get_json()
    with get_database(app).session() as session:
        other = create_user(
            session, "umum-2", "unit", unit="Bagian Umum", password="pw-umum"
        )
        session.commit()
    answer = client.get(
        f"/api/v1/complaints/{created['id']}",
        headers={"Authorization": f"Bearer {other.api_token}"},
    )
    assert answer.status_code == 404
    assert answer.get_json()["error"] == f"complaint {created['id']} not found"


def test_complaint_list_own_unit_only(
    client: FlaskClient, head: Persona, unit_user: Persona, complaint_id: int
) -> None:
    submit(client, head, unit="Biro Hukum")
    mine = client.get("/api/v1/complaints", headers=unit_user.headers()).get_json()
    everything = client.get("/api/v1/complaints", headers=head.headers()).get_json()
    assert [c["id"] for c in mine["complaints"]] == [complaint_id]
    assert len(everything["complaints"]) == 2
