"""The server-rendered web UI: the case list and one case."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from collector.api import late_results_in_span, restrict_to_user
from collector.auth import current_user, require_roles
from collector.db import get_session
from collector.models import CASE_STATUSES, Case, Check, Host
from collector.procedure import can_view, current_procedure
from collector.workflow.definition import Step

bp = Blueprint("ui", __name__)
PAGE_SIZE = 100


@bp.app_template_filter("measured_value")
def measured_value(value: Any) -> str:
    """Format a result value: whole numbers without `.0`, others as stored.

    Results stored before the collector kept ints have floats such as 3.0
    for counts, and they are shown as `3` too.
    """
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@bp.app_template_global()
def workflow_step(step_id: str | None) -> Step | None:
    """Return the workflow's step with this id, or None for an unknown id.

    A case may still name a step that a changed workflow file removed, and
    its page must show then the bare id.
    """
    workflow = current_procedure().workflow
    if step_id is None or not workflow.has_step(step_id):
        return None
    return workflow.step(step_id)


@bp.get("/")
@require_roles()
def cases() -> Any:
    filters = {
        "status": request.args.get("status", ""),
        "host": request.args.get("host", "").strip(),
        "check": request.args.get("check", "").strip(),
    }
    statement = (
        select(Case)
        .options(selectinload(Case.host), selectinload(Case.check))
        .order_by(Case.opened_at.desc(), Case.id.desc())
        .limit(PAGE_SIZE)
    )
    if filters["status"] in CASE_STATUSES:
        statement = statement.where(Case.status == filters["status"])
    else:
        filters["status"] = ""
    if filters["host"]:
        statement = statement.where(Case.host.has(Host.name == filters["host"]))
    if filters["check"]:
        statement = statement.where(Case.check.has(Check.name == filters["check"]))
    session = get_session()
    user = current_user()
    statement = restrict_to_user(statement, user)
    found = [
        case for case in session.scalars(statement) if can_view(session, user, case)
    ]
    return render_template(
        "cases.html", cases=found, filters=filters, statuses=CASE_STATUSES
    )


@bp.get("/cases/<int:case_id>")
@require_roles()
def case(case_id: int) -> Any:
    session = get_session()
    found = session.scalar(
        select(Case)
        .where(Case.id == case_id)
        .options(
            selectinload(Case.host),
            selectinload(Case.check),
            selectinload(Case.results),
            selectinload(Case.events),
        )
    )
    if found is None or not can_view(session, current_user(), found):
        abort(404, f"Kasus {case_id} tidak ditemukan (case {case_id} not found).")
    results = sorted(
        [*found.results, *late_results_in_span(session, found)],
        key=lambda result: (result.observed_at, result.id),
    )
    return render_template("case.html", case=found, results=results)
