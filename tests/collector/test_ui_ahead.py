"""The case page shows the whole procedure: steps done, the current one, steps ahead."""

from __future__ import annotations

import html
import re
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from collector.procedure_ahead import runs_ahead
from collector.workflow.loader import parse_workflow

from .conftest import Persona, login
from .procedure_support import (
    REPORT,
    Clock,
    analysis,
    file_report,
    move,
    start_clock,
    wib,
    workflow_with_approval,
)

MINOR = ["minor_repair", "report", "restored"]
SEVERE = [
    "vendor_notice",
    "coordination",
    "vendor_analysis",
    "repair_and_test",
    "report",
    "restored",
]
REPAIRED = {"work_done": "purged old sessions", "retest_result": "passed"}


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


def case_page(client: FlaskClient, persona: Persona, case_id: int) -> str:
    login(client, persona)
    answer = client.get(f"/cases/{case_id}")
    assert answer.status_code == 200, answer.status_code
    return html.unescape(answer.get_data(as_text=True))


def runs(page: str) -> dict[str, list[str]]:
    """Return the runs ahead on a case page: data-path -> step ids in order."""
    found = {}
    for path, body in re.findall(
        r'<tbody class="ahead" data-path="([^"]*)">(.*?)</tbody>', page, re.DOTALL
    ):
        found[path] = re.findall(r'<tr class="step ahead" data-step="([^"]+)">', body)
    return found


def path_heads(page: str) -> list[str]:
    heads = re.findall(
        r'<tr class="path-head">\s*<th colspan="7" scope="rowgroup">(.*?)</th>',
        page,
        re.DOTALL,
    )
    return [" ".join(re.sub(r"<[^>]+>", "", head).split()) for head in heads]


def ahead_row(page: str, step_id: str, path: str) -> str:
    start = page.index(f'<tbody class="ahead" data-path="{path}">')
    row = page.index(f'<tr class="step ahead" data-step="{step_id}">', start)
    return " ".join(
        re.sub(r"<[^>]+>", "", page[row : page.index("</tr>", row)]).split()
    )


def to_analysis(
    client: FlaskClient, head: Persona, technician: Persona, case: int
) -> None:
    assert move(client, head, case, "assignment").status_code == 200
    answer = move(client, head, case, "analysis", {"technician": technician.name})
    assert answer.status_code == 200


