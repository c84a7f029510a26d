"""Complaints on the agenda of coordination meetings, through the API.

Cases reach the coordination step on Monday 7 Dec 2026 15:00 WIB, and the
meetings are recorded on Tuesday 8 Dec 08:00.
"""

from __future__ import annotations

import html
import threading
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from collector.agenda import leads_to_meeting
from collector.complaints import advance_complaint
from collector.db import get_database
from collector.models import Case, User
from collector.models.procedure import Complaint
from collector.procedure import EXTENSION_KEY, transition
from collector.workflow import load_workflow

from .conftest import Persona, login
from .procedure_support import (
    COORDINATION,
    VENDOR_NOTICE,
    Clock,
    analysis,
    file_report,
    move,
    start_clock,
    step_of,
    wait_for_lock_wait,
    wib,
)

SEVERE_MOVES = ("assignment", "analysis", "vendor_notice", "coordination")


@pytest.fixture
def clock() -> Clock:
    clock = start_clock()
    clock.now = wib(2026, 12, 7, 15)
    return clock


@pytest.fixture
def app_config(clock: Clock) -> dict[str, Any]:
    return {"PROCEDURE_CLOCK": clock}


def ok(answer: Any, status: int = 200) -> dict[str, Any]:
    assert answer.status_code == status, answer.get_json()
    return answer.get_json()


def severe_case(
    client: FlaskClient,
    head: Persona,
    technician: Persona,
    until: str,
    unit: str = "Bagian Umum",
) -> int:
    """File a damage report and move it on the severe path up to step `until`."""
    case_id = file_report(client, head, wib(2026, 12, 7, 8), unit=unit)["id"]
    fields = {
        "assignment": (head, {}),
        "analysis": (head, {"technician": technician.name}),
        "vendor_notice": (technician, analysis("severe")),
        "coordination": (technician, VENDOR_NOTICE),
    }
    for target in SEVERE_MOVES[: SEVERE_MOVES.index(until) + 1]:
        persona, values = fields[target]
        ok(move(client, persona, case_id, target, values))
    return case_id


def minor_case(client: FlaskClient, head: Persona, technician: Persona) -> int:
    case_id = file_report(client, head, wib(2026, 12, 7, 8))["id"]
    ok(move(client, head, case_id, "assignment"))
    ok(move(client, head, case_id, "analysis", {"technician": technician.name}))
    ok(move(client, technician, case_id, "minor_repair", analysis("minor")))
    return case_id


def record_meeting(
    client: FlaskClient, clock: Clock, head: Persona, case_id: int
) -> Any:
    clock.now = wib(2026, 12, 8, 8)
    return ok(move(client, head, case_id, "vendor_analysis", COORDINATION))


def complaint_transition(
    client: FlaskClient, persona: Persona, complaint_id: int, to: str, **fields: Any
) -> Any:
    return client.post(
        f"/api/v1/complaints/{complaint_id}/transitions",
        json={"to": to, "fields": fields},
        headers=persona.headers(),
    )


def followed_up(
    client: FlaskClient,
    unit_user: Persona,
    head: Persona,
    technician: Persona,
    **body: Any,
) -> int:
    """Submit a complaint for `unit_user` and take it to followed_up."""
    created = ok(
        client.post(
            "/api/v1/complaints",
            json={"text": "reports are slow", **body},
            headers=unit_user.headers(),
        ),
        201,
    )
    complaint_id = created["id"]
    ok(
        complaint_transition(
            client, head, complaint_id, "assigned", assigned_to=technician.name
        )
    )
    ok(
        complaint_transition(
            client, technician, complaint_id, "followed_up", follow_up="x"
        )
    )
    return complaint_id


def place(client: FlaskClient, persona: Persona, complaint_id: int) -> Any:
    return complaint_transition(
        client, persona, complaint_id, "on_agenda", agenda="report speed"
    )


def case_complaint_on_agenda(
    client: FlaskClient, parties: tuple[Persona, Persona, Persona], until: str
) -> tuple[int, int]:
    """Move a severe case up to step `until`, place a complaint about it on
    the agenda, and return the case and complaint ids."""
    unit_user, head, technician = parties
    case_id = severe_case(client, head, technician, until)
    complaint_id = followed_up(client, unit_user, head, technician, case_id=case_id)
    ok(place(client, technician, complaint_id))
    return case_id, complaint_id


