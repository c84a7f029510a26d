"""Closing a case as a false alarm or a duplicate, and reopening restored cases."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from .conftest import Agent, Persona, make_result, post
from .procedure_support import (
    REPORT,
    RESTORED,
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
    clock.now = wib(2026, 12, 4, 14, 30)
    return file_report(client, unit_user, wib(2026, 12, 4, 14))["id"]


def close(client: FlaskClient, persona: Persona, case_id: int, **body: Any) -> Any:
    return client.post(
        f"/api/v1/cases/{case_id}/close", json=body, headers=persona.headers()
    )


def test_close_false_alarm(client: FlaskClient, head: Persona, case_id: int) -> None:
    answer = close(client, head, case_id, resolution="false_alarm", reason="test mail")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["status"] == "closed"
    assert body["resolution"] == "false_alarm"
    assert body["steps"][0]["next"] == "closed:false_alarm"
    assert body["steps"][0]["completed_at"] == "2026-12-04T14:30:00+07:00"
    assert body["current_step"] is None


def test_close_reason_in_history(
    client: FlaskClient, technician: Persona, case_id: int
) -> None:
    body = close(
        client, technician, case_id, resolution="false_alarm", reason="test mail"
    ).get_json()
    assert body["events"][-1]["kind"] == "close_reason"
    assert body["events"][-1]["detail"] == {
        "resolution": "false_alarm",
        "reason": "test mail",
    }
    assert body["events"][-2]["kind"] == "closed"


def test_close_duplicate(
    client: FlaskClient, head: Persona, unit_user: Persona, case_id: int
) -> None:
    second = file_report(client, unit_user, wib(2026, 12, 4, 14, 10))["id"]
    answer = close(
        client,
        head,
        second,
        resolution="duplicate",
        reason="same memorandum sent twice",
        duplicate_of=case_id,
    )
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["resolution"] == "duplicate"
    assert body["duplicate_of"] == case_id


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (
            {"resolution": "restored", "reason": "x"},
            422,
            "resolution: invalid value 'restored'; expected false_alarm or "
            "duplicate (a repaired case is closed by completing its last step)",
        ),
        (
            {"resolution": "false_alarm"},
            422,
            "reason: missing; say why the case is closed",
        ),
        (
            {"resolution": "duplicate", "reason": "x"},
            422,
            "duplicate_of: expected the id of the original case, got None",
        ),
        (
            {"resolution": "duplicate", "reason": "x", "duplicate_of": 999},
            422,
            "duplicate_of: case 999 not found",
        ),
        (
            {"resolution": "duplicate", "reason": "x", "duplicate_of": 2**31},
            422,
            "duplicate_of: case 2147483648 not found",
        ),
        (
            {"resolution": "false_alarm", "reason": "x", "duplicate_of": 1},
            422,
            "duplicate_of: only a case closed as duplicate names an original",
        ),
    ],
)
def test_close_invalid(
    client: FlaskClient,
    head: Persona,
    case_id: int,
    body: dict[str, Any],
    status: int,
    message: str,
) -> None:
    answer = close(client, head, case_id, **body)
    assert answer.status_code == status
    assert answer.get_json()["error"] == message


def test_close_duplicate_of_itself(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    answer = close(
        client, head, case_id, resolution="duplicate", reason="x", duplicate_of=case_id
    )
    assert answer.status_code == 422
    assert answer.get_json()["error"] == (
        f"duplicate_of: case {case_id} cannot be a duplicate of itself"
    )


def test_close_unit_user_refused(
    client: FlaskClient, unit_user: Persona, case_id: int
) -> None:
    answer = close(client, unit_user, case_id, resolution="false_alarm", reason="x")
    assert answer.status_code == 403
    assert answer.get_json()["error"] == (
        "role 'unit' may not close cases; allowed roles: admin, head, technician"
    )


def test_close_twice_refused(client: FlaskClient, head: Persona, case_id: int) -> None:
    close(client, head, case_id, resolution="false_alarm", reason="x")
    answer = close(client, head, case_id, resolution="false_alarm", reason="x")
    assert answer.status_code == 409
    assert answer.get_json()["error"] == (
        f"case {case_id} is closed (false_alarm); a closed case takes no more steps"
    )


def restore_agent_case(
    client: FlaskClient,
    clock: Clock,
    agent: Agent,
    head: Persona,
    technician: Persona,
) -> int:
    # Failure seen Monday 7 Dec 09:00 WIB; the minor path ends 14:30.
    answer = post(client, agent, make_result(at=wib(2026, 12, 7, 9)))
    case_id = answer.get_json()["cases"][0]["id"]
    steps = [
        (head, "assignment", {"application": "SIMPEG"}),
        (head, "analysis", {"technician": technician.name}),
        (technician, "minor_repair", analysis("minor")),
        (
            technician,
            "report",
            {"work_done": "disk cleaned", "retest_result": "passed"},
        ),
        (technician, "restored", REPORT),
        (technician, "closed", {**RESTORED, "back_at": "2026-12-07T09:50:00+07:00"}),
    ]
    for minute, (persona, target, fields) in enumerate(steps):
        clock.now = wib(2026, 12, 7, 9, 30 + minute * 5)
        assert move(client, persona, case_id, target, fields).status_code == 200
    return case_id


def test_reopen_within_window(
    client: FlaskClient,
    clock: Clock,
    agent: Agent,
    head: Persona,
    technician: Persona,
) -> None:
    case_id = restore_agent_case(client, clock, agent, head, technician)
    # Failing again Wednesday 9 Dec 10:00 WIB, within the 7-day window.
    answer = post(client, agent, make_result(at=wib(2026, 12, 9, 10)))
    assert answer.get_json()["cases"] == [
        {"id": case_id, "check": "root-disk", "action": "reopened"}
    ]

    clock.now = wib(2026, 12, 9, 10, 30)
    body = client.get(f"/api/v1/cases/{case_id}", headers=head.headers()).get_json()
    assert body["status"] == "open"
    assert body["step"] == "received"
    assert body["classification"] is None
    current = body["steps"][-1]
    assert current["round"] == 2
    # Agent source: 2 hours from Wed 10:00.
    assert current["due_at"] == "2026-12-09T12:00:00+07:00"
    assert current["fields"] == {
        "source": "agent",
        "application": "SIMPEG",
    }
    assert [view["round"] for view in body["steps"]] == [1] * 6 + [2]


def test_reopen_references_earlier_work(
    client: FlaskClient,
    clock: Clock,
    agent: Agent,
    head: Persona,
    technician: Persona,
) -> None:
    case_id = restore_agent_case(client, clock, agent, head, technician)
    post(client, agent, make_result(at=wib(2026, 12, 9, 10)))
    body = client.get(f"/api/v1/cases/{case_id}", headers=head.headers()).get_json()
    earlier = [event for event in body["events"] if event["kind"] == "earlier_work"]
    assert len(earlier) == 1
    detail = earlier[0]["detail"]
    assert detail["round"] == 1
    assert detail["technician"] == "technician-user"
    assert detail["classification"] == "minor"
    assert detail["report"] == "repaired and retested"
    assert [step["step"] for step in detail["steps"]] == [
        "received",
        "assignment",
        "analysis",
        "minor_repair",
        "report",
        "restored",
    ]


def test_reopen_round_two_moves_on(
    client: FlaskClient,
    clock: Clock,
    agent: Agent,
    head: Persona,
    technician: Persona,
) -> None:
    case_id = restore_agent_case(client, clock, agent, head, technician)
    post(client, agent, make_result(at=wib(2026, 12, 9, 10)))
    clock.now = wib(2026, 12, 9, 10, 15)
    answer = move(client, head, case_id, "assignment")
    assert answer.status_code == 200
    assert answer.get_json()["steps"][-1]["round"] == 2
    assert answer.get_json()["steps"][-1]["id"] == "assignment"


def test_false_alarm_not_reopened(
    client: FlaskClient, clock: Clock, agent: Agent, head: Persona
) -> None:
    answer = post(client, agent, make_result(at=wib(2026, 12, 7, 9)))
    first = answer.get_json()["cases"][0]["id"]
    clock.now = wib(2026, 12, 7, 9, 30)
    close(client, head, first, resolution="false_alarm", reason="disk test")
    again = post(client, agent, make_result(at=wib(2026, 12, 7, 11)))
    opened = again.get_json()["cases"][0]
    assert opened["action"] == "opened"
    assert opened["id"] != first
    body = client.get(f"/api/v1/cases/{opened['id']}", headers=head.headers())
    assert body.get_json()["steps"][0]["due_at"] == "2026-12-07T13:00:00+07:00"


def test_closed_counted_by_resolution(
    client: FlaskClient,
    clock: Clock,
    agent: Agent,
    head: Persona,
    technician: Persona,
    unit_user: Persona,
    case_id: int,
) -> None:
    restore_agent_case(client, clock, agent, head, technician)
    second = file_report(client, unit_user, wib(2026, 12, 7, 9, 10))["id"]
    close(client, head, case_id, resolution="false_alarm", reason="test mail")
    close(
        client,
        head,
        second,
        resolution="duplicate",
        reason="same memorandum sent twice",
        duplicate_of=case_id,
    )

    text = client.get("/metrics").get_data(as_text=True)

    assert 'pelihara_cases_closed{resolution="restored",source="agent"} 1.0' in text
    assert (
        'pelihara_cases_closed{resolution="false_alarm",source="memorandum"} 1.0'
        in text
    )
    assert (
        'pelihara_cases_closed{resolution="duplicate",source="memorandum"} 1.0' in text
    )
