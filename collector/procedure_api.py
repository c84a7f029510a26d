"""JSON API of the procedure: damage reports, transitions, closing, complaints.

Errors are JSON ``{"error": ..., "reasons": [...], "field": ...}``: 403 for
a role or owner that may not act, 404 for an unknown (or hidden) case, 409
for a move the procedure does not allow from the current step or a closed
case, 422 for missing or invalid values.
"""

from __future__ import annotations

import atexit
import logging
from datetime import date, datetime
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from collector import procedure as service
from collector.api import case_detail_json, register_case_detail
from collector.auth import current_user, require_roles
from collector.complaints import (
    add_case_agenda,
    advance_complaint,
    can_view_complaint,
    case_visibility,
    complaint_json,
    create_complaint,
    upcoming_agenda,
)
from collector.db import get_session
from collector.errors import error_response
from collector.ingest import add_event
from collector.limits import (
    MAX_APPLICATION_CHARS,
    MAX_DESCRIPTION_CHARS,
    MAX_MEMORANDUM_NUMBER_CHARS,
    MAX_UNIT_CHARS,
    too_long,
)
from collector.models import Case, User
from collector.models.procedure import Complaint, Notification
from collector.procedure import (
    FUTURE_TOLERANCE,
    TransitionRefused,
    current_procedure,
    local_iso,
)
from collector.procedure_status import (
    DEFAULT_CHECK_SECONDS,
    OverdueWatcher,
    case_procedure_json,
)

logger = logging.getLogger(__name__)

bp = Blueprint("procedure_api", __name__, url_prefix="/api/v1")
ROLES_REPORTING = ("unit", "head", "technician", "admin")
ROLES_READING_AGENDA = ("admin", "head", "technician", "viewer")
WATCHER_KEY = "pelihara.overdue_watcher"


def _refused(problem: TransitionRefused) -> Response:
    return error_response(
        problem.status, problem.reason, problem.field or None, problem.reasons
    )


def _user() -> User:
    user = current_user()
    assert user is not None, "require_roles lets only authenticated users in"
    return user


def _body() -> dict[str, Any]:
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise TransitionRefused(
            400,
            "the body is not a JSON object; send one with Content-Type "
            "application/json",
        )
    return payload


def _time(body: dict[str, Any], key: str, now: datetime) -> datetime | None:
    value = body.get(key)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.utcoffset() is None:
        raise TransitionRefused(
            422,
            f"{key}: invalid time {value!r}; expected ISO 8601 with an offset, "
            "for example 2026-12-04T09:30:00+07:00",
            field=key,
        )
    if parsed > now + FUTURE_TOLERANCE:
        raise TransitionRefused(
            422,
            f"{key}: {value} is in the future; give the time it happened",
            field=key,
        )
    return parsed


def _case(case_id: int, user: User) -> Case:
    session = get_session()
    case = session.scalar(
        select(Case)
        .where(Case.id == case_id)
        .options(selectinload(Case.host), selectinload(Case.check))
    )
    if case is None or not service.can_view(session, user, case):
        # A hidden case gets the same 404 as a missing one, so ids leak nothing.
        raise TransitionRefused(404, f"case {case_id} not found")
    return case


def _answer_case(case: Case, status: int = 200) -> Response:
    session = get_session()
    session.refresh(case)
    response = jsonify(case_detail_json(case))
    response.status_code = status
    return response


def _required_text(body: dict[str, Any], key: str, limit: int) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise TransitionRefused(
            422,
            f"{key}: missing; give it as text"
            if value in (None, "")
            else f"{key}: expected text, got {value!r}",
            field=key,
        )
    message = too_long(key, value.strip(), limit)
    if message:
        raise TransitionRefused(422, message, field=key)
    return value.strip()


class _Problems:
    """Problems of a request body, collected so that one response names them all."""

    def __init__(self) -> None:
        self.refusals: list[TransitionRefused] = []

    def text(self, body: dict[str, Any], key: str, limit: int) -> str:
        try:
            return _required_text(body, key, limit)
        except TransitionRefused as problem:
            self.refusals.append(problem)
            return ""

    def add(self, problem: TransitionRefused) -> None:
        self.refusals.append(problem)

    def raise_any(self) -> None:
        if not self.refusals:
            return
        # A 403 (reporting for another unit) outranks missing values.
        status = max(problem.status for problem in self.refusals)
        reasons = [problem.reason for problem in self.refusals]
        raise TransitionRefused(
            status,
            "; ".join(reasons),
            reasons,
            field=self.refusals[0].field,
        )


def _past_date(key: str, value: str, today: date) -> TransitionRefused | None:
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or len(value) != 10:
        return TransitionRefused(
            422,
            f"{key}: invalid date {value!r}; expected YYYY-MM-DD, "
            "for example 2026-12-04",
            field=key,
        )
    if parsed > today:
        return TransitionRefused(
            422,
            f"{key}: {value} is in the future (today is {today.isoformat()}); "
            "give the date of the letter",
            field=key,
        )
    return None