def get_complaint(client: FlaskClient, persona: Persona, complaint_id: int) -> Any:
    return ok(
        client.get(f"/api/v1/complaints/{complaint_id}", headers=persona.headers())
    )


def get_case(client: FlaskClient, persona: Persona, case_id: int) -> Any:
    return ok(client.get(f"/api/v1/cases/{case_id}", headers=persona.headers()))


@pytest.fixture
def parties(
    head: Persona, technician: Persona, unit_user: Persona
) -> tuple[Persona, Persona, Persona]:
    return unit_user, head, technician


# --- where a complaint goes ------------------------------------------------


def test_case_complaint_joins_its_meeting(
    client: FlaskClient, parties: tuple[Persona, Persona, Persona]
) -> None:
    unit_user, head, technician = parties
    case_id = severe_case(client, head, technician, "coordination")
    complaint_id = followed_up(client, unit_user, head, technician, case_id=case_id)
    body = ok(place(client, technician, complaint_id))
    meeting_record = step_of(get_case(client, head, case_id), "coordination")
    assert body["status"] == "on_agenda"
    assert body["agenda_case_id"] == case_id
    assert body["meeting"]["case_id"] == case_id
    assert body["meeting"]["record_id"] == meeting_record["record_id"]
    assert body["meeting"]["held"] is False
    assert body["meeting"]["due_at"] == "2026-12-08T08:30:00+07:00"
    assert body["next"] == "discussed"
    assert body["next_automatic"] is True


def test_case_complaint_waits_for_case_meeting(
    client: FlaskClient, parties: tuple[Persona, Persona, Persona]
) -> None:
    unit_user, head, technician = parties
    # Another case's meeting is under way, but this case is on its way to one.
    severe_case(client, head, technician, "coordination", unit="Biro Hukum")
    case_id = severe_case(client, head, technician, "vendor_notice")
    complaint_id = followed_up(client, unit_user, head, technician, case_id=case_id)
    body = ok(place(client, technician, complaint_id))
    assert body["meeting"] is None
    assert body["agenda_case_id"] == case_id


def test_waiting_complaint_linked_when_meeting_starts(
    client: FlaskClient, parties: tuple[Persona, Persona, Persona]
) -> None:
    _, head, technician = parties
    case_id, complaint_id = case_complaint_on_agenda(client, parties, "vendor_notice")
    ok(move(client, technician, case_id, "coordination", VENDOR_NOTICE))
    body = get_complaint(client, head, complaint_id)
    meeting_record = step_of(get_case(client, head, case_id), "coordination")
    assert body["meeting"]["record_id"] == meeting_record["record_id"]
    assert body["events"][-1]["kind"] == "agenda_linked"
    assert body["events"][-1]["actor"] == "user:technician-user"
    assert body["events"][-1]["detail"] == {
        "meeting_case_id": case_id,
        "meeting_record_id": meeting_record["record_id"],
    }


def test_minor_case_complaint_goes_to_next_meeting(
    client: FlaskClient, parties: tuple[Persona, Persona, Persona]
) -> None:
    unit_user, head, technician = parties
    minor_id = minor_case(client, head, technician)
    other_id = severe_case(client, head, technician, "coordination")
    complaint_id = followed_up(client, unit_user, head, technician, case_id=minor_id)
    body = ok(place(client, technician, complaint_id))
    assert body["agenda_case_id"] is None
    assert body["meeting"]["case_id"] == other_id


