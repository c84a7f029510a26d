"""Complaints on the agenda of coordination meetings.

A coordination meeting is the ``coordination`` step of a case: its step
record is the meeting, open until the meeting is recorded by completing the
step. A complaint placed on the agenda is linked to the meeting that will
discuss it:

- a complaint about a case waits for that case's coordination step when the
  case is on its way there (on the severe path, before the meeting);
- any other complaint, and one whose case has no further meeting, goes to
  the open coordination step due first, or, when no case is at that step,
  waits for the next case that reaches it.

Completing a coordination step marks the complaints on its agenda discussed.
A meeting that will not be held (its case is closed as a false alarm or a
duplicate, or reopened) passes its agenda on to the next meeting. Each of
these moves is written to the complaint's history.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from collector.models import Case
from collector.models.procedure import Complaint, ComplaintEvent, StepRecord
from collector.workflow import END, Workflow

logger = logging.getLogger(__name__)

COORDINATION_STEP = "coordination"
# next_step of the records a reopened case leaves open.
REOPENED = "reopened"


def leads_to_meeting(workflow: Workflow, step_id: str | None) -> bool:
    """Return whether a case at `step_id` must still pass the coordination step.

    Every way on from the step has to reach it. A step that may end the case,
    or go round a loop other than retrying itself, does not count.
    """
    return _leads_to_meeting(workflow, step_id, frozenset())


def _leads_to_meeting(
    workflow: Workflow, step_id: str | None, seen: frozenset[str]
) -> bool:
    if step_id == COORDINATION_STEP:
        return True
    if step_id is None or step_id in seen or not workflow.has_step(step_id):
        return False
    step = workflow.step(step_id)
    targets = [target for target in step.targets if target != step_id]
    if step.final or not targets:
        return False
    return all(
        _leads_to_meeting(workflow, target, seen | {step_id}) for target in targets
    )


def _open_meeting_of(session: Session, case: Case) -> StepRecord | None:
    return session.scalar(
        select(StepRecord)
        .where(
            StepRecord.case_id == case.id,
            StepRecord.step == COORDINATION_STEP,
            StepRecord.completed_at.is_(None),
        )
        .order_by(StepRecord.id.desc())
        .limit(1)
    )


def open_meetings(session: Session) -> list[StepRecord]:
    """Return the coordination steps of open cases not yet held, due first."""
    return list(
        session.scalars(
            select(StepRecord)
            .join(Case, Case.id == StepRecord.case_id)
            .where(
                StepRecord.step == COORDINATION_STEP,
                StepRecord.completed_at.is_(None),
                Case.status == "open",
            )
            .order_by(StepRecord.due_at, StepRecord.id)
        )
    )


def _lock_open_meeting(session: Session, record: StepRecord) -> bool:
    # Completing the step updates this row, so the lock makes a meeting
    # recorded at the same moment either wait for the new agenda item or be
    # seen as held here. SQLite transactions already run one at a time.
    locked = session.scalar(
        select(StepRecord.id)
        .where(StepRecord.id == record.id, StepRecord.completed_at.is_(None))
        .with_for_update()
    )
    return locked is not None


def _agenda_target(
    session: Session, workflow: Workflow, complaint: Complaint
) -> tuple[Case | None, StepRecord | None]:
    """Return the case whose meeting the complaint waits for, and the meeting.

    The case is None for the next meeting of any case, and the meeting is
    None while the chosen one has not started.
    """
    case = complaint.case
    if case is not None and case.status == "open":
        # The row lock keeps the case from moving on while it is looked at.
        session.refresh(case, with_for_update=True)
    if case is not None and case.status == "open":
        meeting = _open_meeting_of(session, case)
        if meeting is not None:
            return case, meeting
        # A case still at the coordination step without an open record has
        # just held its meeting.
        if case.step != COORDINATION_STEP and leads_to_meeting(workflow, case.step):
            return case, None
    for record in open_meetings(session):
        if _lock_open_meeting(session, record):
            return None, record
    return None, None


def add_complaint_event(
    session: Session,
    complaint: Complaint,
    kind: str,
    actor: str,
    at: datetime,
    detail: dict[str, Any],
) -> None:
    session.add(
        ComplaintEvent(
            complaint=complaint, kind=kind, actor=actor, at=at, detail=detail
        )
    )


def _where(complaint: Complaint) -> dict[str, Any]:
    record = complaint.meeting_record
    return {
        "agenda_case_id": complaint.agenda_case_id,
        "meeting_case_id": record.case_id if record is not None else None,
        "meeting_record_id": record.id if record is not None else None,
    }


def place_on_agenda(
    session: Session, workflow: Workflow, complaint: Complaint
) -> dict[str, Any]:
    """Link `complaint` to the meeting that will discuss it.

    Return the ids of the case it waits for and of the meeting chosen, for
    the history entry that the caller writes.
    """
    # Pending changes (a case just closed, a step just completed) must be in
    # the database before the candidates are read and locked.
    session.flush()
    case, record = _agenda_target(session, workflow, complaint)
    complaint.agenda_case = case
    complaint.agenda_case_id = case.id if case is not None else None
    complaint.meeting_record = record
    return _where(complaint)


def _move_on(
    session: Session,
    workflow: Workflow,
    complaint: Complaint,
    at: datetime,
    actor: str,
    reason: str,
) -> None:
    before = _where(complaint)
    after = place_on_agenda(session, workflow, complaint)
    complaint.updated_at = max(complaint.updated_at, at)
    detail = {
        "reason": reason,
        "from_case_id": before["meeting_case_id"] or before["agenda_case_id"],
        "from_record_id": before["meeting_record_id"],
        **after,
    }
    add_complaint_event(session, complaint, "agenda_moved", actor, at, detail)
    logger.info(
        "complaint %d moved to the agenda of %s: %s",
        complaint.id,
        f"step record {after['meeting_record_id']}"
        if after["meeting_record_id"]
        else "the next coordination meeting",
        reason,
    )


def _on_agenda(statement_filter: Any) -> Any:
    return (
        select(Complaint)
        .where(Complaint.status == "on_agenda", statement_filter)
        .order_by(Complaint.id)
        .with_for_update()
    )


def _waiting_for_meeting_of(case_id: int) -> Any:
    # Complaints not linked to a meeting yet that a meeting of this case takes.
    return and_(
        Complaint.meeting_record_id.is_(None),
        or_(
            Complaint.agenda_case_id.is_(None),
            Complaint.agenda_case_id == case_id,
        ),
    )


def _on_agenda_of_case(case_id: int) -> Any:
    # Complaints linked to a meeting of this case, or waiting for its next one.
    meetings_of_case = select(StepRecord.id).where(
        StepRecord.case_id == case_id, StepRecord.step == COORDINATION_STEP
    )
    return or_(
        Complaint.meeting_record_id.in_(meetings_of_case),
        and_(
            Complaint.meeting_record_id.is_(None),
            Complaint.agenda_case_id == case_id,
        ),
    )


def link_waiting(
    session: Session, record: StepRecord, at: datetime, actor: str
) -> list[int]:
    """Link the complaints waiting for a meeting to `record`, a coordination
    step that just started, and return their ids."""
    session.flush()
    waiting = session.scalars(_on_agenda(_waiting_for_meeting_of(record.case_id))).all()
    for complaint in waiting:
        complaint.meeting_record = record
        complaint.updated_at = max(complaint.updated_at, at)
        add_complaint_event(
            session,
            complaint,
            "agenda_linked",
            actor,
            at,
            {"meeting_case_id": record.case_id, "meeting_record_id": record.id},
        )
    return [complaint.id for complaint in waiting]


def discuss(
    session: Session,
    workflow: Workflow,
    record: StepRecord,
    at: datetime,
    actor: str,
) -> list[int]:
    """Mark the agenda of `record`, a coordination step completed at `at`,
    discussed, and return the ids of the complaints discussed.

    Complaints still waiting for the next meeting are discussed here too. A
    complaint placed on the agenda after `at` cannot have been discussed, so
    it moves on to the next meeting.
    """
    session.flush()
    agenda = session.scalars(
        _on_agenda(
            or_(
                Complaint.meeting_record_id == record.id,
                _waiting_for_meeting_of(record.case_id),
            )
        )
    ).all()
    discussed = []
    meeting_date = record.fields.get("meeting_date")
    for complaint in agenda:
        if complaint.on_agenda_at is not None and complaint.on_agenda_at > at:
            _move_on(
                session,
                workflow,
                complaint,
                at,
                actor,
                "placed on the agenda after the meeting was held",
            )
            continue
        complaint.meeting_record = record
        complaint.status = "discussed"
        complaint.discussed_at = at
        complaint.updated_at = max(complaint.updated_at, at)
        add_complaint_event(
            session,
            complaint,
            "discussed",
            actor,
            at,
            {
                "meeting_case_id": record.case_id,
                "meeting_record_id": record.id,
                "meeting_date": meeting_date,
            },
        )
        discussed.append(complaint.id)
    if discussed:
        logger.info(
            "coordination meeting of case %d (step record %d) discussed complaints %s",
            record.case_id,
            record.id,
            ", ".join(str(number) for number in discussed),
        )
    return discussed


def release(
    session: Session,
    workflow: Workflow,
    case: Case,
    at: datetime,
    actor: str,
    reason: str,
) -> list[int]:
    """Move the agenda of a case whose coordination meeting will not be held
    to the next meeting, and return the ids of the complaints moved."""
    session.flush()
    stranded = session.scalars(_on_agenda(_on_agenda_of_case(case.id))).all()
    for complaint in stranded:
        _move_on(session, workflow, complaint, at, actor, reason)
    return [complaint.id for complaint in stranded]


# --- views ------------------------------------------------------------------


def agenda_item_json(
    complaint: Complaint, iso: Callable[[datetime | None], str | None]
) -> dict[str, Any]:
    """Return a complaint as an item of a meeting's agenda."""
    return {
        "id": complaint.id,
        "status": complaint.status,
        "unit": complaint.unit,
        "application": complaint.application,
        "case_id": complaint.case_id,
        "text": complaint.text,
        "agenda": complaint.agenda,
        "assigned_to": complaint.assigned_to,
        "on_agenda_at": iso(complaint.on_agenda_at),
        "discussed_at": iso(complaint.discussed_at),
    }


