"""Deadline status of cases: time used and left, overdue steps, notices.

The head of bureau is notified once per breach: a Notification row per
overdue step record (unique in the database), and an email when SMTP is
configured. The row is committed before the email is sent, so a collector
that crashes in between sends no email rather than two.
"""

from __future__ import annotations

import logging
import smtplib
import threading
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from collector.db import get_database
from collector.models import Case
from collector.models.procedure import Notification, StepRecord, overdue_at
from collector.procedure import (
    EXTENSION_KEY,
    Procedure,
    SmtpSettings,
    current_procedure,
    local_iso,
    records_of,
)

logger = logging.getLogger(__name__)

DEFAULT_CHECK_SECONDS = 300
# A notice whose mail failed is tried again at each check, up to this many
# times in all, so a mail server that is down for a while still gets it.
MAX_EMAIL_ATTEMPTS = 5


def _minutes(value: timedelta) -> int:
    # Whole minutes towards zero, so "1 minute left" is never rounded to 2.
    seconds = value.total_seconds()
    return int(seconds / 60)


def record_view(
    procedure: Procedure, record: StepRecord, now: datetime, case_open: bool
) -> dict[str, Any]:
    """Return one step record as the API shows it, with its deadline status."""
    workflow = procedure.workflow
    calendar = procedure.calendar
    step = workflow.step(record.step) if workflow.has_step(record.step) else None
    end = record.completed_at or now
    used = calendar.working_time_between(record.started_at, end)
    left = calendar.working_time_between(end, record.due_at)
    allowed = calendar.working_time_between(record.clock_started_at, record.due_at)
    return {
        "id": record.step,
        "record_id": record.id,
        "name": step.name if step else record.step,
        "name_en": step.name_en if step else record.step,
        "party": record.party,
        "round": record.round,
        "attempt": record.attempt,
        "time_standard": record.time_standard,
        "started_at": local_iso(procedure, record.started_at),
        "clock_started_at": local_iso(procedure, record.clock_started_at),
        "due_at": local_iso(procedure, record.due_at),
        "completed_at": local_iso(procedure, record.completed_at),
        "current": record.completed_at is None and case_open,
        "overdue": end > record.due_at,
        "working_minutes_allowed": _minutes(allowed),
        "working_minutes_used": _minutes(used),
        "working_minutes_left": _minutes(left),
        "next": record.next_step,
        "actor": record.actor,
        "fields": record.fields,
    }


def time_total(views: list[dict[str, Any]]) -> dict[str, int]:
    """Sum the working minutes allowed, used and left over step records.

    A retry shares the deadline of its step's first attempt, so only first
    attempts add to the time allowed. What is left is the time allowed minus
    the time used, negative when the steps together took longer.
    """
    allowed = sum(
        view["working_minutes_allowed"] for view in views if view["attempt"] == 1
    )
    used = sum(view["working_minutes_used"] for view in views)
    return {
        "working_minutes_allowed": allowed,
        "working_minutes_used": used,
        "working_minutes_left": allowed - used,
    }


