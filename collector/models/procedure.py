"""Tables of the maintenance procedure: step records, notifications, complaints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    and_,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from collector.models.base import Base, utcnow
from collector.models.core import Case

PARTIES = ("bureau", "vendor")
COMPLAINT_STATES = (
    "received",
    "assigned",
    "followed_up",
    "on_agenda",
    "discussed",
    "closed",
)
COMPLAINT_CHANNELS = ("head", "direct")


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class StepRecord(Base):
    """One pass of a case through one step, with its deadline.

    A case has one open record (``completed_at`` is NULL) while it is open.
    ``due_at`` is the bureau's deadline, or the vendor's when ``party`` is
    vendor. ``round`` counts reopenings: the records of earlier rounds stay
    as the work done before.
    """

    __tablename__ = "step_records"
    __table_args__ = (
        CheckConstraint(_in("party", PARTIES), name="ck_step_records_party"),
        Index("ix_step_records_open_due", "completed_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    step: Mapped[str] = mapped_column(String(64))
    party: Mapped[str] = mapped_column(String(16))
    round: Mapped[int] = mapped_column(Integer, default=1)
    # 1 on the first pass. A failed test that sends the case back to the
    # same step counts up, and the deadline of the first attempt still holds.
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[datetime]
    # started_at, or the next office opening when the step started after hours.
    clock_started_at: Mapped[datetime]
    due_at: Mapped[datetime]
    time_standard: Mapped[str] = mapped_column(String(64))
    completed_at: Mapped[datetime | None]
    next_step: Mapped[str | None] = mapped_column(String(64))
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # "user:<name>" of the user who completed the step.
    actor: Mapped[str | None] = mapped_column(String(255))

    case: Mapped[Case] = relationship()


def overdue_at(now: datetime) -> ColumnElement[bool]:
    """Select the open step records of open cases whose deadline is before `now`.

    The caller joins Case on StepRecord.case_id.
    """
    return and_(
        StepRecord.completed_at.is_(None),
        StepRecord.due_at < now,
        Case.status == "open",
    )


class Notification(Base):
    """A notice to the head of bureau that a step passed its deadline.

    The unique step record makes the database, not the application, keep it
    to one notification per breach, also across collector processes.
    """

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    step_record_id: Mapped[int] = mapped_column(
        ForeignKey("step_records.id"), unique=True
    )
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32), default="overdue")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    email_sent_at: Mapped[datetime | None]
    email_error: Mapped[str | None] = mapped_column(Text)
    email_attempts: Mapped[int] = mapped_column(Integer, default=0)

    step_record: Mapped[StepRecord] = relationship()
    case: Mapped[Case] = relationship()


class Complaint(Base):
    """A complaint or feedback from a work unit about the maintenance.

    It reaches staff through the head of bureau (``channel`` head), or
    directly (``channel`` direct, ``addressed_to`` a staff member) once the
    head approves, is followed up, and is discussed in a further
    coordination meeting before it is closed.

    On the agenda, ``meeting_record`` is the coordination step record of the
    meeting that will discuss it. While that meeting has not started it is
    None, and the complaint waits for the coordination step of
    ``agenda_case``, or of any case when ``agenda_case`` is None too.
    """

    __tablename__ = "complaints"
    __table_args__ = (
        CheckConstraint(_in("status", COMPLAINT_STATES), name="ck_complaints_status"),
        CheckConstraint(
            _in("channel", COMPLAINT_CHANNELS), name="ck_complaints_channel"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit: Mapped[str] = mapped_column(String(200), index=True)
    application: Mapped[str | None] = mapped_column(String(200))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    text: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(16), default="head")
    addressed_to: Mapped[str | None] = mapped_column(String(100))
    submitted_by: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="received", index=True)
    assigned_to: Mapped[str | None] = mapped_column(String(100))
    approved_by: Mapped[str | None] = mapped_column(String(100))
    follow_up: Mapped[str | None] = mapped_column(Text)
    # Set by hand before complaints were linked to coordination steps; newer
    # complaints take the date recorded at their meeting.
    meeting_date: Mapped[str | None] = mapped_column(String(10))
    agenda: Mapped[str | None] = mapped_column(Text)
    agenda_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    meeting_record_id: Mapped[int | None] = mapped_column(
        ForeignKey("step_records.id"), index=True
    )
    on_agenda_at: Mapped[datetime | None]
    discussed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]

    case: Mapped[Case | None] = relationship(foreign_keys=[case_id])
    agenda_case: Mapped[Case | None] = relationship(foreign_keys=[agenda_case_id])
    meeting_record: Mapped[StepRecord | None] = relationship()
    events: Mapped[list[ComplaintEvent]] = relationship(
        back_populates="complaint", order_by="ComplaintEvent.id"
    )


class ComplaintEvent(Base):
    """One entry of a complaint's append-only history."""

    __tablename__ = "complaint_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)

    complaint: Mapped[Complaint] = relationship(back_populates="events")
