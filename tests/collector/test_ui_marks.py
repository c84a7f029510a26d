"""Overdue marks and refusal messages stand out on the case page in a browser."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from .conftest import Persona
from .procedure_support import Clock, file_report, move, stages, wib
from .test_procedure_ui import to_repair_and_test
from .test_ui_browser import (  # noqa: F401
    app_config,
    browser_page,
    clock,
    log_in,
    server,
)

TRANSPARENT = "rgba(0, 0, 0, 0)"


def _background(page: Any, selector: str) -> str:
    return page.locator(selector).first.evaluate(
        "element => getComputedStyle(element).backgroundColor"
    )


def test_marks_overdue_badge_has_background(
    client: FlaskClient,
    server: str,  # noqa: F811
    browser_page: Any,  # noqa: F811
    clock: Clock,  # noqa: F811
    unit_user: Persona,
    head: Persona,
) -> None:
    # Received Monday 08:00 with one working day allowed: due Tuesday 08:00.
    clock.now = wib(2026, 12, 7, 9)
    case_id = file_report(client, unit_user, wib(2026, 12, 7, 8))["id"]
    clock.now = wib(2026, 12, 9, 9)
    log_in(browser_page, server, head)

    browser_page.goto(f"{server}/cases/{case_id}")

    assert browser_page.locator("tr.step.current .badge.overdue").count() == 1
    assert _background(browser_page, ".badge.overdue") != TRANSPARENT


def test_marks_refusal_has_background(
    client: FlaskClient,
    server: str,  # noqa: F811
    browser_page: Any,  # noqa: F811
    clock: Clock,  # noqa: F811
    unit_user: Persona,
    head: Persona,
) -> None:
    clock.now = wib(2026, 12, 7, 9)
    case_id = file_report(client, unit_user, wib(2026, 12, 7, 8))["id"]
    log_in(browser_page, server, head)
    browser_page.goto(f"{server}/cases/{case_id}")

    browser_page.click("form.step-form button[name=to][value=assignment]")
    browser_page.wait_for_load_state()
    # Moving on without choosing a technician is refused.
    browser_page.click("form.step-form button[name=to][value=analysis]")
    browser_page.wait_for_load_state()

    assert browser_page.locator(".flash.error").count() == 1
    assert _background(browser_page, ".flash.error") != TRANSPARENT


def test_marks_retry_button_apart_from_moves(
    client: FlaskClient,
    server: str,  # noqa: F811
    browser_page: Any,  # noqa: F811
    clock: Clock,  # noqa: F811
    unit_user: Persona,
    head: Persona,
    technician: Persona,
) -> None:
    clock.now = wib(2026, 12, 7, 9)
    case_id = file_report(client, unit_user, wib(2026, 12, 7, 8))["id"]
    to_repair_and_test(client, clock, head, technician, case_id)
    failed = {"tests": stages("failed")}
    assert (
        move(client, technician, case_id, "repair_and_test", failed).status_code == 200
    )
    log_in(browser_page, server, technician)

    browser_page.goto(f"{server}/cases/{case_id}")

    retry = _background(browser_page, "button.retry")
    forward = _background(browser_page, "button[name=to][value=report]")
    assert retry != forward
