"""The maintenance procedure applied to cases.

Each step a case takes is a StepRecord with a deadline in working time. A
transition completes the open record with the fields of its step and opens
the record of the next step. Completing the final step closes the case as
restored. Every change is also written to the case's history (CaseEvent).

Callers pass the time of each action (``at``) so that work recorded late,
or done outside office hours, keeps the time it happened.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import holidays
from flask import Flask, current_app, has_app_context
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collector import agenda
from collector.calendar import BusinessCalendar, parse_office_hours
from collector.limits import MAX_CLOSE_REASON_CHARS, MAX_COMMENT_CHARS, too_long
from collector.models import CLASSIFICATIONS, Case, CaseEvent, User, is_row_id, utcnow
from collector.models.procedure import StepRecord
from collector.workflow import END, Workflow, load_workflow
from collector.workflow.definition import Problem

logger = logging.getLogger(__name__)

EXTENSION_KEY = "pelihara.procedure"
CLOSE_RESOLUTIONS = ("false_alarm", "duplicate")
ROLES_CLOSING = ("admin", "head", "technician")
ROLES_COMMENTING = ("admin", "head", "technician", "unit", "vendor")
# Clocks of clients and servers differ a little; a later time is a mistake.
FUTURE_TOLERANCE = timedelta(minutes=5)

# Settings read by procedure_from_config: app config key -> environment variable.
CONFIG_VARIABLES = {
    "WORKFLOW_FILE": "PELIHARA_WORKFLOW_FILE",
    "OFFICE_HOURS": "PELIHARA_OFFICE_HOURS",
    "EXTRA_DAYS_OFF": "PELIHARA_EXTRA_DAYS_OFF",
    "EXTRA_WORKING_DAYS": "PELIHARA_EXTRA_WORKING_DAYS",
    "CALENDAR_TIMEZONE": "PELIHARA_CALENDAR_TIMEZONE",
    "SMTP_HOST": "PELIHARA_SMTP_HOST",
    "SMTP_PORT": "PELIHARA_SMTP_PORT",
    "SMTP_FROM": "PELIHARA_SMTP_FROM",
    "SMTP_USERNAME": "PELIHARA_SMTP_USERNAME",
    "SMTP_PASSWORD": "PELIHARA_SMTP_PASSWORD",
    "SMTP_STARTTLS": "PELIHARA_SMTP_STARTTLS",
    "NOTIFY_TO": "PELIHARA_NOTIFY_TO",
    "OVERDUE_CHECK_SECONDS": "PELIHARA_OVERDUE_CHECK_SECONDS",
}


class ProcedureConfigError(ValueError):
    """A procedure setting that cannot be used."""


class TransitionRefused(Exception):
    """A procedure action that is not allowed, with the HTTP status it maps to.

    The statuses are 403 for a role that may not act and 404 for a missing
    case. A move the procedure does not allow from here, or any move on a
    closed case, is 409, and missing or invalid fields are 422.
    """

    def __init__(
        self,
        status: int,
        reason: str,
        reasons: list[str] | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.reasons = reasons or [reason]
        self.field = field


@dataclass(frozen=True)
class SmtpSettings:
    """Mail settings for overdue notices; repr() leaves the password out."""

    host: str
    port: int = 25
    sender: str = "pelihara@localhost"
    recipients: tuple[str, ...] = ()
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout_seconds: float = 10.0


@dataclass
class Procedure:
    """The workflow, the calendar and the notice settings of one collector."""

    workflow: Workflow
    calendar: BusinessCalendar
    smtp: SmtpSettings | None = None
    clock: Callable[[], datetime] = utcnow


_default: Procedure | None = None


def _setting(config: Mapping[str, Any], key: str) -> Any:
    value = config.get(key)
    if value is None or value == "":
        value = os.environ.get(CONFIG_VARIABLES[key]) or None
    return value


def _dates(key: str, value: Any) -> list[date]:
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    result = []
    for item in items:
        if isinstance(item, date):
            result.append(item)
            continue
        text = str(item).strip()
        if not text:
            continue
        try:
            result.append(date.fromisoformat(text))
        except ValueError:
            raise ProcedureConfigError(
                f"{key} ({CONFIG_VARIABLES[key]}): invalid date {text!r}; "
                "expected YYYY-MM-DD separated by commas"
            ) from None
    return result


def procedure_from_config(config: Mapping[str, Any]) -> Procedure:
    """Build the Procedure from app config keys, else environment variables."""
    workflow = load_workflow(_setting(config, "WORKFLOW_FILE"))

    office_hours = _setting(config, "OFFICE_HOURS")
    days_off = _dates("EXTRA_DAYS_OFF", _setting(config, "EXTRA_DAYS_OFF"))
    working_days = _dates("EXTRA_WORKING_DAYS", _setting(config, "EXTRA_WORKING_DAYS"))
    try:
        calendar = BusinessCalendar(
            office_hours=(
                parse_office_hours(office_hours)
                if isinstance(office_hours, str)
                else office_hours
            ),
            timezone=_setting(config, "CALENDAR_TIMEZONE") or "Asia/Jakarta",
            extra_days_off=days_off,
            extra_working_days=working_days,
        )
    except ValueError as error:
        raise ProcedureConfigError(f"calendar settings: {error}") from None

    smtp = None
    host = _setting(config, "SMTP_HOST")
    if host:
        port_text = _setting(config, "SMTP_PORT") or 25
        try:
            port = int(port_text)
        except ValueError:
            raise ProcedureConfigError(
                f"SMTP_PORT (PELIHARA_SMTP_PORT): invalid port {port_text!r}; "
                "expected a number such as 25 or 587"
            ) from None
        recipients = _setting(config, "NOTIFY_TO") or ()
        if isinstance(recipients, str):
            recipients = [part.strip() for part in recipients.split(",")]
        smtp = SmtpSettings(
            host=host,
            port=port,
            sender=_setting(config, "SMTP_FROM") or "pelihara@localhost",
            recipients=tuple(r for r in recipients if r),
            starttls=str(_setting(config, "SMTP_STARTTLS") or "").lower()
            in ("1", "true", "yes"),
            username=_setting(config, "SMTP_USERNAME"),
            password=_setting(config, "SMTP_PASSWORD"),
        )

    clock = config.get("PROCEDURE_CLOCK") or utcnow
    return Procedure(workflow=workflow, calendar=calendar, smtp=smtp, clock=clock)


def init_app(app: Flask) -> Procedure:
    """Load the procedure settings of `app` and keep them in its extensions."""
    procedure = procedure_from_config(app.config)
    app.extensions[EXTENSION_KEY] = procedure
    logger.info(
        "procedure uses workflow %s, %d working minutes a day, email %s",
        procedure.workflow.source,
        procedure.calendar.day_minutes,
        f"via {procedure.smtp.host}:{procedure.smtp.port}" if procedure.smtp else "off",
    )
    _warn_unknown_joint_leave(procedure)
    return procedure


def _warn_unknown_joint_leave(procedure: Procedure) -> None:
    # Joint leave days are decreed year by year, and a holidays release
    # lists only the decrees made before it. Without them, deadlines count
    # those days as working days.
    calendar = procedure.calendar
    if not calendar.use_holidays:
        return
    year = procedure.clock().astimezone(calendar.timezone).year
    if not calendar.has_joint_leave_days(year):
        logger.warning(
            "holidays %s lists no joint leave days (cuti bersama) for %d; "
            "upgrade the holidays package or add them to EXTRA_DAYS_OFF "
            "(PELIHARA_EXTRA_DAYS_OFF)",
            holidays.__version__,
            year,
        )


def current_procedure() -> Procedure:
    """Return the procedure of the current app, else the packaged default."""
    global _default
    if has_app_context() and EXTENSION_KEY in current_app.extensions:
        return current_app.extensions[EXTENSION_KEY]
    if _default is None:
        logger.warning(
            "procedure used outside a collector app: using the packaged workflow "
            "and the default calendar, not the configured ones"
        )
        _default = Procedure(workflow=load_workflow(), calendar=BusinessCalendar())
    return _default


def actor_of(user: User) -> str:
    """Return how a user is named in the history."""
    return f"user:{user.name}"


def local_iso(procedure: Procedure, value: datetime | None) -> str | None:
    """Render a timestamp in the calendar's zone, ISO 8601 with its offset."""
    if value is None:
        return None
    return value.astimezone(procedure.calendar.timezone).isoformat()


