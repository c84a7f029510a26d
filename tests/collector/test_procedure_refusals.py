"""Every refused transition returns its status and exact reason, and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from .conftest import Persona
from .procedure_support import (
    COORDINATION,
    Clock,
    analysis,
    file_report,
    move,
    start_clock,
    wib,
)


@pytest.fixture
def clock() -> Clock:
    return start_clock()


@pytest.fixture
def app_config(clock: Clock) -> dict[str, Any]:
    return {"PROCEDURE_CLOCK": clock}


@pytest.fixture
def case_id(client: FlaskClient, clock: Clock, unit_user: Persona) -> int:
    # Filed Friday 4 Dec 14:00 WIB, with the clock at 14:30.
    clock.now = wib(2026, 12, 4, 14, 30)
    return file_report(client, unit_user, wib(2026, 12, 4, 14))["id"]


def to_analysis(client: FlaskClient, head: Persona, case_id: int) -> None:
    assert move(client, head, case_id, "assignment").status_code == 200
    answer = move(client, head, case_id, "analysis", {"technician": "technician-user"})
    assert answer.status_code == 200


def refused(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.get_json()
    return answer.get_json()


def test_refused_step_not_next(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    body = refused(move(client, head, case_id, "report"), 409)
    assert body["error"] == (
        "step 'received' cannot go to 'report'; allowed next steps: assignment"
    )


def test_refused_unknown_step(client: FlaskClient, head: Persona, case_id: int) -> None:
    body = refused(move(client, head, case_id, "nowhere"), 409)
    assert body["error"] == (
        "step 'received' cannot go to 'nowhere'; allowed next steps: assignment"
    )


def test_refused_role_not_allowed(
    client: FlaskClient, head: Persona, technician: Persona, case_id: int
) -> None:
    assert move(client, head, case_id, "assignment").status_code == 200
    body = refused(
        move(client, technician, case_id, "analysis", {"technician": "x"}), 403
    )
    assert body["error"] == (
        "role 'technician' may not complete step 'assignment'; allowed roles: "
        "head, admin"
    )


def test_refused_viewer(client: FlaskClient, viewer: Persona, case_id: int) -> None:
    body = refused(move(client, viewer, case_id, "assignment"), 403)
    assert body["error"] == (
        "role 'viewer' may not complete step 'received'; allowed roles: head, "
        "technician, admin"
    )


def test_refused_unit_user_own_case(
    client: FlaskClient, unit_user: Persona, case_id: int
) -> None:
    body = refused(move(client, unit_user, case_id, "assignment"), 403)
    assert body["error"] == (
        "role 'unit' may not complete step 'received'; allowed roles: head, "
        "technician, admin"
    )


def test_refused_missing_field(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    assert move(client, head, case_id, "assignment").status_code == 200
    body = refused(move(client, head, case_id, "analysis"), 422)
    assert body["error"] == "missing required field 'technician' for step 'assignment'"
    assert body["reasons"] == [
        "missing required field 'technician' for step 'assignment'"
    ]


def test_refused_missing_fields_all_named(
    client: FlaskClient, head: Persona, technician: Persona, case_id: int
) -> None:
    to_analysis(client, head, case_id)
    body = refused(move(client, technician, case_id, "minor_repair"), 422)
    assert body["reasons"] == [
        "missing required field 'findings_software' for step 'analysis'",
        "missing required field 'findings_database' for step 'analysis'",
        "missing required field 'findings_hardware' for step 'analysis'",
        "missing required field 'classification' for step 'analysis'",
    ]


def test_refused_invalid_choice(
    client: FlaskClient, head: Persona, technician: Persona, case_id: int
) -> None:
    to_analysis(client, head, case_id)
    answer = move(client, technician, case_id, "minor_repair", analysis("big"))
    body = refused(answer, 422)
    assert body["error"] == (
        "field 'classification': invalid value 'big'; expected one of minor, severe"
    )


def test_refused_classification_mismatch(
    client: FlaskClient, head: Persona, technician: Persona, case_id: int
) -> None:
    to_analysis(client, head, case_id)
    answer = move(client, technician, case_id, "minor_repair", analysis("severe"))
    body = refused(answer, 409)
    assert body["error"] == (
        "step 'analysis' goes to 'minor_repair' only when classification is minor "
        "(got severe)"
    )


def test_refused_user_with_other_role(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    assert move(client, head, case_id, "assignment").status_code == 200
    answer = move(client, head, case_id, "analysis", {"technician": "head-user"})
    body = refused(answer, 422)
    assert body["error"] == (
        "field 'technician': user 'head-user' has role 'head'; expected a user "
        "with role 'technician'"
    )


def test_refused_unknown_user(client: FlaskClient, head: Persona, case_id: int) -> None:
    assert move(client, head, case_id, "assignment").status_code == 200
    answer = move(client, head, case_id, "analysis", {"technician": "nobody"})
    body = refused(answer, 422)
    assert body["error"] == "field 'technician': no active user 'nobody'"


def test_refused_closed_case(client: FlaskClient, head: Persona, case_id: int) -> None:
    closed = client.post(
        f"/api/v1/cases/{case_id}/close",
        json={"resolution": "false_alarm", "reason": "test message"},
        headers=head.headers(),
    )
    assert closed.status_code == 200
    body = refused(move(client, head, case_id, "assignment"), 409)
    assert body["error"] == (
        f"case {case_id} is closed (false_alarm); a closed case takes no more steps"
    )


def test_refused_other_unit_sees_nothing(
    client: FlaskClient, head: Persona, unit_user: Persona, clock: Clock
) -> None:
    other = file_report(client, head, wib(2026, 12, 4, 14), unit="Biro Hukum")
    body = refused(move(client, unit_user, other["id"], "assignment"), 404)
    assert body["error"] == f"case {other['id']} not found"


def test_refused_vendor_of_other_vendor(
    client: FlaskClient,
    clock: Clock,
    head: Persona,
    technician: Persona,
    vendor_user: Persona,
    case_id: int,
) -> None:
    to_analysis(client, head, case_id)
    # The meeting of COORDINATION is on Tuesday 8 Dec.
    clock.now = wib(2026, 12, 8, 10)
    steps = [
        ("vendor_notice", analysis("severe")),
        (
            "coordination",
            {
                "vendor": "PT Lain",
                "notified_at": "2026-12-04T14:30:00+07:00",
                "channel": "email",
                "unit_copied": True,
            },
        ),
        ("vendor_analysis", COORDINATION),
    ]
    for target, fields in steps:
        assert move(client, technician, case_id, target, fields).status_code == 200
    # The vendor user sees no case handed to another vendor.
    body = refused(
        move(client, vendor_user, case_id, "repair_and_test", {"root_cause": "x"}),
        404,
    )
    assert body["error"] == f"case {case_id} not found"


def test_refused_vendor_on_bureau_step(
    client: FlaskClient,
    head: Persona,
    technician: Persona,
    vendor_user: Persona,
    case_id: int,
) -> None:
    to_analysis(client, head, case_id)
    fields = {
        "vendor": "PT Contoh",
        "notified_at": "2026-12-04T14:30:00+07:00",
        "channel": "email",
        "unit_copied": True,
    }
    assert (
        move(
            client, technician, case_id, "vendor_notice", analysis("severe")
        ).status_code
        == 200
    )
    assert move(client, technician, case_id, "coordination", fields).status_code == 200
    body = refused(move(client, vendor_user, case_id, "vendor_analysis"), 403)
    assert body["error"] == (
        "role 'vendor' may not complete step 'coordination'; allowed roles: "
        "technician, head, admin"
    )


def test_refused_missing_to(client: FlaskClient, head: Persona, case_id: int) -> None:
    answer = client.post(
        f"/api/v1/cases/{case_id}/transitions", json={}, headers=head.headers()
    )
    body = refused(answer, 422)
    assert body["error"] == "to: missing; give the id of the next step"
    assert body["field"] == "to"


def test_refused_to_not_text(client: FlaskClient, head: Persona, case_id: int) -> None:
    answer = client.post(
        f"/api/v1/cases/{case_id}/transitions", json={"to": 5}, headers=head.headers()
    )
    body = refused(answer, 422)
    assert body["error"] == "to: expected the id of the next step, got 5"
    assert body["field"] == "to"


def test_refused_fields_not_object(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    answer = client.post(
        f"/api/v1/cases/{case_id}/transitions",
        json={"to": "assignment", "fields": [1]},
        headers=head.headers(),
    )
    body = refused(answer, 422)
    assert body["error"] == "fields: expected an object, got [1]"


def test_refused_at_before_start(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    answer = move(client, head, case_id, "assignment", at=wib(2026, 12, 4, 13))
    body = refused(answer, 422)
    assert body["error"] == (
        "at: 2026-12-04T13:00:00+07:00 is before step 'received' started at "
        "2026-12-04T14:00:00+07:00; give a later time"
    )


def test_refused_at_in_future(client: FlaskClient, head: Persona, case_id: int) -> None:
    answer = move(client, head, case_id, "assignment", at=wib(2026, 12, 5, 10))
    body = refused(answer, 422)
    assert body["error"] == (
        "at: 2026-12-05T10:00:00+07:00 is in the future; give the time it happened"
    )


def test_refused_at_invalid(client: FlaskClient, head: Persona, case_id: int) -> None:
    answer = client.post(
        f"/api/v1/cases/{case_id}/transitions",
        json={"to": "assignment", "at": "yesterday"},
        headers=head.headers(),
    )
    body = refused(answer, 422)
    assert body["error"] == (
        "at: invalid time 'yesterday'; expected ISO 8601 with an offset, for "
        "example 2026-12-04T09:30:00+07:00"
    )


def test_refused_body_not_json(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    answer = client.post(
        f"/api/v1/cases/{case_id}/transitions", data="to=x", headers=head.headers()
    )
    body = refused(answer, 400)
    assert body["error"] == (
        "the body is not a JSON object; send one with Content-Type application/json"
    )


def test_refused_unknown_case(client: FlaskClient, head: Persona) -> None:
    body = refused(move(client, head, 999, "assignment"), 404)
    assert body["error"] == "case 999 not found"


def test_refused_unknown_token(client: FlaskClient, case_id: int) -> None:
    answer = client.post(
        f"/api/v1/cases/{case_id}/transitions",
        json={"to": "assignment"},
        headers={"Authorization": "Bearer pu_unknown"},
    )
    assert answer.status_code == 401


def test_refused_changes_nothing(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    refused(move(client, head, case_id, "report"), 409)
    body = client.get(f"/api/v1/cases/{case_id}", headers=head.headers()).get_json()
    assert body["step"] == "received"
    assert len(body["steps"]) == 1
    assert [event["kind"] for event in body["events"]] == ["opened"]


def test_refused_missing_field_named(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    assert move(client, head, case_id, "assignment").status_code == 200
    body = refused(move(client, head, case_id, "analysis"), 422)
    assert body["field"] == "fields.technician"


def test_refused_unknown_user_field_named(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    assert move(client, head, case_id, "assignment").status_code == 200
    answer = move(client, head, case_id, "analysis", {"technician": "nobody"})
    body = refused(answer, 422)
    assert body["field"] == "fields.technician"
