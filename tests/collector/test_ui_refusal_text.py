"""Refusal reasons in the web UI: Indonesian first, the API's English after."""

from __future__ import annotations

import html
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from collector.db import get_database
from collector.limits import MAX_COMMENT_CHARS
from collector.refusal_text import Names, indonesian
from collector.tokens import create_user

from .conftest import Persona, login
from .procedure_support import (
    Clock,
    analysis,
    file_report,
    move,
    start_clock,
    to_repair_and_test,
    wib,
)

UNIT = '"Unit kerja pelapor (Reporting work unit)"'
RECEIVED = '"Laporan kerusakan diterima (Damage report received)"'
ASSIGNMENT = '"Penugasan oleh Kepala Biro (Assignment by the head of bureau)"'
ANALYSIS = '"Analisa sistem aplikasi (System analysis)"'
REPORT = '"Laporan hasil perbaikan dan pemeliharaan (Repair and maintenance report)"'
REPAIR = '"Perbaikan teknis dan uji coba bertahap (Repair and staged tests)"'


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
def other_technician(app: Flask, personas: dict[str, Persona]) -> Persona:
    with get_database(app).session() as session:
        created = create_user(session, "budi", "technician", password="budi-password")
        session.commit()
        return Persona(
            id=created.user.id,
            name="budi",
            role="technician",
            password="budi-password",
            token=created.api_token,
        )


def post_form(
    client: FlaskClient, persona: Persona, case_id: int, action: str, **data: str
) -> str:
    """Post a case form as `persona` and return the case page it redirects to."""
    token = login(client, persona)
    answer = client.post(
        f"/cases/{case_id}/procedure/{action}", data={"csrf_token": token, **data}
    )
    assert answer.status_code == 303, answer.status_code
    page = client.get(f"/cases/{case_id}")
    assert page.status_code == 200, page.status_code
    return html.unescape(page.get_data(as_text=True))


def to_analysis(
    client: FlaskClient, head: Persona, technician: Persona, case_id: int
) -> None:
    assert move(client, head, case_id, "assignment").status_code == 200
    answer = move(client, head, case_id, "analysis", {"technician": technician.name})
    assert answer.status_code == 200