def is_held(record: StepRecord) -> bool:
    """Return whether a coordination step was completed as a meeting held,
    not cut short by closing or reopening its case."""
    next_step = record.next_step
    if record.completed_at is None or next_step is None:
        return False
    return next_step != REOPENED and not next_step.startswith(f"{END}:")


def meeting_json(
    record: StepRecord,
    iso: Callable[[datetime | None], str | None],
    case_visible: bool = True,
) -> dict[str, Any]:
    """Return the coordination step a complaint is linked to.

    With `case_visible` False the case and record ids are left out, so a
    user who may not see the case learns only when the meeting is due.
    """
    held = is_held(record)
    return {
        "case_id": record.case_id if case_visible else None,
        "record_id": record.id if case_visible else None,
        "step": record.step,
        "started_at": iso(record.started_at),
        "due_at": iso(record.due_at),
        "held": held,
        "held_at": iso(record.completed_at) if held else None,
        "meeting_date": record.fields.get("meeting_date") if held else None,
    }


def agenda_of_case(session: Session, case: Case) -> list[Complaint]:
    """Return the complaints on the agenda of any coordination step of a
    case, or waiting for its next one, oldest first."""
    # An unlinked complaint that names a case is still on the agenda, because
    # discussing a complaint links it to its meeting.
    return list(
        session.scalars(
            select(Complaint).where(_on_agenda_of_case(case.id)).order_by(Complaint.id)
        )
    )


def waiting_complaints(session: Session) -> list[Complaint]:
    """Return the complaints on the agenda not yet linked to a started meeting."""
    return list(
        session.scalars(
            select(Complaint)
            .where(
                Complaint.status == "on_agenda",
                Complaint.meeting_record_id.is_(None),
            )
            .order_by(Complaint.id)
        )
    )