@bp.errorhandler(TransitionRefused)
def _handle_refused(problem: TransitionRefused) -> Response:
    get_session().rollback()
    return _refused(problem)


@bp.post("/cases")
@require_roles(*ROLES_REPORTING)
def create_damage_report() -> Response:
    user = _user()
    procedure = current_procedure()
    now = procedure.clock()
    body = _body()

    problems = _Problems()
    application = problems.text(body, "application", MAX_APPLICATION_CHARS)
    number = problems.text(body, "memorandum_number", MAX_MEMORANDUM_NUMBER_CHARS)
    letter_date = problems.text(body, "memorandum_date", 10)
    today = now.astimezone(procedure.calendar.timezone).date()
    if letter_date:
        refusal = _past_date("memorandum_date", letter_date, today)
        if refusal is not None:
            problems.add(refusal)
    description = problems.text(body, "description", MAX_DESCRIPTION_CHARS)
    if user.role == "unit":
        unit = body.get("unit") or user.unit
        if unit != user.unit:
            problems.add(
                TransitionRefused(
                    403,
                    f"unit: user {user.name!r} belongs to {user.unit!r} and may not "
                    f"report for {unit!r}",
                    field="unit",
                )
            )
    else:
        unit = problems.text(body, "unit", MAX_UNIT_CHARS)
    received_at = now
    try:
        received_at = _time(body, "received_at", now) or now
    except TransitionRefused as problem:
        problems.add(problem)
    problems.raise_any()

    session = get_session()
    first_line = description.splitlines()[0]
    case = Case(
        source="memorandum",
        title=f"{application}: {first_line}"[:500],
        application=application,
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
            "memorandum_number": number,
            "memorandum_date": letter_date,
            "description": description,
        },
    )
    service.start_case(
        session,
        case,
        received_at,
        {"letter_number": number, "letter_date": letter_date},
        procedure,
    )
    session.commit()
    logger.info(
        "damage report case %d for %s from unit %s by %s",
        case.id,
        application,
        unit,
        user.name,
    )
    return _answer_case(case, 201)


@bp.post("/cases/<int:case_id>/transitions")
@require_roles()
def post_transition(case_id: int) -> Response:
    user = _user()
    procedure = current_procedure()
    now = procedure.clock()
    case = _case(case_id, user)
    body = _body()
    target = body.get("to")
    if target is not None and not isinstance(target, str):
        raise TransitionRefused(
            422, f"to: expected the id of the next step, got {target!r}", field="to"
        )
    if not target:
        raise TransitionRefused(
            422, "to: missing; give the id of the next step", field="to"
        )
    fields = body.get("fields", {})
    if not isinstance(fields, dict):
        raise TransitionRefused(
            422, f"fields: expected an object, got {fields!r}", field="fields"
        )
    at = _time(body, "at", now) or now

    session = get_session()
    service.transition(session, case, target, user, fields, at, procedure)
    session.commit()
    return _answer_case(case)


@bp.post("/cases/<int:case_id>/close")
@require_roles()
def post_close(case_id: int) -> Response:
    user = _user()
    procedure = current_procedure()
    now = procedure.clock()
    case = _case(case_id, user)
    body = _body()
    at = _time(body, "at", now) or now
    session = get_session()
    service.close_as(
        session,
        case,
        body.get("resolution"),
        body.get("reason"),
        user,
        at,
        body.get("duplicate_of"),
    )
    session.commit()
    return _answer_case(case)


@bp.post("/cases/<int:case_id>/fields")
@require_roles()
def post_fields(case_id: int) -> Response:
    user = _user()
    procedure = current_procedure()
    case = _case(case_id, user)
    body = _body()
    step = body.get("step", case.step)
    fields = body.get("fields")
    if not isinstance(fields, dict) or not fields:
        raise TransitionRefused(
            422, "fields: expected an object with the values to change", field="fields"
        )
    session = get_session()
    service.edit_fields(session, case, step, fields, user, procedure.clock(), procedure)
    session.commit()
    return _answer_case(case)


@bp.post("/cases/<int:case_id>/comments")
@require_roles()
def post_comment(case_id: int) -> Response:
    user = _user()
    case = _case(case_id, user)
    body = _body()
    session = get_session()
    service.comment(session, case, user, body.get("text"), current_procedure().clock())
    session.commit()
    return _answer_case(case, 201)


@bp.get("/cases/<int:case_id>/steps")
@require_roles()
def get_steps(case_id: int) -> Response:
    user = _user()
    case = _case(case_id, user)
    session = get_session()
    body = case_procedure_json(session, case)
    add_case_agenda(session, case, body, user, _iso)
    return jsonify(body)


@bp.get("/workflow")
@require_roles()
def get_workflow() -> Response:
    procedure = current_procedure()
    workflow = procedure.workflow
    return jsonify(
        {
            "source": workflow.source,
            "day_minutes": procedure.calendar.day_minutes,
            "steps": [
                {
                    "id": step.id,
                    "name": step.name,
                    "name_en": step.name_en,
                    "party": step.party,
                    "roles": list(workflow.allowed_roles(step.id)),
                    "time_standard": {
                        source: str(duration)
                        for source, duration in step.time_standards.items()
                    },
                    "next": list(step.targets),
                    "final": step.final,
                    "fields": [spec.id for spec in step.fields],
                }
                for step in workflow.steps
            ],
        }
    )