def test_ahead_current_step_marked(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    page = case_page(client, head, case_id)

    assert '<tr class="step current" data-step="received" aria-current="step">' in page
    assert page.count('aria-current="step"') == 1
    assert '<span class="badge current">sekarang (current)</span>' in page


def test_ahead_both_paths_before_analysis(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    page = case_page(client, head, case_id)

    assert runs(page) == {
        "": ["assignment", "analysis"],
        "minor": MINOR,
        "severe": SEVERE,
    }


def test_ahead_paths_labelled(client: FlaskClient, head: Persona, case_id: int) -> None:
    page = case_page(client, head, case_id)

    assert path_heads(page) == [
        "Tahap berikutnya (Steps ahead)",
        "Jalur ringan (Minor path) · Tingkat kerusakan (Fault classification): "
        "ringan (minor)",
        "Jalur berat (Severe path) · Tingkat kerusakan (Fault classification): "
        "berat (severe)",
    ]


def test_ahead_step_role_and_standard(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    page = case_page(client, head, case_id)

    assert ahead_row(page, "assignment", "") == (
        "Penugasan oleh Kepala Biro (Assignment by the head of bureau) belum "
        "(ahead) Biro (bureau) · 1 hour Pelaksana (Roles): head"
    )
    assert ahead_row(page, "vendor_analysis", "severe") == (
        "Analisa penyebab kerusakan oleh pengembang (Root cause analysis by the "
        "vendor) belum (ahead) pengembang (vendor) · 1 day Pelaksana (Roles): "
        "vendor, technician"
    )
    assert ahead_row(page, "minor_repair", "minor") == (
        "Perbaikan kerusakan ringan dan uji coba ulang (Minor repair and retest) "
        "belum (ahead) Biro (bureau) · 3 days Pelaksana (Roles): technician"
    )


def test_ahead_at_branch_no_common_run(
    client: FlaskClient, head: Persona, technician: Persona, case_id: int
) -> None:
    to_analysis(client, head, technician, case_id)

    page = case_page(client, technician, case_id)

    assert runs(page) == {"minor": MINOR, "severe": SEVERE}


def test_ahead_chosen_path_only(
    client: FlaskClient,
    clock: Clock,
    head: Persona,
    technician: Persona,
    case_id: int,
) -> None:
    to_analysis(client, head, technician, case_id)
    clock.now = wib(2026, 12, 7, 10)
    move(client, technician, case_id, "minor_repair", analysis("minor"))

    page = case_page(client, technician, case_id)

    assert runs(page) == {"": ["report", "restored"]}
    assert "Jalur berat" not in page


def test_ahead_done_steps_keep_times(
    client: FlaskClient, clock: Clock, head: Persona, case_id: int
) -> None:
    clock.now = wib(2026, 12, 7, 8)
    move(client, head, case_id, "assignment")

    page = case_page(client, head, case_id)
    start = page.index('<tr class="step" data-step="received">')
    row = page[start : page.index("</tr>", start)]

    assert "<td>2026-12-04 14:00 WIB</td>" in row
    assert "2026-12-07 08:00 WIB · user:head-user" in row
    assert runs(page)[""] == ["analysis"]


def test_ahead_retry_not_listed(
    client: FlaskClient,
    clock: Clock,
    head: Persona,
    technician: Persona,
    case_id: int,
) -> None:
    to_analysis(client, head, technician, case_id)
    clock.now = wib(2026, 12, 7, 10)
    move(client, technician, case_id, "minor_repair", analysis("minor"))
    failed = {"work_done": "first attempt", "retest_result": "failed"}
    move(client, technician, case_id, "minor_repair", failed)

    page = case_page(client, technician, case_id)

    assert runs(page) == {"": ["report", "restored"]}


def test_ahead_closed_case_none(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    token = login(client, head)
    client.post(
        f"/cases/{case_id}/procedure/close",
        data={"csrf_token": token, "resolution": "false_alarm", "reason": "test"},
    )

    page = case_page(client, head, case_id)

    assert runs(page) == {}
    assert 'aria-current="step"' not in page


class TestAddedStep:
    """A step added in the workflow file appears ahead on both paths."""

    @pytest.fixture
    def app_config(self, clock: Clock, tmp_path: Path) -> dict[str, Any]:
        path = workflow_with_approval(tmp_path / "workflow.yaml")
        return {"PROCEDURE_CLOCK": clock, "WORKFLOW_FILE": str(path)}

    def test_added_step_on_both_paths(
        self, client: FlaskClient, head: Persona, case_id: int
    ) -> None:
        page = case_page(client, head, case_id)

        assert runs(page) == {
            "": ["assignment", "analysis"],
            "minor": ["minor_repair", "report", "approval", "restored"],
            "severe": SEVERE[:-1] + ["approval", "restored"],
        }

    def test_added_step_role_and_standard(
        self, client: FlaskClient, head: Persona, case_id: int
    ) -> None:
        page = case_page(client, head, case_id)

        assert ahead_row(page, "approval", "minor") == (
            "Persetujuan laporan (Report approved) belum (ahead) Biro (bureau) · "
            "1 day Pelaksana (Roles): head"
        )

    def test_added_step_current(
        self,
        client: FlaskClient,
        clock: Clock,
        head: Persona,
        technician: Persona,
        case_id: int,
    ) -> None:
        to_analysis(client, head, technician, case_id)
        clock.now = wib(2026, 12, 7, 10)
        for target, fields in (
            ("minor_repair", analysis("minor")),
            ("report", REPAIRED),
            ("approval", REPORT),
        ):
            assert move(client, technician, case_id, target, fields).status_code == 200

        page = case_page(client, head, case_id)

        assert '<tr class="step current" data-step="approval"' in page
        assert runs(page) == {"": ["restored"]}


def default_text() -> str:
    default = resources.files("collector.workflow").joinpath("default.yaml")
    return default.read_text("utf-8")


def test_runs_third_choice_unnamed() -> None:
    text = default_text().replace(
        "        choices: [minor, severe]\n",
        "        choices: [minor, severe, external]\n",
    )
    text = text.replace(
        "      - to: vendor_notice\n        when: {classification: severe}\n",
        "      - to: vendor_notice\n        when: {classification: severe}\n"
        "      - to: report\n        when: {classification: external}\n",
    )
    workflow = parse_workflow(text, "three-way.yaml")

    found = runs_ahead(workflow, "analysis", "memorandum", {"received", "assignment"})

    external = [run for run in found if run.labels[0].key == "external"][0]
    assert external.labels[0].name == "Jalur external"
    assert external.labels[0].name_en == "External path"
    assert [step.id for step in external.steps] == ["report", "restored"]


UNCONDITIONAL = """\
steps:
  - id: start
    name: Mulai
    name_en: Start
    party: bureau
    roles: [head]
    time_standard: 1 hour
    next: [fix, replace]
  - id: fix
    name: Perbaiki
    name_en: Fix
    party: bureau
    roles: [technician]
    time_standard: 2 hours
    next: [done]
  - id: replace
    name: Ganti
    name_en: Replace
    party: vendor
    roles: [vendor]
    time_standard: 1 day
    next: [done, start]
  - id: done
    name: Selesai
    name_en: Done
    party: bureau
    roles: [head]
    time_standard: 30 minutes
    final: true
"""


def test_runs_unconditional_branch_named_by_step() -> None:
    workflow = parse_workflow(UNCONDITIONAL, "unconditional.yaml")

    found = runs_ahead(workflow, "start", None)

    assert [(run.labels[0].name, run.labels[0].name_en) for run in found] == [
        ("Jalur Perbaiki", "Path through Fix"),
        ("Jalur Ganti", "Path through Replace"),
    ]
    assert [[step.id for step in run.steps] for run in found] == [
        ["fix", "done"],
        ["replace", "done"],
    ]


def test_runs_back_edge_not_ahead() -> None:
    workflow = parse_workflow(UNCONDITIONAL, "unconditional.yaml")

    found = runs_ahead(workflow, "replace", None, {"start"})

    assert [[step.id for step in run.steps] for run in found] == [["done"]]


def test_runs_unknown_step_empty() -> None:
    workflow = parse_workflow(UNCONDITIONAL, "unconditional.yaml")

    assert runs_ahead(workflow, "removed_step", None) == []


def test_runs_final_step_empty() -> None:
    workflow = parse_workflow(UNCONDITIONAL, "unconditional.yaml")

    assert runs_ahead(workflow, "done", None) == []
