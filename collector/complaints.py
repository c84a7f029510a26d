"""Complaints and feedback from work units about the maintenance service.

A complaint reaches staff through the head of bureau, or directly to a
staff member once the head approves. Either way the head's step moves it
from received to assigned. The assigned staff member follows it up, puts it
on the agenda of a further coordination meeting, and closes it with the
meeting's outcome.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector.models import Case, User, is_row_id
from collector.models.procedure import COMPLAINT_CHANNELS, Complaint, ComplaintEvent
from collector.procedure import TransitionRefused, actor_of

logger = logging.getLogger(__name__)

ROLES_SUBMITTING = ("unit", "head", "technician", "admin")


@dataclass(frozen=True)
class ComplaintStep:
    """A move of a complaint: who makes it and the values it records."""

    source: str
    target: str
    roles: tuple[str, ...]
    fields: tuple[str, ...]


STEPS = {
    step.source: step
    for step in (
        ComplaintStep("received", "assigned", ("head", "admin"), ("assigned_to",)),
        ComplaintStep(
            "assigned", "followed_up", ("technician", "head", "admin"), ("follow_up",)
        ),
        ComplaintStep(
            "followed_up",
            "on_agenda",
            ("technician", "head", "admin"),
            ("meeting_date", "agenda"),
        ),
        ComplaintStep(
            "on_agenda", "closed", ("technician", "head", "admin"), ("outcome",)
        ),
    )
}


def _text(body: dict[str, Any], key: str, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise TransitionRefused(422, f"{key}: missing", field=key)
        return None
    if not isinstance(value, str):
        raise TransitionRefused(422, f"{key}: expected text, got {value!r}", field=key)
    return value.strip()


def _technician(session: Session, name: str, key: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None or not user.active or user.role != "technician":
        raise TransitionRefused(422, f"{key}: no active technician {name!r}", field=key)
    return user


def _add_event(
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


def can_view_complaint(user: User, complaint: Complaint) -> bool:
    """Return whether `user` may see `complaint`; unit users only their unit's."""
    if user.role == "unit":
        return bool(user.unit) and user.unit == complaint.unit
    return user.role in ("admin", "head", "technician", "viewer")


def create_complaint(
    session: Session, user: User, body: dict[str, Any], at: datetime
) -> Complaint:
    """Record a complaint sent by or for a work unit. The caller commits."""
    if user.role not in ROLES_SUBMITTING:
        raise TransitionRefused(
            403,
            f"role {user.role!r} may not submit complaints; allowed roles: "
            f"{', '.join(ROLES_SUBMITTING)}",
        )
    text = _text(body, "text")
    unit = _text(body, "unit", required=user.role != "unit")
    if user.role == "unit":
        if unit is not None and unit != user.unit:
            raise TransitionRefused(
                403,
                f"unit: user {user.name!r} belongs to {user.unit!r} and may not "
                f"complain for {unit!r}",
                field="unit",
            )
        unit = user.unit
    application = _text(body, "application", required=False)

    channel = body.get("channel", "head")
    if channel not in COMPLAINT_CHANNELS:
        raise TransitionRefused(
            422,
            f"channel: invalid value {channel!r}; expected head or direct",
            field="channel",
        )
    addressed_to = _text(body, "addressed_to", required=channel == "direct")
    if addressed_to is not None:
        _technician(session, addressed_to, "addressed_to")

    case_id = body.get("case_id")
    if case_id is not None:
        if not is_row_id(case_id) or session.get(Case, case_id) is None:
            raise TransitionRefused(
                422, f"case_id: case {case_id!r} not found", field="case_id"
            )

    complaint = Complaint(
        unit=unit,
        application=application,
        case_id=case_id,
        text=text,
        channel=channel,
        addressed_to=addressed_to,
        submitted_by=user.name,
        status="received",
        created_at=at,
        updated_at=at,
    )
    session.add(complaint)
    _add_event(
        session,
        complaint,
        "received",
        actor_of(user),
        at,
        {"channel": channel, "addressed_to": addressed_to},
    )
    session.flush()
    logger.info("complaint %d received from unit %s", complaint.id, unit)
    return complaint


