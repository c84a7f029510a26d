"""Login throttling after repeated failures, and the security headers."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from collector.models import utcnow
from collector.models.users import LoginFailure

from .conftest import Persona, csrf_token

THROTTLED_TEXT = (
    "Terlalu banyak percobaan masuk yang gagal; coba lagi dalam 15 menit "
    "(too many failed logins; try again in 15 minutes)."
)


def _log_in(
    client: FlaskClient,
    name: str,
    password: str,
    address: str = "127.0.0.1",
) -> int:
    token = csrf_token(client)
    answer = client.post(
        "/login",
        data={"name": name, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
    )
    return answer.status_code


def _fail(client: FlaskClient, name: str, times: int, address: str) -> list[int]:
    return [_log_in(client, name, "wrong", address) for _ in range(times)]


def test_throttle_sixth_failure_is_429(
    client: FlaskClient, technician: Persona
) -> None:
    statuses = _fail(client, technician.name, 5, "192.0.2.10")

    answer = client.post(
        "/login",
        data={
            "name": technician.name,
            "password": technician.password,
            "csrf_token": csrf_token(client),
        },
        environ_base={"REMOTE_ADDR": "192.0.2.10"},
    )

    assert statuses == [401] * 5
    assert answer.status_code == 429
    assert THROTTLED_TEXT in answer.get_data(as_text=True)
    assert answer.headers["Retry-After"] == "900"


def test_throttle_counts_user_name(client: FlaskClient, technician: Persona) -> None:
    for number in range(5):
        _fail(client, technician.name, 1, f"192.0.2.{number + 20}")

    status = _log_in(client, technician.name, technician.password, "192.0.2.99")

    assert status == 429


def test_throttle_counts_address(client: FlaskClient, technician: Persona) -> None:
    for number in range(5):
        _fail(client, f"nobody-{number}", 1, "192.0.2.30")

    status = _log_in(client, technician.name, technician.password, "192.0.2.30")

    assert status == 429


def test_throttle_other_user_still_logs_in(
    client: FlaskClient, technician: Persona, viewer: Persona
) -> None:
    _fail(client, technician.name, 5, "192.0.2.40")

    status = _log_in(client, viewer.name, viewer.password, "192.0.2.41")

    assert status == 302


def test_throttle_old_failures_expire(
    client: FlaskClient, session: Session, technician: Persona
) -> None:
    _fail(client, technician.name, 5, "192.0.2.50")
    session.execute(update(LoginFailure).values(at=utcnow() - timedelta(minutes=16)))
    session.commit()

    status = _log_in(client, technician.name, technician.password, "192.0.2.50")

    assert status == 302


def test_throttle_success_clears_name(client: FlaskClient, technician: Persona) -> None:
    _fail(client, technician.name, 4, "192.0.2.60")
    _log_in(client, technician.name, technician.password, "192.0.2.61")
    _fail(client, technician.name, 1, "192.0.2.62")

    status = _log_in(client, technician.name, technician.password, "192.0.2.63")

    assert status == 302


def test_throttle_log_has_no_password(
    client: FlaskClient, technician: Persona, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="collector.auth")

    _log_in(client, technician.name, "hunter2-secret", "192.0.2.70")

    messages = [record.getMessage() for record in caplog.records]
    assert f"failed login for user name '{technician.name}' from 192.0.2.70" in (
        messages
    )
    assert not any("hunter2-secret" in message for message in messages)


@pytest.mark.parametrize("path", ["/login", "/api/v1/cases", "/healthz", "/nope"])
def test_headers_on_every_response(client: FlaskClient, path: str) -> None:
    answer = client.get(path)

    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "same-origin"
    assert answer.headers["Content-Security-Policy"] == (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )
