"""Case list filters and pages: invalid values are a 400 naming the parameter."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from collector.models import Case

from .conftest import BASE_TIME, Agent, Persona, error_body, login, make_result, post


def _errors(page: str) -> list[str]:
    start = page.index('<div class="filter-errors" role="alert">')
    block = page[start : page.index("</div>", start)]
    return [
        html.unescape(part.split("</p>")[0])
        for part in block.split('<p class="flash error">')[1:]
    ]


def _add_cases(session: Session, count: int) -> None:
    for number in range(count):
        at = BASE_TIME + timedelta(minutes=number)
        session.add(
            Case(
                source="memorandum",
                title=f"case number {number}",
                status="open",
                opened_at=at,
                last_seen_at=at,
            )
        )
    session.commit()


def test_ui_filter_unknown_status_is_400(
    client: FlaskClient, agent: Agent, technician: Persona
) -> None:
    post(client, agent, make_result("root-disk"))
    login(client, technician)

    answer = client.get("/?status=bogus")
    page = answer.get_data(as_text=True)

    assert answer.status_code == 400
    assert _errors(page) == [
        "status: nilai 'bogus' tidak dikenal; pilihan: kosong (semua), open, "
        "closed (invalid status 'bogus'; expected empty for all cases or one of "
        "open, closed)"
    ]
    assert "root-disk CRITICAL" not in page


def test_ui_filter_error_keeps_form(client: FlaskClient, technician: Persona) -> None:
    login(client, technician)

    page = client.get("/?status=bogus&host=app-01").get_data(as_text=True)

    assert '<form method="get" class="filters">' in page
    assert '<input name="host" value="app-01">' in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "host=" + "h" * 256,
            "host: lebih dari 255 karakter; isi nama host paling banyak 255 "
            "karakter tanpa karakter kendali (invalid host filter: longer than "
            "255 characters; give a host name of at most 255 characters without "
            "control characters)",
        ),
        (
            "check=disk%00",
            "check: mengandung karakter kendali; isi nama check paling banyak 200 "
            "karakter tanpa karakter kendali (invalid check filter: contains "
            "control characters; give a check name of at most 200 characters "
            "without control characters)",
        ),
        (
            "page=abc",
            "page: 'abc' bukan nomor halaman; isi bilangan bulat 1 sampai 100000 "
            "(invalid page 'abc'; expected a whole number from 1 to 100000)",
        ),
        (
            "page=0",
            "page: '0' bukan nomor halaman; isi bilangan bulat 1 sampai 100000 "
            "(invalid page '0'; expected a whole number from 1 to 100000)",
        ),
        (
            "page=100001",
            "page: '100001' bukan nomor halaman; isi bilangan bulat 1 sampai 100000 "
            "(invalid page '100001'; expected a whole number from 1 to 100000)",
        ),
    ],
)
def test_ui_filter_invalid_value_is_400(
    client: FlaskClient, technician: Persona, query: str, message: str
) -> None:
    login(client, technician)

    answer = client.get(f"/?{query}")

    assert answer.status_code == 400
    assert _errors(answer.get_data(as_text=True)) == [message]


def test_ui_filter_lists_every_error(client: FlaskClient, technician: Persona) -> None:
    login(client, technician)

    answer = client.get("/?status=x&page=-1")
    errors = _errors(answer.get_data(as_text=True))

    assert [message.split(":")[0] for message in errors] == ["status", "page"]


def test_ui_filter_long_page_shortened(
    client: FlaskClient, technician: Persona
) -> None:
    login(client, technician)

    errors = _errors(client.get("/?page=" + "9" * 500).get_data(as_text=True))

    assert errors[0].startswith(f"page: '{'9' * 40}...' bukan nomor halaman")


def test_ui_filter_empty_values_list_all(
    client: FlaskClient, agent: Agent, technician: Persona
) -> None:
    post(client, agent, make_result("root-disk"))
    login(client, technician)

    answer = client.get("/?status=&host=&check=&page=1")

    assert answer.status_code == 200
    assert "root-disk CRITICAL" in answer.get_data(as_text=True)


def test_ui_pages_split_case_list(
    client: FlaskClient, session: Session, technician: Persona
) -> None:
    _add_cases(session, 101)
    login(client, technician)

    first = client.get("/?status=open").get_data(as_text=True)
    second = client.get("/?status=open&page=2").get_data(as_text=True)

    assert "case number 100<" in first
    assert "case number 0<" not in first
    assert '<a rel="next" href="/?page=2&amp;status=open">' in first
    assert "case number 0<" in second
    assert "case number 1<" not in second
    assert 'rel="next"' not in second
    assert '<a rel="prev" href="/?page=1&amp;status=open">' in second


def test_ui_page_past_end_is_empty(client: FlaskClient, technician: Persona) -> None:
    login(client, technician)

    answer = client.get("/?page=7")

    assert answer.status_code == 200
    assert "Tidak ada kasus" in answer.get_data(as_text=True)


def test_api_cases_control_character_host_is_400(
    client: FlaskClient, viewer: Persona
) -> None:
    answer = client.get("/api/v1/cases?host=app%0001", headers=viewer.headers())

    assert answer.status_code == 400
    assert answer.get_json() == error_body(
        {
            "error": "invalid host filter: contains control characters; give a host "
            "name of at most 255 characters without control characters",
            "field": "host",
        }
    )


def test_api_cases_long_check_is_400(client: FlaskClient, viewer: Persona) -> None:
    answer = client.get("/api/v1/cases?check=" + "c" * 201, headers=viewer.headers())

    assert answer.status_code == 400
    assert answer.get_json()["field"] == "check"


def test_api_cases_huge_offset_is_400(client: FlaskClient, viewer: Persona) -> None:
    answer = client.get(
        "/api/v1/cases?offset=99999999999999999999", headers=viewer.headers()
    )

    assert answer.status_code == 400
    assert answer.get_json() == error_body(
        {
            "error": "offset must be 0 to 10000000, got 99999999999999999999",
            "field": "offset",
        }
    )
