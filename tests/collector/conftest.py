"""Fixtures for collector tests: a clean database, the app, personas, agents.

Every test that uses `database_url` (directly or through `app`, `client`,
`session` or the personas) runs twice: on a fresh SQLite file and on a fresh
PostgreSQL schema. PostgreSQL comes from $PELIHARA_TEST_POSTGRES_URL when it
is set (then an unreachable server fails the tests), else from
postgresql+psycopg://postgres@127.0.0.1:5432/test when reachable (else the
PostgreSQL variants are skipped with the reason).

Personas: `admin`, `head`, `technician`, `unit_user` (unit "Bagian Umum"),
`vendor_user` (vendor "PT Contoh") and `viewer`. Each is a `Persona` with
name, role, password and personal API token, and `personas` maps role to
Persona.
`agent` is an `Agent` for host "app-01" with its token. Helpers:
`persona.headers()` for the API, `login(client, persona)` for the UI, which
returns the CSRF token to put in the `csrf_token` field of later forms.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from collector import tokens
from collector.app import create_app
from collector.db import get_database
from collector.procedure_api import stop_overdue_watcher
from collector.tokens import create_agent_token, create_user

POSTGRES_URL_VARIABLE = "PELIHARA_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
AGENT_HOST = "app-01"
BASE_TIME = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)

_postgres_state: dict[str, Any] = {}


def _postgres_server() -> str:
    """Return the PostgreSQL URL to test against, or skip or fail the test."""
    configured = os.environ.get(POSTGRES_URL_VARIABLE)
    url = configured or DEFAULT_POSTGRES_URL
    if "error" not in _postgres_state and "ok" not in _postgres_state:
        engine = create_engine(url, connect_args={"connect_timeout": 5})
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            _postgres_state["ok"] = True
        except Exception as problem:  # noqa: BLE001 - any failure means unreachable
            _postgres_state["error"] = f"{type(problem).__name__}: {problem}"
        finally:
            engine.dispose()
    if "error" in _postgres_state:
        where = make_url(url).render_as_string(hide_password=True)
        if configured:
            pytest.fail(f"PostgreSQL at {where} failed: {_postgres_state['error']}")
        pytest.skip(
            f"PostgreSQL not reachable at {where} ({_postgres_state['error']}); "
            f"set {POSTGRES_URL_VARIABLE} to require it"
        )
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Yield the URL of an empty database: a SQLite file or a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'pelihara.db'}"
        return

    server = _postgres_server()
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(server)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    # search_path in the URL puts every connection of the app, and of any
    # subprocess given this URL, in the private schema.
    url = make_url(server).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Extra settings for `app`; override this fixture to change them."""
    return {}


@pytest.fixture
def app(
    database_url: str, tmp_path: Path, app_config: dict[str, Any]
) -> Iterator[Flask]:
    application = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "DATA_DIR": str(tmp_path / "data"),
            "SECRET_KEY": "test-secret-key",
            **app_config,
        }
    )
    yield application
    # A watcher still checking would hold a connection the dispose leaves open.
    stop_overdue_watcher(application)
    get_database(application).dispose()


class SessionCommittingClient(FlaskClient):
    """A test client that ends the test's transaction around each request.

    On SQLite every transaction holds the write lock from BEGIN, so a test
    session left in a transaction would make the app wait for it. The
    session is committed before each request, which also lets the app see
    the test's writes, and expired after it, so that the test reads what
    the app wrote.
    """

    test_session: Session | None = None

    def open(self, *args: Any, **kwargs: Any) -> Any:
        if self.test_session is not None:
            self.test_session.commit()
        try:
            return super().open(*args, **kwargs)
        finally:
            if self.test_session is not None:
                self.test_session.commit()
                self.test_session.expire_all()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """A session on the app's database, committed around each `client` request.

    Commit (or roll back) yourself before anything else writes to the
    database, such as another session or a subprocess.
    """
    with get_database(app).session() as opened:
        yield opened


@pytest.fixture
def client(app: Flask, session: Session) -> FlaskClient:
    app.test_client_class = SessionCommittingClient
    test_client = app.test_client()
    test_client.test_session = session
    return test_client


@dataclass(frozen=True)
class Persona:
    """A user of one role with the secrets its tests need."""

    id: int
    name: str
    role: str
    password: str
    token: str
    unit: str | None = None
    vendor: str | None = None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


