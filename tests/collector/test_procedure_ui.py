"""The procedure in the web UI: case panel, step forms, reports, complaints."""

from __future__ import annotations

import html
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from collector.procedure_status import run_overdue_check

from .conftest import Persona, login
from .procedure_support import (
    VENDOR_NOTICE,
    Clock,
    analysis,
    file_report,
    move,
    stages,
    start_clock,
    to_repair_and_test,
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


def page(client: FlaskClient, path: str) -> str:
    answer = client.get(path)
    assert answer.status_code == 200, answer.status_code
    return html.unescape(answer.get_data(as_text=True))


def test_panel_marks_current_step(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    login(client, head)
    text = page(client, f"/cases/{case_id}")
    assert 'class="step current" data-step="received"' in text
    assert "Laporan kerusakan diterima" in text


def test_panel_shows_deadline(client: FlaskClient, head: Persona, case_id: int) -> None:
    login(client, head)
    assert "2026-12-07 14:00 WIB" in page(client, f"/cases/{case_id}")


def test_panel_marks_overdue(
    client: FlaskClient, clock: Clock, head: Persona, case_id: int
) -> None:
    login(client, head)
    clock.now = wib(2026, 12, 7, 15)
    assert "terlambat (overdue)" in page(client, f"/cases/{case_id}")


def test_list_shows_step_due(client: FlaskClient, head: Persona, case_id: int) -> None:
    login(client, head)
    text = page(client, "/")
    row = text[text.index(f'href="/cases/{case_id}"') :]
    row = row[: row.index("</tr>")]
    assert '<td class="due"><time datetime="2026-12-07T07:00:00+00:00">' in row
    assert "2026-12-07 14:00 WIB" in row
    assert "terlambat (overdue)" not in row


def test_list_marks_overdue(
    client: FlaskClient, clock: Clock, head: Persona, case_id: int
) -> None:
    login(client, head)
    clock.now = wib(2026, 12, 7, 15)
    text = page(client, "/")
    assert '<span class="badge overdue">terlambat (overdue)</span>' in text


def test_list_closed_case_has_no_due(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    answer = client.post(
        f"/api/v1/cases/{case_id}/close",
        json={"resolution": "false_alarm", "reason": "not a fault"},
        headers=head.headers(),
    )
    assert answer.status_code == 200
    login(client, head)
    text = page(client, "/")
    assert '<td class="due">-</td>' in text


def test_panel_shows_time_total(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    login(client, head)
    text = page(client, f"/cases/{case_id}")
    start = text.index('<p class="time-total">')
    paragraph = " ".join(text[start : text.index("</p>", start)].split())
    # Received Friday 14:00 with 1 day (510 min) allowed, now Friday 14:30.
    assert 'Biro <span class="en">(bureau)</span> 0 j 30 m / 8 j 00 m' in paragraph
    assert 'pengembang <span class="en">(vendor)</span> 0 j 00 m / 0 j 00 m' in (
        paragraph
    )
    assert 'semua <span class="en">(all)</span> 0 j 30 m / 8 j 00 m' in paragraph


def test_panel_offers_next_steps(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    login(client, head)
    text = page(client, f"/cases/{case_id}")
    assert 'name="to" value="assignment"' in text
    assert 'name="f_letter_number"' in text


def test_panel_no_form_for_viewer(
    client: FlaskClient, viewer: Persona, case_id: int
) -> None:
    login(client, viewer)
    text = page(client, f"/cases/{case_id}")
    assert 'name="to"' not in text
    assert "this step is done by" in text


def test_form_moves_case(client: FlaskClient, head: Persona, case_id: int) -> None:
    token = login(client, head)
    answer = client.post(
        f"/cases/{case_id}/procedure/transition",
        data={"csrf_token": token, "to": "assignment"},
    )
    assert answer.status_code == 303
    body = client.get(f"/api/v1/cases/{case_id}", headers=head.headers()).get_json()
    assert body["step"] == "assignment"


def test_form_requires_csrf(client: FlaskClient, head: Persona, case_id: int) -> None:
    login(client, head)
    answer = client.post(
        f"/cases/{case_id}/procedure/transition", data={"to": "assignment"}
    )
    assert answer.status_code == 400


def test_form_refusal_flashed(client: FlaskClient, head: Persona, case_id: int) -> None:
    token = login(client, head)
    client.post(
        f"/cases/{case_id}/procedure/transition",
        data={"csrf_token": token, "to": "report"},
    )
    text = page(client, f"/cases/{case_id}")
    assert (
        'step "Laporan kerusakan diterima (Damage report received)" cannot go to '
        '"Laporan hasil perbaikan dan pemeliharaan (Repair and maintenance report)"'
        "; allowed next steps: assignment"
    ) in text


def test_form_emptied_field_refused(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    token = login(client, head)
    # The form shows the application copied from the damage report; the head
    # empties it, as a browser sends an emptied input.
    client.post(
        f"/cases/{case_id}/procedure/transition",
        data={"csrf_token": token, "to": "assignment", "f_application": ""},
    )
    text = page(client, f"/cases/{case_id}")
    body = client.get(f"/api/v1/cases/{case_id}", headers=head.headers()).get_json()
    assert body["step"] == "received"
    assert 'missing required field "Aplikasi (Application)"' in text
    assert '<textarea name="f_application" rows="2" maxlength="200"></textarea>' in (
        text
    )


def test_form_absent_field_keeps_value(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    token = login(client, head)
    client.post(
        f"/cases/{case_id}/procedure/transition",
        data={"csrf_token": token, "to": "assignment"},
    )
    body = client.get(f"/api/v1/cases/{case_id}", headers=head.headers()).get_json()
    assert body["steps"][0]["fields"]["application"] == "SIMPEG"


def test_form_refusal_keeps_role_name(
    client: FlaskClient, head: Persona, technician: Persona, case_id: int
) -> None:
    move(client, head, case_id, "assignment")
    token = login(client, technician)
    client.post(
        f"/cases/{case_id}/procedure/transition",
        data={"csrf_token": token, "to": "analysis", "f_technician": technician.name},
    )
    text = page(client, f"/cases/{case_id}")
    assert (
        "role 'technician' may not complete step \"Penugasan oleh Kepala Biro "
        '(Assignment by the head of bureau)"; allowed roles: head, admin'
    ) in text


def test_form_user_field_lists_technicians(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    move(client, head, case_id, "assignment")
    login(client, head)
    text = page(client, f"/cases/{case_id}")
    assert '<option value="technician-user"' in text
    assert '<option value="head-user"' not in text


def test_form_typed_fields(
    client: FlaskClient, head: Persona, technician: Persona, case_id: int
) -> None:
    move(client, head, case_id, "assignment")
    move(client, head, case_id, "analysis", {"technician": technician.name})
    token = login(client, technician)
    text = page(client, f"/cases/{case_id}")
    assert '<select name="f_classification">' in text
    answer = client.post(
        f"/cases/{case_id}/procedure/transition",
        data={
            "csrf_token": token,
            "to": "vendor_notice",
            "f_findings_software": "crash in module X",
            "f_findings_database": "ok",
            "f_findings_hardware": "ok",
            "f_classification": "severe",
        },
    )
    assert answer.status_code == 303
    notice = page(client, f"/cases/{case_id}")
    assert 'type="datetime-local" name="f_notified_at"' in notice
    assert 'type="checkbox" name="f_unit_copied"' in notice


def test_form_datetime_gets_bureau_offset(
    client: FlaskClient, head: Persona, technician: Persona, case_id: int
) -> None:
    move(client, head, case_id, "assignment")
    move(client, head, case_id, "analysis", {"technician": technician.name})
    move(
        client,
        technician,
        case_id,
        "vendor_notice",
        {
            "findings_software": "x",
            "findings_database": "x",
            "findings_hardware": "x",
            "classification": "severe",
        },
    )
    token = login(client, technician)
    client.post(
        f"/cases/{case_id}/procedure/transition",
        data={
            "csrf_token": token,
            "to": "coordination",
            "f_vendor": "PT Contoh",
            "f_notified_at": "2026-12-04T14:20",
            "f_channel": "email",
            "f_unit_copied": "1",
        },
    )
    body = client.get(f"/api/v1/cases/{case_id}", headers=head.headers()).get_json()
    notice = [view for view in body["steps"] if view["id"] == "vendor_notice"][0]
    assert notice["fields"]["notified_at"] == "2026-12-04T14:20:00+07:00"
    assert notice["fields"]["unit_copied"] is True


def test_close_form(client: FlaskClient, head: Persona, case_id: int) -> None:
    token = login(client, head)
    answer = client.post(
        f"/cases/{case_id}/procedure/close",
        data={"csrf_token": token, "resolution": "false_alarm", "reason": "test"},
    )
    assert answer.status_code == 303
    body = client.get(f"/api/v1/cases/{case_id}", headers=head.headers()).get_json()
    assert body["resolution"] == "false_alarm"


def test_comment_form(client: FlaskClient, unit_user: Persona, case_id: int) -> None:
    token = login(client, unit_user)
    client.post(
        f"/cases/{case_id}/procedure/comment",
        data={"csrf_token": token, "text": "still broken at 15:00"},
    )
    assert "still broken at 15:00" in page(client, f"/cases/{case_id}")


def test_report_form(
    client: FlaskClient, clock: Clock, unit_user: Persona, head: Persona
) -> None:
    token = login(client, unit_user)
    assert "Laporan kerusakan" in page(client, "/reports/new")
    answer = client.post(
        "/reports/new",
        data={
            "csrf_token": token,
            "application": "SIMPEG",
            "memorandum_number": "M-13/BU/2026",
            "memorandum_date": "2026-12-04",
            "received_at": "2026-12-04T13:00",
            "description": "printing fails",
        },
    )
    assert answer.status_code == 303
    listed = client.get("/api/v1/cases", headers=head.headers()).get_json()["cases"]
    assert listed[0]["unit"] == "Bagian Umum"
    detail = client.get(f"/api/v1/cases/{listed[0]['id']}", headers=head.headers())
    assert detail.get_json()["steps"][0]["started_at"] == "2026-12-04T13:00:00+07:00"


def test_report_form_missing_fields(client: FlaskClient, unit_user: Persona) -> None:
    token = login(client, unit_user)
    answer = client.post(
        "/reports/new", data={"csrf_token": token, "application": "SIMPEG"}
    )
    assert answer.status_code == 422
    assert "memorandum_number: wajib diisi (missing)" in answer.get_data(as_text=True)


def test_report_form_not_for_vendor(client: FlaskClient, vendor_user: Persona) -> None:
    login(client, vendor_user)
    assert client.get("/reports/new").status_code == 403


def test_complaint_pages(
    client: FlaskClient, unit_user: Persona, head: Persona, technician: Persona
) -> None:
    token = login(client, unit_user)
    answer = client.post(
        "/complaints/new",
        data={"csrf_token": token, "text": "export too slow", "channel": "head"},
    )
    assert answer.status_code == 303
    location = answer.headers["Location"]
    assert "export too slow" in page(client, location)
    client.post("/logout", data={"csrf_token": token})

    token = login(client, head)
    advanced = client.post(
        location + "/advance",
        data={"csrf_token": token, "to": "assigned", "assigned_to": technician.name},
    )
    assert advanced.status_code == 303
    text = page(client, location)
    assert '<dd class="complaint-status">ditugaskan (assigned)</dd>' in text
    assert "Pengaduan" in page(client, "/complaints")


def test_complaint_status_labels(
    client: FlaskClient, unit_user: Persona, head: Persona
) -> None:
    token = login(client, unit_user)
    answer = client.post(
        "/complaints/new",
        data={"csrf_token": token, "text": "export too slow", "channel": "head"},
    )
    location = answer.headers["Location"]
    client.post("/logout", data={"csrf_token": token})
    login(client, head)

    text = page(client, location)
    listing = page(client, "/complaints")

    assert '<dd class="complaint-status">diterima (received)</dd>' in text
    assert '<button type="submit">Lanjut: ditugaskan (assigned)</button>' in text
    assert "<strong>diterima (received)</strong>" in text
    assert "<td>diterima (received)</td>" in listing


def test_notifications_page(
    app: Flask, client: FlaskClient, head: Persona, case_id: int
) -> None:
    run_overdue_check(app, wib(2026, 12, 7, 14, 1))
    login(client, head)
    text = page(client, "/notifications")
    assert f"[Pelihara] Kasus {case_id}: tahap received melewati tenggat" in text


def test_unit_user_cannot_open_other_unit_case(
    client: FlaskClient, head: Persona, unit_user: Persona
) -> None:
    other = file_report(client, head, wib(2026, 12, 4, 14), unit="Biro Hukum")
    token = login(client, unit_user)
    answer = client.post(
        f"/cases/{other['id']}/procedure/comment",
        data={"csrf_token": token, "text": "x"},
    )
    assert answer.status_code == 404


def test_form_refused_keeps_values(
    client: FlaskClient, head: Persona, technician: Persona, case_id: int
) -> None:
    move(client, head, case_id, "assignment")
    move(client, head, case_id, "analysis", {"technician": technician.name})
    token = login(client, technician)
    client.post(
        f"/cases/{case_id}/procedure/transition",
        data={
            "csrf_token": token,
            "to": "minor_repair",
            "f_findings_software": "crash in the export module",
        },
    )
    text = page(client, f"/cases/{case_id}")
    assert (
        'missing required field "Tingkat kerusakan (Fault classification)" for '
        'step "Analisa sistem aplikasi (System analysis)"'
    ) in text
    assert ">crash in the export module</textarea>" in text
    # The kept values fill the form once, not on every later visit.
    assert "crash in the export module" not in page(client, f"/cases/{case_id}")


def stage_select(text: str, stage: str) -> str:
    start = text.index(f'<select name="f_tests__{stage}__result">')
    return text[start : text.index("</select>", start)]


def test_form_refused_keeps_test_stages(
    client: FlaskClient, clock: Clock, head: Persona, technician: Persona, case_id: int
) -> None:
    to_repair_and_test(client, clock, head, technician, case_id)
    token = login(client, technician)
    client.post(
        f"/cases/{case_id}/procedure/transition",
        data={
            "csrf_token": token,
            "to": "report",
            "f_tests__module_and_system__result": "passed",
            "f_tests__evaluation__result": "failed",
            "f_tests__evaluation__notes": "export still slow",
        },
    )
    text = page(client, f"/cases/{case_id}")
    assert '<option value="passed" selected>' in stage_select(text, "module_and_system")
    assert '<option value="failed" selected>' in stage_select(text, "evaluation")
    assert 'value="export still slow"' in text
    assert "selected" not in stage_select(text, "network_and_units")


def test_retry_button_and_prefilled_stages(
    client: FlaskClient, clock: Clock, head: Persona, technician: Persona, case_id: int
) -> None:
    to_repair_and_test(client, clock, head, technician, case_id)
    failed = stages("failed")
    retried = move(client, technician, case_id, "repair_and_test", {"tests": failed})
    assert retried.status_code == 200
    login(client, technician)
    text = page(client, f"/cases/{case_id}")
    assert (
        '<button type="submit" name="to" value="repair_and_test" class="retry">'
        "Ulangi: Perbaikan teknis dan uji coba bertahap "
        "(Retry: Repair and staged tests)</button>"
    ) in text
    assert (
        '<button type="submit" name="to" value="report">'
        "Lanjut: Laporan hasil perbaikan dan pemeliharaan "
        "(Repair and maintenance report)</button>"
    ) in text
    assert '<option value="passed" selected>' in stage_select(text, "module_and_system")
    assert '<option value="failed" selected>' in stage_select(text, "evaluation")
    assert 'value="slow report export"' in text
    assert '<option value="passed" selected>' in stage_select(text, "network_and_units")


def test_first_attempt_stages_empty(
    client: FlaskClient, clock: Clock, head: Persona, technician: Persona, case_id: int
) -> None:
    to_repair_and_test(client, clock, head, technician, case_id)
    login(client, technician)
    text = page(client, f"/cases/{case_id}")
    assert "selected" not in stage_select(text, "evaluation")


def test_panel_choice_labels(
    client: FlaskClient, head: Persona, technician: Persona, case_id: int
) -> None:
    move(client, head, case_id, "assignment")
    move(client, head, case_id, "analysis", {"technician": technician.name})
    login(client, technician)
    text = page(client, f"/cases/{case_id}")
    assert '<option value="minor" >ringan (minor)</option>' in text
    assert '<option value="severe" >berat (severe)</option>' in text


def test_panel_recorded_values_labelled(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    login(client, head)
    text = page(client, f"/cases/{case_id}")
    assert (
        '<span class="key">Sumber laporan (Report source)</span>: '
        "memorandum (memorandum)"
    ) in text


def test_panel_times_name_zone(
    client: FlaskClient, head: Persona, case_id: int
) -> None:
    login(client, head)
    text = page(client, f"/cases/{case_id}")
    assert '<th>Tenggat <span class="en">(Due)</span>, WIB</th>' in text
    assert "<td>2026-12-04 14:00 WIB</td>" in text


def history_pairs(app: Flask, case_id: int, kind: str) -> list[list[tuple[str, str]]]:
    from collector.db import get_database
    from collector.models import CaseEvent
    from collector.procedure_ui import event_detail

    # event_detail hides complaints by the request's user, so it needs a request.
    with app.test_request_context(), get_database(app).session() as session:
        events = session.scalars(
            select(CaseEvent)
            .where(CaseEvent.case_id == case_id, CaseEvent.kind == kind)
            .order_by(CaseEvent.id)
        ).all()
        return [event_detail(event) for event in events]


def test_history_transition_readable(
    app: Flask, client: FlaskClient, head: Persona, technician: Persona, case_id: int
) -> None:
    move(client, head, case_id, "assignment")
    move(client, head, case_id, "analysis", {"technician": technician.name})
    # PostgreSQL keeps JSON keys in its own order, so the pairs are compared as a map.
    assignment = dict(history_pairs(app, case_id, "transition")[1])
    assert assignment == {
        "Dari tahap (from step)": "Penugasan oleh Kepala Biro (Assignment by the "
        "head of bureau)",
        "Ke tahap (to step)": "Analisa sistem aplikasi (System analysis)",
        "Pelaksana yang ditugaskan (Assigned technician)": "technician-user",
        "Terlambat (late)": "Tidak (no)",
        "Tenggat (due)": "2026-12-07 08:00 WIB",
    }


def test_history_vendor_notice_readable(
    app: Flask,
    client: FlaskClient,
    clock: Clock,
    head: Persona,
    technician: Persona,
    case_id: int,
) -> None:
    move(client, head, case_id, "assignment")
    move(client, head, case_id, "analysis", {"technician": technician.name})
    clock.now = wib(2026, 12, 8, 10)
    move(client, technician, case_id, "vendor_notice", analysis("severe"))
    move(client, technician, case_id, "coordination", VENDOR_NOTICE)
    notice = dict(history_pairs(app, case_id, "transition")[-1])
    assert notice["Waktu pemberitahuan (Notified at)"] == "2026-12-07 14:00 WIB"
    assert notice["Sarana pemberitahuan (Channel)"] == "surat (letter)"
    assert notice["Tembusan ke unit kerja (Reporting unit copied)"] == "Ya (yes)"
