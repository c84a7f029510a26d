"""Complaints and feedback from work units about the maintenance service.

A complaint reaches staff through the head of bureau, or directly to a
staff member once the head approves. Either way the head's step moves it
from received to assigned. The assigned staff member follows it up and puts
it on the agenda of the coordination meeting that will discuss it (see
collector.agenda for which one). Recording that meeting marks it discussed,
and the staff member then closes it with the meeting's outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector import agenda
from collector.limits import COMPLAINT_LIMITS, too_long
from collector.models import Case, User, is_row_id
from collector.models.procedure import COMPLAINT_CHANNELS, Complaint
from collector.procedure import (
    TransitionRefused,
    actor_of,
    can_view,
    current_procedure,
)

logger = logging.getLogger(__name__)

ROLES_SUBMITTING = ("unit", "head", "technician", "admin")


@dataclass(frozen=True)
class ComplaintStep:
    """A move of a complaint: who makes it and the values it records."""

    source: str
    target: str
    roles: tuple[str, ...]
    fields: tuple[str, ...]
    # True for a move that no request makes, because recording the
    # coordination meeting moves the complaints on its agenda.
    automatic: bool = False


STEPS = {
    step.source: step
    for step in (
        ComplaintStep("received", "assigned", ("head", "admin"), ("assigned_to",)),
        ComplaintStep(
            "assigned", "followed_up", ("technician", "head", "admin"), ("follow_up",)
        ),
        ComplaintStep(
            "followed_up", "on_agenda", ("technician", "head", "admin"), ("agenda",)
        ),
        # NOTE: meetings exist only as the coordination step of a case, so a
        # complaint waits on the agenda until some case records one.
        ComplaintStep("on_agenda", "discussed", (), (), automatic=True),
        ComplaintStep(
            "discussed", "closed", ("technician", "head", "admin"), ("outcome",)
        ),
    )
}
# States in which only the assigned technician, of all technicians, acts.
ASSIGNED_STATES = ("assigned", "followed_up", "on_agenda", "discussed")


def _text(body: dict[str, Any], key: str, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise TransitionRefused(422, f"{key}: missing", field=key)
        return None
    if not isinstance(value, str):
        raise TransitionRefused(422, f"{key}: expected text, got {value!r}", field=key)
    message = too_long(key, value.strip(), COMPLAINT_LIMITS[key])
    if message:
        raise TransitionRefused(422, message, field=key)
    return value.strip()


def _technician(session: Session, name: str, key: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None or not user.active or user.role != "technician":
        raise TransitionRefused(422, f"{key}: no active technician {name!r}", field=key)
    return user


def can_view_complaint(user: User, complaint: Complaint) -> bool:
    """Return whether `user` may see `complaint`; unit users only their unit's."""
    if user.role == "unit":
        return bool(user.unit) and user.unit == complaint.unit
    return user.role in ("admin", "head", "technician", "viewer")


# Keys of case history details that list complaints by id.
COMPLAINT_ID_KEYS = ("complaints_discussed",)


def hide_complaints(
    session: Session, user: User | None, detail: dict[str, Any]
) -> dict[str, Any]:
    """Return a case history detail without the complaint ids `user` may not see.

    Vendors see no complaints and unit users only their unit's, so a
    vendor's copy loses every complaint id. A key left with no id is dropped.
    """
    if not any(key in detail for key in COMPLAINT_ID_KEYS):
        return detail
    shown = dict(detail)
    for key in COMPLAINT_ID_KEYS:
        ids = shown.pop(key, None)
        if not isinstance(ids, list) or user is None:
            continue
        visible = [
            complaint_id
            for complaint_id in ids
            if _may_see_complaint(session, user, complaint_id)
        ]
        if visible:
            shown[key] = visible
    return shown


def _may_see_complaint(session: Session, user: User, complaint_id: Any) -> bool:
    if not is_row_id(complaint_id):
        return False
    complaint = session.get(Complaint, complaint_id)
    return complaint is not None and can_view_complaint(user, complaint)


