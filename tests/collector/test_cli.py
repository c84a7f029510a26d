"""The pelihara-collector command line, including a real multi-worker server."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from collector.cli import main
from collector.models import Case, Result

from .conftest import make_result

PROGRAM = str(Path(sys.executable).parent / "pelihara-collector")


def run(
    database_url: str, data_dir: Path, *arguments: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            PROGRAM,
            "--database-url",
            database_url,
            "--data-dir",
            str(data_dir),
            *arguments,
        ],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_version() -> None:
    completed = subprocess.run(
        [PROGRAM, "--version"], capture_output=True, text=True, timeout=60
    )

    assert completed.returncode == 0
    assert completed.stdout == "pelihara-collector 0.1.0\n"


def test_cli_agent_token_to_file(tmp_path: Path, database_url: str) -> None:
    target = tmp_path / "agent.token"

    completed = run(
        database_url, tmp_path, "agent-token", "app-01", "--output", str(target)
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == (
        f"agent token 1 for host app-01 created and written to {target}\n"
    )
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    token = target.read_text().strip()
    assert token.startswith("pa_")
    assert token not in completed.stdout + completed.stderr


def test_cli_tokens_list_and_revoke(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--database-url", database_url, "--data-dir", str(tmp_path)]
    assert main([*common, "agent-token", "app-01"]) == 0
    token = capsys.readouterr().out.splitlines()[1]

    assert main([*common, "revoke-token", "1"]) == 0
    assert capsys.readouterr().out == "agent token 1 of host app-01 revoked\n"
    assert main([*common, "agent-tokens"]) == 0
    listing = capsys.readouterr().out

    header, row = listing.splitlines()
    assert header.split() == [
        "ID",
        "HOST",
        "PREFIX",
        "CREATED",
        "LAST",
        "USED",
        "REVOKED",
    ]
    assert row.split()[:3] == ["1", "app-01", token[:10]]
    assert row.split()[-1] != "-"
    assert token not in listing


def test_cli_revoke_unknown_token(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        [
            "--database-url",
            database_url,
            "--data-dir",
            str(tmp_path),
            "revoke-token",
            "7",
        ]
    )

    assert status == 2
    assert capsys.readouterr().err == (
        "pelihara-collector: error: agent token 7 not found; `agent-tokens` lists "
        "the ids\n"
    )


def test_cli_create_user_password_stdin(tmp_path: Path, database_url: str) -> None:
    completed = run(
        database_url,
        tmp_path,
        "create-user",
        "siti",
        "--role",
        "technician",
        "--password-stdin",
        stdin="rahasia-123\n",
    )

    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0] == "user siti created with role technician"
    assert lines[1].startswith("API token (shown once): pu_")
    assert len(lines) == 2


def test_cli_create_user_generated_password(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        [
            "--database-url",
            database_url,
            "--data-dir",
            str(tmp_path),
            "create-user",
            "budi",
            "--role",
            "unit",
            "--unit",
            "Bagian Umum",
        ]
    )

    assert status == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].startswith("password (shown once): ")


def test_cli_create_unit_user_without_unit(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        [
            "--database-url",
            database_url,
            "--data-dir",
            str(tmp_path),
            "create-user",
            "budi",
            "--role",
            "unit",
        ]
    )

    assert status == 2
    assert capsys.readouterr().err == (
        "pelihara-collector: error: role 'unit' needs the work unit: add --unit UNIT\n"
    )


def test_cli_backup_default_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    assert main(["--data-dir", str(data_dir), "agent-token", "app-01"]) == 0
    capsys.readouterr()

    assert main(["--data-dir", str(data_dir), "backup"]) == 0

    copy = Path(capsys.readouterr().out.strip())
    assert copy.parent == data_dir / "backups"
    assert copy.name.startswith("pelihara-")


def test_cli_backup_postgresql_is_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        [
            "--database-url",
            "postgresql+psycopg://u:pw@127.0.0.1/x",
            "--data-dir",
            str(tmp_path),
            "backup",
        ]
    )

    assert status == 2
    error = capsys.readouterr().err
    assert "backup copies SQLite databases only" in error
    assert "pw" not in error


def test_cli_database_error_hides_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Nothing listens on port 1, so the connection is refused at once.
    url = "postgresql+psycopg://pelihara:secret-pw@127.0.0.1:1/pelihara"

    status = main(["--database-url", url, "--data-dir", str(tmp_path), "agent-tokens"])

    assert status == 1
    error = capsys.readouterr().err
    assert error.startswith(
        "pelihara-collector: error: database "
        "postgresql+psycopg://pelihara:***@127.0.0.1:1/pelihara failed: "
        "OperationalError:"
    )
    assert "secret-pw" not in error


# --- a real server ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    def __init__(self, database_url: str, data_dir: Path) -> None:
        self.database_url = database_url
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, workers: int, *options: str) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    PROGRAM,
                    "--database-url",
                    self.database_url,
                    "--data-dir",
                    str(self.data_dir),
                    "serve",
                    "--port",
                    str(self.port),
                    "--workers",
                    str(workers),
                    "--threads",
                    "4",
                    *options,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"serve exited early:\n{self.log.read_text()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=5).ok:
                    return
            except (requests.ConnectionError, requests.Timeout):
                # Not listening yet, or a worker still booting on a busy machine.
                pass
            time.sleep(0.1)
        pytest.fail(f"serve did not answer /healthz:\n{self.log.read_text()}")

    def log_tail(self, lines: int = 80) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[Server]:
    data_dir = tmp_path / "served"
    data_dir.mkdir()
    instance = Server(database_url, data_dir)
    yield instance
    instance.stop()


CONCURRENT_POSTS = 60


def concurrent_posts(server: Server, token: str, batches: list[dict]) -> list[dict]:
    def send(batch: dict) -> dict:
        try:
            answer = requests.post(
                f"{server.url}/api/v1/results",
                data=json.dumps(batch),
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/json",
                },
                timeout=120,
            )
        except requests.RequestException as problem:
            pytest.fail(f"POST failed: {problem}\nserver log:\n{server.log_tail()}")
        assert answer.status_code == 200, answer.text
        return answer.json()

    with ThreadPoolExecutor(max_workers=CONCURRENT_POSTS) as pool:
        return list(pool.map(send, batches))


def result_post_workers(server: Server) -> set[str]:
    """Return the process ids of the workers that logged a POST of results."""
    workers = set()
    for line in server.log.read_text(errors="replace").splitlines():
        if '"POST /api/v1/results ' in line:
            workers.add(line.rsplit(" ", 1)[1])
    return workers


def batch(result: dict) -> dict:
    return {"agent": {"host": "app-01", "interval_seconds": 7200}, "results": [result]}


@pytest.mark.slow
def test_cli_serve_concurrent_posts_open_one_case(
    server: Server, tmp_path: Path
) -> None:
    created = run(server.database_url, server.data_dir, "agent-token", "app-01")
    assert created.returncode == 0, created.stderr
    token = created.stdout.splitlines()[1]
    server.start(workers=4)
    same = make_result(check="root-disk", result_id=uuid.uuid4().hex)
    distinct = [make_result(check="root-disk") for _ in range(CONCURRENT_POSTS)]
    other_check = make_result(check="swap", result_id=uuid.uuid4().hex)

    first = concurrent_posts(server, token, [batch(r) for r in distinct])
    second = concurrent_posts(server, token, [batch(same)] * CONCURRENT_POSTS)
    third = concurrent_posts(server, token, [batch(other_check)] * CONCURRENT_POSTS)

    # The race is between processes only if more than one worker served posts.
    assert len(result_post_workers(server)) >= 2, server.log_tail()
    actions = [change["action"] for body in first for change in body["cases"]]
    assert actions.count("opened") == 1
    assert actions.count("repeated") == CONCURRENT_POSTS - 1
    assert sum(body["accepted"] for body in second) == 1
    assert sum(body["duplicates"] for body in second) == CONCURRENT_POSTS - 1
    assert sum(body["accepted"] for body in third) == 1
    engine = create_engine(server.database_url)
    try:
        with Session(engine) as session:
            cases = session.scalars(select(Case).order_by(Case.id)).all()
            assert [(c.check.name, c.occurrences) for c in cases] == [
                ("root-disk", CONCURRENT_POSTS + 1),
                ("swap", 1),
            ]
            stored = session.scalar(select(func.count()).select_from(Result))
            assert stored == CONCURRENT_POSTS + 2
    finally:
        engine.dispose()


@pytest.mark.slow
def test_cli_serve_opens_heartbeat_case(server: Server) -> None:
    created = run(server.database_url, server.data_dir, "agent-token", "app-01")
    assert created.returncode == 0, created.stderr
    token = created.stdout.splitlines()[1]
    server.start(2, "--heartbeat-seconds", "0.2")
    silent_agent = {"agent": {"host": "app-01", "interval_seconds": 0.5}, "results": []}

    answer = requests.post(
        f"{server.url}/api/v1/results",
        json=silent_agent,
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text

    engine = create_engine(server.database_url)
    try:
        deadline = time.monotonic() + 60
        cases: list[tuple[str, str, int]] = []
        while not cases and time.monotonic() < deadline:
            time.sleep(0.2)
            with Session(engine) as session:
                cases = [
                    (case.source, case.step, case.occurrences)
                    for case in session.scalars(select(Case))
                ]
    finally:
        engine.dispose()
    # Both workers look for silent agents, but only one case may open.
    time.sleep(1)
    engine = create_engine(server.database_url)
    try:
        with Session(engine) as session:
            count = session.scalar(select(func.count()).select_from(Case))
    finally:
        engine.dispose()
    assert cases == [("heartbeat", "received", 1)], server.log_tail()
    assert count == 1
