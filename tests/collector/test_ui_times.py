"""Times on the case list and the case page, in the calendar's zone."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from .conftest import BASE_TIME, Agent, Persona, login, make_result, minutes, post

# BASE_TIME is 03:00 UTC, which is 10:00 in Jakarta (WIB, UTC+7).
OPENED_WIB = "2026-12-04 10:00 WIB"
REPEATED_WIB = "2026-12-04 10:05 WIB"


def _case_page(client: FlaskClient, agent: Agent, technician: Persona) -> str:
    post(client, agent, make_result(at=BASE_TIME))
    post(client, agent, make_result(at=BASE_TIME + minutes(5)))
    login(client, technician)
    return client.get("/cases/1").get_data(as_text=True)


def _header(page: str) -> str:
    match = re.search(r'<dl class="case">.*?</dl>', page, re.DOTALL)
    assert match, "no case header on the page"
    return match.group(0)


def test_times_case_header_in_calendar_zone(
    client: FlaskClient, agent: Agent, technician: Persona
) -> None:
    header = _header(_case_page(client, agent, technician))

    assert f">{OPENED_WIB}</time>" in header
    assert f">{REPEATED_WIB}</time>" in header


def test_times_results_and_history_in_zone(
    client: FlaskClient, agent: Agent, technician: Persona
) -> None:
    page = _case_page(client, agent, technician)
    results = page[page.index('<table class="results">') :]
    history = page[page.index('<ol class="events">') :]

    assert f">{REPEATED_WIB}</time>" in results
    assert f">{OPENED_WIB}</time> <strong>opened</strong>" in history


def test_times_page_shows_no_utc(
    client: FlaskClient, agent: Agent, technician: Persona
) -> None:
    page = _case_page(client, agent, technician)

    assert "UTC" not in page


def test_times_keep_iso_attribute(
    client: FlaskClient, agent: Agent, technician: Persona
) -> None:
    header = _header(_case_page(client, agent, technician))

    assert '<time datetime="2026-12-04T03:00:00+00:00">' in header


def test_times_case_list_in_zone(
    client: FlaskClient, agent: Agent, technician: Persona
) -> None:
    post(client, agent, make_result(at=BASE_TIME))
    login(client, technician)

    page = client.get("/").get_data(as_text=True)

    assert f">{OPENED_WIB}</time>" in page


@pytest.mark.parametrize("app_config", [{"CALENDAR_TIMEZONE": "Asia/Makassar"}])
def test_times_follow_configured_zone(
    client: FlaskClient, agent: Agent, technician: Persona
) -> None:
    post(client, agent, make_result(at=BASE_TIME))
    login(client, technician)

    page = client.get("/").get_data(as_text=True)

    assert ">2026-12-04 11:00 WITA</time>" in page
