"""Times and dates of things that happened cannot lie in the future."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from .conftest import Persona
from .procedure_support import (
    COORDINATION,
    REPORT,
    RESTORED,
    VENDOR_NOTICE,
    Clock,
    analysis,
    file_report,
    move,
    report_body,
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
def case_id(
    client: FlaskClient, clock: Clock, unit_user: Persona, head: Persona
) -> int:
    # Filed Friday 4 Dec 14:00 WIB; the case reaches vendor_notice on Monday.
    clock.now = wib(2026, 12, 4, 14, 30)
    case_id = file_report(client, unit_user, wib(2026, 12, 4, 14))["id"]
    assert move(client, head, case_id, "assignment").status_code == 200
    answer = move(client, head, case_id, "analysis", {"technician": "technician-user"})
    assert answer.status_code == 200
    clock.now = wib(2026, 12, 7, 14, 30)
    return case_id


def to_coordination(client: FlaskClient, technician: Persona, case_id: int) -> Any:
    return move(client, technician, case_id, "vendor_notice", analysis("severe"))


def test_future_notified_at_refused(
    client: FlaskClient, technician: Persona, case_id: int
) -> None:
    assert to_coordination(client, technician, case_id).status_code == 200
    fields = {**VENDOR_NOTICE, "notified_at": "2026-12-07T15:00:00+07:00"}
    answer = move(client, technician, case_id, "coordination", fields)
    assert answer.status_code == 422
    body = answer.get_json()
    assert body["error"] == (
        "field 'notified_at': 2026-12-07T15:00:00+07:00 is in the future (now is "
        "2026-12-07T14:30:00+07:00); give the time it happened"
    )
    assert body["field"] == "fields.notified_at"


def test_future_refusal_now_in_seconds(
    client: FlaskClient, clock: Clock, technician: Persona, case_id: int
) -> None:
    assert to_coordination(client, technician, case_id).status_code == 200
    clock.now = clock.now.replace(second=9, microsecond=123456)
    fields = {**VENDOR_NOTICE, "notified_at": "2026-12-07T15:00:00+07:00"}
    answer = move(client, technician, case_id, "coordination", fields)
    assert "(now is 2026-12-07T14:30:09+07:00)" in answer.get_json()["error"]


def test_future_notified_at_within_tolerance(
    client: FlaskClient, technician: Persona, case_id: int
) -> None:
    assert to_coordination(client, technician, case_id).status_code == 200
    fields = {**VENDOR_NOTICE, "notified_at": "2026-12-07T14:34:00+07:00"}
    assert move(client, technician, case_id, "coordination", fields).status_code == 200


def test_future_notified_at_draft_refused(
    client: FlaskClient, technician: Persona, case_id: int
) -> None:
    assert to_coordination(client, technician, case_id).status_code == 200
    answer = client.post(
        f"/api/v1/cases/{case_id}/fields",
        json={"fields": {"notified_at": "2026-12-08T09:00:00+07:00"}},
        headers=technician.headers(),
    )
    assert answer.status_code == 422
    assert answer.get_json()["field"] == "fields.notified_at"


def test_future_meeting_date_refused(
    client: FlaskClient, technician: Persona, case_id: int
) -> None:
    assert to_coordination(client, technician, case_id).status_code == 200
    assert (
        move(client, technician, case_id, "coordination", VENDOR_NOTICE).status_code
        == 200
    )
    # COORDINATION's meeting is on 8 Dec and the clock is at 7 Dec.
    answer = move(client, technician, case_id, "vendor_analysis", COORDINATION)
    assert answer.status_code == 422
    assert answer.get_json()["reasons"] == [
        "field 'meeting_date': 2026-12-08 is in the future (today is 2026-12-07); "
        "give the date it happened"
    ]


def test_future_back_at_refused(
    client: FlaskClient, technician: Persona, case_id: int
) -> None:
    steps = [
        ("minor_repair", analysis("minor")),
        ("report", {"work_done": "index rebuilt", "retest_result": "passed"}),
        ("restored", REPORT),
    ]
    for target, fields in steps:
        assert move(client, technician, case_id, target, fields).status_code == 200
    fields = {**RESTORED, "back_at": "2026-12-07T16:00:00+07:00"}
    answer = move(client, technician, case_id, "closed", fields)
    assert answer.status_code == 422
    assert answer.get_json()["field"] == "fields.back_at"


def test_future_memorandum_date_refused(
    client: FlaskClient, clock: Clock, unit_user: Persona
) -> None:
    clock.now = wib(2026, 12, 4, 14, 30)
    answer = client.post(
        "/api/v1/cases",
        json=report_body(memorandum_date="2026-12-05"),
        headers=unit_user.headers(),
    )
    assert answer.status_code == 422
    body = answer.get_json()
    assert body["error"] == (
        "memorandum_date: 2026-12-05 is in the future (today is 2026-12-04); "
        "give the date of the letter"
    )
    assert body["field"] == "memorandum_date"


def test_future_memorandum_date_today_allowed(
    client: FlaskClient, clock: Clock, unit_user: Persona
) -> None:
    clock.now = wib(2026, 12, 4, 14, 30)
    file_report(client, unit_user, wib(2026, 12, 4, 14), memorandum_date="2026-12-04")
