"""Login, roles, CSRF protection and the secret key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from flask import Flask, jsonify
from flask.testing import FlaskClient

from collector.app import load_secret_key, secure_cookies_from_environment
from collector.auth import current_user, require_roles

from .conftest import Persona, csrf_token, error_body, login


@pytest.fixture
def guarded(app: Flask) -> Flask:
    @app.post("/api/v1/test-heads-only")
    @require_roles("head", "admin")
    def heads_only() -> object:
        return jsonify({"user": current_user().name})

    return app


def test_auth_login_required_redirects(client: FlaskClient) -> None:
    answer = client.get("/")

    assert answer.status_code == 302
    assert answer.headers["Location"] == "/login?next=/"


def test_auth_login_and_logout(client: FlaskClient, technician: Persona) -> None:
    token = login(client, technician)

    assert client.get("/").status_code == 200
    answer = client.post("/logout", data={"csrf_token": token})
    assert answer.status_code == 302
    assert client.get("/").status_code == 302


def test_auth_wrong_password(client: FlaskClient, technician: Persona) -> None:
    token = csrf_token(client)

    answer = client.post(
        "/login",
        data={"name": technician.name, "password": "wrong", "csrf_token": token},
    )

    assert answer.status_code == 401
    assert "wrong name or password" in answer.get_data(as_text=True)


def test_auth_login_redirects_to_next(client: FlaskClient, viewer: Persona) -> None:
    token = csrf_token(client)

    answer = client.post(
        "/login",
        data={
            "name": viewer.name,
            "password": viewer.password,
            "csrf_token": token,
            "next": "/cases/1",
        },
    )

    assert answer.headers["Location"] == "/cases/1"


@pytest.mark.parametrize("target", ["//evil.example/", "http://evil.example/", "x"])
def test_auth_login_ignores_foreign_next(
    client: FlaskClient, viewer: Persona, target: str
) -> None:
    token = csrf_token(client)

    answer = client.post(
        "/login",
        data={
            "name": viewer.name,
            "password": viewer.password,
            "csrf_token": token,
            "next": target,
        },
    )

    assert answer.headers["Location"] == "/"


def test_auth_form_without_csrf_rejected(
    client: FlaskClient, technician: Persona
) -> None:
    answer = client.post(
        "/login", data={"name": technician.name, "password": technician.password}
    )

    assert answer.status_code == 400
    assert "The CSRF token is missing." in answer.get_data(as_text=True)


def test_auth_logout_without_csrf_rejected(
    client: FlaskClient, technician: Persona
) -> None:
    login(client, technician)

    answer = client.post("/logout")

    assert answer.status_code == 400
    assert client.get("/").status_code == 200


def test_auth_role_allowed_with_token(guarded: Flask, head: Persona) -> None:
    answer = guarded.test_client().post(
        "/api/v1/test-heads-only", headers=head.headers()
    )

    assert answer.status_code == 200
    assert answer.get_json() == {"user": head.name}


def test_auth_role_denied_with_token(guarded: Flask, technician: Persona) -> None:
    answer = guarded.test_client().post(
        "/api/v1/test-heads-only", headers=technician.headers()
    )

    assert answer.status_code == 403
    assert answer.get_json() == error_body(
        {"error": "role 'technician' may not do this; needs one of head, admin"}
    )


def test_auth_unknown_token_is_401(guarded: Flask) -> None:
    answer = guarded.test_client().post(
        "/api/v1/test-heads-only", headers={"Authorization": "Bearer pu_nope"}
    )

    assert answer.status_code == 401


def test_auth_api_with_cookie_needs_csrf(guarded: Flask, head: Persona) -> None:
    client = guarded.test_client()
    token = login(client, head)

    without = client.post("/api/v1/test-heads-only")
    with_token = client.post("/api/v1/test-heads-only", headers={"X-CSRFToken": token})

    assert without.status_code == 400
    assert without.get_json() == error_body({"error": "The CSRF token is missing."})
    assert with_token.status_code == 200


def test_auth_bearer_ignores_cookie(guarded: Flask, head: Persona) -> None:
    client = guarded.test_client()
    login(client, head)

    answer = client.post(
        "/api/v1/test-heads-only", headers={"Authorization": "Bearer pu_nope"}
    )

    assert answer.status_code == 401


def test_auth_secret_key_file_is_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PELIHARA_SECRET_KEY", raising=False)

    first = load_secret_key(tmp_path)
    second = load_secret_key(tmp_path)

    assert first == second
    assert len(first) == 64
    mode = stat.S_IMODE((tmp_path / "secret_key").stat().st_mode)
    assert mode == 0o600


def test_auth_secret_key_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PELIHARA_SECRET_KEY", "from-env")

    assert load_secret_key(tmp_path) == "from-env"
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize(
    ("value", "expected"), [("", False), ("true", True), ("0", False)]
)
def test_auth_secure_cookies_setting(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: bool
) -> None:
    monkeypatch.setenv("PELIHARA_SECURE_COOKIES", value)

    assert secure_cookies_from_environment() is expected


def test_auth_secure_cookies_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PELIHARA_SECURE_COOKIES", "maybe")

    with pytest.raises(ValueError) as raised:
        secure_cookies_from_environment()

    assert str(raised.value) == (
        "PELIHARA_SECURE_COOKIES='maybe' is invalid; expected true or false"
    )


@pytest.mark.parametrize("app_config", [{"SESSION_COOKIE_SECURE": True}])
def test_auth_secure_cookie_flag_sent(client: FlaskClient, viewer: Persona) -> None:
    token = csrf_token(client)

    answer = client.post(
        "/login",
        data={"name": viewer.name, "password": viewer.password, "csrf_token": token},
    )

    assert "Secure" in answer.headers["Set-Cookie"]
