"""Both paths of the procedure end to end through the API, with personas.

A third run takes the minor path across public holidays, joint leave days,
a weekend and work after hours.

Deadlines are worked out by hand in the comments: office hours Mon-Fri
07:30-16:00 WIB, one working day is 510 working minutes.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from .conftest import Agent, Persona, make_result, post
from .procedure_support import (
    COORDINATION,
    REPORT,
    RESTORED,
    VENDOR_NOTICE,
    Clock,
    analysis,
    file_report,
    move,
    stages,
    start_clock,
    step_of,
    wib,
)


@pytest.fixture
def clock() -> Clock:
    return start_clock()


@pytest.fixture
def app_config(clock: Clock) -> dict[str, Any]:
    return {"PROCEDURE_CLOCK": clock}


def ok(answer: Any) -> dict[str, Any]:
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def run_minor_path(
    client: FlaskClient,
    clock: Clock,
    unit_user: Persona,
    head: Persona,
    technician: Persona,
) -> dict[str, Any]:
    clock.now = wib(2026, 12, 4, 14, 30)
    case = file_report(client, unit_user, wib(2026, 12, 4, 14))
    case_id = case["id"]

    clock.now = wib(2026, 12, 7, 8)
    ok(move(client, head, case_id, "assignment"))
    clock.now = wib(2026, 12, 7, 8, 30)
    ok(move(client, head, case_id, "analysis", {"technician": technician.name}))
    clock.now = wib(2026, 12, 7, 10)
    ok(move(client, technician, case_id, "minor_repair", analysis("minor")))
    clock.now = wib(2026, 12, 9, 15)
    ok(
        move(
            client,
            technician,
            case_id,
            "report",
            {"work_done": "fixed the session table", "retest_result": "passed"},
        )
    )
    clock.now = wib(2026, 12, 10, 9)
    ok(move(client, technician, case_id, "restored", REPORT))
    clock.now = wib(2026, 12, 10, 9, 30)
    fields = {**RESTORED, "back_at": "2026-12-10T09:20:00+07:00"}
    return ok(move(client, technician, case_id, "closed", fields))


def test_minor_path_closes_restored(
    client: FlaskClient,
    clock: Clock,
    unit_user: Persona,
    head: Persona,
    technician: Persona,
) -> None:
    body = run_minor_path(client, clock, unit_user, head, technician)
    assert body["status"] == "closed"
    assert body["resolution"] == "restored"
    assert body["classification"] == "minor"
    assert [view["id"] for view in body["steps"]] == [
        "received",
        "assignment",
        "analysis",
        "minor_repair",
        "report",
        "restored",
    ]


def test_minor_path_deadlines(
    client: FlaskClient,
    clock: Clock,
    unit_user: Persona,
    head: Persona,
    technician: Persona,
) -> None:
    body = run_minor_path(client, clock, unit_user, head, technician)
    due = {view["id"]: view["due_at"] for view in body["steps"]}
    # received (memorandum, 1 day) from Fri 14:00: Fri 120 min, Mon 07:30 + 390.
    assert due["received"] == "2026-12-07T14:00:00+07:00"
    # assignment (1 hour) from Mon 08:00.
    assert due["assignment"] == "2026-12-07T09:00:00+07:00"
    # analysis (2 hours) from Mon 08:30.
    assert due["analysis"] == "2026-12-07T10:30:00+07:00"
    # minor_repair (3 days = 1530 min) from Mon 10:00: Mon 360, Tue 510,
    # Wed 510, Thu 07:30 + 150 = 10:00.
    assert due["minor_repair"] == "2026-12-10T10:00:00+07:00"
    # report (2 hours) from Wed 15:00: Wed 60, Thu 07:30 + 60.
    assert due["report"] == "2026-12-10T08:30:00+07:00"
    # restored (1 hour) from Thu 09:00.
    assert due["restored"] == "2026-12-10T10:00:00+07:00"


def test_minor_path_time_used_and_left(
    client: FlaskClient,
    clock: Clock,
    unit_user: Persona,
    head: Persona,
    technician: Persona,
) -> None:
    body = run_minor_path(client, clock, unit_user, head, technician)
    report = step_of(body, "report")
    # Wed 15:00-16:00 and Thu 07:30-09:00: 150 min, 30 min past the due 08:30.
    assert report["working_minutes_used"] == 150
    assert report["working_minutes_left"] == -30
    assert report["overdue"] is True
    received = step_of(body, "received")
    # Fri 14:00-16:00 and Mon 07:30-08:00: 150 min; 360 min before the due.
    assert received["working_minutes_used"] == 150
    assert received["working_minutes_left"] == 360
    assert received["overdue"] is False


def test_minor_path_records_fields_and_actors(
    client: FlaskClient,
    clock: Clock,
    unit_user: Persona,
    head: Persona,
    technician: Persona,
) -> None:
    body = run_minor_path(client, clock, unit_user, head, technician)
    received = step_of(body, "received")
    assert received["fields"] == {
        "source": "memorandum",
        "application": "SIMPEG",
        "unit": "Bagian Umum",
        "letter_number": "M-12/BU/2026",
        "letter_date": "2026-12-04",
    }
    assert received["actor"] == "user:head-user"
    assert step_of(body, "assignment")["fields"] == {"technician": "technician-user"}
    assert step_of(body, "restored")["completed_at"] == "2026-12-10T09:30:00+07:00"


def test_minor_path_compliance(
    client: FlaskClient,
    clock: Clock,
    unit_user: Persona,
    head: Persona,
    technician: Persona,
) -> None:
    body = run_minor_path(client, clock, unit_user, head, technician)
    bureau = body["compliance"]["bureau"]
    assert bureau["steps"] == 6
    assert bureau["on_time"] == 5
    assert bureau["late"] == 1
    # 150 + 30 + 90 + (360 + 510 + 450) + 150 + 30 working minutes.
    assert bureau["working_minutes_used"] == 1770
    assert bureau["on_time_percent"] == 83.3
    assert body["compliance"]["vendor"]["steps"] == 0


def test_minor_path_time_total(
    client: FlaskClient,
    clock: Clock,
    unit_user: Persona,
    head: Persona,
    technician: Persona,
) -> None:
    body = run_minor_path(client, clock, unit_user, head, technician)
    # Allowed: 510 + 60 + 120 + 1530 + 120 + 60. Used as in the compliance
    # test. Left per step: 360 + 30 + 30 + 210 - 30 + 30.
    assert body["time_total"] == {
        "working_minutes_allowed": 2400,
        "working_minutes_used": 1770,
        "working_minutes_left": 630,
    }
    assert body["compliance"]["bureau"]["working_minutes_allowed"] == 2400
    assert body["compliance"]["bureau"]["working_minutes_left"] == 630
    assert step_of(body, "minor_repair")["working_minutes_allowed"] == 1530


def test_minor_path_history_events(
    client: FlaskClient,
    clock: Clock,
    unit_user: Persona,
    head: Persona,
    technician: Persona,
) -> None:
    body = run_minor_path(client, clock, unit_user, head, technician)
    kinds = [event["kind"] for event in body["events"]]
    assert kinds == ["opened"] + ["transition"] * 6 + ["closed"]
    analysis_event = body["events"][3]
    assert analysis_event["detail"]["to"] == "minor_repair"
    assert analysis_event["detail"]["due_at"] == "2026-12-10T10:00:00+07:00"


def run_holiday_path(
    client: FlaskClient,
    clock: Clock,
    unit_user: Persona,
    head: Persona,
    technician: Persona,
) -> dict[str, Any]:
    # May 2026: Thursday 14 (Ascension) and Wednesday 27 (Idul Adha) are
    # public holidays, Friday 15 and Thursday 28 joint leave days.
    clock.now = wib(2026, 5, 13, 14, 30)
    case = file_report(
        client, unit_user, wib(2026, 5, 13, 14), memorandum_date="2026-05-13"
    )
    case_id = case["id"]
    steps = [
        # The head assigns on the evening of the holiday, after hours.
        (wib(2026, 5, 14, 20), head, "assignment", {}),
        (wib(2026, 5, 18, 8), head, "analysis", {"technician": technician.name}),
        (wib(2026, 5, 18, 9), technician, "minor_repair", analysis("minor")),
        (
            wib(2026, 5, 26, 15),
            technician,
            "report",
            {"work_done": "rebuilt the index", "retest_result": "passed"},
        ),
        # The report is written on the evening of the joint leave day.
        (wib(2026, 5, 28, 19), technician, "restored", REPORT),
        (
            wib(2026, 5, 29, 8),
            technician,
            "closed",
            {**RESTORED, "back_at": "2026-05-28T19:30:00+07:00"},
        ),
    ]
    for now, persona, target, fields in steps:
        clock.now = now
        case = ok(move(client, persona, case_id, target, fields))
    return case


def test_holiday_path_deadlines(
    client: FlaskClient,
    clock: Clock,
    unit_user: Persona,
    head: Persona,
    technician: Persona,
) -> None:
    body = run_holiday_path(client, clock, unit_user, head, technician)
    due = {view["id"]: view["due_at"] for view in body["steps"]}
    # received (1 day = 510) from Wed 13 May 14:00: Wed 120; Thu 14 and Fri
    # 15 closed, then the weekend; Mon 18 07:30 + 390 = 14:00.
    assert due["received"] == "2026-05-18T14:00:00+07:00"
    # assignment (1 hour) from Thu 14 May 20:00: the clock starts Mon 07:30.
    assert due["assignment"] == "2026-05-18T08:30:00+07:00"
    # analysis (2 hours) from Mon 08:00.
    assert due["analysis"] == "2026-05-18T10:00:00+07:00"
    # minor_repair (3 days = 1530) from Mon 18 09:00: Mon 420, Tue 510, Wed
    # 510, Thu 21 07:30 + 90 = 09:00.
    assert due["minor_repair"] == "2026-05-21T09:00:00+07:00"
    # report (2 hours) from Tue 26 15:00: Tue 60; Wed 27 and Thu 28 closed;
    # Fri 29 07:30 + 60 = 08:30.
    assert due["report"] == "2026-05-29T08:30:00+07:00"
    # restored (1 hour) from Thu 28 19:00: the clock starts Fri 07:30.
    assert due["restored"] == "2026-05-29T08:30:00+07:00"


def test_holiday_path_after_hours_work(
    client: FlaskClient,
    clock: Clock,
    unit_user: Persona,
    head: Persona,
    technician: Persona,
) -> None:
    body = run_holiday_path(client, clock, unit_user, head, technician)
    received = step_of(body, "received")
    assert received["completed_at"] == "2026-05-14T20:00:00+07:00"
    # Wed 14:00-16:00 is used; Mon 07:30-14:00 is left.
    assert received["working_minutes_used"] == 120
    assert received["working_minutes_left"] == 390
    assignment = step_of(body, "assignment")
    assert assignment["started_at"] == "2026-05-14T20:00:00+07:00"
    assert assignment["clock_started_at"] == "2026-05-18T07:30:00+07:00"
    # Mon 07:30-08:00 is used, 30 of the 60 minutes.
    assert assignment["working_minutes_used"] == 30
    assert assignment["working_minutes_left"] == 30
    report = step_of(body, "report")
    assert report["completed_at"] == "2026-05-28T19:00:00+07:00"
    assert report["overdue"] is False
    # Tue 26 15:00-16:00 is used; Fri 29 07:30-08:30 is left.
    assert report["working_minutes_used"] == 60
    assert report["working_minutes_left"] == 60
    assert step_of(body, "restored")["clock_started_at"] == (
        "2026-05-29T07:30:00+07:00"
    )


def test_holiday_path_late_repair(
    client: FlaskClient,
    clock: Clock,
    unit_user: Persona,
    head: Persona,
    technician: Persona,
) -> None:
    body = run_holiday_path(client, clock, unit_user, head, technician)
    repair = step_of(body, "minor_repair")
    assert repair["overdue"] is True
    # Mon 18 09:00-16:00 (420), Tue 19, Wed 20, Thu 21, Fri 22 and Mon 25
    # (5 x 510), Tue 26 07:30-15:00 (450). 3420 - 1530 past the deadline.
    assert repair["working_minutes_used"] == 3420
    assert repair["working_minutes_left"] == -1890
    assert body["compliance"]["bureau"]["late"] == 1


def open_agent_case(client: FlaskClient, agent: Agent) -> int:
    # Monday 7 Dec 09:00 WIB is 02:00 UTC.
    answer = post(client, agent, make_result(at=wib(2026, 12, 7, 9)))
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["cases"][0]["id"]


def run_severe_path(
    client: FlaskClient,
    clock: Clock,
    agent: Agent,
    head: Persona,
    technician: Persona,
    vendor_user: Persona,
) -> dict[str, Any]:
    case_id = open_agent_case(client, agent)
    steps = [
        (wib(2026, 12, 7, 9, 30), head, "assignment", {"application": "SIMPEG"}),
        (wib(2026, 12, 7, 10), head, "analysis", {"technician": technician.name}),
        (wib(2026, 12, 7, 11), technician, "vendor_notice", analysis("severe")),
        (wib(2026, 12, 7, 15), technician, "coordination", VENDOR_NOTICE),
        (wib(2026, 12, 8, 8), technician, "vendor_analysis", COORDINATION),
        (
            wib(2026, 12, 8, 15),
            vendor_user,
            "repair_and_test",
            {"root_cause": "connection pool exhausted"},
        ),
        (
            wib(2026, 12, 10, 10),
            vendor_user,
            "repair_and_test",
            {"tests": stages("failed")},
        ),
        (wib(2026, 12, 14, 9), vendor_user, "report", {"tests": stages("passed")}),
        (wib(2026, 12, 14, 10), technician, "restored", REPORT),
        (
            wib(2026, 12, 14, 10, 30),
            technician,
            "closed",
            {**RESTORED, "back_at": "2026-12-14T10:15:00+07:00"},
        ),
    ]
    body: dict[str, Any] = {}
    for now, persona, target, fields in steps:
        clock.now = now
        body = ok(move(client, persona, case_id, target, fields))
    return body


def test_severe_path_closes_restored(
    client: FlaskClient,
    clock: Clock,
    agent: Agent,
    head: Persona,
    technician: Persona,
    vendor_user: Persona,
) -> None:
    body = run_severe_path(client, clock, agent, head, technician, vendor_user)
    assert body["status"] == "closed"
    assert body["resolution"] == "restored"
    assert body["classification"] == "severe"
    assert [(view["id"], view["attempt"]) for view in body["steps"]] == [
        ("received", 1),
        ("assignment", 1),
        ("analysis", 1),
        ("vendor_notice", 1),
        ("coordination", 1),
        ("vendor_analysis", 1),
        ("repair_and_test", 1),
        ("repair_and_test", 2),
        ("report", 1),
        ("restored", 1),
    ]


def test_severe_path_deadlines(
    client: FlaskClient,
    clock: Clock,
    agent: Agent,
    head: Persona,
    technician: Persona,
    vendor_user: Persona,
) -> None:
    body = run_severe_path(client, clock, agent, head, technician, vendor_user)
    # received from the agent (2 hours) from Mon 09:00.
    assert step_of(body, "received")["due_at"] == "2026-12-07T11:00:00+07:00"
    # vendor_notice (1 day) from Mon 11:00: Mon 300 min, Tue 07:30 + 210.
    assert step_of(body, "vendor_notice")["due_at"] == "2026-12-08T11:00:00+07:00"
    # coordination (2 hours) from Mon 15:00: Mon 60, Tue 07:30 + 60.
    assert step_of(body, "coordination")["due_at"] == "2026-12-08T08:30:00+07:00"
    # vendor_analysis (1 day) from Tue 08:00: Tue 480, Wed 07:30 + 30.
    assert step_of(body, "vendor_analysis")["due_at"] == "2026-12-09T08:00:00+07:00"
    # repair_and_test (3 days = 1530) from Tue 15:00: Tue 60, Wed 510, Thu
    # 510, Fri 07:30 + 450 = 15:00.
    assert step_of(body, "repair_and_test")["due_at"] == "2026-12-11T15:00:00+07:00"


def test_severe_path_retry_keeps_deadline(
    client: FlaskClient,
    clock: Clock,
    agent: Agent,
    head: Persona,
    technician: Persona,
    vendor_user: Persona,
) -> None:
    body = run_severe_path(client, clock, agent, head, technician, vendor_user)
    retry = step_of(body, "repair_and_test", attempt=2)
    assert retry["due_at"] == "2026-12-11T15:00:00+07:00"
    assert retry["started_at"] == "2026-12-10T10:00:00+07:00"
    assert retry["overdue"] is True
    # Thu 10:00-16:00 (360) + Fri 510 + Mon 07:30-09:00 (90).
    assert retry["working_minutes_used"] == 960


def test_severe_path_vendor_clock_apart(
    client: FlaskClient,
    clock: Clock,
    agent: Agent,
    head: Persona,
    technician: Persona,
    vendor_user: Persona,
) -> None:
    body = run_severe_path(client, clock, agent, head, technician, vendor_user)
    parties = {view["id"]: view["party"] for view in body["steps"]}
    assert parties["vendor_analysis"] == "vendor"
    assert parties["repair_and_test"] == "vendor"
    assert parties["coordination"] == "bureau"
    bureau = body["compliance"]["bureau"]
    assert bureau["completed"] == 7
    assert bureau["on_time"] == 7
    assert bureau["on_time_percent"] == 100.0
    assert body["compliance"]["vendor"]["completed"] == 3
    assert body["compliance"]["vendor"]["on_time"] == 2
    assert body["compliance"]["vendor"]["late"] == 1
    assert body["compliance"]["vendor"]["on_time_percent"] == 66.7


def test_severe_path_bureau_minutes(
    client: FlaskClient,
    clock: Clock,
    agent: Agent,
    head: Persona,
    technician: Persona,
    vendor_user: Persona,
) -> None:
    body = run_severe_path(client, clock, agent, head, technician, vendor_user)
    # received 09:00-09:30 (30), assignment 09:30-10:00 (30), analysis
    # 10:00-11:00 (60), vendor_notice 11:00-15:00 (240), coordination Mon
    # 15:00-16:00 + Tue 07:30-08:00 (90), report 09:00-10:00 (60), restored
    # 10:00-10:30 (30): 540.
    assert body["compliance"]["bureau"]["working_minutes_used"] == 540


def test_severe_path_time_total(
    client: FlaskClient,
    clock: Clock,
    agent: Agent,
    head: Persona,
    technician: Persona,
    vendor_user: Persona,
) -> None:
    body = run_severe_path(client, clock, agent, head, technician, vendor_user)
    vendor = body["compliance"]["vendor"]
    # vendor_analysis 510 and repair_and_test 1530; the retry shares the
    # first attempt's deadline and adds nothing to the time allowed.
    assert vendor["working_minutes_allowed"] == 2040
    # vendor_analysis Tue 08:00-15:00 (420), first repair Tue 15:00 to Thu
    # 10:00 (60 + 510 + 150 = 720), the retry 960.
    assert vendor["working_minutes_used"] == 2100
    assert vendor["working_minutes_left"] == -60
    bureau = body["compliance"]["bureau"]
    # 120 + 60 + 120 + 510 + 120 + 120 + 60 for the seven bureau steps.
    assert bureau["working_minutes_allowed"] == 1110
    assert bureau["working_minutes_left"] == 570
    assert body["time_total"] == {
        "working_minutes_allowed": 3150,
        "working_minutes_used": 2640,
        "working_minutes_left": 510,
    }


def test_severe_path_vendor_sees_case(
    client: FlaskClient,
    clock: Clock,
    agent: Agent,
    head: Persona,
    technician: Persona,
    vendor_user: Persona,
) -> None:
    body = run_severe_path(client, clock, agent, head, technician, vendor_user)
    answer = client.get(
        f"/api/v1/cases/{body['id']}/steps", headers=vendor_user.headers()
    )
    assert answer.status_code == 200
    assert len(answer.get_json()["steps"]) == 10


def test_open_case_current_step(
    client: FlaskClient, clock: Clock, agent: Agent, head: Persona
) -> None:
    case_id = open_agent_case(client, agent)
    clock.now = wib(2026, 12, 7, 12)
    body = client.get(f"/api/v1/cases/{case_id}", headers=head.headers()).get_json()
    current = body["current_step"]
    assert current["id"] == "received"
    assert current["next"] == ["assignment"]
    assert current["roles"] == ["head", "technician", "admin"]
    view = step_of(body, "received")
    assert view["current"] is True
    # Due 11:00, now 12:00: 180 min used, 60 min past the deadline.
    assert view["overdue"] is True
    assert view["working_minutes_used"] == 180
    assert view["working_minutes_left"] == -60