def test_service_complaint_joins_meeting_due_first(
    client: FlaskClient, clock: Clock, parties: tuple[Persona, Persona, Persona]
) -> None:
    unit_user, head, technician = parties
    clock.now = wib(2026, 12, 7, 15, 30)
    later_id = severe_case(client, head, technician, "coordination")
    clock.now = wib(2026, 12, 7, 15)
    # Moved at 15:00, although created after: its meeting is due 08:30, the
    # other one at 09:00.
    first_id = severe_case(client, head, technician, "coordination")
    clock.now = wib(2026, 12, 7, 15, 30)
    complaint_id = followed_up(client, unit_user, head, technician)
    body = ok(place(client, technician, complaint_id))
    assert first_id != later_id
    assert body["meeting"]["case_id"] == first_id
    assert body["meeting"]["due_at"] == "2026-12-08T08:30:00+07:00"


def test_service_complaint_waits_without_meeting(
    client: FlaskClient, parties: tuple[Persona, Persona, Persona]
) -> None:
    unit_user, head, technician = parties
    complaint_id = followed_up(client, unit_user, head, technician)
    body = ok(place(client, technician, complaint_id))
    assert body["meeting"] is None
    assert body["agenda_case_id"] is None
    case_id = severe_case(client, head, technician, "coordination")
    linked = get_complaint(client, head, complaint_id)
    assert linked["meeting"]["case_id"] == case_id


def test_on_agenda_records_meeting_in_history(
    client: FlaskClient, parties: tuple[Persona, Persona, Persona]
) -> None:
    unit_user, head, technician = parties
    case_id = severe_case(client, head, technician, "coordination")
    complaint_id = followed_up(client, unit_user, head, technician)
    body = ok(place(client, technician, complaint_id))
    event = body["events"][-1]
    assert event["kind"] == "on_agenda"
    assert event["detail"]["agenda"] == "report speed"
    assert event["detail"]["meeting_case_id"] == case_id
    assert event["detail"]["agenda_case_id"] is None


# --- the meeting is recorded -----------------------------------------------


def test_meeting_marks_agenda_discussed(
    client: FlaskClient, clock: Clock, parties: tuple[Persona, Persona, Persona]
) -> None:
    _, head, _ = parties
    case_id, complaint_id = case_complaint_on_agenda(client, parties, "coordination")
    record_id = step_of(get_case(client, head, case_id), "coordination")["record_id"]
    record_meeting(client, clock, head, case_id)
    body = get_complaint(client, head, complaint_id)
    assert body["status"] == "discussed"
    assert body["discussed_at"] == "2026-12-08T08:00:00+07:00"
    assert body["meeting"]["held"] is True
    assert body["meeting_date"] == "2026-12-08"
    assert body["next"] == "closed"
    assert body["events"][-1]["kind"] == "discussed"
    assert body["events"][-1]["actor"] == "user:head-user"
    assert body["events"][-1]["detail"] == {
        "meeting_case_id": case_id,
        "meeting_record_id": record_id,
        "meeting_date": "2026-12-08",
    }


def test_meeting_lists_discussed_in_case_history(
    client: FlaskClient, clock: Clock, parties: tuple[Persona, Persona, Persona]
) -> None:
    unit_user, head, technician = parties
    case_id = severe_case(client, head, technician, "coordination")
    complaint_id = followed_up(client, unit_user, head, technician)
    ok(place(client, technician, complaint_id))
    body = record_meeting(client, clock, head, case_id)
    transition = body["events"][-1]
    assert transition["detail"]["from"] == "coordination"
    assert transition["detail"]["complaints_discussed"] == [complaint_id]


def test_meeting_hides_discussed_from_vendor(
    client: FlaskClient,
    clock: Clock,
    parties: tuple[Persona, Persona, Persona],
    vendor_user: Persona,
) -> None:
    unit_user, head, technician = parties
    case_id = severe_case(client, head, technician, "coordination")
    complaint_id = followed_up(client, unit_user, head, technician)
    ok(place(client, technician, complaint_id))
    record_meeting(client, clock, head, case_id)

    body = ok(client.get(f"/api/v1/cases/{case_id}", headers=vendor_user.headers()))
    transition = [
        event
        for event in body["events"]
        if event["kind"] == "transition" and event["detail"]["from"] == "coordination"
    ][0]
    assert transition["detail"]["to"] == "vendor_analysis"
    assert "complaints_discussed" not in transition["detail"]
    login(client, vendor_user)
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Notulen (Minutes)" in page
    assert "Pengaduan dibahas" not in page
    login(client, head)
    staff_page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Pengaduan dibahas" in staff_page


