"""Web UI of the procedure: the case panel, damage reports, complaints.

Forms post back here and redirect to the page they came from, with the
outcome (or every reason a move was refused) as a flashed message.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as flask_session
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from collector import procedure as service
from collector.auth import current_user, require_roles
from collector.complaints import (
    STEPS as COMPLAINT_STEPS,
)
from collector.complaints import (
    add_case_agenda,
    advance_complaint,
    can_view_complaint,
    case_visibility,
    complaint_json,
    create_complaint,
    hide_complaints,
    upcoming_agenda,
)
from collector.db import get_session
from collector.ingest import add_event
from collector.limits import (
    COMPLAINT_LIMITS,
    DAMAGE_REPORT_LIMITS,
    template_limits,
    too_long,
)
from collector.models import Case, User
from collector.models.procedure import Complaint, Notification, StepRecord
from collector.procedure import (
    ROLES_CLOSING,
    Procedure,
    TransitionRefused,
    current_procedure,
)
from collector.procedure_ahead import runs_ahead
from collector.procedure_status import case_procedure_json
from collector.refusal_text import Names, indonesian
from collector.workflow import END, Step, Workflow
from collector.workflow.definition import Field

logger = logging.getLogger(__name__)

bp = Blueprint("procedure_ui", __name__)
ROLES_REPORTING = ("unit", "head", "technician", "admin")
# Values of a refused step form are kept in the session cookie for the next
# page, so they are not typed again. Larger drafts are dropped, because a
# browser rejects cookies over about 4 KB.
MAX_KEPT_FORM_BYTES = 2000


def _user() -> User:
    user = current_user()
    assert user is not None, "require_roles lets only authenticated users in"
    return user


def local_time(value: datetime | str | None) -> str:
    """Render a timestamp in the bureau's zone for people, e.g. 2026-12-04 10:00 WIB."""
    if value is None:
        return "-"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    zone = current_procedure().calendar.timezone
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _iso(value: datetime | None) -> str | None:
    return service.local_iso(current_procedure(), value)


def working_minutes(value: int) -> str:
    """Render working minutes as hours and minutes, e.g. 1 j 30 m."""
    sign = "-" if value < 0 else ""
    hours, minutes = divmod(abs(value), 60)
    return f"{sign}{hours} j {minutes:02d} m"


# Labels of the history's own keys; step values use their workflow names.
DETAIL_LABELS = {
    "from": "Dari tahap (from step)",
    "to": "Ke tahap (to step)",
    "late": "Terlambat (late)",
    "due_at": "Tenggat (due)",
    "resolution": "Penyelesaian (resolution)",
    "reason": "Alasan (reason)",
    "text": "Komentar (comment)",
    "step": "Tahap (step)",
    "record_id": "Catatan tahap (step record)",
    "round": "Putaran (round)",
    "steps": "Tahap (steps)",
    "memorandum_number": "Nomor memorandum (memorandum number)",
    "memorandum_date": "Tanggal memorandum (memorandum date)",
    "description": "Uraian (description)",
    "technician": "Pelaksana (technician)",
    "classification": "Tingkat kerusakan (fault classification)",
    "root_cause": "Penyebab kerusakan (root cause)",
    "report": "Laporan (report)",
    "vendor": "Pengembang/konsultan (vendor)",
    "channel": "Sarana (channel)",
    "addressed_to": "Ditujukan kepada (addressed to)",
    "assigned_to": "Ditugaskan (assigned to)",
    "follow_up": "Tindak lanjut (follow-up)",
    "agenda": "Agenda",
    "outcome": "Hasil (outcome)",
    "agenda_case_id": "Menunggu rapat kasus (waiting for the meeting of case)",
    "meeting_case_id": "Rapat koordinasi kasus (coordination meeting of case)",
    "meeting_record_id": "Catatan tahap rapat (meeting step record)",
    "meeting_date": "Tanggal rapat (meeting date)",
    "from_case_id": "Semula rapat kasus (was the meeting of case)",
    "from_record_id": "Semula catatan tahap (was step record)",
    "complaints_discussed": "Pengaduan dibahas (complaints discussed)",
}
RESOLUTION_LABELS = {
    "restored": "normal kembali (restored)",
    "false_alarm": "alarm palsu (false alarm)",
    "duplicate": "duplikat (duplicate)",
}
STAGE_RESULTS = {"passed": "lulus (passed)", "failed": "gagal (failed)"}
COMPLAINT_STATUS_LABELS = {
    "received": "diterima (received)",
    "assigned": "ditugaskan (assigned)",
    "followed_up": "ditindaklanjuti (followed up)",
    "on_agenda": "dalam agenda (on the agenda)",
    "discussed": "dibahas (discussed)",
    "closed": "ditutup (closed)",
}


