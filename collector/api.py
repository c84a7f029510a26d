"""The JSON API under /api/v1, plus /healthz and /metrics."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from sqlalchemy import ColumnElement, and_, false, func, or_, select, text, true
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, selectinload
from werkzeug.exceptions import BadRequest

from collector.auth import bearer_token, current_user, require_roles
from collector.complaints import hide_complaints
from collector.db import get_session
from collector.errors import error_response
from collector.ingest import (
    DEFAULT_REOPEN_WINDOW,
    BatchError,
    ingest_batch,
    parse_batch,
)
from collector.metrics import increment_counters, render_metrics
from collector.models import (
    CASE_STATUSES,
    Case,
    CaseEvent,
    Check,
    Host,
    Result,
    User,
    utcnow,
)
from collector.procedure import can_view, current_procedure, local_iso
from collector.tokens import find_agent_token

logger = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")
health = Blueprint("health", __name__)
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
# An offset past the database's 64-bit integer makes the query fail, so
# offsets are capped at ten million, far past any list a person reads.
MAX_OFFSET = 10_000_000
ROLES_READ = ()  # every authenticated user may read cases
# Users of these roles see only their own cases, and results only where
# they fall in the span of such a case.
ROLES_OWN_CASES = ("unit", "vendor")
# Maximum name lengths of the hosts.name and checks.name columns.
MAX_HOST_NAME_CHARS = 255
MAX_CHECK_NAME_CHARS = 200
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


def error(status: int, message: str, field: str | None = None) -> Response:
    """Return a JSON error response naming the bad field, if any."""
    return error_response(status, message, field)


def iso(value: datetime | None) -> str | None:
    """Render a timestamp as ISO 8601 in the calendar's zone, with its offset.

    Every time the API returns follows this rule, so a case, its results,
    its history and its procedure steps read in the same office time.
    """
    return local_iso(current_procedure(), value)


def _local_detail_times(detail: Any) -> Any:
    """Return a history entry's detail with the stored times it records in
    the calendar's zone.

    Keys ending in ``_at`` hold ISO 8601 text, which ingest stores in UTC.
    Step values under ``fields`` and ``changed`` are left as people entered
    them.
    """
    if isinstance(detail, list):
        return [_local_detail_times(item) for item in detail]
    if not isinstance(detail, dict):
        return detail
    shown: dict[str, Any] = {}
    for key, value in detail.items():
        if key in ("fields", "changed"):
            shown[key] = value
        elif key.endswith("_at") and isinstance(value, str):
            shown[key] = _local_text(value)
        else:
            shown[key] = _local_detail_times(value)
    return shown


def _local_text(value: str) -> str:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    if parsed.utcoffset() is None:
        return value
    return iso(parsed) or value


def name_filter_problem(value: str, max_chars: int) -> str | None:
    """Return why a host or check name filter cannot match a stored name.

    Return None for a usable filter. The check comes before the query
    because PostgreSQL rejects a NUL character in a query parameter.
    """
    if len(value) > max_chars:
        return f"longer than {max_chars} characters"
    if CONTROL_CHARACTER.search(value):
        return "contains control characters"
    return None


def case_to_json(case: Case) -> dict[str, Any]:
    """Return the summary of a case as the API shows it."""
    return {
        "id": case.id,
        "host": case.host_name,
        "check": case.check_name,
        "title": case.title,
        "source": case.source,
        "status": case.status,
        "resolution": case.resolution,
        "step": case.step,
        "classification": case.classification,
        "application": case.application,
        "unit": case.unit,
        "occurrences": case.occurrences,
        "reopen_count": case.reopen_count,
        "duplicate_of": case.duplicate_of_id,
        "opened_at": iso(case.opened_at),
        "last_seen_at": iso(case.last_seen_at),
        "recovered_at": iso(case.recovered_at),
        "closed_at": iso(case.closed_at),
    }


def result_to_json(result: Result) -> dict[str, Any]:
    return {
        "id": result.result_id,
        "check": result.check.name,
        "status": result.status,
        "message": result.message,
        "values": result.values,
        "reason": result.reason,
        "observed_at": iso(result.observed_at),
        "received_at": iso(result.received_at),
        "confirmed": result.confirmed,
        "suppressed": result.suppressed,
        "late": result.late,
    }


def event_to_json(event: CaseEvent, detail: dict[str, Any]) -> dict[str, Any]:
    """Return a history entry with `detail`, the part of its detail shown."""
    return {
        "id": event.id,
        "at": iso(event.at),
        "actor": event.actor,
        "kind": event.kind,
        "detail": _local_detail_times(detail),
    }


def _count_error(kind: str) -> None:
    # The rejected request wrote nothing else, so committing the request's
    # session stores the count alone. A second session would wait on SQLite
    # for the write lock this one holds.
    session = get_session()
    try:
        increment_counters(session, {("ingest_errors", kind): 1})
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        logger.exception("could not count an ingest error of kind %s", kind)


@bp.post("/results")
def post_results() -> Response:
    token_text = bearer_token()
    if not token_text:
        _count_error("unauthorized")
        return error(401, "missing agent token: send 'Authorization: Bearer <token>'")
    session = get_session()
    token = find_agent_token(session, token_text)
    if token is None:
        _count_error("unauthorized")
        return error(401, "unknown or revoked agent token")

    try:
        payload = request.get_json(silent=True)
    except BadRequest:
        _count_error("invalid")
        raise
    if payload is None:
        _count_error("invalid")
        return error(
            400,
            "the body is not JSON; send a JSON object with Content-Type "
            "application/json",
        )
    try:
        agent, results = parse_batch(payload)
    except BatchError as problem:
        _count_error("invalid")
        return error(422, str(problem), problem.field)

    if agent.host != token.host.name:
        _count_error("forbidden")
        logger.warning(
            "agent token %d of host %s was used for host %r",
            token.id,
            token.host.name,
            agent.host[:255],
        )
        return error(
            403,
            f"agent.host {agent.host!r} does not match the token's host "
            f"{token.host.name!r}; use the token issued for {agent.host!r}",
            "agent.host",
        )

    reopen_window = current_app.config.get("REOPEN_WINDOW", DEFAULT_REOPEN_WINDOW)
    if not isinstance(reopen_window, timedelta):
        reopen_window = timedelta(seconds=float(reopen_window))
    outcome = ingest_batch(session, token, agent, results, utcnow(), reopen_window)
    return jsonify(outcome.to_json())


def _case_query(session: Session) -> Any:
    return select(Case).options(selectinload(Case.host), selectinload(Case.check))


def restrict_to_user(statement: Any, user: User | None) -> Any:
    """Narrow a case query to a unit user's own unit, in SQL.

    This is the part of the visibility rule a query can apply; callers still
    check each case with `can_view`, which also covers vendors.
    """
    if user is not None and user.role == "unit" and user.unit:
        wanted = user.unit.strip().lower()
        statement = statement.where(func.lower(func.trim(Case.unit)) == wanted)
    return statement


@bp.get("/cases")
@require_roles(*ROLES_READ)
def list_cases() -> Response:
    session = get_session()
    statement = _case_query(session).order_by(Case.opened_at.desc(), Case.id.desc())

    status = request.args.get("status")
    if status:
        if status not in CASE_STATUSES:
            return error(
                400,
                f"invalid status {status!r}; expected one of "
                f"{', '.join(CASE_STATUSES)}",
                "status",
            )
        statement = statement.where(Case.status == status)
    host = request.args.get("host")
    check = request.args.get("check")
    for key, value, max_chars in (
        ("host", host, MAX_HOST_NAME_CHARS),
        ("check", check, MAX_CHECK_NAME_CHARS),
    ):
        problem = name_filter_problem(value, max_chars) if value else None
        if problem:
            return error(
                400,
                f"invalid {key} filter: {problem}; give a {key} name of at most "
                f"{max_chars} characters without control characters",
                key,
            )
    if host:
        statement = statement.where(Case.host.has(Host.name == host))
    if check:
        statement = statement.where(Case.check.has(Check.name == check))

    paging = _paging()
    if isinstance(paging, Response):
        return paging
    limit, offset = paging
    user = current_user()
    statement = restrict_to_user(statement, user)
    cases = session.scalars(statement.limit(limit).offset(offset)).all()
    # NOTE: vendors' cases are filtered after the page is read, so a vendor's
    # page may hold fewer than `limit` cases.
    visible = [case for case in cases if can_view(session, user, case)]
    return jsonify({"cases": [case_to_json(case) for case in visible]})


def _paging() -> tuple[int, int] | Response:
    """Return the request's (limit, offset), or the 400 response for bad ones."""
    numbers: dict[str, int] = {}
    for name, default in (("limit", DEFAULT_LIMIT), ("offset", 0)):
        text = request.args.get(name, str(default))
        try:
            numbers[name] = int(text)
        except ValueError:
            return error(400, f"{name} must be a whole number, got {text!r}", name)
    limit, offset = numbers["limit"], numbers["offset"]
    if not 1 <= limit <= MAX_LIMIT:
        return error(400, f"limit must be 1 to {MAX_LIMIT}, got {limit}", "limit")
    if not 0 <= offset <= MAX_OFFSET:
        return error(400, f"offset must be 0 to {MAX_OFFSET}, got {offset}", "offset")
    return limit, offset


