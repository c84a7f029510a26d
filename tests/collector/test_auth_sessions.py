"""Session cookies end at logout, copies of them included."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from .conftest import Persona, login


def _saved_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None, "login set no session cookie"
    return cookie.value


def test_session_saved_cookie_ends_at_logout(
    client: FlaskClient, technician: Persona
) -> None:
    token = login(client, technician)
    saved = _saved_cookie(client)

    client.post("/logout", data={"csrf_token": token})
    client.set_cookie("session", saved)
    answer = client.get("/api/v1/cases")

    assert answer.status_code == 401


def test_session_logout_ends_other_sessions(
    app: Flask, client: FlaskClient, technician: Persona
) -> None:
    other = app.test_client()
    login(other, technician)
    token = login(client, technician)

    client.post("/logout", data={"csrf_token": token})

    assert other.get("/api/v1/cases").status_code == 401


def test_session_new_login_after_logout(
    client: FlaskClient, technician: Persona
) -> None:
    token = login(client, technician)
    client.post("/logout", data={"csrf_token": token})

    login(client, technician)

    assert client.get("/api/v1/cases").status_code == 200