def advance_complaint(
    session: Session,
    complaint: Complaint,
    to: str,
    user: User,
    fields: dict[str, Any],
    at: datetime,
) -> Complaint:
    """Move a complaint one state on, recording the state's values."""
    step = STEPS.get(complaint.status)
    if step is None:
        raise TransitionRefused(
            409, f"complaint {complaint.id} is closed; it takes no more steps"
        )
    if to != step.target:
        raise TransitionRefused(
            409,
            f"complaint {complaint.id} is {complaint.status} and can only go to "
            f"{step.target!r}, not {to!r}",
        )
    if user.role not in step.roles:
        raise TransitionRefused(
            403,
            f"role {user.role!r} may not move a complaint from {complaint.status}; "
            f"allowed roles: {', '.join(step.roles)}",
        )
    if (
        complaint.status in ("assigned", "followed_up", "on_agenda")
        and user.role == "technician"
        and user.name != complaint.assigned_to
    ):
        raise TransitionRefused(
            403,
            f"complaint {complaint.id} is assigned to {complaint.assigned_to!r}, "
            f"not {user.name!r}",
        )

    if not isinstance(fields, dict):
        raise TransitionRefused(422, "fields: expected an object", field="fields")
    values = dict(fields)
    if complaint.status == "received" and not values.get("assigned_to"):
        # A complaint sent directly to a staff member goes to that person
        # once the head approves.
        values["assigned_to"] = complaint.addressed_to
    recorded = {key: _text(values, key) for key in step.fields}

    if step.source == "received":
        _technician(session, recorded["assigned_to"], "assigned_to")
        complaint.assigned_to = recorded["assigned_to"]
        complaint.approved_by = user.name
    elif step.source == "assigned":
        complaint.follow_up = recorded["follow_up"]
    elif step.source == "followed_up":
        try:
            date.fromisoformat(recorded["meeting_date"])
        except ValueError:
            raise TransitionRefused(
                422,
                f"meeting_date: invalid date {recorded['meeting_date']!r}; expected "
                "YYYY-MM-DD",
                field="meeting_date",
            ) from None
        complaint.meeting_date = recorded["meeting_date"]
        complaint.agenda = recorded["agenda"]
    else:
        complaint.outcome = recorded["outcome"]
        complaint.closed_at = at

    complaint.status = step.target
    complaint.updated_at = at
    _add_event(session, complaint, step.target, actor_of(user), at, recorded)
    logger.info("complaint %d moved to %s by %s", complaint.id, step.target, user.name)
    return complaint


def complaint_json(complaint: Complaint, iso: Any) -> dict[str, Any]:
    """Return a complaint with its history; `iso` renders timestamps."""
    step = STEPS.get(complaint.status)
    return {
        "id": complaint.id,
        "unit": complaint.unit,
        "application": complaint.application,
        "case_id": complaint.case_id,
        "text": complaint.text,
        "channel": complaint.channel,
        "addressed_to": complaint.addressed_to,
        "submitted_by": complaint.submitted_by,
        "status": complaint.status,
        "next": step.target if step else None,
        "next_fields": list(step.fields) if step else [],
        "assigned_to": complaint.assigned_to,
        "approved_by": complaint.approved_by,
        "follow_up": complaint.follow_up,
        "meeting_date": complaint.meeting_date,
        "agenda": complaint.agenda,
        "outcome": complaint.outcome,
        "created_at": iso(complaint.created_at),
        "updated_at": iso(complaint.updated_at),
        "closed_at": iso(complaint.closed_at),
        "events": [
            {
                "at": iso(event.at),
                "actor": event.actor,
                "kind": event.kind,
                "detail": event.detail,
            }
            for event in complaint.events
        ],
    }