# --- records ---------------------------------------------------------------


def records_of(session: Session, case: Case) -> list[StepRecord]:
    """Return all step records of a case, oldest first."""
    return list(
        session.scalars(
            select(StepRecord)
            .where(StepRecord.case_id == case.id)
            .order_by(StepRecord.id)
        )
    )


def open_record(session: Session, case: Case) -> StepRecord | None:
    """Return the record of the step the case is on, if it has one."""
    return session.scalar(
        select(StepRecord)
        .where(StepRecord.case_id == case.id, StepRecord.completed_at.is_(None))
        .order_by(StepRecord.id.desc())
        .limit(1)
    )


def notified_vendor(session: Session, case: Case) -> str | None:
    """Return the vendor recorded at the latest vendor notification of a case."""
    record = session.scalar(
        select(StepRecord)
        .where(
            StepRecord.case_id == case.id,
            StepRecord.step == "vendor_notice",
            StepRecord.completed_at.is_not(None),
        )
        .order_by(StepRecord.id.desc())
        .limit(1)
    )
    if record is None:
        return None
    return record.fields.get("vendor")


def _same(left: str | None, right: str | None) -> bool:
    if not left or not right:
        return False
    return left.strip().casefold() == right.strip().casefold()


def can_view(session: Session, user: User, case: Case) -> bool:
    """Return whether `user` may see `case`: units and vendors see their own."""
    if user.role == "unit":
        return _same(user.unit, case.unit)
    if user.role == "vendor":
        return _same(user.vendor, notified_vendor(session, case))
    return True


