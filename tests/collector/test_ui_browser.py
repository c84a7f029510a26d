"""A real browser moves a case along the minor path in the web UI.

The collector runs in a thread on 127.0.0.1; Playwright drives the system
chromium (/usr/bin/chromium), never a browser it downloads itself.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from .conftest import Persona
from .procedure_support import Clock, file_report, start_clock, wib

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="playwright is not installed (pip install -e '.[test]')",
)


@pytest.fixture
def clock() -> Clock:
    return start_clock()


@pytest.fixture
def app_config(clock: Clock) -> dict[str, Any]:
    return {"PROCEDURE_CLOCK": clock}


@pytest.fixture
def server(app: Flask) -> Iterator[str]:
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def browser_page() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} not found; install it with apt-get install chromium")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()


def log_in(page: Any, server: str, persona: Persona) -> None:
    page.goto(f"{server}/login")
    page.fill("input[name=name]", persona.name)
    page.fill("input[name=password]", persona.password)
    page.click("form.login button[type=submit]")
    page.wait_for_url(f"{server}/")


def log_out(page: Any) -> None:
    page.click("form.logout button[type=submit]")
    page.wait_for_selector("form.login")


def complete(page: Any, target: str) -> None:
    page.click(f"form.step-form button[name=to][value={target}]")
    page.wait_for_load_state()


def current_step(page: Any) -> str:
    return page.get_attribute("tr.step.current", "data-step")


def ahead(page: Any, path: str) -> list[str]:
    rows = page.locator(f'tbody.ahead[data-path="{path}"] tr.step.ahead')
    return [rows.nth(index).get_attribute("data-step") for index in range(rows.count())]


def test_browser_minor_path(
    client: FlaskClient,
    server: str,
    browser_page: Any,
    clock: Clock,
    unit_user: Persona,
    head: Persona,
    technician: Persona,
) -> None:
    clock.now = wib(2026, 12, 7, 9)
    case_id = file_report(client, unit_user, wib(2026, 12, 7, 8))["id"]
    page = browser_page
    case_url = f"{server}/cases/{case_id}"

    log_in(page, server, head)
    page.goto(case_url)
    assert current_step(page) == "received"
    assert page.get_attribute("tr.step.current", "aria-current") == "step"
    assert ahead(page, "minor") == ["minor_repair", "report", "restored"]
    assert len(ahead(page, "severe")) == 6
    complete(page, "assignment")
    assert current_step(page) == "assignment"
    page.select_option("select[name=f_technician]", technician.name)
    complete(page, "analysis")
    assert current_step(page) == "analysis"
    log_out(page)

    log_in(page, server, technician)
    page.goto(case_url)
    page.fill("textarea[name=f_findings_software]", "session table full")
    page.fill("textarea[name=f_findings_database]", "no fault")
    page.fill("textarea[name=f_findings_hardware]", "no fault")
    page.select_option("select[name=f_classification]", "minor")
    complete(page, "minor_repair")
    assert current_step(page) == "minor_repair"
    assert ahead(page, "") == ["report", "restored"]
    assert ahead(page, "severe") == []

    page.fill("textarea[name=f_work_done]", "old sessions purged")
    page.select_option("select[name=f_retest_result]", "passed")
    complete(page, "report")
    assert current_step(page) == "report"

    page.fill("textarea[name=f_report]", "repaired and retested")
    page.fill("textarea[name=f_documents]", "laporan.pdf\nberita-acara.pdf")
    complete(page, "restored")
    assert current_step(page) == "restored"

    page.fill("textarea[name=f_confirmation]", "unit confirmed")
    page.fill("input[name=f_back_at]", "2026-12-07T08:50")
    complete(page, "closed")
    assert page.locator("tr.step.current").count() == 0
    assert "ditutup (closed)" in page.inner_text("dl.case")

    body = client.get(f"/api/v1/cases/{case_id}", headers=head.headers()).get_json()
    assert body["resolution"] == "restored"
    assert [view["id"] for view in body["steps"]] == [
        "received",
        "assignment",
        "analysis",
        "minor_repair",
        "report",
        "restored",
    ]
    report = [view for view in body["steps"] if view["id"] == "report"][0]
    assert report["fields"]["documents"] == ["laporan.pdf", "berita-acara.pdf"]


def test_browser_refusal_shown(
    client: FlaskClient,
    server: str,
    browser_page: Any,
    clock: Clock,
    unit_user: Persona,
    head: Persona,
) -> None:
    clock.now = wib(2026, 12, 7, 9)
    case_id = file_report(client, unit_user, wib(2026, 12, 7, 8))["id"]
    page = browser_page
    log_in(page, server, head)
    page.goto(f"{server}/cases/{case_id}")
    complete(page, "assignment")
    # Submitting the assignment without a technician is refused and explained.
    complete(page, "analysis")
    assert current_step(page) == "assignment"
    assert (
        'missing required field "Pelaksana yang ditugaskan (Assigned technician)" '
        'for step "Penugasan oleh Kepala Biro (Assignment by the head of bureau)"'
    ) in (page.inner_text("p.flash.error"))
