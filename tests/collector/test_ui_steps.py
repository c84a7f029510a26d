"""Step names from the workflow on the case list and the case page."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from .conftest import BASE_TIME, Agent, Persona, login, make_result, post

STEP_ID = '<code class="step-id">received</code>'
STEP_NAME = (
    'Laporan kerusakan diterima <span class="en">(Damage report received)</span>'
)


def _header(page: str) -> str:
    match = re.search(r'<dl class="case">.*?</dl>', page, re.DOTALL)
    assert match, "no case header on the page"
    return match.group(0)


def test_step_name_on_case_list(
    client: FlaskClient, agent: Agent, technician: Persona
) -> None:
    post(client, agent, make_result(at=BASE_TIME))
    login(client, technician)

    page = client.get("/").get_data(as_text=True)

    assert f"{STEP_NAME} {STEP_ID}" in page


def test_step_name_in_case_header(
    client: FlaskClient, agent: Agent, technician: Persona
) -> None:
    post(client, agent, make_result(at=BASE_TIME))
    login(client, technician)

    header = _header(client.get("/cases/1").get_data(as_text=True))

    assert f"{STEP_NAME} {STEP_ID}" in header