def add_event(
    session: Session,
    case: Case,
    kind: str,
    actor: str,
    at: datetime,
    detail: dict[str, Any],
) -> CaseEvent:
    """Append one entry to the case history."""
    event = CaseEvent(case=case, kind=kind, actor=actor, at=at, detail=detail)
    session.add(event)
    return event


def _new_record(
    session: Session,
    procedure: Procedure,
    case: Case,
    step_id: str,
    at: datetime,
    *,
    round_number: int,
    attempt: int = 1,
    deadline_of: StepRecord | None = None,
    fields: dict[str, Any] | None = None,
) -> StepRecord:
    step = procedure.workflow.step(step_id)
    standard = step.time_standard(case.source)
    if deadline_of is not None:
        clock_started_at = deadline_of.clock_started_at
        due_at = deadline_of.due_at
    else:
        clock_started_at = procedure.calendar.clock_start(at)
        due_at = procedure.calendar.add_working_time(at, standard)
    record = StepRecord(
        case=case,
        step=step.id,
        party=step.party,
        round=round_number,
        attempt=attempt,
        started_at=at,
        clock_started_at=clock_started_at,
        due_at=due_at,
        time_standard=str(standard),
        fields=fields or {},
    )
    session.add(record)
    case.step = step.id
    return record


def _first_fields(procedure: Procedure, case: Case) -> dict[str, Any]:
    known = {field.id for field in procedure.workflow.first.fields}
    candidates = {
        "source": case.source if case.source in procedure.workflow.sources else None,
        "application": case.application,
        "unit": case.unit,
    }
    return {
        key: value
        for key, value in candidates.items()
        if key in known and value is not None
    }