@bp.get("/notifications")
@require_roles("head", "admin")
def list_notifications() -> Response:
    procedure = current_procedure()
    notices = get_session().scalars(
        select(Notification).order_by(Notification.id.desc()).limit(500)
    )
    return jsonify(
        {
            "notifications": [
                {
                    "id": notice.id,
                    "case_id": notice.case_id,
                    "record_id": notice.step_record_id,
                    "subject": notice.subject,
                    "created_at": local_iso(procedure, notice.created_at),
                    "email_sent_at": local_iso(procedure, notice.email_sent_at),
                    "email_error": notice.email_error,
                    "email_attempts": notice.email_attempts,
                }
                for notice in notices
            ]
        }
    )


# --- complaints ---------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return local_iso(current_procedure(), value)


def _complaint_answer(complaint: Complaint, user: User, status: int = 200) -> Response:
    response = jsonify(
        complaint_json(complaint, _iso, case_visibility(get_session(), user))
    )
    response.status_code = status
    return response


def _complaint(complaint_id: int, user: User) -> Complaint:
    complaint = get_session().get(Complaint, complaint_id)
    if complaint is None or not can_view_complaint(user, complaint):
        raise TransitionRefused(404, f"complaint {complaint_id} not found")
    return complaint


@bp.get("/complaints")
@require_roles()
def list_complaints() -> Response:
    user = _user()
    statement = select(Complaint).order_by(Complaint.id.desc()).limit(500)
    if user.role == "unit":
        statement = statement.where(Complaint.unit == user.unit)
    elif user.role == "vendor":
        return jsonify({"complaints": []})
    status = request.args.get("status")
    if status:
        statement = statement.where(Complaint.status == status)
    found = get_session().scalars(statement.options(selectinload(Complaint.events)))
    visible = case_visibility(get_session(), user)
    return jsonify({"complaints": [complaint_json(c, _iso, visible) for c in found]})


@bp.post("/complaints")
@require_roles()
def post_complaint() -> Response:
    user = _user()
    session = get_session()
    complaint = create_complaint(session, user, _body(), current_procedure().clock())
    session.commit()
    session.refresh(complaint)
    return _complaint_answer(complaint, user, 201)


@bp.get("/complaints/<int:complaint_id>")
@require_roles()
def get_complaint(complaint_id: int) -> Response:
    user = _user()
    return _complaint_answer(_complaint(complaint_id, user), user)


@bp.post("/complaints/<int:complaint_id>/transitions")
@require_roles()
def post_complaint_transition(complaint_id: int) -> Response:
    user = _user()
    complaint = _complaint(complaint_id, user)
    body = _body()
    session = get_session()
    advance_complaint(
        session,
        complaint,
        body.get("to"),
        user,
        body.get("fields", {}),
        current_procedure().clock(),
    )
    session.commit()
    session.refresh(complaint)
    return _complaint_answer(complaint, user)


@bp.get("/agenda")
@require_roles(*ROLES_READING_AGENDA)
def get_agenda() -> Response:
    now = current_procedure().clock()
    return jsonify(upcoming_agenda(get_session(), _user(), _iso, now))


def _detail_extension(case: Case, body: dict[str, Any]) -> None:
    session = get_session()
    body.update(case_procedure_json(session, case))
    add_case_agenda(session, case, body, _user(), _iso)


def init_app(app: Flask) -> None:
    """Load the procedure settings and register its API, UI and overdue check.

    The overdue check runs in a background thread every
    OVERDUE_CHECK_SECONDS (default 300, 0 turns it off); in testing mode it
    runs only when the setting is given.
    """
    from collector import procedure_ui

    service.init_app(app)
    app.register_blueprint(bp)
    procedure_ui.init_app(app)
    register_case_detail(app, _detail_extension)

    seconds = service._setting(app.config, "OVERDUE_CHECK_SECONDS")
    if seconds is None:
        seconds = 0 if app.testing else DEFAULT_CHECK_SECONDS
    try:
        interval = float(seconds)
    except ValueError:
        raise service.ProcedureConfigError(
            f"OVERDUE_CHECK_SECONDS (PELIHARA_OVERDUE_CHECK_SECONDS): invalid value "
            f"{seconds!r}; expected seconds, 0 turns the check off"
        ) from None
    if interval > 0:
        watcher = OverdueWatcher(app, interval)
        app.extensions[WATCHER_KEY] = watcher
        # A check cut off at exit would leave its database connection open.
        atexit.register(watcher.stop)
        watcher.start()


def stop_overdue_watcher(app: Flask, timeout: float = 30.0) -> None:
    """Stop the app's overdue thread, if any, and wait for its check to end.

    Call it before disposing the app's database engine.
    """
    watcher = app.extensions.pop(WATCHER_KEY, None)
    if watcher is None:
        return
    watcher.stop(timeout)
    atexit.unregister(watcher.stop)
