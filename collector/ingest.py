"""Validation and storage of result batches, and the case rules they drive.

A batch is validated whole before anything is written, then stored in one
transaction. Two guarantees hold across concurrent workers and collector
hosts on SQLite and PostgreSQL alike, because unique constraints decide them
rather than reads. A result id is stored once (`results.result_id`). A host
and check have at most one open case (`cases.open_key`).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agent.spec import REASONS, Category
from collector.limits import MAX_APPLICATION_CHARS, MAX_UNIT_CHARS
from collector.metrics import increment_counters
from collector.models import (
    HEARTBEAT_CHECK,
    STATUSES,
    AgentToken,
    Case,
    CaseEvent,
    Check,
    Host,
    Result,
    open_key_for,
)

logger = logging.getLogger(__name__)

DEFAULT_REOPEN_WINDOW = timedelta(days=7)
MAX_RESULTS = 5000
MAX_MESSAGE_CHARS = 4000
MAX_VALUES = 100
MAX_VALUE_NAME_CHARS = 100
# The agent's maximum check interval. The heartbeat monitor and /metrics
# turn twice the interval into a timedelta, which overflows for huge values.
MAX_INTERVAL_SECONDS = 366 * 24 * 3600.0
# A result stamped further ahead than this is logged: until the collector's
# clock catches up, every later result of its check counts as late.
CLOCK_AHEAD_WARNING = timedelta(hours=1)
RESULT_ID = re.compile(r"^[0-9a-f]{32}$")
CHECK_NAME = re.compile(r"^[^/\x00-\x1f\x7f]{1,200}$")
SUPPRESSED = re.compile(r"^(maintenance|depends_on):[^\x00-\x1f\x7f]{1,200}$")
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
CATEGORIES = tuple(str(category) for category in Category)
# Closing a case as one of these means the earlier case was no fault of this
# check, so a new failure is a new case rather than a reopened one.
NOT_REOPENED_RESOLUTIONS = frozenset({"false_alarm", "duplicate"})


class BatchError(ValueError):
    """An invalid batch; `field` is the JSON path of the first bad value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


@dataclass(frozen=True)
class AgentInfo:
    host: str
    version: str | None
    interval_seconds: float | None


@dataclass(frozen=True)
class IncomingResult:
    """One validated entry of a batch's `results` list."""

    index: int
    id: str
    check: str
    kind: str
    category: str
    status: str
    message: str
    values: dict[str, float]
    reason: str
    observed_at: datetime
    duration_seconds: float | None
    confirmed: bool
    suppressed: str | None
    open_case_on: frozenset[str]
    # Filled into a new case and its first step; None when the agent sent none.
    application: str | None = None
    unit: str | None = None

    def case_fields(self) -> dict[str, str]:
        """Return the application and unit this result sets, leaving out unset ones."""
        fields = {"application": self.application, "unit": self.unit}
        return {key: value for key, value in fields.items() if value is not None}


@dataclass
class IngestOutcome:
    accepted: int = 0
    duplicates: int = 0
    cases: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "cases": self.cases,
        }


# --- validation -----------------------------------------------------------


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _string(
    item: Mapping[str, Any],
    key: str,
    path: str,
    *,
    required: bool = False,
    default: str = "",
    max_length: int = 255,
) -> str:
    if key not in item or item[key] is None:
        if required:
            raise BatchError(f"{path}.{key}", "missing; it is required")
        return default
    value = item[key]
    if not isinstance(value, str):
        raise BatchError(f"{path}.{key}", f"expected a string, got {_type_name(value)}")
    if len(value) > max_length:
        raise BatchError(
            f"{path}.{key}", f"longer than the maximum of {max_length} characters"
        )
    return value