def fill_missing_fields(
    session: Session,
    case: Case,
    values: Mapping[str, str],
    procedure: Procedure | None = None,
) -> dict[str, str]:
    """Record `application` and `unit` from `values` where the case has none.

    Only a case still on the first step takes them, on the case row and on
    the open record, so the recorded step and the case stay alike. A value
    that a person typed, kept on the case row by `_copy_to_case`, is never
    replaced. Return the values recorded.
    """
    procedure = procedure or current_procedure()
    first = procedure.workflow.first
    record = open_record(session, case)
    if record is None or record.step != first.id:
        return {}
    known = {field.id for field in first.fields}
    filled: dict[str, str] = {}
    for key in ("application", "unit"):
        value = values.get(key)
        if value is None or getattr(case, key) is not None or key in record.fields:
            continue
        setattr(case, key, value)
        filled[key] = value
    recorded = {key: value for key, value in filled.items() if key in known}
    if recorded:
        # A new dict, so that SQLAlchemy detects the change of the JSON column.
        record.fields = {**record.fields, **recorded}
    return filled


def start_case(
    session: Session,
    case: Case,
    at: datetime,
    fields: Mapping[str, Any] | None = None,
    procedure: Procedure | None = None,
) -> StepRecord:
    """Put a new case on the first step; its clock starts at `at`."""
    procedure = procedure or current_procedure()
    values = _first_fields(procedure, case)
    values.update({k: v for k, v in (fields or {}).items() if v is not None})
    record = _new_record(
        session,
        procedure,
        case,
        procedure.workflow.first.id,
        at,
        round_number=1,
        fields=values,
    )
    logger.info(
        "case %s starts at step %s, due %s",
        case.id,
        record.step,
        record.due_at.isoformat(),
    )
    return record


def _round_summary(records: list[StepRecord], round_number: int) -> dict[str, Any]:
    summary: dict[str, Any] = {"round": round_number, "steps": []}
    for record in records:
        if record.round != round_number:
            continue
        summary["steps"].append(
            {
                "step": record.step,
                "record_id": record.id,
                "completed_at": record.completed_at.isoformat()
                if record.completed_at
                else None,
                "actor": record.actor,
            }
        )
        for key in ("technician", "classification", "root_cause", "report", "vendor"):
            if key in record.fields:
                summary[key] = record.fields[key]
    return summary


def reopen_case(
    session: Session,
    case: Case,
    at: datetime,
    procedure: Procedure | None = None,
) -> StepRecord:
    """Start a new round at the first step for a reopened case.

    The records of the earlier round stay, and an "earlier_work" event
    points to them, with the technician, classification, root cause and
    report found then.
    """
    procedure = procedure or current_procedure()
    records = records_of(session, case)
    for record in records:
        if record.completed_at is None:
            record.completed_at = at
            record.next_step = agenda.REOPENED

    previous_round = max((record.round for record in records), default=0)
    first = procedure.workflow.first.id
    earlier_first = next(
        (r for r in reversed(records) if r.step == first and r.round == previous_round),
        None,
    )
    values = _first_fields(procedure, case)
    if earlier_first is not None:
        values = {**earlier_first.fields, **values}

    summary = _round_summary(records, previous_round)
    record = _new_record(
        session,
        procedure,
        case,
        first,
        at,
        round_number=previous_round + 1,
        fields=values,
    )
    case.classification = None
    add_event(session, case, "earlier_work", "system", at, summary)
    logger.info(
        "case %s reopened: round %d starts at step %s",
        case.id,
        previous_round + 1,
        first,
    )
    return record


# --- acting on a case -------------------------------------------------------


def _check_user_fields(
    session: Session, procedure: Procedure, step_id: str, fields: Mapping[str, Any]
) -> list[Problem]:
    problems = []
    for spec in procedure.workflow.step(step_id).fields:
        if spec.type != "user" or not isinstance(fields.get(spec.id), str):
            continue
        name = fields[spec.id]
        user = session.scalar(select(User).where(User.name == name))
        if user is None or not user.active:
            problems.append(
                Problem(spec.id, f"field {spec.id!r}: no active user {name!r}")
            )
        elif spec.user_role and user.role != spec.user_role:
            problems.append(
                Problem(
                    spec.id,
                    f"field {spec.id!r}: user {name!r} has role {user.role!r}; "
                    f"expected a user with role {spec.user_role!r}",
                )
            )
    return problems