def in_case_span(case: Case) -> ColumnElement[bool]:
    """Return the SQL condition for results in the span of `case`.

    The span covers its host and check from its opening to its closing, or
    to now while it is open.
    """
    condition = and_(
        Result.host_id == case.host_id,
        Result.check_id == case.check_id,
        Result.observed_at >= case.opened_at,
    )
    if case.closed_at is not None:
        condition = and_(condition, Result.observed_at <= case.closed_at)
    return condition


def late_results_in_span(session: Session, case: Case) -> list[Result]:
    """Return the late results that fall in the span of `case`, oldest first.

    A late result never joins a case, so `case.results` leaves it out even
    when it was observed while the case was open.
    """
    if case.host_id is None or case.check_id is None:
        return []
    statement = (
        select(Result)
        .where(in_case_span(case), Result.late.is_(True))
        .order_by(Result.observed_at, Result.id)
    )
    return list(session.scalars(statement))


def _visible_results(
    session: Session, user: User | None, host: str, check: str
) -> ColumnElement[bool]:
    """Return the SQL condition for the results of host and check `user` may see."""
    if user is None:
        return false()
    if user.role not in ROLES_OWN_CASES:
        return true()
    statement = select(Case).where(
        Case.host.has(Host.name == host), Case.check.has(Check.name == check)
    )
    cases = session.scalars(restrict_to_user(statement, user))
    spans = [in_case_span(case) for case in cases if can_view(session, user, case)]
    return or_(false(), *spans)


