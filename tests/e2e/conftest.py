"""Fixtures that run the real `pelihara-collector` and `pelihara-agent` programs."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

BIN_DIR = Path(sys.executable).parent
TOKEN_PATTERN = re.compile(r"\b([A-Za-z0-9_\-]{24,})\b")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def program(name: str) -> str:
    """Return the path of a console script installed beside this Python."""
    path = BIN_DIR / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; run `make test` to install the project")
    return found


@dataclass
class Collector:
    """A `pelihara-collector serve` process on a private data folder."""

    data_dir: Path
    database_url: str
    port: int
    process: subprocess.Popen | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.data_dir / "collector.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self, *arguments: str, input_text: str | None = None) -> str:
        """Run one `pelihara-collector` subcommand on this data folder."""
        completed = subprocess.run(
            [
                program("pelihara-collector"),
                "--data-dir",
                str(self.data_dir),
                "--database-url",
                self.database_url,
                *arguments,
            ],
            input=input_text,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert completed.returncode == 0, completed.stderr
        return completed.stdout

    def start(self, workers: int = 1, *serve_options: str) -> None:
        """Start `serve`, with `serve_options` added, and wait for /healthz."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    program("pelihara-collector"),
                    "--data-dir",
                    str(self.data_dir),
                    "--database-url",
                    self.database_url,
                    "serve",
                    "--port",
                    str(self.port),
                    "--workers",
                    str(workers),
                    *serve_options,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"collector exited early:\n{self.log_path.read_text()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).ok:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        pytest.fail(f"collector did not answer /healthz:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)

    def agent_token(self, host: str, path: Path) -> Path:
        self.command("agent-token", host, "--output", str(path))
        return path

    def user_token(self, name: str, role: str) -> str:
        """Create a user and return the personal API token it was given."""
        output = self.command("create-user", name, "--role", role, input_text="pw\n")
        match = TOKEN_PATTERN.search(output.split("token", 1)[-1])
        assert match, f"no API token in create-user output: {output!r}"
        return match.group(1)


@pytest.fixture
def collector(tmp_path: Path, e2e_database_url: str) -> Iterator[Collector]:
    data_dir = tmp_path / "collector"
    data_dir.mkdir()
    url = e2e_database_url or f"sqlite:///{data_dir / 'pelihara.db'}"
    instance = Collector(data_dir=data_dir, database_url=url, port=free_port())
    yield instance
    instance.stop()


POSTGRES_URL_VARIABLE = "PELIHARA_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _postgres_admin_url() -> tuple[str, bool]:
    """Return the server URL to test against and whether it is required."""
    configured = os.environ.get(POSTGRES_URL_VARIABLE)
    return (configured or DEFAULT_POSTGRES_URL), configured is not None


@pytest.fixture(params=["sqlite", "postgresql"])
def e2e_database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """Yield "" for SQLite (the collector's own file) or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield ""
        return

    import psycopg
    from sqlalchemy.engine import make_url

    admin_url, required = _postgres_admin_url()
    server = make_url(admin_url)
    connect_arguments = {
        "host": server.host or "127.0.0.1",
        "port": server.port or 5432,
        "user": server.username or "postgres",
        "dbname": server.database or "postgres",
    }
    try:
        admin = psycopg.connect(**connect_arguments, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        if required:
            pytest.fail(f"PostgreSQL at {server.host}:{server.port} failed: {error}")
        pytest.skip(
            f"PostgreSQL not reachable at {server.host}:{server.port} ({error}); "
            f"set {POSTGRES_URL_VARIABLE} to require it"
        )

    database = f"pelihara_e2e_{os.getpid()}_{time.monotonic_ns()}"
    with admin:
        admin.execute(f'CREATE DATABASE "{database}"')
        try:
            yield server.set(database=database).render_as_string(hide_password=False)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