def test_meeting_leaves_other_agenda(
    client: FlaskClient, clock: Clock, parties: tuple[Persona, Persona, Persona]
) -> None:
    unit_user, head, technician = parties
    first_id = severe_case(client, head, technician, "coordination")
    second_id = severe_case(client, head, technician, "coordination")
    complaint_id = followed_up(client, unit_user, head, technician, case_id=second_id)
    ok(place(client, technician, complaint_id))
    record_meeting(client, clock, head, first_id)
    body = get_complaint(client, head, complaint_id)
    assert body["status"] == "on_agenda"
    assert body["meeting"]["case_id"] == second_id


def test_discussed_complaint_closes(
    client: FlaskClient, clock: Clock, parties: tuple[Persona, Persona, Persona]
) -> None:
    _, head, technician = parties
    case_id, complaint_id = case_complaint_on_agenda(client, parties, "coordination")
    record_meeting(client, clock, head, case_id)
    answer = complaint_transition(
        client, technician, complaint_id, "closed", outcome="unit satisfied"
    )
    body = ok(answer)
    assert body["status"] == "closed"
    assert body["outcome"] == "unit satisfied"
    assert [event["kind"] for event in body["events"]] == [
        "received",
        "assigned",
        "followed_up",
        "on_agenda",
        "discussed",
        "closed",
    ]


def test_complaint_placed_after_meeting_moves_on(
    client: FlaskClient, clock: Clock, parties: tuple[Persona, Persona, Persona]
) -> None:
    unit_user, head, technician = parties
    case_id = severe_case(client, head, technician, "coordination")
    clock.now = wib(2026, 12, 8, 9)
    complaint_id = followed_up(client, unit_user, head, technician)
    ok(place(client, technician, complaint_id))
    # The meeting took place at 08:00 and is recorded an hour after that.
    ok(
        move(
            client,
            head,
            case_id,
            "vendor_analysis",
            COORDINATION,
            at=wib(2026, 12, 8, 8),
        )
    )
    body = get_complaint(client, head, complaint_id)
    assert body["status"] == "on_agenda"
    assert body["meeting"] is None
    assert body["events"][-1]["kind"] == "agenda_moved"
    assert body["events"][-1]["detail"]["reason"] == (
        "placed on the agenda after the meeting was held"
    )


def test_closed_case_passes_agenda_on(
    client: FlaskClient, parties: tuple[Persona, Persona, Persona]
) -> None:
    unit_user, head, technician = parties
    case_id = severe_case(client, head, technician, "coordination")
    other_id = severe_case(client, head, technician, "coordination")
    complaint_id = followed_up(client, unit_user, head, technician, case_id=case_id)
    ok(place(client, technician, complaint_id))
    ok(
        client.post(
            f"/api/v1/cases/{case_id}/close",
            json={"resolution": "false_alarm", "reason": "test message"},
            headers=head.headers(),
        )
    )
    body = get_complaint(client, head, complaint_id)
    event = body["events"][-1]
    assert body["status"] == "on_agenda"
    assert body["agenda_case_id"] is None
    assert body["meeting"]["case_id"] == other_id
    assert event["kind"] == "agenda_moved"
    assert event["detail"]["reason"] == "case closed as false_alarm"
    assert event["detail"]["from_case_id"] == case_id
    assert event["detail"]["meeting_case_id"] == other_id


def test_closed_case_before_meeting_passes_agenda_on(
    client: FlaskClient, parties: tuple[Persona, Persona, Persona]
) -> None:
    _, head, _ = parties
    case_id, complaint_id = case_complaint_on_agenda(client, parties, "vendor_notice")
    ok(
        client.post(
            f"/api/v1/cases/{case_id}/close",
            json={"resolution": "false_alarm", "reason": "test message"},
            headers=head.headers(),
        )
    )
    body = get_complaint(client, head, complaint_id)
    assert body["agenda_case_id"] is None
    assert body["meeting"] is None
    assert body["events"][-1]["detail"]["from_case_id"] == case_id


# --- refusals ----------------------------------------------------------------