def _since_argument() -> datetime | None | Response:
    """Return the request's `since` timestamp, None without one, or a 400."""
    value = request.args.get("since", "").strip()
    if not value:
        return None
    try:
        since = datetime.fromisoformat(value)
    except ValueError:
        return error(
            400,
            f"invalid timestamp {value!r}; expected ISO 8601 such as "
            "2026-12-04T03:00:00Z (write a '+' in an offset as %2B)",
            "since",
        )
    if since.tzinfo is None:
        return error(
            400,
            f"timestamp {value!r} has no UTC offset; add one, e.g. Z or +07:00",
            "since",
        )
    return since


@bp.get("/results")
@require_roles(*ROLES_READ)
def list_results() -> Response:
    """List the results of one host and check, newest first, late ones marked."""
    host = request.args.get("host", "").strip()
    if not host:
        return error(400, "missing host; give ?host=<host name>&check=<check>", "host")
    check = request.args.get("check", "").strip()
    if not check:
        return error(
            400, "missing check; give ?host=<host name>&check=<check>", "check"
        )
    since = _since_argument()
    if isinstance(since, Response):
        return since
    paging = _paging()
    if isinstance(paging, Response):
        return paging
    limit, offset = paging

    session = get_session()
    statement = (
        select(Result)
        .join(Result.host)
        .join(Result.check)
        .where(Host.name == host, Check.name == check)
        .options(selectinload(Result.host), selectinload(Result.check))
        .order_by(Result.observed_at.desc(), Result.id.desc())
    )
    if since is not None:
        statement = statement.where(Result.observed_at >= since)
    statement = statement.where(_visible_results(session, current_user(), host, check))
    results = session.scalars(statement.limit(limit).offset(offset)).all()
    return jsonify(
        {
            "results": [
                {
                    "host": result.host.name,
                    **result_to_json(result),
                    "case": result.case_id,
                }
                for result in results
            ]
        }
    )


DETAIL_EXTENSIONS_KEY = "pelihara.case_detail"
CaseDetailExtension = Callable[[Case, dict[str, Any]], None]


def register_case_detail(app: Flask, extension: CaseDetailExtension) -> None:
    """Let `extension(case, body)` add keys to GET /api/v1/cases/<id>."""
    app.extensions.setdefault(DETAIL_EXTENSIONS_KEY, []).append(extension)


def case_detail_json(case: Case) -> dict[str, Any]:
    """Return a case with its results and history, as GET /cases/<id> shows it."""
    body = case_to_json(case)
    body["results"] = [result_to_json(result) for result in case.results]
    session = get_session()
    user = current_user()
    body["events"] = [
        event_to_json(event, hide_complaints(session, user, event.detail or {}))
        for event in case.events
    ]
    for extension in current_app.extensions.get(DETAIL_EXTENSIONS_KEY, []):
        extension(case, body)
    return body


@bp.get("/cases/<int:case_id>")
@require_roles(*ROLES_READ)
def get_case(case_id: int) -> Response:
    session = get_session()
    case = session.scalar(_case_query(session).where(Case.id == case_id))
    # A case the user may not see gets 404, not 403, so that case ids do
    # not reveal that other units' cases exist.
    if case is None or not can_view(session, current_user(), case):
        return error(404, f"case {case_id} not found")
    return jsonify(case_detail_json(case))


@health.get("/healthz")
def healthz() -> Response:
    try:
        get_session().execute(text("SELECT 1"))
    except Exception as problem:  # noqa: BLE001 - report any database failure
        logger.error("health check failed: %s", problem)
        return error(503, "database unreachable")
    return jsonify({"status": "ok"})


@health.get("/metrics")
def metrics() -> Response:
    # The request's own session: on SQLite a second one would wait for the
    # write lock if this request had already begun a transaction.
    # The procedure's clock, so that tests with a fixed time see the same
    # overdue steps here as in the case JSON.
    clock = current_app.config.get("PROCEDURE_CLOCK") or utcnow
    body = render_metrics(get_session(), clock())
    return Response(body, mimetype="text/plain; version=0.0.4; charset=utf-8")