def complaint_status(status: str) -> str:
    """Return a complaint status for people, Indonesian then English."""
    return COMPLAINT_STATUS_LABELS.get(status, status)


_QUOTED = re.compile(r"'([A-Za-z0-9_.]+)'")


def yes_no(value: bool) -> str:
    """Render a boolean for people: Ya (yes) or Tidak (no)."""
    return "Ya (yes)" if value else "Tidak (no)"


def step_label(workflow: Workflow, step_id: Any) -> str:
    """Return a step's name for people, e.g. "Analisa sistem aplikasi (System
    analysis)"; an id the workflow does not know is shown as it is."""
    if step_id == END:
        return "Kasus ditutup (case closed)"
    if isinstance(step_id, str) and workflow.has_step(step_id):
        step = workflow.step(step_id)
        return f"{step.name} ({step.name_en})"
    return str(step_id)


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return yes_no(value)
    if value is None or value == "":
        return "-"
    if isinstance(value, Mapping):
        return ", ".join(f"{key}: {_plain(item)}" for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain(item) for item in value)
    return str(value)


def field_value(spec: Field | None, value: Any) -> str:
    """Render a recorded value of a step for people, by its field type."""
    if spec is None:
        return _plain(value)
    if spec.type == "choice" and isinstance(value, str):
        return spec.choice_label(value)
    if spec.type == "datetime" and isinstance(value, str):
        try:
            return local_time(value)
        except ValueError:
            return value
    if spec.type == "test_stages" and isinstance(value, Mapping):
        parts = []
        for stage in spec.stages:
            outcome = value.get(stage.id)
            if not isinstance(outcome, Mapping):
                continue
            text = f"{stage.name}: {STAGE_RESULTS.get(outcome.get('result'), '-')}"
            if outcome.get("notes"):
                text += f" ({outcome['notes']})"
            parts.append(text)
        return "; ".join(parts) or "-"
    return _plain(value)


