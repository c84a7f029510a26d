"""Helpers for the procedure tests: an injected clock, request builders and a
wait for a blocked PostgreSQL transaction.

Times are Asia/Jakarta (WIB, UTC+7) with the default office hours Mon-Fri
07:30-16:00, so one working day is 510 working minutes. 4 Dec 2026 is a
Friday and 7 Dec a Monday.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from collector.db import get_database

from .conftest import Persona

WIB = ZoneInfo("Asia/Jakarta")


def wib(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=WIB)


class Clock:
    """The procedure's notion of now, set by each test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def start_clock() -> Clock:
    """Return a clock at Friday 4 Dec 2026 14:00 WIB; tests move it on."""
    return Clock(wib(2026, 12, 4, 14))


ANALYSIS = {
    "findings_software": "report page fails on an empty period",
    "findings_database": "no fault",
    "findings_hardware": "no fault",
}
PASSED = {"result": "passed", "notes": ""}


def analysis(classification: str) -> dict[str, str]:
    return {**ANALYSIS, "classification": classification}


def stages(evaluation: str = "passed") -> dict[str, Any]:
    return {
        "module_and_system": PASSED,
        "evaluation": {"result": evaluation, "notes": "slow report export"},
        "network_and_units": PASSED,
    }


VENDOR_NOTICE = {
    "vendor": "PT Contoh",
    "notified_at": "2026-12-07T14:00:00+07:00",
    "channel": "letter",
    "unit_copied": True,
}
COORDINATION = {
    "meeting_date": "2026-12-08",
    "attendees_bureau": ["head-user", "technician-user"],
    "attendees_unit": ["Bagian Umum"],
    "attendees_vendor": ["vendor-user"],
    "minutes": "fault and repair plan explained",
}
REPORT = {"report": "repaired and retested", "documents": ["laporan-7.pdf"]}
RESTORED = {"confirmation": "unit confirmed by phone"}


def report_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "application": "SIMPEG",
        "unit": "Bagian Umum",
        "memorandum_number": "M-12/BU/2026",
        "memorandum_date": "2026-12-04",
        "description": "login page shows error 500\nsince this morning",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


def file_report(
    client: FlaskClient, persona: Persona, received_at: datetime, **overrides: Any
) -> dict[str, Any]:
    answer = client.post(
        "/api/v1/cases",
        json=report_body(received_at=received_at.isoformat(), **overrides),
        headers=persona.headers(),
    )
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def move(
    client: FlaskClient,
    persona: Persona,
    case_id: int,
    to: str,
    fields: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> Any:
    body: dict[str, Any] = {"to": to, "fields": fields or {}}
    if at is not None:
        body["at"] = at.isoformat()
    return client.post(
        f"/api/v1/cases/{case_id}/transitions", json=body, headers=persona.headers()
    )


def to_repair_and_test(
    client: FlaskClient, clock: Clock, head: Persona, technician: Persona, case_id: int
) -> None:
    move(client, head, case_id, "assignment")
    move(client, head, case_id, "analysis", {"technician": technician.name})
    clock.now = wib(2026, 12, 8, 10)
    steps = [
        ("vendor_notice", analysis("severe")),
        ("coordination", VENDOR_NOTICE),
        ("vendor_analysis", COORDINATION),
        ("repair_and_test", {"root_cause": "export query without index"}),
    ]
    for target, fields in steps:
        assert move(client, technician, case_id, target, fields).status_code == 200


def step_of(body: dict[str, Any], step_id: str, attempt: int = 1) -> dict[str, Any]:
    for view in body["steps"]:
        if view["id"] == step_id and view["attempt"] == attempt:
            return view
    raise AssertionError(f"no step {step_id} attempt {attempt} in {body['steps']}")


APPROVAL_STEP = """\
  - id: approval
    name: Persetujuan laporan
    name_en: Report approved
    party: bureau
    roles: [head]
    time_standard: 1 day
    fields:
      - id: approved_by
        type: user
        user_role: head
        name: Disetujui oleh
        name_en: Approved by
    next: [restored]
"""


def workflow_with_approval(path: Path) -> Path:
    """Write the default workflow to `path` and return it, with 30 minutes
    for assignment and an approval step by the head after the report."""
    default = resources.files("collector.workflow").joinpath("default.yaml")
    text = default.read_text("utf-8")
    text = text.replace(
        "    roles: [head]\n    time_standard: 1 hour\n",
        "    roles: [head]\n    time_standard: 30 minutes\n",
    )
    text = text.replace(
        "        name_en: Supporting documents\n    next: [restored]\n",
        "        name_en: Supporting documents\n    next: [approval]\n\n"
        + APPROVAL_STEP,
    )
    path.write_text(text, encoding="utf-8")
    return path


def wait_for_lock_wait(app: Flask, mover: threading.Thread) -> None:
    """On PostgreSQL, wait until another backend waits for a lock.

    Returns early if `mover` has already ended, so the assertions on its
    outcome report what happened instead of a timeout here.
    """
    database = get_database(app)
    if database.dialect != "postgresql":
        return
    # Generous bound for hang detection only.
    deadline = time.monotonic() + 30
    with database.engine.connect() as connection:
        while time.monotonic() < deadline and mover.is_alive():
            waiting = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock'"
                )
            ).scalar()
            if waiting:
                return
            time.sleep(0.02)
            connection.rollback()
    if mover.is_alive():
        raise AssertionError("the second transaction never waited for a lock")
