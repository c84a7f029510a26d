"""Login throttling after repeated failures, and the security headers."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from collector import auth
from collector.app import trusted_proxies_from_environment
from collector.models import utcnow

from .conftest import Persona, csrf_token

THROTTLED_TEXT = (
    "Terlalu banyak percobaan masuk yang gagal; coba lagi dalam 15 menit "
    "(too many failed logins; try again in 15 minutes)."
)
ATTACKER = "203.0.113.66"
USER_ADDRESS = "192.0.2.10"


class Clock:
    """A settable replacement for the login's utcnow."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, step: timedelta) -> None:
        self.now += step


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fixed = Clock()
    monkeypatch.setattr(auth, "utcnow", fixed)
    return fixed


def _post_login(
    client: FlaskClient,
    name: str,
    password: str,
    address: str,
    headers: dict[str, str] | None = None,
) -> Any:
    token = csrf_token(client)
    return client.post(
        "/login",
        data={"name": name, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
        headers=headers or {},
    )


def _log_in(client: FlaskClient, persona: Persona, address: str) -> int:
    return _post_login(client, persona.name, persona.password, address).status_code


def _fail(client: FlaskClient, name: str, times: int, address: str) -> list[int]:
    return [
        _post_login(client, name, "wrong", address).status_code for _ in range(times)
    ]


def _spray(client: FlaskClient, times: int, address: str) -> list[int]:
    # One wrong password for each of `times` different user names.
    return [
        _post_login(client, f"nobody-{number}", "wrong", address).status_code
        for number in range(times)
    ]


def test_throttle_sixth_failure_is_429(
    client: FlaskClient, technician: Persona, clock: Clock
) -> None:
    statuses = _fail(client, technician.name, 5, USER_ADDRESS)

    answer = _post_login(client, technician.name, technician.password, USER_ADDRESS)

    assert statuses == [401] * 5
    assert answer.status_code == 429
    assert THROTTLED_TEXT in answer.get_data(as_text=True)
    assert answer.headers["Retry-After"] == "900"


def test_throttle_retry_after_counts_down(
    client: FlaskClient, technician: Persona, clock: Clock
) -> None:
    _fail(client, technician.name, 5, USER_ADDRESS)
    clock.advance(timedelta(minutes=10, seconds=30))

    answer = _post_login(client, technician.name, technician.password, USER_ADDRESS)

    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "270"
    assert "try again in 5 minutes" in answer.get_data(as_text=True)


def test_throttle_other_address_still_logs_in(
    client: FlaskClient, technician: Persona, clock: Clock
) -> None:
    _fail(client, technician.name, 5, ATTACKER)

    attacker_status = _log_in(client, technician, ATTACKER)
    user_status = _log_in(client, technician, USER_ADDRESS)

    assert attacker_status == 429
    assert user_status == 302


def test_throttle_many_addresses_no_lockout(
    client: FlaskClient, technician: Persona, clock: Clock
) -> None:
    for number in range(10):
        _fail(client, technician.name, 1, f"203.0.113.{number + 1}")

    status = _log_in(client, technician, USER_ADDRESS)

    assert status == 302


def test_throttle_other_user_same_address(
    client: FlaskClient, technician: Persona, viewer: Persona, clock: Clock
) -> None:
    _fail(client, technician.name, 5, USER_ADDRESS)

    status = _log_in(client, viewer, USER_ADDRESS)

    assert status == 302


def test_throttle_address_limit_across_names(
    client: FlaskClient, technician: Persona, clock: Clock
) -> None:
    statuses = _spray(client, 20, ATTACKER)

    answer = _post_login(client, technician.name, technician.password, ATTACKER)

    assert statuses == [401] * 20
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "900"


def test_throttle_address_below_limit(
    client: FlaskClient, technician: Persona, clock: Clock
) -> None:
    _spray(client, 19, USER_ADDRESS)

    status = _log_in(client, technician, USER_ADDRESS)

    assert status == 302


def test_throttle_address_limit_spares_others(
    client: FlaskClient, technician: Persona, clock: Clock
) -> None:
    _spray(client, 20, ATTACKER)

    status = _log_in(client, technician, USER_ADDRESS)

    assert status == 302


def test_throttle_old_failures_expire(
    client: FlaskClient, technician: Persona, clock: Clock
) -> None:
    _fail(client, technician.name, 5, USER_ADDRESS)
    clock.advance(timedelta(minutes=15))

    status = _log_in(client, technician, USER_ADDRESS)

    assert status == 302


def test_throttle_rejected_attempt_not_counted(
    client: FlaskClient, technician: Persona, clock: Clock
) -> None:
    _fail(client, technician.name, 5, USER_ADDRESS)
    clock.advance(timedelta(minutes=10))
    rejected_status = _log_in(client, technician, USER_ADDRESS)
    clock.advance(timedelta(minutes=5))

    status = _log_in(client, technician, USER_ADDRESS)

    assert rejected_status == 429
    assert status == 302


def test_throttle_success_clears_pair(
    client: FlaskClient, technician: Persona, clock: Clock
) -> None:
    _fail(client, technician.name, 4, USER_ADDRESS)
    _log_in(client, technician, USER_ADDRESS)
    _fail(client, technician.name, 1, USER_ADDRESS)

    status = _log_in(client, technician, USER_ADDRESS)

    assert status == 302


def test_throttle_success_keeps_other_names(
    client: FlaskClient, technician: Persona, clock: Clock
) -> None:
    _spray(client, 19, USER_ADDRESS)
    first_status = _log_in(client, technician, USER_ADDRESS)
    _fail(client, "nobody-else", 1, USER_ADDRESS)

    status = _log_in(client, technician, USER_ADDRESS)

    assert first_status == 302
    assert status == 429


def test_throttle_log_has_no_password(
    client: FlaskClient, technician: Persona, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="collector.auth")

    _post_login(client, technician.name, "hunter2-secret", "192.0.2.70")

    messages = [record.getMessage() for record in caplog.records]
    assert f"failed login for user name '{technician.name}' from 192.0.2.70" in (
        messages
    )
    assert not any("hunter2-secret" in message for message in messages)


def test_throttle_pair_lockout_logged(
    client: FlaskClient,
    technician: Persona,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="collector.auth")
    until = (clock.now + timedelta(minutes=15)).isoformat(timespec="seconds")

    for number in range(5):
        _post_login(client, technician.name, f"guess-{number}", ATTACKER)

    warnings = [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING
    ]
    assert warnings == [
        f"login for user name '{technician.name}' from {ATTACKER} locked until "
        f"{until}: 5 failed logins for this user name from this address within "
        "15 minutes"
    ]
    assert not any("guess-" in record.getMessage() for record in caplog.records)


def test_throttle_address_lockout_logged(
    client: FlaskClient, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="collector.auth")

    _spray(client, 20, ATTACKER)

    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 1
    assert messages[0].startswith(
        f"login for user name 'nobody-19' from {ATTACKER} locked until "
    )
    assert messages[0].endswith(
        ": 20 failed logins from this address for any user name within 15 minutes"
    )


@pytest.mark.parametrize("app_config", [{"TRUSTED_PROXIES": 1}])
def test_throttle_trusted_proxy_uses_forwarded(
    client: FlaskClient, technician: Persona, clock: Clock
) -> None:
    proxy = "127.0.0.1"
    for _ in range(5):
        _post_login(
            client, technician.name, "wrong", proxy, {"X-Forwarded-For": ATTACKER}
        )

    attacker_status = _post_login(
        client,
        technician.name,
        technician.password,
        proxy,
        {"X-Forwarded-For": ATTACKER},
    ).status_code
    user_status = _post_login(
        client,
        technician.name,
        technician.password,
        proxy,
        {"X-Forwarded-For": USER_ADDRESS},
    ).status_code

    assert attacker_status == 429
    assert user_status == 302


def test_throttle_forwarded_ignored_by_default(
    client: FlaskClient, technician: Persona, clock: Clock
) -> None:
    for number in range(5):
        _post_login(
            client,
            technician.name,
            "wrong",
            ATTACKER,
            {"X-Forwarded-For": f"198.51.100.{number + 1}"},
        )

    status = _log_in(client, technician, ATTACKER)

    assert status == 429


@pytest.mark.parametrize("text", ["-1", "one", "1.5"])
def test_trusted_proxies_invalid(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv("PELIHARA_TRUSTED_PROXIES", text)

    with pytest.raises(ValueError) as raised:
        trusted_proxies_from_environment()

    assert str(raised.value) == (
        f"PELIHARA_TRUSTED_PROXIES={text!r} is invalid; expected the number of "
        "reverse proxies in front of the collector (0 or more, e.g. 1)"
    )


@pytest.mark.parametrize(("text", "expected"), [("", 0), ("0", 0), (" 2 ", 2)])
def test_trusted_proxies_setting(
    monkeypatch: pytest.MonkeyPatch, text: str, expected: int
) -> None:
    monkeypatch.setenv("PELIHARA_TRUSTED_PROXIES", text)

    assert trusted_proxies_from_environment() == expected


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
