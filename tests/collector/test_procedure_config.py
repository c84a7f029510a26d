"""Procedure settings: workflow file and calendar from app config or environment."""

from __future__ import annotations

import logging
from datetime import date, time
from pathlib import Path
from typing import Any

import holidays
import pytest
from flask import Flask
from flask.testing import FlaskClient

from collector.procedure import ProcedureConfigError, init_app, procedure_from_config
from collector.workflow import WorkflowError

from .conftest import Persona
from .procedure_support import (
    REPORT,
    RESTORED,
    Clock,
    analysis,
    file_report,
    move,
    start_clock,
    wib,
    workflow_with_approval,
)


@pytest.fixture
def clock() -> Clock:
    return start_clock()


class TestEnvironment:
    """Settings from PELIHARA_* variables reach the running app."""

    @pytest.fixture
    def app_config(
        self, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> dict[str, Any]:
        path = workflow_with_approval(tmp_path / "workflow.yaml")
        monkeypatch.setenv("PELIHARA_WORKFLOW_FILE", str(path))
        monkeypatch.setenv("PELIHARA_EXTRA_DAYS_OFF", "2026-12-07")
        return {"PROCEDURE_CLOCK": clock}

    def test_env_workflow_and_day_off(
        self, client: FlaskClient, clock: Clock, unit_user: Persona, head: Persona
    ) -> None:
        clock.now = wib(2026, 12, 8, 8)
        body = file_report(client, unit_user, wib(2026, 12, 4, 14))
        # Monday 7 Dec is off: Friday 120 min, Tuesday 07:30 + 390 = 14:00.
        assert body["steps"][0]["due_at"] == "2026-12-08T14:00:00+07:00"
        answer = move(client, head, body["id"], "assignment")
        # The custom file gives assignment 30 minutes from Tuesday 08:00.
        assert answer.get_json()["steps"][-1]["due_at"] == ("2026-12-08T08:30:00+07:00")

    def test_env_workflow_listed(self, client: FlaskClient, head: Persona) -> None:
        body = client.get("/api/v1/workflow", headers=head.headers()).get_json()
        assignment = [step for step in body["steps"] if step["id"] == "assignment"]
        assert assignment[0]["time_standard"] == {"default": "30 minutes"}
        assert body["source"].endswith("workflow.yaml")


class TestAppConfig:
    """App config keys beat the environment."""

    @pytest.fixture
    def app_config(
        self, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> dict[str, Any]:
        monkeypatch.setenv("PELIHARA_OFFICE_HOURS", "mon-fri 09:00-10:00")
        return {
            "PROCEDURE_CLOCK": clock,
            "OFFICE_HOURS": "mon-fri 08:00-16:00",
            "EXTRA_WORKING_DAYS": [date(2026, 12, 5)],
        }

    def test_config_office_hours_and_working_day(
        self, client: FlaskClient, clock: Clock, unit_user: Persona
    ) -> None:
        clock.now = wib(2026, 12, 7, 8)
        body = file_report(client, unit_user, wib(2026, 12, 4, 14))
        # A day is 480 min (08:00-16:00). Friday 120, Saturday 5 Dec (made a
        # working day) 08:00 + 360 = 14:00.
        assert body["steps"][0]["due_at"] == "2026-12-05T14:00:00+07:00"


class TestAddedStep:
    """A step added in the workflow file is taken, checked and timed like the rest."""

    @pytest.fixture
    def app_config(self, clock: Clock, tmp_path: Path) -> dict[str, Any]:
        path = workflow_with_approval(tmp_path / "workflow.yaml")
        return {"PROCEDURE_CLOCK": clock, "WORKFLOW_FILE": str(path)}

    @pytest.fixture
    def case_id(
        self,
        client: FlaskClient,
        clock: Clock,
        unit_user: Persona,
        head: Persona,
        technician: Persona,
    ) -> int:
        clock.now = wib(2026, 12, 4, 14, 30)
        case_id = file_report(client, unit_user, wib(2026, 12, 4, 14))["id"]
        repaired = {"work_done": "fixed the session table", "retest_result": "passed"}
        steps = [
            (wib(2026, 12, 7, 8), head, "assignment", {}),
            (
                wib(2026, 12, 7, 8, 30),
                head,
                "analysis",
                {"technician": "technician-user"},
            ),
            (wib(2026, 12, 7, 10), technician, "minor_repair", analysis("minor")),
            (wib(2026, 12, 7, 11), technician, "report", repaired),
            (wib(2026, 12, 7, 12), technician, "approval", REPORT),
        ]
        for now, persona, target, fields in steps:
            clock.now = now
            answer = move(client, persona, case_id, target, fields)
            assert answer.status_code == 200, answer.get_json()
        clock.now = wib(2026, 12, 7, 13)
        return case_id

    def test_added_step_deadline(
        self, client: FlaskClient, head: Persona, case_id: int
    ) -> None:
        body = client.get(f"/api/v1/cases/{case_id}", headers=head.headers())
        approval = body.get_json()["steps"][-1]
        assert approval["id"] == "approval"
        # 1 day (510 min) from Monday 12:00: Monday 240, Tuesday 07:30 + 270.
        assert approval["due_at"] == "2026-12-08T12:00:00+07:00"

    def test_added_step_role_refused(
        self, client: FlaskClient, technician: Persona, case_id: int
    ) -> None:
        fields = {"approved_by": "head-user"}
        answer = move(client, technician, case_id, "restored", fields)
        assert answer.status_code == 403
        assert answer.get_json()["error"] == (
            "role 'technician' may not complete step 'approval'; allowed roles: "
            "head, admin"
        )

    def test_added_step_field_missing(
        self, client: FlaskClient, head: Persona, case_id: int
    ) -> None:
        answer = move(client, head, case_id, "restored")
        assert answer.status_code == 422
        assert answer.get_json()["error"] == (
            "missing required field 'approved_by' for step 'approval'"
        )

    def test_added_step_user_role_checked(
        self, client: FlaskClient, head: Persona, case_id: int
    ) -> None:
        fields = {"approved_by": "technician-user"}
        answer = move(client, head, case_id, "restored", fields)
        assert answer.status_code == 422
        assert answer.get_json()["error"] == (
            "field 'approved_by': user 'technician-user' has role 'technician'; "
            "expected a user with role 'head'"
        )

    def test_added_step_completes_case(
        self,
        client: FlaskClient,
        clock: Clock,
        head: Persona,
        technician: Persona,
        case_id: int,
    ) -> None:
        answer = move(client, head, case_id, "restored", {"approved_by": "head-user"})
        assert answer.status_code == 200
        assert answer.get_json()["step"] == "restored"
        clock.now = wib(2026, 12, 7, 13, 30)
        fields = {**RESTORED, "back_at": "2026-12-07T13:15:00+07:00"}
        body = move(client, technician, case_id, "closed", fields).get_json()
        assert body["resolution"] == "restored"
        assert [view["id"] for view in body["steps"]][-3:] == [
            "report",
            "approval",
            "restored",
        ]


def test_config_defaults() -> None:
    procedure = procedure_from_config({})
    assert procedure.workflow.source == "default.yaml"
    assert procedure.calendar.office_hours[0] == [(time(7, 30), time(16, 0))]
    assert procedure.smtp is None


def test_config_smtp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PELIHARA_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PELIHARA_SMTP_PORT", "2525")
    monkeypatch.setenv("PELIHARA_NOTIFY_TO", "head@localhost,  deputy@localhost")
    monkeypatch.setenv("PELIHARA_SMTP_PASSWORD", "secret-value")
    smtp = procedure_from_config({}).smtp
    assert smtp.port == 2525
    assert smtp.recipients == ("head@localhost", "deputy@localhost")
    assert "secret-value" not in repr(smtp)


def test_config_invalid_workflow(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("steps: []\n", encoding="utf-8")
    with pytest.raises(WorkflowError) as caught:
        procedure_from_config({"WORKFLOW_FILE": str(path)})
    assert caught.value.errors == [
        f"{path}:1: steps: expected a non-empty list of steps, got a list"
    ]


def test_config_invalid_day_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PELIHARA_EXTRA_DAYS_OFF", "2026-12-07, 7 Dec")
    with pytest.raises(ProcedureConfigError) as caught:
        procedure_from_config({})
    assert str(caught.value) == (
        "EXTRA_DAYS_OFF (PELIHARA_EXTRA_DAYS_OFF): invalid date '7 Dec'; "
        "expected YYYY-MM-DD separated by commas"
    )


def test_config_invalid_office_hours() -> None:
    with pytest.raises(ProcedureConfigError) as caught:
        procedure_from_config({"OFFICE_HOURS": "weekdays 07:30-16:00"})
    assert str(caught.value) == (
        "calendar settings: office hours 'weekdays 07:30-16:00': invalid weekday "
        "'weekdays'; expected mon, tue, wed, thu, fri, sat, sun or a range like "
        "mon-fri"
    )


def test_config_invalid_smtp_port() -> None:
    with pytest.raises(ProcedureConfigError) as caught:
        procedure_from_config({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": "smtp"})
    assert str(caught.value) == (
        "SMTP_PORT (PELIHARA_SMTP_PORT): invalid port 'smtp'; expected a number "
        "such as 25 or 587"
    )


def test_config_warns_unknown_joint_leave(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock(wib(2099, 1, 5, 9))
    app = Flask("joint-leave")
    app.config.update(PROCEDURE_CLOCK=clock)
    with caplog.at_level(logging.WARNING, logger="collector.procedure"):
        init_app(app)
    assert [record.getMessage() for record in caplog.records] == [
        f"holidays {holidays.__version__} lists no joint leave days (cuti "
        "bersama) for 2099; upgrade the holidays package or add them to "
        "EXTRA_DAYS_OFF (PELIHARA_EXTRA_DAYS_OFF)"
    ]


def test_config_known_joint_leave_quiet(caplog: pytest.LogCaptureFixture) -> None:
    app = Flask("joint-leave")
    app.config.update(PROCEDURE_CLOCK=Clock(wib(2026, 1, 5, 9)))
    with caplog.at_level(logging.WARNING, logger="collector.procedure"):
        init_app(app)
    assert caplog.records == []