def future_problems(
    procedure: Procedure, step_id: str, fields: Mapping[str, Any], now: datetime
) -> list[Problem]:
    """Return the date and datetime values of a step that lie after `now`.

    A datetime may be up to FUTURE_TOLERANCE ahead, for clock skew, and a
    date may be today in the calendar's zone. Fields marked ``planned`` may
    lie in the future.
    """
    today = now.astimezone(procedure.calendar.timezone).date()
    problems = []
    for spec in procedure.workflow.step(step_id).fields:
        value = fields.get(spec.id)
        if spec.planned or not isinstance(value, str):
            continue
        if spec.type == "datetime":
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                continue
            if parsed.utcoffset() is not None and parsed > now + FUTURE_TOLERANCE:
                problems.append(
                    Problem(
                        spec.id,
                        f"field {spec.id!r}: {value} is in the future (now is "
                        f"{local_iso(procedure, now.replace(microsecond=0))}); "
                        "give the time it happened",
                    )
                )
        elif spec.type == "date":
            try:
                parsed_date = date.fromisoformat(value)
            except ValueError:
                continue
            if parsed_date > today:
                problems.append(
                    Problem(
                        spec.id,
                        f"field {spec.id!r}: {value} is in the future (today is "
                        f"{today.isoformat()}); give the date it happened",
                    )
                )
    return problems


def value_problems(
    session: Session,
    procedure: Procedure,
    step_id: str,
    fields: Mapping[str, Any],
    now: datetime,
    *,
    draft: bool = False,
) -> list[Problem]:
    """Return every problem of a step's values: types, users, future times.

    A draft may still lack required values.
    """
    problems = [
        problem
        for problem in procedure.workflow.field_problems(step_id, fields)
        if not (draft and problem.message.startswith("missing required field"))
    ]
    problems += _check_user_fields(session, procedure, step_id, fields)
    problems += future_problems(procedure, step_id, fields, now)
    return problems


def refuse_values(problems: list[Problem], status: int = 422) -> TransitionRefused:
    """Return the refusal for value problems; `field` names the first one's field."""
    messages = [problem.message for problem in problems]
    first = next((problem.field for problem in problems if problem.field), None)
    return TransitionRefused(
        status,
        "; ".join(messages),
        messages,
        field=f"fields.{first}" if first else None,
    )


def lock_case(session: Session, case: Case) -> None:
    """Lock the case row for this transaction and re-read it.

    Two people moving one case at once would otherwise both complete its
    open step. PostgreSQL makes the second wait here and then see the step
    the first moved to; SQLite transactions already run one at a time.
    """
    session.refresh(case, with_for_update=True)


def _require_open(case: Case) -> None:
    if case.status != "open":
        raise TransitionRefused(
            409,
            f"case {case.id} is closed ({case.resolution}); "
            "a closed case takes no more steps",
        )


def _check_party(session: Session, case: Case, user: User, step_id: str) -> None:
    # A vendor user acts only on cases handed to its own vendor.
    if user.role != "vendor":
        return
    vendor = notified_vendor(session, case)
    if not _same(user.vendor, vendor):
        raise TransitionRefused(
            403,
            f"user {user.name!r} of vendor {user.vendor!r} may not act on case "
            f"{case.id}: it was handed to vendor {vendor!r}",
        )