def test_on_agenda_refuses_manual_move(
    client: FlaskClient, parties: tuple[Persona, Persona, Persona]
) -> None:
    _, head, _ = parties
    case_id, complaint_id = case_complaint_on_agenda(client, parties, "coordination")
    for target in ("discussed", "closed"):
        answer = complaint_transition(client, head, complaint_id, target, outcome="x")
        assert answer.status_code == 409
        assert answer.get_json()["error"] == (
            f"complaint {complaint_id} is on the agenda of the coordination "
            f"meeting of case {case_id}; it becomes discussed when that meeting "
            "is recorded at step 'coordination'"
        )


def test_waiting_complaint_refusal_names_case(
    client: FlaskClient, parties: tuple[Persona, Persona, Persona]
) -> None:
    _, head, _ = parties
    case_id, complaint_id = case_complaint_on_agenda(client, parties, "vendor_notice")
    answer = complaint_transition(client, head, complaint_id, "discussed")
    assert answer.get_json()["error"] == (
        f"complaint {complaint_id} is on the agenda of the coordination meeting "
        f"of case {case_id}, once the case reaches that step; it becomes "
        "discussed when that meeting is recorded at step 'coordination'"
    )


def test_meeting_date_not_accepted(
    client: FlaskClient, parties: tuple[Persona, Persona, Persona]
) -> None:
    unit_user, head, technician = parties
    complaint_id = followed_up(client, unit_user, head, technician)
    answer = complaint_transition(
        client,
        technician,
        complaint_id,
        "on_agenda",
        agenda="x",
        meeting_date="2026-12-10",
    )
    assert answer.status_code == 422
    assert answer.get_json()["field"] == "meeting_date"
    assert answer.get_json()["error"] == (
        "meeting_date: not accepted; the complaint is linked to a coordination "
        "meeting and takes the date recorded at that meeting"
    )


def test_agenda_text_missing(
    client: FlaskClient, parties: tuple[Persona, Persona, Persona]
) -> None:
    unit_user, head, technician = parties
    complaint_id = followed_up(client, unit_user, head, technician)
    answer = complaint_transition(client, technician, complaint_id, "on_agenda")
    assert answer.status_code == 422
    assert answer.get_json()["field"] == "agenda"
    assert answer.get_json()["error"] == "agenda: missing"


def workflow_without_meeting(path: Path) -> Path:
    text = resources.files("collector.workflow").joinpath("default.yaml")
    content = text.read_text("utf-8")
    start = content.index("  - id: coordination\n")
    end = content.index("  - id: vendor_analysis\n")
    content = content[:start] + content[end:]
    content = content.replace(
        "    next: [coordination]\n", "    next: [vendor_analysis]\n"
    )
    path.write_text(content, encoding="utf-8")
    return path


class TestWithoutMeetingStep:
    @pytest.fixture
    def app_config(self, clock: Clock, tmp_path: Path) -> dict[str, Any]:
        workflow = workflow_without_meeting(tmp_path / "workflow.yaml")
        return {"PROCEDURE_CLOCK": clock, "WORKFLOW_FILE": str(workflow)}

    def test_on_agenda_refused(
        self,
        client: FlaskClient,
        parties: tuple[Persona, Persona, Persona],
        tmp_path: Path,
    ) -> None:
        unit_user, head, technician = parties
        complaint_id = followed_up(client, unit_user, head, technician)
        answer = place(client, technician, complaint_id)
        assert answer.status_code == 409
        assert answer.get_json()["error"] == (
            f"the workflow file {tmp_path / 'workflow.yaml'} has no step "
            f"'coordination', so no coordination meeting can discuss complaint "
            f"{complaint_id}"
        )


def test_leads_to_meeting_by_step() -> None:
    workflow = load_workflow()
    expected = {
        "received": False,
        "analysis": False,
        "minor_repair": False,
        "vendor_notice": True,
        "coordination": True,
        "vendor_analysis": False,
        "restored": False,
    }
    for step_id, leads in expected.items():
        assert leads_to_meeting(workflow, step_id) is leads, step_id


