"""GET /api/v1/results and the case page: result history with late results."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from collector.ingest import close_case
from collector.models import Case, utcnow

from .conftest import (
    BASE_TIME,
    Agent,
    Persona,
    error_body,
    login,
    make_result,
    minutes,
    post,
)

CHECK = "root-disk"


def history(
    client: FlaskClient, persona: Persona, **arguments: Any
) -> list[dict[str, Any]]:
    """Return the results GET /api/v1/results lists for `persona`."""
    query = {"host": "app-01", "check": CHECK, **arguments}
    answer = client.get(
        "/api/v1/results", query_string=query, headers=persona.headers()
    )
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["results"]


@pytest.fixture
def posted(client: FlaskClient, agent: Agent) -> dict[str, str]:
    """Post five root-disk results, two of them late; return their ids by name.

    The case opens at +10 min. The late WARNING (+20) falls in its span,
    the late CRITICAL (+5) before it.
    """
    results = {
        "ok_before": make_result(CHECK, "OK", at=BASE_TIME),
        "opened": make_result(CHECK, at=BASE_TIME + minutes(10)),
        "repeated": make_result(CHECK, at=BASE_TIME + minutes(30)),
        "late_in_span": make_result(
            CHECK, "WARNING", at=BASE_TIME + minutes(20), message="late warning"
        ),
        "late_before": make_result(
            CHECK, at=BASE_TIME + minutes(5), message="late before the case"
        ),
    }
    for result in results.values():
        assert post(client, agent, result).status_code == 200
    return {name: result["id"] for name, result in results.items()}


def test_results_newest_first_with_late_marked(
    client: FlaskClient, posted: dict[str, str], viewer: Persona, session: Session
) -> None:
    listed = history(client, viewer)

    case = session.scalars(select(Case)).one()
    assert [result["id"] for result in listed] == [
        posted["repeated"],
        posted["late_in_span"],
        posted["opened"],
        posted["late_before"],
        posted["ok_before"],
    ]
    assert [result["late"] for result in listed] == [False, True, False, True, False]
    assert {result["host"] for result in listed} == {"app-01"}
    assert {result["check"] for result in listed} == {CHECK}
    assert [result["case"] for result in listed] == [case.id, None, case.id, None, None]


def test_results_since_filters_older(
    client: FlaskClient, posted: dict[str, str], technician: Persona
) -> None:
    since = (BASE_TIME + minutes(20)).isoformat()

    listed = history(client, technician, since=since)

    assert [result["id"] for result in listed] == [
        posted["repeated"],
        posted["late_in_span"],
    ]


def test_results_limit_and_offset_page(
    client: FlaskClient, posted: dict[str, str], technician: Persona
) -> None:
    listed = history(client, technician, limit=2, offset=1)

    assert [result["id"] for result in listed] == [
        posted["late_in_span"],
        posted["opened"],
    ]


def test_results_unknown_check_is_empty(
    client: FlaskClient, posted: dict[str, str], technician: Persona
) -> None:
    assert history(client, technician, check="no-such-check") == []


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        (
            {"check": CHECK},
            "host",
            "missing host; give ?host=<host name>&check=<check>",
        ),
        (
            {"host": "app-01"},
            "check",
            "missing check; give ?host=<host name>&check=<check>",
        ),
        (
            {"host": "app-01", "check": CHECK, "since": "yesterday"},
            "since",
            "invalid timestamp 'yesterday'; expected ISO 8601 such as "
            "2026-12-04T03:00:00Z (write a '+' in an offset as %2B)",
        ),
        (
            {"host": "app-01", "check": CHECK, "since": "2026-12-04T03:00:00"},
            "since",
            "timestamp '2026-12-04T03:00:00' has no UTC offset; add one, e.g. Z or "
            "+07:00",
        ),
        (
            {"host": "app-01", "check": CHECK, "limit": "0"},
            "limit",
            "limit must be 1 to 1000, got 0",
        ),
        (
            {"host": "app-01", "check": CHECK, "limit": "ten"},
            "limit",
            "limit must be a whole number, got 'ten'",
        ),
        (
            {"host": "app-01", "check": CHECK, "offset": "x"},
            "offset",
            "offset must be a whole number, got 'x'",
        ),
    ],
)
def test_results_invalid_query_is_400(
    client: FlaskClient,
    technician: Persona,
    query: dict[str, str],
    field: str,
    message: str,
) -> None:
    answer = client.get(
        "/api/v1/results", query_string=query, headers=technician.headers()
    )

    assert answer.status_code == 400
    assert answer.get_json() == error_body({"error": message, "field": field})


def test_results_without_login_is_401(client: FlaskClient) -> None:
    answer = client.get("/api/v1/results?host=app-01&check=root-disk")

    assert answer.status_code == 401


def test_results_unit_sees_own_case_span(
    client: FlaskClient,
    posted: dict[str, str],
    session: Session,
    unit_user: Persona,
) -> None:
    case = session.scalars(select(Case)).one()
    case.unit = "Bagian Umum"
    session.commit()

    listed = history(client, unit_user)

    assert [result["id"] for result in listed] == [
        posted["repeated"],
        posted["late_in_span"],
        posted["opened"],
    ]


def test_results_unit_not_after_case_closed(
    client: FlaskClient,
    agent: Agent,
    posted: dict[str, str],
    session: Session,
    unit_user: Persona,
) -> None:
    case = session.scalars(select(Case)).one()
    case.unit = "Bagian Umum"
    close_case(session, case, "restored", BASE_TIME + minutes(40), "user:siti")
    session.commit()
    after = make_result(CHECK, "OK", at=BASE_TIME + minutes(50))
    post(client, agent, after)

    listed = history(client, unit_user)

    assert after["id"] not in [result["id"] for result in listed]
    assert len(listed) == 3


def test_results_unit_of_other_case_sees_none(
    client: FlaskClient, posted: dict[str, str], unit_user: Persona
) -> None:
    assert history(client, unit_user) == []


def test_results_vendor_without_case_sees_none(
    client: FlaskClient, posted: dict[str, str], vendor_user: Persona
) -> None:
    assert history(client, vendor_user) == []


def test_case_page_shows_late_result_in_span(
    client: FlaskClient,
    posted: dict[str, str],
    session: Session,
    technician: Persona,
) -> None:
    case = session.scalars(select(Case)).one()
    login(client, technician)

    page = client.get(f"/cases/{case.id}").get_data(as_text=True)

    assert "late warning" in page
    assert page.count("terlambat (late)</span>") == 1
    assert '<tr class="warning late">' in page
    assert "late before the case" not in page


def test_case_page_late_rows_in_time_order(
    client: FlaskClient,
    posted: dict[str, str],
    session: Session,
    technician: Persona,
) -> None:
    case = session.scalars(select(Case)).one()
    login(client, technician)

    page = client.get(f"/cases/{case.id}").get_data(as_text=True)

    late_row = page.index("late warning")
    assert page.index("root-disk is CRITICAL") < late_row
    assert late_row < page.rindex("root-disk is CRITICAL")


def test_case_page_closed_case_omits_late_after(
    client: FlaskClient,
    agent: Agent,
    session: Session,
    technician: Persona,
) -> None:
    post(client, agent, make_result(CHECK, at=BASE_TIME))
    case = session.scalars(select(Case)).one()
    close_case(session, case, "false_alarm", BASE_TIME + minutes(10), "user:siti")
    session.commit()
    post(client, agent, make_result(CHECK, "OK", at=utcnow()))
    late = make_result(
        CHECK, "WARNING", at=BASE_TIME + minutes(20), message="late after closing"
    )
    post(client, agent, late)
    login(client, technician)

    page = client.get(f"/cases/{case.id}").get_data(as_text=True)

    assert "late after closing" not in page