def assigned_technician(
    session: Session, procedure: Procedure, case: Case
) -> str | None:
    """Return the technician assigned in the case's current round, if any.

    The assignment is the latest completed record of this round whose step
    has a user field of role technician (``technician`` at ``assignment``
    in the default workflow).
    """
    round_number = current_round(session, case)
    completed = session.scalars(
        select(StepRecord)
        .where(
            StepRecord.case_id == case.id,
            StepRecord.round == round_number,
            StepRecord.completed_at.is_not(None),
        )
        .order_by(StepRecord.id.desc())
    )
    for record in completed:
        if not procedure.workflow.has_step(record.step):
            continue
        for spec in procedure.workflow.step(record.step).fields:
            if spec.type == "user" and spec.user_role == "technician":
                name = record.fields.get(spec.id)
                if isinstance(name, str) and name.strip():
                    return name.strip()
    return None


def _check_assignee(
    session: Session,
    procedure: Procedure,
    case: Case,
    user: User,
    action: str,
) -> None:
    # Once a technician is assigned, other technicians may only read the case
    # and comment on it. Heads and admins keep the rights of their roles.
    # `action` completes the refusal, such as "act on step 'analysis'".
    if user.role != "technician":
        return
    assigned = assigned_technician(session, procedure, case)
    if assigned is None or assigned == user.name:
        return
    raise TransitionRefused(
        403,
        f"case {case.id} is assigned to technician {assigned!r}; user "
        f"{user.name!r} may not {action} (the assigned technician, a head or "
        "an admin may)",
    )


def _current_record(session: Session, procedure: Procedure, case: Case) -> StepRecord:
    record = open_record(session, case)
    if record is None:
        # A case opened before the procedure module existed has no record.
        record = _new_record(
            session, procedure, case, case.step, case.opened_at, round_number=1
        )
        record.fields = _first_fields(procedure, case)
        session.flush()
    return record


def transition(
    session: Session,
    case: Case,
    to_step: str,
    user: User,
    fields: Mapping[str, Any] | None,
    at: datetime,
    procedure: Procedure | None = None,
) -> StepRecord:
    """Complete the case's current step with `fields` and move it to `to_step`.

    `fields` add to (and override) values already recorded for the step.
    Return the record of the new step, or the completed one when `to_step`
    is END and the case is closed as restored. Raise TransitionRefused.
    """
    procedure = procedure or current_procedure()
    lock_case(session, case)
    _require_open(case)
    record = _current_record(session, procedure, case)
    if at < record.started_at:
        raise TransitionRefused(
            422,
            f"at: {local_iso(procedure, at)} is before step {record.step!r} "
            f"started at {local_iso(procedure, record.started_at)}; give a later time",
            field="at",
        )

    merged = {**record.fields, **(fields or {})}
    merged = {key: value for key, value in merged.items() if value is not None}
    refusals = procedure.workflow.check_transition(
        record.step, to_step, user.role, merged
    )
    by_kind: dict[str, list[str]] = {}
    for refusal in refusals:
        by_kind.setdefault(refusal.kind, []).append(refusal.message)
    if "transition" in by_kind:
        raise TransitionRefused(409, by_kind["transition"][0], by_kind["transition"])
    if "role" in by_kind:
        raise TransitionRefused(403, by_kind["role"][0], by_kind["role"])
    _check_party(session, case, user, record.step)
    _check_assignee(session, procedure, case, user, f"act on step {record.step!r}")
    problems = [
        Problem(refusal.field, refusal.message)
        for refusal in refusals
        if refusal.kind == "field"
    ]
    problems += _check_user_fields(session, procedure, record.step, merged)
    problems += future_problems(procedure, record.step, merged, procedure.clock())
    if problems:
        raise refuse_values(problems)

    late = at > record.due_at
    record.fields = merged
    record.completed_at = at
    record.next_step = to_step
    record.actor = actor_of(user)
    _copy_to_case(procedure, case, record)

    detail: dict[str, Any] = {
        "from": record.step,
        "to": to_step,
        "fields": dict(fields or {}),
        "late": late,
    }
    if record.step == agenda.COORDINATION_STEP:
        discussed = agenda.discuss(
            session, procedure.workflow, record, at, actor_of(user)
        )
        if discussed:
            detail["complaints_discussed"] = discussed
    if to_step == END:
        from collector.ingest import close_case

        add_event(session, case, "transition", actor_of(user), at, detail)
        close_case(session, case, "restored", at, actor_of(user))
        # Only a workflow file changed since a complaint was placed lets a
        # case end without the meeting the complaint waits for.
        agenda.release(
            session, procedure.workflow, case, at, actor_of(user), "case closed"
        )
        logger.info("case %s restored and closed by %s", case.id, user.name)
        return record

    retry = to_step == record.step
    new = _new_record(
        session,
        procedure,
        case,
        to_step,
        at,
        round_number=record.round,
        attempt=record.attempt + 1 if retry else 1,
        deadline_of=record if retry else None,
    )
    detail["due_at"] = local_iso(procedure, new.due_at)
    add_event(session, case, "transition", actor_of(user), at, detail)
    session.flush()
    if new.step == agenda.COORDINATION_STEP:
        agenda.link_waiting(session, new, at, actor_of(user))
    logger.info(
        "case %s moved from %s to %s by %s, due %s",
        case.id,
        record.step,
        to_step,
        user.name,
        new.due_at.isoformat(),
    )
    return new