def field_pairs(
    workflow: Workflow, step_id: Any, fields: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """Return a step's recorded values as (label, value) pairs for people."""
    step = (
        workflow.step(step_id)
        if isinstance(step_id, str) and workflow.has_step(step_id)
        else None
    )
    pairs = []
    for key, value in fields.items():
        spec = None
        if step is not None:
            spec = next((item for item in step.fields if item.id == key), None)
        label = spec.label if spec is not None else DETAIL_LABELS.get(key, key)
        pairs.append((label, field_value(spec, value)))
    return pairs


def event_detail(event: Any) -> list[tuple[str, str]]:
    """Return the detail of a history entry as (label, value) pairs for people.

    Step ids become step names, booleans Ya/Tidak, times the bureau's local
    time, and step values are labelled with their workflow names.
    """
    if isinstance(event, Mapping):
        detail = event.get("detail") or {}
    else:
        detail = getattr(event, "detail", None) or {}
    detail = hide_complaints(get_session(), current_user(), detail)
    workflow = current_procedure().workflow
    pairs: list[tuple[str, str]] = []
    for key, value in detail.items():
        label = DETAIL_LABELS.get(key, key)
        if key in ("from", "to", "step"):
            pairs.append((label, step_label(workflow, value)))
        elif key == "fields" and isinstance(value, Mapping):
            pairs.extend(field_pairs(workflow, detail.get("from"), value))
        elif key == "filled" and isinstance(value, Mapping):
            # Values a repeated agent result recorded on the first step.
            pairs.extend(field_pairs(workflow, workflow.first.id, value))
        elif key == "changed" and isinstance(value, Mapping):
            for name, change in field_pairs_changed(workflow, detail, value):
                pairs.append((name, change))
        elif key == "resolution":
            pairs.append((label, RESOLUTION_LABELS.get(value, _plain(value))))
        elif key == "classification" and isinstance(value, str):
            spec = _find_field(workflow, "classification")
            pairs.append((label, field_value(spec, value)))
        elif key == "steps" and isinstance(value, list):
            names = [
                step_label(workflow, item.get("step"))
                for item in value
                if isinstance(item, Mapping)
            ]
            pairs.append((label, ", ".join(names) or "-"))
        elif key.endswith("_at") and isinstance(value, str):
            try:
                pairs.append((label, local_time(value)))
            except ValueError:
                pairs.append((label, value))
        else:
            pairs.append((label, _plain(value)))
    return pairs


def field_pairs_changed(
    workflow: Workflow, detail: Mapping[str, Any], changed: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """Return the changes of an edit entry as (label, "old → new") pairs."""
    step_id = detail.get("step")
    step = workflow.step(step_id) if workflow.has_step(str(step_id)) else None
    pairs = []
    for key, change in changed.items():
        spec = None
        if step is not None:
            spec = next((item for item in step.fields if item.id == key), None)
        label = spec.label if spec is not None else key
        if isinstance(change, Mapping):
            text = (
                f"{field_value(spec, change.get('from'))} → "
                f"{field_value(spec, change.get('to'))}"
            )
        else:
            text = _plain(change)
        pairs.append((label, text))
    return pairs


def _find_field(workflow: Workflow, field_id: str) -> Field | None:
    for step in workflow.steps:
        for spec in step.fields:
            if spec.id == field_id:
                return spec
    return None


def _field_name(workflow: Workflow, step_id: str | None, token: str) -> str | None:
    # The name of a field of the step, or of one stage of its staged test
    # ("tests.evaluation" or "tests.evaluation.notes"), else None.
    if not step_id or not workflow.has_step(step_id):
        return None
    head, _, rest = token.partition(".")
    spec = next(
        (item for item in workflow.step(step_id).fields if item.id == head), None
    )
    if spec is None:
        return None
    if not rest:
        return f'"{spec.label}"'
    stage_id = rest.split(".")[0]
    stage = next((s for s in spec.stages if s.id == stage_id), None)
    if stage is None:
        return None
    return f'"{spec.label} / {stage.name} ({stage.name_en})"'


def readable_reason(workflow: Workflow, step_id: str | None, reason: str) -> str:
    """Replace the quoted field and step ids of a refusal with their names.

    The API keeps the ids, so 'classification' in an API error is
    "Tingkat kerusakan (Fault classification)" on the page. Only an id after
    the word "field", "step" or "to" is replaced, because a role or user name
    in the same message may equal a field id, as role 'technician' does.
    """

    def name(match: re.Match[str]) -> str:
        token = match.group(1)
        words_before = reason[: match.start()].split()
        word_before = words_before[-1] if words_before else ""
        if word_before == "field":
            field_name = _field_name(workflow, step_id, token)
            if field_name is not None:
                return field_name
        if word_before in ("step", "to") and workflow.has_step(token):
            return f'"{step_label(workflow, token)}"'
        return match.group(0)

    return _QUOTED.sub(name, reason)


def reason_names(workflow: Workflow, step_id: str | None) -> Names:
    """Return how ids are named in the Indonesian text of a refusal.

    Field ids are looked up in step `step_id`. An unknown id stays quoted.
    """

    def field(token: str) -> str:
        return _field_name(workflow, step_id, token) or f"'{token}'"

    def step(token: str) -> str:
        if token == END or workflow.has_step(token):
            return f'"{step_label(workflow, token)}"'
        return f"'{token}'"

    return Names(field=field, step=step)


def bilingual_reason(workflow: Workflow, step_id: str | None, reason: str) -> Markup:
    """Render a refusal reason as Indonesian, then the English in a smaller span.

    A reason without an Indonesian translation is shown in English alone.
    """
    english = readable_reason(workflow, step_id, reason)
    translated = indonesian(reason, reason_names(workflow, step_id))
    if translated is None:
        return Markup("{}").format(english)
    return Markup('{} <span class="en">({})</span>').format(translated, english)


def _flash_refusal(problem: TransitionRefused, step_id: str | None = None) -> None:
    workflow = current_procedure().workflow
    for reason in problem.reasons:
        flash(bilingual_reason(workflow, step_id, reason), "error")


def zone_name() -> str:
    """Return the short name of the calendar's zone, e.g. WIB."""
    zone = current_procedure().calendar.timezone
    return datetime.now(zone).strftime("%Z")


def form_text(form: MultiDict, key: str) -> str:
    """Return a form's text input stripped, with line breaks as LF.

    Browsers send a textarea's line breaks as CRLF but count each as one
    character for maxlength, so the limits are checked on LF text.
    """
    return form.get(key, "").replace("\r\n", "\n").strip()


def _form_value(spec: Any, form: MultiDict, zone: Any) -> Any:
    key = f"f_{spec.id}"
    if spec.type == "bool":
        return key in form
    if spec.type == "list":
        lines = [line.strip() for line in form.get(key, "").splitlines()]
        return [line for line in lines if line] or None
    if spec.type == "test_stages":
        stages = {}
        for stage in spec.stages:
            result = form.get(f"{key}__{stage.id}__result", "")
            notes = form_text(form, f"{key}__{stage.id}__notes")
            if result or notes:
                stages[stage.id] = {"result": result, "notes": notes}
        return stages or None
    text = form_text(form, key)
    if not text:
        return None
    if spec.type == "datetime":
        # datetime-local inputs carry no offset: they are the bureau's time.
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return text
        if parsed.utcoffset() is None:
            parsed = parsed.replace(tzinfo=zone)
        return parsed.isoformat()
    return text


def _submitted(spec: Any, form: MultiDict) -> bool:
    key = f"f_{spec.id}"
    if spec.type == "test_stages":
        return any(f"{key}__{stage.id}__result" in form for stage in spec.stages)
    return key in form


def form_fields(
    procedure: Procedure,
    step: Step,
    form: MultiDict,
    recorded: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the typed values of a step's form.

    Empty inputs are left out, except that an input the user emptied whose
    field has a value in `recorded` maps to None, which removes that value.
    The form shows recorded values (a draft, or those copied from a damage
    report), so emptying one must not keep it.
    """
    values = {}
    for spec in step.fields:
        value = _form_value(spec, form, procedure.calendar.timezone)
        if value is not None:
            values[spec.id] = value
        elif recorded and spec.id in recorded and _submitted(spec, form):
            values[spec.id] = None
    return values


def _visible_case(case_id: int, user: User) -> Case:
    session = get_session()
    case = session.get(Case, case_id)
    if case is None or not service.can_view(session, user, case):
        abort(404, f"Kasus {case_id} tidak ditemukan (case {case_id} not found).")
    return case


def _keep_form(case: Case, step_id: str, fields: dict[str, Any]) -> None:
    kept = {"case": case.id, "step": step_id, "fields": fields}
    if len(json.dumps(kept)) <= MAX_KEPT_FORM_BYTES:
        flask_session["procedure_form"] = kept


def _kept_form(case: Case, step_id: str) -> dict[str, Any]:
    kept = flask_session.get("procedure_form")
    if not kept or kept.get("case") != case.id or kept.get("step") != step_id:
        return {}
    flask_session.pop("procedure_form")
    return kept.get("fields", {})


def _back(case: Case) -> Response:
    return redirect(url_for("ui.case", case_id=case.id), 303)


def _target_button(workflow: Workflow, step: Step, target: str) -> str:
    """Return the text of the button that completes `step` towards `target`.

    A step that leads back to itself, such as repair after a failed test
    stage, is a retry, so its button is labelled as a retry, not a move on.
    """
    if target == END:
        return "Lanjut: Tutup kasus (close case)"
    if target == step.id:
        return f"Ulangi: {step.name} (Retry: {step.name_en})"
    following = workflow.step(target)
    return f"Lanjut: {following.name} ({following.name_en})"


def _previous_attempt_fields(session: Session, record: StepRecord) -> dict[str, Any]:
    """Return the values of the attempt before `record` at the same step.

    A retry starts a new record with no values, so its form is filled with
    the previous attempt's values, test stage results included, and people
    change only what the new attempt changed.
    """
    if record.attempt <= 1:
        return {}
    previous = session.scalar(
        select(StepRecord)
        .where(
            StepRecord.case_id == record.case_id,
            StepRecord.step == record.step,
            StepRecord.round == record.round,
            StepRecord.attempt == record.attempt - 1,
        )
        .order_by(StepRecord.id.desc())
        .limit(1)
    )
    return dict(previous.fields) if previous is not None else {}


def procedure_panel(case: Case) -> dict[str, Any]:
    """Return what the case panel template shows for `case` and the user."""
    procedure = current_procedure()
    session = get_session()
    user = current_user()
    data = case_procedure_json(session, case, procedure)
    if user is not None:
        add_case_agenda(session, case, data, user, _iso)
    workflow = procedure.workflow
    step = None
    record = None
    if case.status == "open" and workflow.has_step(case.step):
        step = workflow.step(case.step)
        record = service.open_record(session, case)

    users_by_role: dict[str, list[str]] = {}
    if step is not None:
        for spec in step.fields:
            if spec.type == "user":
                statement = select(User.name).where(User.active.is_(True))
                if spec.user_role:
                    statement = statement.where(User.role == spec.user_role)
                users_by_role[spec.id] = list(
                    session.scalars(statement.order_by(User.name))
                )

    # Once the head assigns a technician, other technicians may not act on
    # the case, so they get no forms that the service would refuse.
    assigned = service.assigned_technician(session, procedure, case)
    other_technician = bool(
        user and user.role == "technician" and assigned and assigned != user.name
    )

    rounds = sorted({view["round"] for view in data["steps"]})
    for view in data["steps"]:
        view["field_pairs"] = field_pairs(workflow, view["id"], view["fields"])
    done = {
        view["id"]
        for view in data["steps"]
        if view["round"] == max(rounds, default=1) and view["completed_at"]
    }
    return {
        **data,
        "step": step,
        "record_fields": {
            **(_previous_attempt_fields(session, record) if record else {}),
            **(record.fields if record is not None else {}),
            **(_kept_form(case, step.id) if step is not None else {}),
        },
        "targets": [
            (target, _target_button(workflow, step, target))
            for target in (step.targets if step else ())
        ],
        "assigned_technician": assigned,
        "can_act": bool(
            user
            and step
            and user.role in workflow.allowed_roles(step.id)
            and not other_technician
        ),
        "can_close": bool(
            user
            and case.status == "open"
            and user.role in ROLES_CLOSING
            and not other_technician
        ),
        "can_comment": bool(user and user.role in service.ROLES_COMMENTING),
        "users_by_role": users_by_role,
        "rounds": rounds,
        "runs_ahead": (
            runs_ahead(workflow, case.step, case.source, done)
            if case.status == "open"
            else []
        ),
    }


@bp.post("/cases/<int:case_id>/procedure/transition")
@require_roles()
def transition(case_id: int) -> Response:
    user = _user()
    procedure = current_procedure()
    case = _visible_case(case_id, user)
    session = get_session()
    target = request.form.get("to", "")
    if not procedure.workflow.has_step(case.step):
        flash(f"step {case.step!r} is not in the workflow file", "error")
        return _back(case)
    step = procedure.workflow.step(case.step)
    record = service.open_record(session, case)
    recorded = record.fields if record is not None else {}
    fields = form_fields(procedure, step, request.form, recorded)
    try:
        service.transition(
            session, case, target, user, fields, procedure.clock(), procedure
        )
        session.commit()
    except TransitionRefused as problem:
        session.rollback()
        _flash_refusal(problem, step.id)
        _keep_form(case, step.id, fields)
        return _back(case)
    flash(
        "Kasus ditutup (case closed)."
        if target == END
        else f"Tahap berikutnya (next step): {step_label(procedure.workflow, target)}",
        "info",
    )
    return _back(case)


@bp.post("/cases/<int:case_id>/procedure/close")
@require_roles()
def close(case_id: int) -> Response:
    user = _user()
    case = _visible_case(case_id, user)
    session = get_session()
    duplicate_text = request.form.get("duplicate_of", "").strip()
    try:
        duplicate_of = int(duplicate_text) if duplicate_text else None
    except ValueError:
        flash(
            f"duplicate_of: {duplicate_text!r} bukan nomor kasus (not a case id)",
            "error",
        )
        return _back(case)
    try:
        service.close_as(
            session,
            case,
            request.form.get("resolution", ""),
            form_text(request.form, "reason"),
            user,
            current_procedure().clock(),
            duplicate_of,
        )
        session.commit()
    except TransitionRefused as problem:
        session.rollback()
        _flash_refusal(problem)
        return _back(case)
    flash("Kasus ditutup (case closed).", "info")
    return _back(case)


@bp.post("/cases/<int:case_id>/procedure/comment")
@require_roles()
def comment(case_id: int) -> Response:
    user = _user()
    case = _visible_case(case_id, user)
    session = get_session()
    try:
        service.comment(
            session,
            case,
            user,
            form_text(request.form, "text"),
            current_procedure().clock(),
        )
        session.commit()
    except TransitionRefused as problem:
        session.rollback()
        _flash_refusal(problem)
    return _back(case)


@bp.route("/reports/new", methods=["GET", "POST"])
@require_roles(*ROLES_REPORTING)
def new_report() -> Any:
    user = _user()
    if request.method == "GET":
        return render_template("procedure/report_form.html", form={}, user=user)

    form = request.form
    unit = user.unit if user.role == "unit" else form.get("unit", "").strip()
    values = {
        "application": form_text(form, "application"),
        "unit": unit,
        "memorandum_number": form_text(form, "memorandum_number"),
        "memorandum_date": form_text(form, "memorandum_date"),
        "description": form_text(form, "description"),
    }
    problems = [
        f"{key}: wajib diisi (missing)" for key, value in values.items() if not value
    ]
    problems += [
        message
        for key, value in values.items()
        if (message := too_long(key, value, DAMAGE_REPORT_LIMITS[key]))
    ]
    if problems:
        workflow = current_procedure().workflow
        for message in problems:
            flash(bilingual_reason(workflow, None, message), "error")
        # A value over its limit is not sent back: the form would repeat it.
        short_values = {
            key: value
            for key, value in values.items()
            if len(value) <= DAMAGE_REPORT_LIMITS[key]
        }
        return render_template(
            "procedure/report_form.html", form=short_values, user=user
        ), 422

    procedure = current_procedure()
    received_text = form.get("received_at", "").strip()
    received_at = procedure.clock()
    if received_text:
        try:
            received_at = datetime.fromisoformat(received_text)
        except ValueError:
            flash(
                f"received_at: waktu tidak valid (invalid time) {received_text!r}",
                "error",
            )
            return render_template(
                "procedure/report_form.html", form=values, user=user
            ), 422
        if received_at.utcoffset() is None:
            received_at = received_at.replace(tzinfo=procedure.calendar.timezone)
        if received_at > procedure.clock():
            flash("received_at: waktu di masa depan (time in the future)", "error")
            return render_template(
                "procedure/report_form.html", form=values, user=user
            ), 422

    session = get_session()
    case = Case(
        source="memorandum",
        title=f"{values['application']}: {values['description'].splitlines()[0]}"[:500],
        application=values["application"],
        unit=unit,
        status="open",
        occurrences=1,
        opened_at=received_at,
        last_seen_at=received_at,
    )
    session.add(case)
    session.flush()
    add_event(
        session,
        case,
        "opened",
        service.actor_of(user),
        received_at,
        {
            "memorandum_number": values["memorandum_number"],
            "memorandum_date": values["memorandum_date"],
            "description": values["description"],
        },
    )
    try:
        service.start_case(
            session,
            case,
            received_at,
            {
                "letter_number": values["memorandum_number"],
                "letter_date": values["memorandum_date"],
            },
            procedure,
        )
        problems = service.value_problems(
            session,
            procedure,
            procedure.workflow.first.id,
            service.open_record(session, case).fields,
            procedure.clock(),
        )
        if problems:
            raise service.refuse_values(problems)
    except TransitionRefused as problem:
        session.rollback()
        _flash_refusal(problem)
        return render_template(
            "procedure/report_form.html", form=values, user=user
        ), 422
    session.commit()
    flash(f"Laporan kerusakan tercatat sebagai kasus {case.id} (report filed).", "info")
    return redirect(url_for("ui.case", case_id=case.id), 303)


@bp.get("/complaints")
@require_roles()
def complaints() -> Any:
    user = _user()
    statement = select(Complaint).order_by(Complaint.id.desc()).limit(500)
    if user.role == "unit":
        statement = statement.where(Complaint.unit == user.unit)
    elif user.role == "vendor":
        abort(403, "Vendor tidak melihat pengaduan (vendors do not see complaints).")
    found = get_session().scalars(statement).all()
    return render_template("procedure/complaints.html", complaints=found)


@bp.route("/complaints/new", methods=["GET", "POST"])
@require_roles("unit", "head", "technician", "admin")
def new_complaint() -> Any:
    user = _user()
    session = get_session()
    technicians = list(
        session.scalars(
            select(User.name)
            .where(User.role == "technician", User.active.is_(True))
            .order_by(User.name)
        )
    )
    if request.method == "GET":
        return render_template(
            "procedure/complaint_form.html", form={}, technicians=technicians
        )
    body = {
        key: form_text(request.form, key) or None
        for key in ("unit", "application", "text", "channel", "addressed_to")
    }
    body["channel"] = body["channel"] or "head"
    case_text = request.form.get("case_id", "").strip()
    if case_text.isdigit():
        body["case_id"] = int(case_text)
    try:
        complaint = create_complaint(session, user, body, current_procedure().clock())
        session.commit()
    except TransitionRefused as problem:
        session.rollback()
        _flash_refusal(problem)
        # A value over its limit is not sent back: the form would repeat it.
        short_values = {
            key: value
            for key, value in body.items()
            if not isinstance(value, str) or len(value) <= COMPLAINT_LIMITS[key]
        }
        return render_template(
            "procedure/complaint_form.html", form=short_values, technicians=technicians
        ), problem.status
    flash(f"Pengaduan {complaint.id} tercatat (complaint recorded).", "info")
    return redirect(url_for("procedure_ui.complaint", complaint_id=complaint.id), 303)


@bp.get("/complaints/<int:complaint_id>")
@require_roles()
def complaint(complaint_id: int) -> Any:
    user = _user()
    session = get_session()
    found = session.get(Complaint, complaint_id)
    if found is None or not can_view_complaint(user, found):
        abort(404, f"Pengaduan {complaint_id} tidak ditemukan (not found).")
    technicians = list(
        session.scalars(
            select(User.name)
            .where(User.role == "technician", User.active.is_(True))
            .order_by(User.name)
        )
    )
    return render_template(
        "procedure/complaint.html",
        complaint=found,
        data=complaint_json(found, _iso, case_visibility(session, user)),
        step=COMPLAINT_STEPS.get(found.status),
        technicians=technicians,
    )


@bp.post("/complaints/<int:complaint_id>/advance")
@require_roles()
def advance(complaint_id: int) -> Response:
    user = _user()
    session = get_session()
    found = session.get(Complaint, complaint_id)
    if found is None or not can_view_complaint(user, found):
        abort(404, f"Pengaduan {complaint_id} tidak ditemukan (not found).")
    fields = {
        key: form_text(request.form, key)
        for key in request.form
        if key not in ("csrf_token", "to") and form_text(request.form, key)
    }
    try:
        advance_complaint(
            session,
            found,
            request.form.get("to", ""),
            user,
            fields,
            current_procedure().clock(),
        )
        session.commit()
    except TransitionRefused as problem:
        session.rollback()
        _flash_refusal(problem)
    return redirect(url_for("procedure_ui.complaint", complaint_id=complaint_id), 303)


@bp.get("/agenda")
@require_roles("admin", "head", "technician", "viewer")
def agenda() -> Any:
    procedure = current_procedure()
    upcoming = upcoming_agenda(get_session(), _user(), _iso, procedure.clock())
    return render_template("procedure/agenda.html", upcoming=upcoming)


@bp.get("/notifications")
@require_roles("head", "admin")
def notifications() -> Any:
    found = (
        get_session()
        .scalars(select(Notification).order_by(Notification.id.desc()).limit(500))
        .all()
    )
    return render_template("procedure/notifications.html", notifications=found)


def init_app(app: Flask) -> None:
    """Register the UI blueprint and the helpers its templates use."""
    app.register_blueprint(bp)
    app.jinja_env.globals["procedure_panel"] = procedure_panel
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["working_minutes"] = working_minutes
    app.jinja_env.filters["event_detail"] = event_detail
    app.jinja_env.filters["complaint_status"] = complaint_status
    app.jinja_env.globals["zone_name"] = zone_name
    app.jinja_env.globals["max_chars"] = template_limits()