def test_missing_field_in_indonesian(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    text = post_form(client, head, case_id, "transition", to="assignment", f_unit="")
    assert (f"kolom wajib {UNIT} pada tahap {RECEIVED} belum diisi") in text
    assert (f"(missing required field {UNIT} for step {RECEIVED})") in text
    assert 'belum diisi <span class="en">(missing required field' in text


def test_invalid_value_in_indonesian(
    client: FlaskClient, head: Persona, technician: Persona, case_id: int
) -> None:
    to_analysis(client, head, technician, case_id)
    text = post_form(
        client,
        technician,
        case_id,
        "transition",
        to="minor_repair",
        f_findings_software="x",
        f_findings_database="x",
        f_findings_hardware="x",
        f_classification="huge",
    )
    label = '"Tingkat kerusakan (Fault classification)"'
    assert (
        f"kolom {label}: nilai 'huge' tidak valid; pilih salah satu dari minor, severe"
    ) in text
    assert (
        f"(field {label}: invalid value 'huge'; expected one of minor, severe)"
    ) in text


def test_wrong_role_in_indonesian(
    client: FlaskClient, head: Persona, technician: Persona, case_id: int
) -> None:
    assert move(client, head, case_id, "assignment").status_code == 200
    text = post_form(
        client,
        technician,
        case_id,
        "transition",
        to="analysis",
        f_technician=technician.name,
    )
    assert (
        f"peran 'technician' tidak boleh menyelesaikan tahap {ASSIGNMENT}; "
        "peran yang boleh: head, admin"
    ) in text
    assert (
        f"(role 'technician' may not complete step {ASSIGNMENT}; "
        "allowed roles: head, admin)"
    ) in text


def test_other_technician_in_indonesian(
    client: FlaskClient,
    head: Persona,
    technician: Persona,
    other_technician: Persona,
    case_id: int,
) -> None:
    to_analysis(client, head, technician, case_id)
    text = post_form(
        client,
        other_technician,
        case_id,
        "close",
        resolution="false_alarm",
        reason="not a fault",
    )
    assert (
        f"kasus {case_id} ditugaskan kepada teknisi 'technician-user'; pengguna "
        "'budi' tidak boleh menutupnya. Hanya teknisi yang ditugaskan, kepala "
        "biro atau admin yang boleh"
    ) in text
    assert (
        f"(case {case_id} is assigned to technician 'technician-user'; user 'budi' "
        "may not close it (the assigned technician, a head or an admin may))"
    ) in text


def test_move_not_allowed_in_indonesian(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    text = post_form(client, head, case_id, "transition", to="report")
    assert (
        f"tahap {RECEIVED} tidak dapat berlanjut ke {REPORT}; tahap berikutnya "
        f"yang boleh: {ASSIGNMENT}"
    ) in text
    assert (
        f"(step {RECEIVED} cannot go to {REPORT}; allowed next steps: assignment)"
    ) in text


def test_closed_case_in_indonesian(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    post_form(client, head, case_id, "close", resolution="false_alarm", reason="x")
    text = post_form(client, head, case_id, "transition", to="assignment")
    assert (
        f"kasus {case_id} sudah ditutup (false_alarm); kasus yang ditutup tidak "
        "dapat berlanjut lagi"
    ) in text
    assert (
        f"(case {case_id} is closed (false_alarm); a closed case takes no more steps)"
    ) in text


def test_future_time_in_indonesian(
    client: FlaskClient, head: Persona, technician: Persona, case_id: int
) -> None:
    to_analysis(client, head, technician, case_id)
    answer = move(client, technician, case_id, "vendor_notice", analysis("severe"))
    assert answer.status_code == 200
    text = post_form(
        client,
        technician,
        case_id,
        "transition",
        to="coordination",
        f_vendor="PT Contoh",
        f_notified_at="2026-12-05T09:00",
        f_channel="email",
    )
    label = '"Waktu pemberitahuan (Notified at)"'
    assert (
        f"kolom {label}: 2026-12-05T09:00:00+07:00 berada di masa depan, sekarang "
        "2026-12-04T14:30:00+07:00; isi waktu kejadiannya"
    ) in text
    assert (
        f"(field {label}: 2026-12-05T09:00:00+07:00 is in the future (now is "
        "2026-12-04T14:30:00+07:00); give the time it happened)"
    ) in text


def test_text_too_long_in_indonesian(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    length = MAX_COMMENT_CHARS + 1
    text = post_form(client, head, case_id, "comment", text="x" * length)
    assert (
        f"text: {length} karakter melebihi batas {MAX_COMMENT_CHARS} karakter; "
        "persingkat teksnya"
    ) in text
    assert (
        f"(text: {length} characters is longer than the maximum of "
        f"{MAX_COMMENT_CHARS}; shorten it)"
    ) in text


def test_failed_test_stage_in_indonesian(
    client: FlaskClient, clock: Clock, head: Persona, technician: Persona, case_id: int
) -> None:
    to_repair_and_test(client, clock, head, technician, case_id)
    text = post_form(
        client,
        technician,
        case_id,
        "transition",
        to="report",
        f_tests__module_and_system__result="passed",
        f_tests__evaluation__result="failed",
        f_tests__network_and_units__result="passed",
    )
    label = '"Hasil uji coba (Test results)"'
    assert (
        f"uji gagal: tahap {REPAIR} baru dapat berlanjut ke {REPORT} bila "
        f"{label} lulus (passed)"
    ) in text
    assert (
        f"(step {REPAIR} goes to {REPORT} only when tests is passed (got failed))"
    ) in text


def test_untranslated_reason_in_english(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    text = post_form(
        client,
        head,
        case_id,
        "close",
        resolution="duplicate",
        reason="same fault",
        duplicate_of=str(case_id),
    )
    assert (
        '<p class="flash error">'
        f"duplicate_of: case {case_id} cannot be a duplicate of itself</p>"
    ) in text


def test_api_reasons_stay_english(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    answer = move(client, head, case_id, "assignment", {"unit": ""})
    body = answer.get_json()
    assert answer.status_code == 422
    assert body["error"] == "missing required field 'unit' for step 'received'"
    assert body["reasons"] == ["missing required field 'unit' for step 'received'"]


def test_api_comment_too_long_stays_english(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    length = MAX_COMMENT_CHARS + 1
    answer = client.post(
        f"/api/v1/cases/{case_id}/comments",
        json={"text": "x" * length},
        headers=head.headers(),
    )
    assert answer.status_code == 422
    assert answer.get_json()["error"] == (
        f"text: {length} characters is longer than the maximum of "
        f"{MAX_COMMENT_CHARS}; shorten it"
    )


NAMES = Names(field=lambda token: f"'{token}'", step=lambda token: f"'{token}'")


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (
            "complaint 3 is closed; it takes no more steps",
            "pengaduan 3 sudah ditutup dan tidak dapat berlanjut lagi",
        ),
        (
            "complaint 3 is assigned to 'budi', not 'ani'",
            "pengaduan 3 ditugaskan kepada 'budi', bukan 'ani'",
        ),
        (
            "role 'unit' may not move a complaint from received; allowed roles: head",
            "peran 'unit' tidak boleh memindahkan pengaduan berstatus received; "
            "peran yang boleh: head",
        ),
        (
            "description: 10001 characters is longer than the maximum of 10000; "
            "shorten it",
            "description: 10001 karakter melebihi batas 10000 karakter; "
            "persingkat teksnya",
        ),
        (
            "field 'tests': missing result of stage 'evaluation'",
            "kolom 'tests': hasil tahap uji evaluation belum diisi",
        ),
    ],
)
def test_indonesian_complaint_and_report_families(reason: str, expected: str) -> None:
    assert indonesian(reason, NAMES) == expected


def test_indonesian_unknown_reason_is_none() -> None:
    assert indonesian("the body is not a JSON object", NAMES) is None