def _copy_to_case(procedure: Procedure, case: Case, record: StepRecord) -> None:
    # The case row keeps the values lists and filters need.
    if record.step == procedure.workflow.first.id:
        for key in ("application", "unit"):
            value = record.fields.get(key)
            if isinstance(value, str) and value.strip():
                setattr(case, key, value.strip()[:200])
    classification = record.fields.get("classification")
    if classification in CLASSIFICATIONS:
        case.classification = classification


def close_as(
    session: Session,
    case: Case,
    resolution: str,
    reason: str,
    user: User,
    at: datetime,
    duplicate_of: int | None = None,
) -> None:
    """Close an open case as a false alarm or a duplicate of another case."""
    from collector.ingest import close_case

    lock_case(session, case)
    _require_open(case)
    if user.role not in ROLES_CLOSING:
        raise TransitionRefused(
            403,
            f"role {user.role!r} may not close cases; allowed roles: "
            f"{', '.join(ROLES_CLOSING)}",
        )
    _check_assignee(session, current_procedure(), case, user, "close it")
    if resolution not in CLOSE_RESOLUTIONS:
        raise TransitionRefused(
            422,
            f"resolution: invalid value {resolution!r}; expected false_alarm or "
            "duplicate (a repaired case is closed by completing its last step)",
            field="resolution",
        )
    if not isinstance(reason, str) or not reason.strip():
        raise TransitionRefused(
            422, "reason: missing; say why the case is closed", field="reason"
        )
    message = too_long("reason", reason.strip(), MAX_CLOSE_REASON_CHARS)
    if message:
        raise TransitionRefused(422, message, field="reason")

    original = None
    if resolution == "duplicate":
        if not isinstance(duplicate_of, int) or isinstance(duplicate_of, bool):
            raise TransitionRefused(
                422,
                f"duplicate_of: expected the id of the original case, got "
                f"{duplicate_of!r}",
                field="duplicate_of",
            )
        if duplicate_of == case.id:
            raise TransitionRefused(
                422,
                f"duplicate_of: case {case.id} cannot be a duplicate of itself",
                field="duplicate_of",
            )
        original = session.get(Case, duplicate_of) if is_row_id(duplicate_of) else None
        if original is None:
            raise TransitionRefused(
                422,
                f"duplicate_of: case {duplicate_of} not found",
                field="duplicate_of",
            )
    elif duplicate_of is not None:
        raise TransitionRefused(
            422,
            "duplicate_of: only a case closed as duplicate names an original",
            field="duplicate_of",
        )

    record = open_record(session, case)
    if record is not None:
        record.completed_at = at
        record.next_step = f"{END}:{resolution}"
        record.actor = actor_of(user)
    close_case(session, case, resolution, at, actor_of(user), duplicate_of=original)
    add_event(
        session,
        case,
        "close_reason",
        actor_of(user),
        at,
        {"resolution": resolution, "reason": reason.strip()},
    )
    agenda.release(
        session,
        current_procedure().workflow,
        case,
        at,
        actor_of(user),
        f"case closed as {resolution}",
    )
    logger.info("case %s closed as %s by %s", case.id, resolution, user.name)