PERSONAS = {
    "admin": {},
    "head": {},
    "technician": {},
    "unit": {"unit": "Bagian Umum"},
    "vendor": {"vendor": "PT Contoh"},
    "viewer": {},
}


@pytest.fixture
def personas(app: Flask, monkeypatch: pytest.MonkeyPatch) -> dict[str, Persona]:
    """One Persona per role, keyed by role, created in the app's database."""
    # A cheap hash keeps the suite fast; the login code is the same.
    monkeypatch.setattr(tokens, "PASSWORD_HASH_METHOD", "pbkdf2:sha256:1000")
    made: dict[str, Persona] = {}
    with get_database(app).session() as session:
        for role, owner in PERSONAS.items():
            name = f"{role}-user"
            created = create_user(
                session, name, role, password=f"{role}-password", **owner
            )
            made[role] = Persona(
                id=created.user.id,
                name=name,
                role=role,
                password=f"{role}-password",
                token=created.api_token,
                **owner,
            )
        session.commit()
    return made


@pytest.fixture
def admin(personas: dict[str, Persona]) -> Persona:
    return personas["admin"]


@pytest.fixture
def head(personas: dict[str, Persona]) -> Persona:
    return personas["head"]


@pytest.fixture
def technician(personas: dict[str, Persona]) -> Persona:
    return personas["technician"]


@pytest.fixture
def unit_user(personas: dict[str, Persona]) -> Persona:
    return personas["unit"]


@pytest.fixture
def vendor_user(personas: dict[str, Persona]) -> Persona:
    return personas["vendor"]


@pytest.fixture
def viewer(personas: dict[str, Persona]) -> Persona:
    return personas["viewer"]


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """Return the CSRF token of the form on `path` for this client's session."""
    page = client.get(path)
    match = CSRF_FIELD.search(page.get_data(as_text=True))
    assert match, f"no csrf_token field on {path}"
    return match.group(1)


def login(client: FlaskClient, persona: Persona) -> str:
    """Log `persona` in through the form and return the session's CSRF token."""
    token = csrf_token(client)
    answer = client.post(
        "/login",
        data={"name": persona.name, "password": persona.password, "csrf_token": token},
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return csrf_token(client, "/")


@dataclass
class Agent:
    """An agent's identity and a builder for the batches it posts."""

    host: str
    token: str
    token_id: int
    interval_seconds: float = 7200.0

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def batch(self, *results: dict[str, Any]) -> dict[str, Any]:
        return {
            "agent": {
                "host": self.host,
                "version": "0.1.0",
                "interval_seconds": self.interval_seconds,
            },
            "results": list(results),
        }


def make_result(
    check: str = "root-disk",
    status: str = "CRITICAL",
    *,
    at: datetime = BASE_TIME,
    result_id: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Return one result object as an agent sends it."""
    result = {
        "id": result_id or uuid.uuid4().hex,
        "check": check,
        "kind": "disk",
        "category": "hardware",
        "status": status,
        "message": f"{check} is {status}",
        "values": {"used_percent": 93.1},
        "reason": "" if status == "OK" else "threshold",
        "observed_at": at.isoformat(),
        "duration_seconds": 0.004,
        "confirmed": True,
        "suppressed": None,
        "open_case_on": ["CRITICAL"],
    }
    result.update(overrides)
    return result


def minutes(count: float) -> timedelta:
    return timedelta(minutes=count)


@pytest.fixture
def agent(app: Flask) -> Agent:
    """An agent token for host "app-01"."""
    with get_database(app).session() as session:
        record, token = create_agent_token(session, AGENT_HOST)
        session.commit()
        return Agent(host=AGENT_HOST, token=token, token_id=record.id)


def post(client: FlaskClient, agent: Agent, *results: dict[str, Any]) -> Any:
    """POST a batch of `results` from `agent` and return the response."""
    return client.post(
        "/api/v1/results", json=agent.batch(*results), headers=agent.headers()
    )


def error_body(expected: dict[str, Any]) -> dict[str, Any]:
    """Return the API's error body for `expected`, `reasons` added as one entry.

    Every API error lists its problems in `reasons`; one problem gives
    `[error]`.
    """
    return {**expected, "reasons": [expected["error"]]}
