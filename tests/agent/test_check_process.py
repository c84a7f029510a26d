"""The process kind against real processes started by the test."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.checks import process
from agent.spec import CheckSpec, Status

MakeCheck = Callable[..., CheckSpec]
Spawn = Callable[[], subprocess.Popen]


@pytest.fixture
def marker() -> str:
    return f"pelihara-test-{uuid.uuid4().hex}"


@pytest.fixture
def spawn(marker: str) -> Iterator[Spawn]:
    """Return a function that starts a sleeping Python carrying `marker`."""
    started: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        child = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(120)", marker]
        )
        started.append(child)
        return child

    yield start
    for child in started:
        child.kill()
        child.wait()


def run(make_check: MakeCheck, **options: object) -> process.Outcome:
    check = make_check("process", **options)
    return process.run(check.options, check.timeout)


def test_process_found_by_cmdline(
    spawn: Spawn, marker: str, make_check: MakeCheck
) -> None:
    spawn()

    outcome = run(make_check, cmdline=marker)

    assert outcome.status is Status.OK
    assert outcome.message.startswith(
        f"1 process with command line containing '{marker}' running, "
    )
    assert outcome.values["count"] == 1
    assert outcome.values["rss_bytes"] > 0


def test_process_missing(marker: str, make_check: MakeCheck) -> None:
    outcome = run(make_check, cmdline=marker)

    assert outcome.status is Status.CRITICAL
    assert outcome.message == (
        f"0 processes with command line containing '{marker}' running, expected at "
        "least 1"
    )
    assert outcome.reason == "not_found"


def test_process_too_few(spawn: Spawn, marker: str, make_check: MakeCheck) -> None:
    spawn()

    outcome = run(make_check, cmdline=marker, min_count=2)

    assert outcome.status is Status.CRITICAL
    assert outcome.reason == "threshold"


def test_process_too_many(spawn: Spawn, marker: str, make_check: MakeCheck) -> None:
    spawn()
    spawn()

    outcome = run(make_check, cmdline=marker, max_count=1)

    assert outcome.status is Status.CRITICAL
    assert outcome.message == (
        f"2 processes with command line containing '{marker}' running, expected at "
        "most 1"
    )


def test_process_by_regex_and_name(
    spawn: Spawn, marker: str, make_check: MakeCheck
) -> None:
    spawn()
    name = Path(sys.executable).name

    outcome = run(
        make_check, process_name=name, cmdline_regex=f"time\\.sleep.*{marker}$"
    )

    assert outcome.status is Status.OK
    assert outcome.values["count"] == 1


def test_process_wrong_name(spawn: Spawn, marker: str, make_check: MakeCheck) -> None:
    spawn()

    outcome = run(make_check, process_name="no-such-program", cmdline=marker)

    assert outcome.status is Status.CRITICAL


def test_process_memory_warning(
    spawn: Spawn, marker: str, make_check: MakeCheck
) -> None:
    spawn()

    outcome = run(make_check, cmdline=marker, warning="1B", critical="100GiB")

    assert outcome.status is Status.WARNING
    assert outcome.message.endswith("(warning at 1 B)")
    assert outcome.reason == "threshold"


def test_process_pid_file(spawn: Spawn, tmp_path: Path, make_check: MakeCheck) -> None:
    child = spawn()
    pid_file = tmp_path / "app.pid"
    pid_file.write_text(f"{child.pid}\n")

    outcome = run(make_check, pid_file=str(pid_file))

    assert outcome.status is Status.OK
    assert outcome.values["count"] == 1


def test_process_pid_file_stale(
    spawn: Spawn, tmp_path: Path, make_check: MakeCheck
) -> None:
    child = spawn()
    child.kill()
    child.wait()
    pid_file = tmp_path / "app.pid"
    pid_file.write_text(f"{child.pid}\n")

    outcome = run(make_check, pid_file=str(pid_file))

    assert outcome.status is Status.CRITICAL
    assert outcome.message == (
        f"0 processes with pid {child.pid} from {pid_file} running, expected at least 1"
    )
    assert outcome.reason == "not_found"


def test_process_pid_file_missing(tmp_path: Path, make_check: MakeCheck) -> None:
    outcome = run(make_check, pid_file="absent.pid")

    assert outcome.status is Status.CRITICAL
    assert outcome.message == f"pid file {tmp_path / 'absent.pid'} not found"
    assert outcome.reason == "not_found"


def test_process_pid_file_garbage(tmp_path: Path, make_check: MakeCheck) -> None:
    (tmp_path / "app.pid").write_text("hello\x1b[2J\n")

    outcome = run(make_check, pid_file="app.pid")

    assert outcome.status is Status.CRITICAL
    assert outcome.message == (
        f"pid file {tmp_path / 'app.pid'} holds 'hello [2J', not a pid"
    )


def test_process_agent_itself_not_counted(make_check: MakeCheck) -> None:
    outcome = run(make_check, cmdline=" ".join(sys.argv), min_count=0, max_count=0)

    assert outcome.status is Status.OK