def edit_fields(
    session: Session,
    case: Case,
    step_id: str,
    fields: Mapping[str, Any],
    user: User,
    at: datetime,
    procedure: Procedure | None = None,
) -> StepRecord:
    """Change recorded values of a step of the current round.

    On the open step this saves a draft (values are type-checked, required
    ones may still be missing). On a completed step the result must stay
    complete, and a value that chose the path (a ``when`` condition) cannot
    change.
    """
    procedure = procedure or current_procedure()
    workflow = procedure.workflow
    if not workflow.has_step(step_id):
        raise TransitionRefused(422, f"step: unknown step {step_id!r}", field="step")
    if user.role not in workflow.allowed_roles(step_id):
        raise TransitionRefused(
            403,
            f"role {user.role!r} may not edit step {step_id!r}; allowed roles: "
            f"{', '.join(workflow.allowed_roles(step_id))}",
        )
    _check_party(session, case, user, step_id)
    lock_case(session, case)
    _check_assignee(session, procedure, case, user, f"act on step {step_id!r}")
    record = session.scalar(
        select(StepRecord)
        .where(StepRecord.case_id == case.id, StepRecord.step == step_id)
        .order_by(StepRecord.id.desc())
        .limit(1)
    )
    if record is None:
        raise TransitionRefused(
            409, f"case {case.id} has not reached step {step_id!r}; nothing to edit"
        )

    merged = {**record.fields, **fields}
    merged = {key: value for key, value in merged.items() if value is not None}
    draft = record.completed_at is None
    problems = value_problems(session, procedure, step_id, merged, at, draft=draft)
    if not draft:
        problems += _path_changes(workflow, step_id, record.fields, merged)
    if problems:
        status = 409 if any("chose the path" in p.message for p in problems) else 422
        raise refuse_values(problems, status)

    changed = {
        key: {"from": record.fields.get(key), "to": merged.get(key)}
        for key in set(record.fields) | set(merged)
        if record.fields.get(key) != merged.get(key)
    }
    record.fields = merged
    _copy_to_case(procedure, case, record)
    add_event(
        session,
        case,
        "edit",
        actor_of(user),
        at,
        {"step": step_id, "record_id": record.id, "changed": changed},
    )
    return record


def _path_changes(
    workflow: Workflow,
    step_id: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
) -> list[Problem]:
    step = workflow.step(step_id)
    deciding = {key for entry in step.next for key in (entry.when or {})}
    return [
        Problem(
            key,
            f"field {key!r} chose the path of a completed step and cannot change; "
            "close the case as false_alarm and report it again if it was wrong",
        )
        for key in sorted(deciding)
        if before.get(key) != after.get(key)
    ]


def comment(session: Session, case: Case, user: User, text: str, at: datetime) -> None:
    """Add a comment to the case history."""
    if user.role not in ROLES_COMMENTING:
        raise TransitionRefused(
            403,
            f"role {user.role!r} may not comment; allowed roles: "
            f"{', '.join(ROLES_COMMENTING)}",
        )
    if not isinstance(text, str) or not text.strip():
        raise TransitionRefused(422, "text: missing; write the comment", field="text")
    message = too_long("text", text.strip(), MAX_COMMENT_CHARS)
    if message:
        raise TransitionRefused(422, message, field="text")
    add_event(session, case, "comment", actor_of(user), at, {"text": text.strip()})


def current_round(session: Session, case: Case) -> int:
    """Return the number of the round the case is in (1 before any reopening)."""
    value = session.scalar(
        select(func.max(StepRecord.round)).where(StepRecord.case_id == case.id)
    )
    return value or 1