def case_visibility(session: Session, user: User) -> Callable[[int], bool] | None:
    """Return the `can_see_case` test of complaint_json for `user`.

    It is None for staff, who see every case. Unit and vendor users see
    their own cases only.
    """
    if user.role not in ("unit", "vendor"):
        return None

    def visible(case_id: int) -> bool:
        case = session.get(Case, case_id)
        return case is not None and can_view(session, user, case)

    return visible


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
        case = session.get(Case, case_id) if is_row_id(case_id) else None
        # A case the user may not see is reported as not found, so that a
        # unit cannot learn which case ids exist.
        if case is None or not can_view(session, user, case):
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
    agenda.add_complaint_event(
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
    if step.automatic:
        raise TransitionRefused(
            409,
            f"complaint {complaint.id} is on the agenda of {_meeting_text(complaint)}; "
            f"it becomes discussed when that meeting is recorded at step "
            f"{agenda.COORDINATION_STEP!r}",
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
        complaint.status in ASSIGNED_STATES
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
        recorded.update(_place(session, complaint, values, recorded["agenda"], at))
    else:
        complaint.outcome = recorded["outcome"]
        complaint.closed_at = at

    complaint.status = step.target
    complaint.updated_at = at
    agenda.add_complaint_event(
        session, complaint, step.target, actor_of(user), at, recorded
    )
    logger.info("complaint %d moved to %s by %s", complaint.id, step.target, user.name)
    return complaint


def _meeting_text(complaint: Complaint) -> str:
    record = complaint.meeting_record
    if record is not None:
        return f"the coordination meeting of case {record.case_id}"
    if complaint.agenda_case_id is not None:
        return (
            f"the coordination meeting of case {complaint.agenda_case_id}, "
            "once the case reaches that step"
        )
    return "the next coordination meeting of any case"


def _place(
    session: Session,
    complaint: Complaint,
    values: dict[str, Any],
    agenda_text: str,
    at: datetime,
) -> dict[str, Any]:
    # The meeting is chosen by the rules of collector.agenda, so its date is
    # the one recorded when it is held.
    if values.get("meeting_date") is not None:
        raise TransitionRefused(
            422,
            "meeting_date: not accepted; the complaint is linked to a "
            "coordination meeting and takes the date recorded at that meeting",
            field="meeting_date",
        )
    workflow = current_procedure().workflow
    if not workflow.has_step(agenda.COORDINATION_STEP):
        raise TransitionRefused(
            409,
            f"the workflow file {workflow.source} has no step "
            f"{agenda.COORDINATION_STEP!r}, so no coordination meeting can "
            f"discuss complaint {complaint.id}",
        )
    complaint.agenda = agenda_text
    complaint.on_agenda_at = at
    return agenda.place_on_agenda(session, workflow, complaint)


# Case ids of agenda history entries, and the step record id that goes with each.
_CASE_KEYS = {
    "agenda_case_id": None,
    "meeting_case_id": "meeting_record_id",
    "from_case_id": "from_record_id",
}


def _shown_case(
    case_id: int | None, can_see_case: Callable[[int], bool] | None
) -> int | None:
    if case_id is None or can_see_case is None or can_see_case(case_id):
        return case_id
    return None


def _hide_cases(
    detail: dict[str, Any], can_see_case: Callable[[int], bool] | None
) -> dict[str, Any]:
    shown = dict(detail)
    for case_key, record_key in _CASE_KEYS.items():
        case_id = shown.get(case_key)
        if isinstance(case_id, int) and _shown_case(case_id, can_see_case) is None:
            shown[case_key] = None
            if record_key is not None:
                shown[record_key] = None
    return shown


def complaint_json(
    complaint: Complaint,
    iso: Any,
    can_see_case: Callable[[int], bool] | None = None,
) -> dict[str, Any]:
    """Return a complaint with its history; `iso` renders timestamps.

    `can_see_case(case_id)` decides whether the case of its meeting, and the
    cases named in its history, are shown. Without it they all are. A hidden
    case and its step record read as None.
    """
    step = STEPS.get(complaint.status)
    record = complaint.meeting_record
    meeting = None
    if record is not None:
        visible = can_see_case is None or can_see_case(record.case_id)
        meeting = agenda.meeting_json(record, iso, visible)
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
        "next_automatic": bool(step and step.automatic),
        "assigned_to": complaint.assigned_to,
        "approved_by": complaint.approved_by,
        "follow_up": complaint.follow_up,
        "meeting_date": (meeting or {}).get("meeting_date") or complaint.meeting_date,
        "agenda": complaint.agenda,
        "agenda_case_id": _shown_case(complaint.agenda_case_id, can_see_case),
        "meeting": meeting,
        "on_agenda_at": iso(complaint.on_agenda_at),
        "discussed_at": iso(complaint.discussed_at),
        "outcome": complaint.outcome,
        "created_at": iso(complaint.created_at),
        "updated_at": iso(complaint.updated_at),
        "closed_at": iso(complaint.closed_at),
        "events": [
            {
                "at": iso(event.at),
                "actor": event.actor,
                "kind": event.kind,
                "detail": _hide_cases(event.detail, can_see_case),
            }
            for event in complaint.events
        ],
    }


def add_case_agenda(
    session: Session, case: Case, body: dict[str, Any], user: User, iso: Any
) -> None:
    """Add the agenda of each coordination step to the step views in `body`,
    and ``upcoming_agenda``: the complaints waiting for the case's coordination
    step, which has not started yet. Only complaints `user` may see are listed.
    """
    by_record: dict[int, list[dict[str, Any]]] = {}
    waiting = []
    for complaint in agenda.agenda_of_case(session, case):
        if not can_view_complaint(user, complaint):
            continue
        item = agenda.agenda_item_json(complaint, iso)
        if complaint.meeting_record_id is None:
            waiting.append(item)
        else:
            by_record.setdefault(complaint.meeting_record_id, []).append(item)
    for view in body.get("steps", []):
        if view["id"] == agenda.COORDINATION_STEP:
            view["agenda"] = by_record.get(view["record_id"], [])
    body["upcoming_agenda"] = waiting


def upcoming_agenda(
    session: Session, user: User, iso: Any, now: datetime
) -> dict[str, Any]:
    """Return what is on the agenda of the coordination meetings not yet held.

    ``meetings`` are the coordination steps under way, due first, each with
    its agenda. ``before_meeting`` lists the cases on their way to the
    coordination step with the complaints waiting for it, and
    ``next_meeting`` the complaints for whichever meeting starts next.
    """
    meetings = agenda.open_meetings(session)
    linked: dict[int, list[dict[str, Any]]] = {}
    if meetings:
        on_agenda = session.scalars(
            select(Complaint)
            .where(
                Complaint.status == "on_agenda",
                Complaint.meeting_record_id.in_([record.id for record in meetings]),
            )
            .order_by(Complaint.id)
        )
        for complaint in on_agenda:
            if can_view_complaint(user, complaint):
                linked.setdefault(complaint.meeting_record_id, []).append(
                    agenda.agenda_item_json(complaint, iso)
                )

    before_meeting: dict[int, dict[str, Any]] = {}
    next_meeting = []
    for complaint in agenda.waiting_complaints(session):
        if not can_view_complaint(user, complaint):
            continue
        item = agenda.agenda_item_json(complaint, iso)
        case = complaint.agenda_case
        if case is None:
            next_meeting.append(item)
            continue
        entry = before_meeting.setdefault(
            case.id,
            {
                "case_id": case.id,
                "title": case.title,
                "application": case.application,
                "unit": case.unit,
                "step": case.step,
                "complaints": [],
            },
        )
        entry["complaints"].append(item)

    return {
        "meetings": [
            {
                "case_id": record.case_id,
                "record_id": record.id,
                "title": record.case.title,
                "application": record.case.application,
                "unit": record.case.unit,
                "started_at": iso(record.started_at),
                "due_at": iso(record.due_at),
                "overdue": now > record.due_at,
                "complaints": linked.get(record.id, []),
            }
            for record in meetings
        ],
        "before_meeting": list(before_meeting.values()),
        "next_meeting": next_meeting,
    }
