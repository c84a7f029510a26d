"""Maximum lengths of free text, in the API and the web forms.

A value over its limit is rejected with 422 naming the field, the limit
and the length sent, and nothing of the request is stored.
"""

from __future__ import annotations

import html
from typing import Any

import pytest
from flask.testing import FlaskClient

from collector.workflow import Workflow, WorkflowError, load_workflow
from collector.workflow.loader import parse_workflow

from .conftest import Persona, login
from .procedure_support import (
    Clock,
    analysis,
    file_report,
    move,
    report_body,
    stages,
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


@pytest.fixture
def analysis_case(
    client: FlaskClient, case_id: int, head: Persona, technician: Persona
) -> int:
    assert move(client, head, case_id, "assignment").status_code == 200
    answer = move(client, head, case_id, "analysis", {"technician": technician.name})
    assert answer.status_code == 200
    return case_id


def case_body(client: FlaskClient, persona: Persona, case_id: int) -> dict[str, Any]:
    return client.get(f"/api/v1/cases/{case_id}", headers=persona.headers()).get_json()


def event_kinds(client: FlaskClient, persona: Persona, case_id: int) -> list[str]:
    return [event["kind"] for event in case_body(client, persona, case_id)["events"]]


def case_count(client: FlaskClient, persona: Persona) -> int:
    answer = client.get("/api/v1/cases", headers=persona.headers())
    return len(answer.get_json()["cases"])


def complaint_count(client: FlaskClient, persona: Persona) -> int:
    answer = client.get("/api/v1/complaints", headers=persona.headers())
    return len(answer.get_json()["complaints"])


def flashed_errors(client: FlaskClient, path: str) -> list[str]:
    page = html.unescape(client.get(path).get_data(as_text=True))
    return [part.split("</p>")[0] for part in page.split('<p class="flash error">')[1:]]


# --- API ----------------------------------------------------------------------


def test_api_comment_too_long(
    client: FlaskClient, technician: Persona, case_id: int
) -> None:
    before = event_kinds(client, technician, case_id)

    answer = client.post(
        f"/api/v1/cases/{case_id}/comments",
        json={"text": "k" * 20_001},
        headers=technician.headers(),
    )

    assert answer.status_code == 422
    assert answer.get_json() == {
        "error": "text: 20001 characters is longer than the maximum of 20000; "
        "shorten it",
        "reasons": [
            "text: 20001 characters is longer than the maximum of 20000; shorten it"
        ],
        "field": "text",
    }
    assert event_kinds(client, technician, case_id) == before


def test_api_comment_at_limit_stored(
    client: FlaskClient, technician: Persona, case_id: int
) -> None:
    answer = client.post(
        f"/api/v1/cases/{case_id}/comments",
        json={"text": "k" * 20_000},
        headers=technician.headers(),
    )

    assert answer.status_code == 201
    assert answer.get_json()["events"][-1]["detail"]["text"] == "k" * 20_000


def test_api_findings_too_long(
    client: FlaskClient, technician: Persona, analysis_case: int
) -> None:
    fields = {**analysis("minor"), "findings_software": "f" * 20_001}

    answer = move(client, technician, analysis_case, "minor_repair", fields)
    body = case_body(client, technician, analysis_case)

    assert answer.status_code == 422
    assert answer.get_json()["reasons"] == [
        "field 'findings_software': 20001 characters is longer than the maximum "
        "of 20000; shorten it"
    ]
    assert answer.get_json()["field"] == "fields.findings_software"
    assert body["step"] == "analysis"
    assert body["steps"][-1]["fields"] == {}
    assert [event["kind"] for event in body["events"]].count("transition") == 2


def test_api_draft_too_long(
    client: FlaskClient, technician: Persona, analysis_case: int
) -> None:
    answer = client.post(
        f"/api/v1/cases/{analysis_case}/fields",
        json={"step": "analysis", "fields": {"findings_database": "d" * 20_001}},
        headers=technician.headers(),
    )

    assert answer.status_code == 422
    assert answer.get_json()["field"] == "fields.findings_database"
    assert case_body(client, technician, analysis_case)["steps"][-1]["fields"] == {}


def test_api_invalid_date_long_not_echoed(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    answer = move(client, head, case_id, "assignment", {"letter_date": "9" * 300})

    assert answer.status_code == 422
    assert answer.get_json()["reasons"] == [
        "field 'letter_date': 300 characters is longer than the maximum of 255; "
        "shorten it"
    ]


def to_report(
    client: FlaskClient, clock: Clock, technician: Persona, analysis_case: int
) -> None:
    clock.now = wib(2026, 12, 7, 10)
    move(client, technician, analysis_case, "minor_repair", analysis("minor"))
    repaired = {"work_done": "purged old sessions", "retest_result": "passed"}
    assert (
        move(client, technician, analysis_case, "report", repaired).status_code == 200
    )


def test_api_report_larger_limit(
    client: FlaskClient, clock: Clock, technician: Persona, analysis_case: int
) -> None:
    to_report(client, clock, technician, analysis_case)

    accepted = move(
        client,
        technician,
        analysis_case,
        "restored",
        {"report": "r" * 100_000, "documents": ["laporan.pdf"]},
    )

    assert accepted.status_code == 200


def test_api_report_too_long(
    client: FlaskClient, clock: Clock, technician: Persona, analysis_case: int
) -> None:
    to_report(client, clock, technician, analysis_case)

    fields = {"report": "r" * 100_001, "documents": ["laporan.pdf"]}

    answer = move(client, technician, analysis_case, "restored", fields)

    assert answer.status_code == 422
    assert answer.get_json()["reasons"] == [
        "field 'report': 100001 characters is longer than the maximum of 100000; "
        "shorten it"
    ]


@pytest.mark.parametrize(
    ("documents", "reason"),
    [
        (
            ["laporan.pdf", "l" * 2001],
            "field 'documents' entry 2: 2001 characters is longer than the maximum "
            "of 2000; shorten it",
        ),
        (
            [f"dokumen-{number}.pdf" for number in range(101)],
            "field 'documents': 101 entries are more than the maximum of 100; "
            "combine or shorten them",
        ),
    ],
)
def test_api_list_limits(
    client: FlaskClient,
    clock: Clock,
    technician: Persona,
    analysis_case: int,
    documents: list[str],
    reason: str,
) -> None:
    to_report(client, clock, technician, analysis_case)
    fields = {"report": "repaired", "documents": documents}

    answer = move(client, technician, analysis_case, "restored", fields)

    assert answer.status_code == 422
    assert answer.get_json()["reasons"] == [reason]


def test_workflow_stage_notes_too_long() -> None:
    tests = stages()
    tests["evaluation"] = {"result": "passed", "notes": "n" * 5_001}

    problems = load_workflow().validate_fields("repair_and_test", {"tests": tests})

    assert problems == [
        "field 'tests.evaluation.notes': 5001 characters is longer than the maximum "
        "of 5000; shorten it"
    ]


def test_api_damage_report_too_long(
    client: FlaskClient, clock: Clock, unit_user: Persona, head: Persona
) -> None:
    answer = client.post(
        "/api/v1/cases",
        json=report_body(description="d" * 10_001, memorandum_number="m" * 101),
        headers=unit_user.headers(),
    )

    assert answer.status_code == 422
    assert answer.get_json()["reasons"] == [
        "memorandum_number: 101 characters is longer than the maximum of 100; "
        "shorten it",
        "description: 10001 characters is longer than the maximum of 10000; shorten it",
    ]
    assert case_count(client, head) == 0


def test_api_complaint_text_too_long(
    client: FlaskClient, unit_user: Persona, head: Persona
) -> None:
    answer = client.post(
        "/api/v1/complaints",
        json={"text": "c" * 20_001},
        headers=unit_user.headers(),
    )

    assert answer.status_code == 422
    assert answer.get_json()["field"] == "text"
    assert answer.get_json()["error"] == (
        "text: 20001 characters is longer than the maximum of 20000; shorten it"
    )
    assert complaint_count(client, head) == 0


def test_api_complaint_follow_up_too_long(
    client: FlaskClient, unit_user: Persona, head: Persona, technician: Persona
) -> None:
    created = client.post(
        "/api/v1/complaints", json={"text": "slow"}, headers=unit_user.headers()
    ).get_json()
    path = f"/api/v1/complaints/{created['id']}/transitions"
    client.post(
        path,
        json={"to": "assigned", "fields": {"assigned_to": technician.name}},
        headers=head.headers(),
    )

    answer = client.post(
        path,
        json={"to": "followed_up", "fields": {"follow_up": "u" * 20_001}},
        headers=technician.headers(),
    )
    stored = client.get(
        f"/api/v1/complaints/{created['id']}", headers=head.headers()
    ).get_json()

    assert answer.status_code == 422
    assert answer.get_json()["field"] == "follow_up"
    assert stored["status"] == "assigned"
    assert stored["follow_up"] is None


def test_api_close_reason_too_long(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    answer = client.post(
        f"/api/v1/cases/{case_id}/close",
        json={"resolution": "false_alarm", "reason": "r" * 20_001},
        headers=head.headers(),
    )

    assert answer.status_code == 422
    assert answer.get_json()["field"] == "reason"
    assert case_body(client, head, case_id)["status"] == "open"


# --- web forms ----------------------------------------------------------------


def test_form_comment_too_long(
    client: FlaskClient, technician: Persona, case_id: int
) -> None:
    before = event_kinds(client, technician, case_id)
    token = login(client, technician)

    client.post(
        f"/cases/{case_id}/procedure/comment",
        data={"csrf_token": token, "text": "k" * 20_001},
    )

    assert flashed_errors(client, f"/cases/{case_id}") == [
        "text: 20001 karakter melebihi batas 20000 karakter; persingkat teksnya "
        '<span class="en">(text: 20001 characters is longer than the maximum of '
        "20000; shorten it)</span>"
    ]
    assert event_kinds(client, technician, case_id) == before


def test_form_comment_line_breaks_count_once(
    client: FlaskClient, technician: Persona, case_id: int
) -> None:
    token = login(client, technician)

    client.post(
        f"/cases/{case_id}/procedure/comment",
        data={"csrf_token": token, "text": "x\r\n" * 10_000},
    )

    comment = case_body(client, technician, case_id)["events"][-1]
    assert comment["kind"] == "comment"
    assert comment["detail"]["text"] == ("x\n" * 10_000).strip()


def test_form_findings_too_long(
    client: FlaskClient, technician: Persona, analysis_case: int
) -> None:
    token = login(client, technician)

    client.post(
        f"/cases/{analysis_case}/procedure/transition",
        data={
            "csrf_token": token,
            "to": "minor_repair",
            **{f"f_{key}": value for key, value in analysis("minor").items()},
            "f_findings_hardware": "h" * 20_001,
        },
    )

    assert flashed_errors(client, f"/cases/{analysis_case}") == [
        'kolom "Temuan perangkat keras (Hardware findings)": 20001 karakter '
        "melebihi batas 20000 karakter; persingkat teksnya "
        '<span class="en">(field "Temuan perangkat keras (Hardware findings)": '
        "20001 characters is longer than the maximum of 20000; shorten it)</span>"
    ]
    assert case_body(client, technician, analysis_case)["step"] == "analysis"


def test_form_report_description_too_long(
    client: FlaskClient, unit_user: Persona, head: Persona
) -> None:
    token = login(client, unit_user)

    answer = client.post(
        "/reports/new",
        data={
            "csrf_token": token,
            "application": "SIMPEG",
            "memorandum_number": "M-1",
            "memorandum_date": "2026-12-04",
            "description": "d" * 10_001,
        },
    )
    page = answer.get_data(as_text=True)

    assert answer.status_code == 422
    assert (
        "description: 10001 characters is longer than the maximum of 10000; shorten it"
    ) in page
    assert "d" * 10_001 not in page
    assert 'value="SIMPEG"' in page
    assert case_count(client, head) == 0


def test_form_complaint_text_too_long(
    client: FlaskClient, unit_user: Persona, head: Persona
) -> None:
    token = login(client, unit_user)

    answer = client.post(
        "/complaints/new",
        data={"csrf_token": token, "channel": "head", "text": "c" * 20_001},
    )

    assert answer.status_code == 422
    assert "c" * 20_001 not in answer.get_data(as_text=True)
    assert complaint_count(client, head) == 0


def test_form_inputs_carry_maxlength(
    client: FlaskClient, technician: Persona, analysis_case: int
) -> None:
    login(client, technician)

    page = client.get(f"/cases/{analysis_case}").get_data(as_text=True)

    assert '<textarea name="f_findings_software" rows="2" maxlength="20000">' in page
    assert '<textarea name="text" rows="2" maxlength="20000">' in page
    assert '<textarea name="reason" rows="2" maxlength="20000">' in page


def test_form_report_maxlength(client: FlaskClient, unit_user: Persona) -> None:
    login(client, unit_user)

    page = client.get("/reports/new").get_data(as_text=True)

    assert 'maxlength="10000"' in page
    assert 'name="memorandum_number" value="" maxlength="100"' in page


# --- workflow file --------------------------------------------------------------

CUSTOM = """\
steps:
  - id: received
    name: Diterima
    name_en: Received
    party: bureau
    roles: [head]
    time_standard: 1 day
    fields:
      - id: note
        type: text
        max_length: {max_length}
        name: Catatan
        name_en: Note
    next: [restored]
  - id: restored
    name: Normal
    name_en: Restored
    party: bureau
    roles: [technician]
    time_standard: 1 hour
    final: true
"""


def test_workflow_max_length_applies() -> None:
    workflow: Workflow = parse_workflow(CUSTOM.format(max_length=5), "wf.yaml")

    assert workflow.validate_fields("received", {"note": "123456"}) == [
        "field 'note': 6 characters is longer than the maximum of 5; shorten it"
    ]


@pytest.mark.parametrize("max_length", ["0", "true", "2000000", "many"])
def test_workflow_max_length_invalid(max_length: str) -> None:
    with pytest.raises(WorkflowError) as caught:
        parse_workflow(CUSTOM.format(max_length=max_length), "wf.yaml")

    assert caught.value.errors[0].startswith(
        "wf.yaml:11: steps[0].fields[0].max_length: expected a whole number of "
        "characters from 1 to 1000000, got "
    )


def test_workflow_max_length_only_text() -> None:
    text = CUSTOM.format(max_length=5).replace("type: text", "type: date")

    with pytest.raises(WorkflowError) as caught:
        parse_workflow(text, "wf.yaml")

    assert caught.value.errors == [
        "wf.yaml:11: steps[0].fields[0].max_length: only a text or list field "
        "takes max_length"
    ]