def compliance(views: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Count steps done on time, late and overdue, bureau and vendor apart."""
    result: dict[str, dict[str, Any]] = {}
    for party in ("bureau", "vendor"):
        mine = [view for view in views if view["party"] == party]
        completed = [view for view in mine if view["completed_at"] is not None]
        on_time = [view for view in completed if not view["overdue"]]
        result[party] = {
            "steps": len(mine),
            "completed": len(completed),
            "on_time": len(on_time),
            "late": len(completed) - len(on_time),
            "overdue_open": sum(
                1 for view in mine if view["completed_at"] is None and view["overdue"]
            ),
            **time_total(mine),
            "on_time_percent": (
                round(100 * len(on_time) / len(completed), 1) if completed else None
            ),
        }
    return result


def current_step_json(procedure: Procedure, case: Case) -> dict[str, Any] | None:
    """Return the step a case is on with its fields and possible next steps."""
    if case.status != "open" or not procedure.workflow.has_step(case.step):
        return None
    step = procedure.workflow.step(case.step)
    return {
        "id": step.id,
        "name": step.name,
        "name_en": step.name_en,
        "party": step.party,
        "roles": list(procedure.workflow.allowed_roles(step.id)),
        "next": list(step.targets),
        "fields": [
            {
                "id": spec.id,
                "type": spec.type,
                "name": spec.name,
                "name_en": spec.name_en,
                "required": spec.required and not spec.required_when,
                "required_when": (
                    {k: list(v) for k, v in spec.required_when.items()}
                    if spec.required_when
                    else None
                ),
                "choices": list(spec.choices) or None,
                "user_role": spec.user_role,
                "stages": [stage.id for stage in spec.stages] or None,
            }
            for spec in step.fields
        ],
    }


def case_procedure_json(
    session: Session,
    case: Case,
    procedure: Procedure | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Return the procedure keys of a case: steps, compliance, time totals,
    current step and notices."""
    procedure = procedure or current_procedure()
    now = now or procedure.clock()
    views = [
        record_view(procedure, record, now, case.status == "open")
        for record in records_of(session, case)
    ]
    notices = session.scalars(
        select(Notification)
        .where(Notification.case_id == case.id)
        .order_by(Notification.id)
    ).all()
    return {
        "steps": views,
        "compliance": compliance(views),
        "time_total": time_total(views),
        "current_step": current_step_json(procedure, case),
        "notifications": [
            {
                "id": notice.id,
                "record_id": notice.step_record_id,
                "created_at": local_iso(procedure, notice.created_at),
                "subject": notice.subject,
                "email_sent_at": local_iso(procedure, notice.email_sent_at),
                "email_error": notice.email_error,
                "email_attempts": notice.email_attempts,
            }
            for notice in notices
        ],
    }


# --- overdue steps ----------------------------------------------------------


def overdue_records(session: Session, now: datetime) -> list[StepRecord]:
    """Return the open step records of open cases whose deadline has passed."""
    return list(
        session.scalars(
            select(StepRecord)
            .join(Case, Case.id == StepRecord.case_id)
            .where(overdue_at(now))
            .order_by(StepRecord.due_at, StepRecord.id)
        )
    )


def _notice_text(
    procedure: Procedure, record: StepRecord, case: Case
) -> tuple[str, str]:
    workflow = procedure.workflow
    step = workflow.step(record.step) if workflow.has_step(record.step) else None
    name = step.name if step else record.step
    name_en = step.name_en if step else record.step
    clock = "pengembang (vendor)" if record.party == "vendor" else "Biro (bureau)"
    subject = f"[Pelihara] Kasus {case.id}: tahap {record.step} melewati tenggat"
    body = (
        f"Kasus {case.id}: {case.title}\n"
        f"Tahap (step): {name} / {name_en} ({record.step})\n"
        f"Tenggat (due): {local_iso(procedure, record.due_at)}, "
        f"standar waktu {record.time_standard}, waktu {clock}\n"
        f"Mulai (started): {local_iso(procedure, record.started_at)}\n"
        f"Aplikasi: {case.application or '-'} · Unit kerja: {case.unit or '-'}\n"
    )
    return subject, body


def _breach_notified(session: Session, record: StepRecord) -> bool:
    # A retry after a failed test keeps the deadline of the step's first
    # attempt, so a notice for any attempt with that deadline covers it.
    notified = session.scalar(
        select(Notification.id)
        .join(StepRecord, StepRecord.id == Notification.step_record_id)
        .where(
            StepRecord.case_id == record.case_id,
            StepRecord.step == record.step,
            StepRecord.round == record.round,
            StepRecord.due_at == record.due_at,
        )
        .limit(1)
    )
    return notified is not None


def check_overdue(
    session: Session, now: datetime, procedure: Procedure | None = None
) -> list[Notification]:
    """Insert a notification for every overdue step not yet notified.

    Return the new ones. A record another process notified first is skipped,
    and so is a retry of a step whose deadline was already notified. The
    caller commits.
    """
    procedure = procedure or current_procedure()
    created = []
    for record in overdue_records(session, now):
        if _breach_notified(session, record):
            continue
        subject, body = _notice_text(procedure, record, record.case)
        try:
            with session.begin_nested():
                notice = Notification(
                    step_record_id=record.id,
                    case_id=record.case_id,
                    kind="overdue",
                    created_at=now,
                    subject=subject,
                    body=body,
                )
                session.add(notice)
                session.flush()
        except IntegrityError:
            logger.info("step record %d was notified by another process", record.id)
            continue
        logger.warning(
            "case %d: step %s overdue since %s",
            record.case_id,
            record.step,
            record.due_at.isoformat(),
        )
        created.append(notice)
    return created


def send_email(settings: SmtpSettings, notice: Notification) -> None:
    """Mail one notice to the configured recipients; raise OSError or SMTPException."""
    message = EmailMessage()
    message["Subject"] = notice.subject
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message.set_content(notice.body)
    with smtplib.SMTP(
        settings.host, settings.port, timeout=settings.timeout_seconds
    ) as client:
        if settings.starttls:
            client.starttls()
        if settings.username:
            client.login(settings.username, settings.password or "")
        client.send_message(message)


def deliver(
    session: Session, procedure: Procedure, notices: list[Notification], now: datetime
) -> None:
    """Email the notices if SMTP is configured, recording success or the error."""
    settings = procedure.smtp
    if settings is None:
        return
    for notice in notices:
        notice.email_attempts = (notice.email_attempts or 0) + 1
        if not settings.recipients:
            notice.email_error = "no recipients: set NOTIFY_TO (PELIHARA_NOTIFY_TO)"
            logger.error("notice %d not mailed: no recipients configured", notice.id)
            continue
        try:
            send_email(settings, notice)
        except (OSError, smtplib.SMTPException) as error:
            notice.email_error = f"{type(error).__name__}: {error}"[:1000]
            logger.error(
                "mailing notice %d for case %d via %s:%d failed: %s",
                notice.id,
                notice.case_id,
                settings.host,
                settings.port,
                error,
            )
            continue
        notice.email_sent_at = now
        notice.email_error = None
        logger.info("mailed notice %d for case %d", notice.id, notice.case_id)


def failed_notices(session: Session) -> list[Notification]:
    """Return and lock the notices whose mail failed and may be tried again.

    SKIP LOCKED lets another collector process retrying at the same moment
    take the other notices instead of mailing the same ones (PostgreSQL; the
    clause is not used on SQLite, whose transactions run one at a time).
    """
    return list(
        session.scalars(
            select(Notification)
            .where(
                Notification.email_sent_at.is_(None),
                Notification.email_attempts >= 1,
                Notification.email_attempts < MAX_EMAIL_ATTEMPTS,
            )
            .order_by(Notification.id)
            .with_for_update(skip_locked=True)
        )
    )


def run_overdue_check(app: Flask, now: datetime | None = None) -> list[int]:
    """Notify every new breach in the app's database; return the notice ids.

    Mail that failed in an earlier round is tried again first. The check
    opens its own session, outside any request, and closes it before it
    returns, also when it raises.
    """
    procedure: Procedure = app.extensions[EXTENSION_KEY]
    now = now or procedure.clock()
    with app.app_context(), get_database(app).session() as session:
        if procedure.smtp is not None:
            deliver(session, procedure, failed_notices(session), now)
            session.commit()
        notices = check_overdue(session, now, procedure)
        session.commit()
        deliver(session, procedure, notices, now)
        session.commit()
        return [notice.id for notice in notices]


def run_overdue_check_once(app: Flask) -> int:
    """Run one overdue check now and return the number of new notices.

    It suits a command line or a timer. When a timer runs the check, set
    OVERDUE_CHECK_SECONDS=0 in the serving processes.
    """
    created = run_overdue_check(app)
    logger.info("overdue check: %d new notices", len(created))
    return len(created)


class OverdueWatcher(threading.Thread):
    """Runs the overdue check every `interval` seconds until stopped."""

    def __init__(self, app: Flask, interval: float) -> None:
        super().__init__(name="pelihara-overdue", daemon=True)
        self.app = app
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        logger.info("overdue check every %.0f s", self.interval)
        while not self.stopping.wait(self.interval):
            try:
                run_overdue_check(self.app)
            except Exception:  # noqa: BLE001 - one failed round must not end the loop
                logger.exception(
                    "overdue check failed; retrying in %.0f s", self.interval
                )

    def stop(self, timeout: float | None = 30.0) -> None:
        """Ask the loop to end and wait for a check in progress to finish.

        Waiting lets that check close its session and hand its database
        connection back before the engine is disposed or the process exits.
        """
        self.stopping.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)
        if self.is_alive():
            logger.warning(
                "overdue check still running after %.0f s; its database "
                "connection stays open until it ends",
                timeout or 0,
            )
