"""The case page's forms in a real browser: room between fields, sized inputs."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from .conftest import BASE_TIME, Agent, Persona, make_result, post
from .test_ui_browser import browser_page, log_in, server  # noqa: F401

VIEWPORT = {"width": 1280, "height": 900}
# pelihara.css caps inputs and selects at 28rem, 448 px at the default 16 px.
MAX_INPUT_PX = 448
MIN_FIELD_GAP_PX = 8


def _open_case(
    page: Any, base_url: str, client: FlaskClient, agent: Agent, head: Persona
) -> None:
    post(client, agent, make_result(at=BASE_TIME))
    page.set_viewport_size(VIEWPORT)
    log_in(page, base_url, head)
    page.goto(f"{base_url}/cases/1")


def test_layout_select_width_capped(
    browser_page: Any,  # noqa: F811
    server: str,  # noqa: F811
    client: FlaskClient,
    agent: Agent,
    head: Persona,
) -> None:
    _open_case(browser_page, server, client, agent, head)

    box = browser_page.locator("form.step-form select").first.bounding_box()

    assert box["width"] <= MAX_INPUT_PX


def test_layout_fields_have_gap(
    browser_page: Any,  # noqa: F811
    server: str,  # noqa: F811
    client: FlaskClient,
    agent: Agent,
    head: Persona,
) -> None:
    _open_case(browser_page, server, client, agent, head)

    labels = browser_page.locator("form.step-form > label")
    first = labels.nth(0).bounding_box()
    second = labels.nth(1).bounding_box()

    assert second["y"] - (first["y"] + first["height"]) >= MIN_FIELD_GAP_PX
