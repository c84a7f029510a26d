"""Procedure settings: workflow file and calendar from app config or environment."""

from __future__ import annotations

from datetime import date, time
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from collector.procedure import ProcedureConfigError, procedure_from_config
from collector.workflow import WorkflowError

from .conftest import Persona
from .procedure_support import Clock, file_report, move, start_clock, wib


def custom_workflow(tmp_path: Path) -> Path:
    text = resources.files("collector.workflow").joinpath("default.yaml")
    changed = text.read_text("utf-8").replace(
        "    roles: [head]\n    time_standard: 1 hour\n",
        "    roles: [head]\n    time_standard: 30 minutes\n",
    )
    path = tmp_path / "workflow.yaml"
    path.write_text(changed, encoding="utf-8")
    return path


@pytest.fixture
def clock() -> Clock:
    return start_clock()


class TestEnvironment:
    """Settings from PELIHARA_* variables reach the running app."""

    @pytest.fixture
    def app_config(
        self, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> dict[str, Any]:
        monkeypatch.setenv("PELIHARA_WORKFLOW_FILE", str(custom_workflow(tmp_path)))
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
