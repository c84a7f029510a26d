"""The server-rendered web UI: the case list and one case."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from flask import Blueprint, abort, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from collector.api import (
    MAX_CHECK_NAME_CHARS,
    MAX_HOST_NAME_CHARS,
    late_results_in_span,
    name_filter_problem,
    restrict_to_user,
)
from collector.auth import current_user, require_roles
from collector.db import get_session
from collector.models import CASE_STATUSES, Case, Check, Host
from collector.models.procedure import StepRecord
from collector.procedure import can_view, current_procedure
from collector.workflow.definition import Step

bp = Blueprint("ui", __name__)
PAGE_SIZE = 100
# Pages past this one would start beyond ten million cases, the API's
# largest offset.
MAX_PAGE = 100_000


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


def _shown(value: str) -> str:
    # An invalid query value is echoed in the message, cut short so that a
    # long one cannot fill the page.
    return repr(value if len(value) <= 40 else value[:40] + "...")


def _status_error(status: str) -> str | None:
    if status in ("", *CASE_STATUSES):
        return None
    allowed = ", ".join(CASE_STATUSES)
    return (
        f"status: nilai {_shown(status)} tidak dikenal; pilihan: kosong (semua), "
        f"{allowed} (invalid status {_shown(status)}; expected empty for all cases "
        f"or one of {allowed})"
    )


def _name_error(key: str, value: str, max_chars: int) -> str | None:
    problem = name_filter_problem(value, max_chars) if value else None
    if problem is None:
        return None
    if problem.startswith("longer"):
        reason = f"lebih dari {max_chars} karakter"
    else:
        reason = "mengandung karakter kendali"
    return (
        f"{key}: {reason}; isi nama {key} paling banyak {max_chars} karakter tanpa "
        f"karakter kendali (invalid {key} filter: {problem}; give a {key} name of "
        f"at most {max_chars} characters without control characters)"
    )


def _page_number(text: str) -> int | None:
    if not text.isascii() or not text.isdigit() or len(text) > len(str(MAX_PAGE)):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_PAGE else None


def _page_error(text: str) -> str:
    return (
        f"page: {_shown(text)} bukan nomor halaman; isi bilangan bulat 1 sampai "
        f"{MAX_PAGE} (invalid page {_shown(text)}; expected a whole number from 1 "
        f"to {MAX_PAGE})"
    )


def _current_deadlines(cases: Sequence[Case]) -> dict[int, datetime]:
    """Return the deadline of the current step of each open case, by case id."""
    open_ids = [case.id for case in cases if case.status == "open"]
    if not open_ids:
        return {}
    records = get_session().scalars(
        select(StepRecord).where(
            StepRecord.case_id.in_(open_ids), StepRecord.completed_at.is_(None)
        )
    )
    return {record.case_id: record.due_at for record in records}


@bp.get("/")
@require_roles()
def cases() -> Any:
    filters = {
        "status": request.args.get("status", ""),
        "host": request.args.get("host", "").strip(),
        "check": request.args.get("check", "").strip(),
    }
    page_text = request.args.get("page", "1").strip()
    page = _page_number(page_text)
    errors = [
        message
        for message in (
            _status_error(filters["status"]),
            _name_error("host", filters["host"], MAX_HOST_NAME_CHARS),
            _name_error("check", filters["check"], MAX_CHECK_NAME_CHARS),
            _page_error(page_text) if page is None else None,
        )
        if message is not None
    ]
    if errors:
        # The list would otherwise ignore the bad value and show every case.
        page_html = render_template(
            "cases.html",
            cases=[],
            filters=filters,
            statuses=CASE_STATUSES,
            errors=errors,
            page=1,
            has_next=False,
        )
        return page_html, 400

    assert page is not None
    statement = (
        select(Case)
        .options(selectinload(Case.host), selectinload(Case.check))
        .order_by(Case.opened_at.desc(), Case.id.desc())
        .limit(PAGE_SIZE + 1)
        .offset((page - 1) * PAGE_SIZE)
    )
    if filters["status"]:
        statement = statement.where(Case.status == filters["status"])
    if filters["host"]:
        statement = statement.where(Case.host.has(Host.name == filters["host"]))
    if filters["check"]:
        statement = statement.where(Case.check.has(Check.name == filters["check"]))
    session = get_session()
    user = current_user()
    statement = restrict_to_user(statement, user)
    rows = list(session.scalars(statement))
    # NOTE: vendors' cases are filtered after the page is read, so a
    # vendor's page may hold fewer than PAGE_SIZE cases.
    found = [case for case in rows[:PAGE_SIZE] if can_view(session, user, case)]
    return render_template(
        "cases.html",
        cases=found,
        deadlines=_current_deadlines(found),
        now=current_procedure().clock(),
        filters=filters,
        statuses=CASE_STATUSES,
        errors=[],
        page=page,
        has_next=len(rows) > PAGE_SIZE,
        page_filters={key: value for key, value in filters.items() if value},
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