def _number(value: Any, field_path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BatchError(field_path, f"expected a number, got {_type_name(value)}")
    try:
        number = float(value)
    except OverflowError:
        # An integer beyond the float range, e.g. 10**400.
        raise BatchError(
            field_path, "expected a finite number, got an integer beyond 1.8e308"
        ) from None
    if not math.isfinite(number):
        raise BatchError(field_path, f"expected a finite number, got {value!r}")
    return number


def _measured_value(value: Any, field_path: str) -> float:
    """Return a result value checked by _number, keeping an int an int.

    Agents send counts and byte sizes as ints, so the API and the case page
    show them as `3`, not `3.0`.
    """
    number = _number(value, field_path)
    return value if isinstance(value, int) else number


def _status(value: Any, field_path: str) -> str:
    if value not in STATUSES:
        raise BatchError(
            field_path,
            f"invalid value {value!r}; expected one of {', '.join(STATUSES)}",
        )
    return value


def _timestamp(value: Any, field_path: str) -> datetime:
    if not isinstance(value, str):
        raise BatchError(
            field_path, f"expected an ISO 8601 string, got {_type_name(value)}"
        )
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BatchError(
            field_path, f"invalid timestamp {value!r}; expected ISO 8601"
        ) from None
    if parsed.tzinfo is None:
        raise BatchError(
            field_path,
            f"timestamp {value!r} has no UTC offset; add one, e.g. +00:00",
        )
    return parsed


def parse_agent(payload: Mapping[str, Any]) -> AgentInfo:
    """Validate the batch's `agent` object."""
    agent = payload.get("agent")
    if not isinstance(agent, dict):
        raise BatchError("agent", f"expected an object, got {_type_name(agent)}")
    host = _string(agent, "host", "agent", required=True)
    version = _string(agent, "version", "agent", default="", max_length=64) or None
    interval = agent.get("interval_seconds")
    if interval is not None:
        interval = _number(interval, "agent.interval_seconds")
        if interval <= 0:
            raise BatchError(
                "agent.interval_seconds", f"must be positive, got {interval:g}"
            )
        if interval > MAX_INTERVAL_SECONDS:
            raise BatchError(
                "agent.interval_seconds",
                f"must be at most {MAX_INTERVAL_SECONDS:.0f} (366 days), "
                f"got {interval:g}",
            )
    return AgentInfo(host=host, version=version, interval_seconds=interval)


def _case_label(item: Mapping[str, Any], key: str, path: str, limit: int) -> str | None:
    """Return an optional application or unit name, stripped; None when empty."""
    value = _string(item, key, path, max_length=limit).strip()
    if CONTROL_CHARACTER.search(value):
        raise BatchError(
            f"{path}.{key}",
            "contains a line break or another control character; send one line",
        )
    return value or None


def parse_result(item: Any, index: int) -> IncomingResult:
    """Validate one entry of `results`; unknown keys are ignored."""
    path = f"results[{index}]"
    if not isinstance(item, dict):
        raise BatchError(path, f"expected an object, got {_type_name(item)}")

    result_id = _string(item, "id", path, required=True, max_length=64).lower()
    if not RESULT_ID.match(result_id):
        raise BatchError(
            f"{path}.id", f"invalid id {item['id']!r}; expected 32 hex digits"
        )

    check = _string(item, "check", path, required=True, max_length=200)
    if not CHECK_NAME.match(check):
        raise BatchError(
            f"{path}.check",
            f"invalid check name {check!r}; it must not be empty or contain '/' "
            "or control characters",
        )
    if check == HEARTBEAT_CHECK:
        raise BatchError(
            f"{path}.check",
            f"check name {check!r} is reserved for the collector; rename the check",
        )

    category = _string(item, "category", path, max_length=32)
    if category and category not in CATEGORIES:
        raise BatchError(
            f"{path}.category",
            f"invalid value {category!r}; expected one of {', '.join(CATEGORIES)}",
        )

    reason = _string(item, "reason", path, max_length=32)
    if reason and reason not in REASONS:
        raise BatchError(
            f"{path}.reason",
            f"invalid value {reason!r}; expected one of {', '.join(sorted(REASONS))}",
        )

    values = item.get("values") or {}
    if not isinstance(values, dict):
        raise BatchError(
            f"{path}.values", f"expected an object, got {_type_name(values)}"
        )
    if len(values) > MAX_VALUES:
        raise BatchError(f"{path}.values", f"more than {MAX_VALUES} values")
    for key in values:
        if len(key) > MAX_VALUE_NAME_CHARS:
            raise BatchError(
                f"{path}.values",
                f"value name {key[:40]!r}... is longer than "
                f"{MAX_VALUE_NAME_CHARS} characters",
            )
    numbers = {
        str(key): _measured_value(value, f"{path}.values.{key}")
        for key, value in values.items()
    }

    duration = item.get("duration_seconds")
    if duration is not None:
        duration = _number(duration, f"{path}.duration_seconds")

    confirmed = item.get("confirmed", True)
    if not isinstance(confirmed, bool):
        raise BatchError(
            f"{path}.confirmed", f"expected true or false, got {_type_name(confirmed)}"
        )

    suppressed = _string(item, "suppressed", path, default="") or None
    if suppressed is not None and not SUPPRESSED.match(suppressed):
        raise BatchError(
            f"{path}.suppressed",
            f"invalid value {suppressed!r}; expected 'maintenance:<window>' or "
            "'depends_on:<check>'",
        )

    open_case_on = item.get("open_case_on", ["CRITICAL"])
    if not isinstance(open_case_on, list):
        raise BatchError(
            f"{path}.open_case_on",
            f"expected a list of statuses, got {_type_name(open_case_on)}",
        )
    statuses = frozenset(
        _status(value, f"{path}.open_case_on[{position}]")
        for position, value in enumerate(open_case_on)
    )
    if "OK" in statuses:
        raise BatchError(
            f"{path}.open_case_on", "'OK' cannot open a case; remove it from the list"
        )

    observed_at = _timestamp(item.get("observed_at"), f"{path}.observed_at")

    return IncomingResult(
        index=index,
        id=result_id,
        check=check,
        kind=_string(item, "kind", path, max_length=64),
        category=category,
        status=_status(item.get("status"), f"{path}.status"),
        # Long plugin output is cut rather than rejected, so that the result
        # still counts.
        message=_string(item, "message", path, max_length=1_000_000)[
            :MAX_MESSAGE_CHARS
        ],
        values=numbers,
        reason=reason,
        observed_at=observed_at,
        duration_seconds=duration,
        confirmed=confirmed,
        suppressed=suppressed,
        open_case_on=statuses,
        application=_case_label(item, "application", path, MAX_APPLICATION_CHARS),
        unit=_case_label(item, "unit", path, MAX_UNIT_CHARS),
    )


def parse_batch(payload: Any) -> tuple[AgentInfo, list[IncomingResult]]:
    """Validate a whole batch, raising BatchError for the first bad field."""
    if not isinstance(payload, dict):
        raise BatchError("", f"expected a JSON object, got {_type_name(payload)}")
    agent = parse_agent(payload)
    items = payload.get("results", [])
    if not isinstance(items, list):
        raise BatchError("results", f"expected a list, got {_type_name(items)}")
    if len(items) > MAX_RESULTS:
        raise BatchError(
            "results",
            f"{len(items)} results in one batch; send at most {MAX_RESULTS}",
        )
    return agent, [parse_result(item, index) for index, item in enumerate(items)]


# --- procedure hooks ------------------------------------------------------


def set_first_step(session: Session, case: Case, at: datetime) -> None:
    """Put a newly opened case on the first step of the procedure."""
    from collector import procedure

    procedure.start_case(session, case, at)


def fill_first_step(
    session: Session, case: Case, fields: Mapping[str, str]
) -> dict[str, str]:
    """Record the application and unit a case on its first step still lacks."""
    from collector import procedure

    return procedure.fill_missing_fields(session, case, fields)


def set_reopen_step(session: Session, case: Case, at: datetime) -> None:
    """Put a reopened case back on the step where its work starts again."""
    from collector import procedure

    procedure.reopen_case(session, case, at)


# --- cases ----------------------------------------------------------------


def add_event(
    session: Session,
    case: Case,
    kind: str,
    actor: str,
    at: datetime,
    detail: dict[str, Any] | None = None,
) -> CaseEvent:
    """Append one entry to the history of `case`."""
    event = CaseEvent(case=case, kind=kind, actor=actor, at=at, detail=detail or {})
    session.add(event)
    return event


def find_open_case(session: Session, host: Host, check: Check) -> Case | None:
    """Return the open case of this host and check, if any."""
    return session.scalar(
        select(Case)
        .where(Case.open_key == open_key_for(host.name, check.name))
        .execution_options(populate_existing=True)
    )


def _latest_closed_case(session: Session, host: Host, check: Check) -> Case | None:
    return session.scalar(
        select(Case)
        .where(
            Case.host_id == host.id,
            Case.check_id == check.id,
            Case.status == "closed",
        )
        .order_by(Case.closed_at.desc(), Case.id.desc())
        .limit(1)
    )


def _result_detail(result: Result | None) -> dict[str, Any]:
    if result is None:
        return {}
    return {
        "result_id": result.result_id,
        "status": result.status,
        "message": result.message[:500],
    }


def _repeat(
    session: Session,
    case: Case,
    at: datetime,
    actor: str,
    result: Result | None,
    fields: Mapping[str, str],
) -> None:
    detail = _result_detail(result)
    if fields:
        filled = fill_first_step(session, case, fields)
        if filled:
            detail["filled"] = filled
    if case.recovered_at is not None:
        # Failing again after a recovery: the case is in trouble again.
        detail["after_recovery_at"] = case.recovered_at.isoformat()
        case.recovered_at = None
    case.occurrences += 1
    case.last_seen_at = max(case.last_seen_at, at)
    add_event(session, case, "repeated", actor, at, detail)


def _repeat_on_winner(
    session: Session,
    host: Host,
    check: Check,
    at: datetime,
    actor: str,
    result: Result | None,
    fields: Mapping[str, str],
) -> Case:
    # Another transaction opened the case between our lookup and our write.
    winner = find_open_case(session, host, check)
    if winner is None:
        raise RuntimeError(
            f"case for {host.name}/{check.name} conflicted but no open case exists"
        )
    logger.info(
        "case %d for %s/%s was opened concurrently; counting a repeat",
        winner.id,
        host.name,
        check.name,
    )
    _repeat(session, winner, at, actor, result, fields)
    return winner


def _reopen(
    session: Session,
    case: Case,
    host: Host,
    check: Check,
    at: datetime,
    actor: str,
    result: Result | None,
    fields: Mapping[str, str],
) -> bool:
    """Reopen a closed case; return False when another process opened one.

    `fields` fill only the application and unit the case has none of, so
    values people recorded in the earlier round stay.
    """
    earlier = {
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
        "resolution": case.resolution,
        "step": case.step,
        "occurrences": case.occurrences,
    }
    try:
        with session.begin_nested():
            case.status = "open"
            case.open_key = open_key_for(host.name, check.name)
            case.resolution = None
            case.closed_at = None
            case.recovered_at = None
            case.reopen_count += 1
            case.occurrences += 1
            case.last_seen_at = max(case.last_seen_at, at)
            for key, value in fields.items():
                if getattr(case, key) is None:
                    setattr(case, key, value)
            session.flush()
    except IntegrityError:
        return False
    add_event(
        session,
        case,
        "reopened",
        actor,
        at,
        {**_result_detail(result), "earlier": earlier},
    )
    set_reopen_step(session, case, at)
    return True


def open_or_repeat_case(
    session: Session,
    *,
    host: Host,
    check: Check,
    source: str,
    title: str,
    at: datetime,
    actor: str,
    reopen_window: timedelta,
    result: Result | None = None,
    fields: Mapping[str, str] | None = None,
) -> tuple[Case, str]:
    """Record a failure of `check`: open, repeat on or reopen its case.

    Returns the case and the action taken: "opened", "repeated" or
    "reopened". A case closed as restored within `reopen_window` before `at`
    is reopened. Cases closed as false_alarm or duplicate are never reopened,
    so a new failure opens a new case. `fields` (`application`, `unit`) are
    set on a new case and its first step. A repeat or a reopening sets only
    those the case has none of, so it never replaces what a person recorded.
    """
    fields = dict(fields or {})
    case = find_open_case(session, host, check)
    if case is not None:
        _repeat(session, case, at, actor, result, fields)
        return case, "repeated"

    closed = _latest_closed_case(session, host, check)
    if (
        closed is not None
        and closed.closed_at is not None
        and closed.resolution not in NOT_REOPENED_RESOLUTIONS
        and at - closed.closed_at <= reopen_window
    ):
        if _reopen(session, closed, host, check, at, actor, result, fields):
            return closed, "reopened"
        winner = _repeat_on_winner(session, host, check, at, actor, result, fields)
        return winner, "repeated"

    try:
        with session.begin_nested():
            case = Case(
                host=host,
                check=check,
                source=source,
                title=title[:500],
                application=fields.get("application"),
                unit=fields.get("unit"),
                status="open",
                occurrences=1,
                # The observation time, like last_seen_at and the start of
                # the first step, so that opened_at is never the later one.
                opened_at=at,
                last_seen_at=at,
                open_key=open_key_for(host.name, check.name),
            )
            session.add(case)
            session.flush()
    except IntegrityError:
        winner = _repeat_on_winner(session, host, check, at, actor, result, fields)
        return winner, "repeated"

    add_event(session, case, "opened", actor, at, _result_detail(result))
    set_first_step(session, case, at)
    return case, "opened"


def record_recovery(
    session: Session, case: Case, at: datetime, actor: str, result: Result | None
) -> bool:
    """Note that the failing check of an open case is OK again.

    The case stays open: people close it once the procedure is done. Returns
    False when the recovery was already recorded.
    """
    if case.recovered_at is not None:
        return False
    case.recovered_at = at
    add_event(session, case, "recovered", actor, at, _result_detail(result))
    return True


def close_case(
    session: Session,
    case: Case,
    resolution: str,
    at: datetime,
    actor: str,
    duplicate_of: Case | None = None,
) -> None:
    """Close `case`; clearing open_key lets a new case open for its check."""
    case.status = "closed"
    case.resolution = resolution
    case.closed_at = at
    case.open_key = None
    if duplicate_of is not None:
        case.duplicate_of = duplicate_of
    detail: dict[str, Any] = {"resolution": resolution}
    if duplicate_of is not None:
        detail["duplicate_of"] = duplicate_of.id
    add_event(session, case, "closed", actor, at, detail)


# --- storing a batch -------------------------------------------------------


def _lock_host(session: Session, host_id: int) -> Host:
    # The row lock serializes batches of one host on PostgreSQL, so their
    # check updates and case decisions never interleave. SQLite needs none
    # because its transactions already run one at a time.
    return session.scalars(
        select(Host)
        .where(Host.id == host_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def get_check(session: Session, host: Host, name: str, *, lock: bool = True) -> Check:
    """Return the check `name` of `host`, inserting it if it is new."""
    statement = select(Check).where(Check.host_id == host.id, Check.name == name)
    if lock:
        statement = statement.with_for_update()
    statement = statement.execution_options(populate_existing=True)
    check = session.scalar(statement)
    if check is not None:
        return check
    try:
        with session.begin_nested():
            check = Check(host=host, name=name)
            session.add(check)
            session.flush()
    except IntegrityError:
        check = session.scalars(statement).one()
    return check


def _store_result(
    session: Session, host: Host, check: Check, incoming: IncomingResult, now: datetime
) -> Result | None:
    """Insert the result; return None when its id is already stored."""
    late = check.observed_at is not None and incoming.observed_at < check.observed_at
    result = Result(
        result_id=incoming.id,
        host=host,
        check=check,
        status=incoming.status,
        message=incoming.message,
        values=incoming.values,
        reason=incoming.reason,
        observed_at=incoming.observed_at,
        received_at=now,
        duration_seconds=incoming.duration_seconds,
        confirmed=incoming.confirmed,
        suppressed=incoming.suppressed,
        late=late,
    )
    try:
        with session.begin_nested():
            session.add(result)
            session.flush()
    except IntegrityError:
        return None
    return result


def _update_check(check: Check, incoming: IncomingResult) -> None:
    check.kind = incoming.kind
    check.category = incoming.category
    check.status = incoming.status
    check.observed_at = incoming.observed_at
    check.message = incoming.message
    check.values = incoming.values


def _apply_case_rules(
    session: Session,
    host: Host,
    check: Check,
    result: Result,
    incoming: IncomingResult,
    reopen_window: timedelta,
) -> tuple[Case, str] | None:
    if not incoming.confirmed:
        return None
    actor = f"agent:{host.name}"
    if incoming.status in incoming.open_case_on:
        if incoming.suppressed:
            return None
        return open_or_repeat_case(
            session,
            host=host,
            check=check,
            source="agent",
            title=f"{check.name} {incoming.status} on {host.name}",
            at=incoming.observed_at,
            actor=actor,
            reopen_window=reopen_window,
            result=result,
            fields=incoming.case_fields(),
        )
    if incoming.status == "OK":
        case = find_open_case(session, host, check)
        if case is not None and record_recovery(
            session, case, incoming.observed_at, actor, result
        ):
            return case, "recovered"
    return None


def _recover_heartbeat(session: Session, host: Host, now: datetime) -> Case | None:
    check = session.scalar(
        select(Check).where(Check.host_id == host.id, Check.name == HEARTBEAT_CHECK)
    )
    if check is None:
        return None
    check.status = "OK"
    check.observed_at = now
    check.message = "agent reporting again"
    case = find_open_case(session, host, check)
    if case is not None and record_recovery(session, case, now, "system", None):
        logger.info(
            "host %s reports again; recovery noted on case %d", host.name, case.id
        )
        return case
    return None


def ingest_batch(
    session: Session,
    token: AgentToken,
    agent: AgentInfo,
    results: list[IncomingResult],
    now: datetime,
    reopen_window: timedelta = DEFAULT_REOPEN_WINDOW,
) -> IngestOutcome:
    """Store a validated batch from the agent holding `token` and commit.

    The caller has checked that `agent.host` is the token's host.
    """
    outcome = IngestOutcome()
    host = _lock_host(session, token.host_id)
    host.last_seen_at = now
    if agent.interval_seconds is not None:
        host.interval_seconds = agent.interval_seconds
    if agent.version is not None:
        host.agent_version = agent.version
    token.last_used_at = now

    heartbeat_case = _recover_heartbeat(session, host, now)
    if heartbeat_case is not None:
        outcome.cases.append(
            {"id": heartbeat_case.id, "check": HEARTBEAT_CHECK, "action": "recovered"}
        )

    known = set(
        session.scalars(
            select(Result.result_id).where(
                Result.result_id.in_({incoming.id for incoming in results})
            )
        )
    )
    # Checks are locked in name order so that two batches never wait on
    # each other's locks in opposite orders.
    checks = {
        name: get_check(session, host, name)
        for name in sorted({incoming.check for incoming in results})
    }
    by_status: dict[str, int] = {}
    ordered = sorted(results, key=lambda incoming: incoming.observed_at)
    if ordered and ordered[-1].observed_at - now > CLOCK_AHEAD_WARNING:
        logger.warning(
            "host %s sent a result observed at %s, ahead of the collector's clock "
            "(%s); check the host's clock",
            host.name,
            ordered[-1].observed_at.isoformat(),
            now.isoformat(),
        )
    for incoming in ordered:
        check = checks[incoming.check]
        result = None
        if incoming.id not in known:
            result = _store_result(session, host, check, incoming, now)
        if result is None:
            outcome.duplicates += 1
            continue
        known.add(incoming.id)
        outcome.accepted += 1
        by_status[incoming.status] = by_status.get(incoming.status, 0) + 1
        if result.late:
            logger.info(
                "late result %s for %s/%s kept as history only",
                incoming.id,
                host.name,
                check.name,
            )
            continue

        _update_check(check, incoming)
        change = _apply_case_rules(
            session, host, check, result, incoming, reopen_window
        )
        if change is not None:
            case, action = change
            result.case = case
            outcome.cases.append({"id": case.id, "check": check.name, "action": action})
            logger.info(
                "case %d %s by %s/%s %s",
                case.id,
                action,
                host.name,
                check.name,
                incoming.status,
            )

    counts = {("results_received", status): n for status, n in by_status.items()}
    if outcome.duplicates:
        counts[("result_duplicates", "")] = outcome.duplicates
    increment_counters(session, counts)
    session.commit()
    return outcome