def test_closed_complaint_refused(
    client: FlaskClient, clock: Clock, parties: tuple[Persona, Persona, Persona]
) -> None:
    _, head, technician = parties
    case_id, complaint_id = case_complaint_on_agenda(client, parties, "coordination")
    record_meeting(client, clock, head, case_id)
    ok(complaint_transition(client, technician, complaint_id, "closed", outcome="ok"))
    answer = complaint_transition(client, head, complaint_id, "assigned")
    assert answer.status_code == 409
    assert answer.get_json()["error"] == (
        f"complaint {complaint_id} is closed; it takes no more steps"
    )


# --- what the agenda shows -----------------------------------------------------


def test_case_json_lists_meeting_agenda(
    client: FlaskClient, clock: Clock, parties: tuple[Persona, Persona, Persona]
) -> None:
    _, head, _ = parties
    case_id, complaint_id = case_complaint_on_agenda(client, parties, "coordination")
    before = step_of(get_case(client, head, case_id), "coordination")
    record_meeting(client, clock, head, case_id)
    after = step_of(get_case(client, head, case_id), "coordination")
    assert [item["id"] for item in before["agenda"]] == [complaint_id]
    assert before["agenda"][0]["status"] == "on_agenda"
    assert before["agenda"][0]["agenda"] == "report speed"
    assert after["agenda"][0]["status"] == "discussed"
    assert after["agenda"][0]["discussed_at"] == "2026-12-08T08:00:00+07:00"


def test_case_json_lists_upcoming_agenda(
    client: FlaskClient, parties: tuple[Persona, Persona, Persona]
) -> None:
    _, head, _ = parties
    case_id, complaint_id = case_complaint_on_agenda(client, parties, "vendor_notice")
    body = get_case(client, head, case_id)
    steps = ok(client.get(f"/api/v1/cases/{case_id}/steps", headers=head.headers()))
    assert [item["id"] for item in body["upcoming_agenda"]] == [complaint_id]
    assert [item["id"] for item in steps["upcoming_agenda"]] == [complaint_id]


def test_case_json_agenda_hidden_from_vendor(
    client: FlaskClient, vendor_user: Persona, parties: tuple[Persona, Persona, Persona]
) -> None:
    case_id, complaint_id = case_complaint_on_agenda(client, parties, "coordination")
    body = get_case(client, vendor_user, case_id)
    assert step_of(body, "coordination")["agenda"] == []


def test_unit_user_sees_own_meeting_without_case(
    client: FlaskClient, parties: tuple[Persona, Persona, Persona]
) -> None:
    unit_user, head, technician = parties
    case_id = severe_case(client, head, technician, "coordination", unit="Biro Hukum")
    complaint_id = followed_up(client, unit_user, head, technician)
    ok(place(client, technician, complaint_id))
    body = get_complaint(client, unit_user, complaint_id)
    staff_view = get_complaint(client, head, complaint_id)
    assert staff_view["meeting"]["case_id"] == case_id
    assert body["meeting"]["case_id"] is None
    assert body["meeting"]["due_at"] == "2026-12-08T08:30:00+07:00"
    assert body["events"][-1]["detail"]["meeting_case_id"] is None
    assert body["events"][-1]["detail"]["meeting_record_id"] is None


def test_agenda_lists_upcoming_meetings(
    client: FlaskClient, parties: tuple[Persona, Persona, Persona]
) -> None:
    unit_user, head, technician = parties
    # No meeting is under way yet, so this one waits for the next.
    general_id = followed_up(client, unit_user, head, technician)
    ok(place(client, technician, general_id))
    waiting_case = severe_case(client, head, technician, "vendor_notice")
    waiting_id = followed_up(client, unit_user, head, technician, case_id=waiting_case)
    ok(place(client, technician, waiting_id))
    meeting_case = severe_case(client, head, technician, "coordination")
    linked_id = followed_up(client, unit_user, head, technician, case_id=meeting_case)
    ok(place(client, technician, linked_id))

    body = ok(client.get("/api/v1/agenda", headers=head.headers()))
    meeting = body["meetings"][0]
    assert len(body["meetings"]) == 1
    assert meeting["case_id"] == meeting_case
    assert meeting["due_at"] == "2026-12-08T08:30:00+07:00"
    assert meeting["overdue"] is False
    # The service complaint joined the first meeting that started.
    assert [item["id"] for item in meeting["complaints"]] == [general_id, linked_id]
    assert body["before_meeting"][0]["case_id"] == waiting_case
    assert body["before_meeting"][0]["step"] == "vendor_notice"
    assert [item["id"] for item in body["before_meeting"][0]["complaints"]] == [
        waiting_id
    ]
    assert body["next_meeting"] == []


def test_agenda_lists_next_meeting_items(
    client: FlaskClient, parties: tuple[Persona, Persona, Persona]
) -> None:
    unit_user, head, technician = parties
    complaint_id = followed_up(client, unit_user, head, technician)
    ok(place(client, technician, complaint_id))
    body = ok(client.get("/api/v1/agenda", headers=technician.headers()))
    assert body["meetings"] == []
    assert [item["id"] for item in body["next_meeting"]] == [complaint_id]


def test_agenda_leaves_out_held_meetings(
    client: FlaskClient, clock: Clock, parties: tuple[Persona, Persona, Persona]
) -> None:
    _, head, technician = parties
    case_id = severe_case(client, head, technician, "coordination")
    record_meeting(client, clock, head, case_id)
    body = ok(client.get("/api/v1/agenda", headers=head.headers()))
    assert body["meetings"] == []


@pytest.mark.parametrize("role", ["unit", "vendor"])
def test_agenda_refused_for_role(
    client: FlaskClient, personas: dict[str, Persona], role: str
) -> None:
    answer = client.get("/api/v1/agenda", headers=personas[role].headers())
    assert answer.status_code == 403
    assert answer.get_json()["error"] == (
        f"role {role!r} may not do this; needs one of admin, head, technician, viewer"
    )


# --- web UI --------------------------------------------------------------------


def page(client: FlaskClient, path: str) -> str:
    answer = client.get(path)
    assert answer.status_code == 200, answer.status_code
    return html.unescape(answer.get_data(as_text=True))


def test_case_page_lists_agenda(
    client: FlaskClient, parties: tuple[Persona, Persona, Persona]
) -> None:
    _, head, _ = parties
    case_id, complaint_id = case_complaint_on_agenda(client, parties, "coordination")
    login(client, head)
    text = page(client, f"/cases/{case_id}")
    section = text[text.index('<section class="agenda" id="agenda">') :]
    section = section[: section.index("</section>")]
    assert f'<li data-complaint="{complaint_id}">' in section
    assert "report speed" in section


def test_case_page_lists_upcoming_agenda(
    client: FlaskClient, parties: tuple[Persona, Persona, Persona]
) -> None:
    _, head, _ = parties
    case_id, complaint_id = case_complaint_on_agenda(client, parties, "vendor_notice")
    login(client, head)
    text = page(client, f"/cases/{case_id}")
    section = text[text.index('<section class="agenda" id="agenda">') :]
    assert "Waiting for this case's coordination step" in section
    assert f'<li data-complaint="{complaint_id}">' in section


def test_agenda_page_lists_meetings(
    client: FlaskClient, parties: tuple[Persona, Persona, Persona]
) -> None:
    unit_user, head, technician = parties
    case_id = severe_case(client, head, technician, "coordination")
    complaint_id = followed_up(client, unit_user, head, technician)
    ok(place(client, technician, complaint_id))
    login(client, technician)
    text = page(client, "/agenda")
    meeting = text[text.index(f'<section class="meeting" data-case="{case_id}">') :]
    meeting = meeting[: meeting.index("</section>")]
    assert "2026-12-08 08:30 WIB" in meeting
    assert f'<li data-complaint="{complaint_id}">' in meeting


def test_agenda_page_refused_for_unit(client: FlaskClient, unit_user: Persona) -> None:
    login(client, unit_user)
    assert client.get("/agenda").status_code == 403


def test_complaint_form_places_on_agenda(
    client: FlaskClient, parties: tuple[Persona, Persona, Persona]
) -> None:
    unit_user, head, technician = parties
    case_id = severe_case(client, head, technician, "coordination")
    complaint_id = followed_up(client, unit_user, head, technician, case_id=case_id)
    token = login(client, technician)
    answer = client.post(
        f"/complaints/{complaint_id}/advance",
        data={"csrf_token": token, "to": "on_agenda", "agenda": "report speed"},
    )
    text = page(client, f"/complaints/{complaint_id}")
    assert answer.status_code == 303
    assert '<dd class="complaint-status">dalam agenda (on the agenda)</dd>' in text
    assert f'<a href="/cases/{case_id}#agenda">Kasus {case_id}</a>' in text
    assert 'class="complaint-waiting"' in text


def test_complaint_form_needs_csrf(
    client: FlaskClient, parties: tuple[Persona, Persona, Persona]
) -> None:
    unit_user, head, technician = parties
    complaint_id = followed_up(client, unit_user, head, technician)
    login(client, technician)
    answer = client.post(
        f"/complaints/{complaint_id}/advance",
        data={"to": "on_agenda", "agenda": "report speed"},
    )
    assert answer.status_code == 400
    assert get_complaint(client, head, complaint_id)["status"] == "followed_up"


# --- placing and recording at the same moment ----------------------------------


def place_in_session(
    app: Flask, session: Session, complaint_id: int, user_id: int
) -> None:
    with app.app_context():
        advance_complaint(
            session,
            session.get(Complaint, complaint_id),
            "on_agenda",
            session.get(User, user_id),
            {"agenda": "report speed"},
            wib(2026, 12, 7, 15),
        )


def record_in_session(app: Flask, session: Session, case_id: int, user_id: int) -> None:
    transition(
        session,
        session.get(Case, case_id),
        "vendor_analysis",
        session.get(User, user_id),
        COORDINATION,
        wib(2026, 12, 8, 8),
        app.extensions[EXTENSION_KEY],
    )


def run_second(action: Any) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            action()
            outcome["done"] = True
        except Exception as problem:  # reported by the asserts of the test
            outcome["error"] = repr(problem)

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


def test_meeting_recorded_while_placing_discusses_it(
    app: Flask,
    client: FlaskClient,
    clock: Clock,
    parties: tuple[Persona, Persona, Persona],
) -> None:
    unit_user, head, technician = parties
    case_id = severe_case(client, head, technician, "coordination")
    complaint_id = followed_up(client, unit_user, head, technician)
    clock.now = wib(2026, 12, 8, 8)
    database = get_database(app)

    def record() -> None:
        with database.session() as other:
            record_in_session(app, other, case_id, head.id)
            other.commit()

    with database.session() as first:
        place_in_session(app, first, complaint_id, technician.id)
        thread, outcome = run_second(record)
        wait_for_lock_wait(app, thread)
        first.commit()
    thread.join(timeout=60)

    assert not thread.is_alive()
    assert "error" not in outcome, outcome["error"]
    body = get_complaint(client, head, complaint_id)
    assert body["status"] == "discussed"
    assert body["meeting"]["case_id"] == case_id


def test_placing_while_meeting_recorded_waits(
    app: Flask,
    client: FlaskClient,
    clock: Clock,
    parties: tuple[Persona, Persona, Persona],
) -> None:
    unit_user, head, technician = parties
    case_id = severe_case(client, head, technician, "coordination")
    complaint_id = followed_up(client, unit_user, head, technician)
    clock.now = wib(2026, 12, 8, 8)
    database = get_database(app)

    def place_complaint() -> None:
        with database.session() as other:
            place_in_session(app, other, complaint_id, technician.id)
            other.commit()

    with database.session() as first:
        record_in_session(app, first, case_id, head.id)
        thread, outcome = run_second(place_complaint)
        wait_for_lock_wait(app, thread)
        first.commit()
    thread.join(timeout=60)

    assert not thread.is_alive()
    assert "error" not in outcome, outcome["error"]
    body = get_complaint(client, head, complaint_id)
    # The meeting was held before the complaint reached the agenda.
    assert body["status"] == "on_agenda"
    assert body["meeting"] is None
