"""The main job end to end: a real agent round files a case with a real collector."""

from __future__ import annotations

import subprocess
from pathlib import Path

import requests

from .conftest import Collector, free_port, program

AGENT_HOST = "e2e-host"


def write_checks(folder: Path, collector: Collector) -> Path:
    """Write a checks.yaml whose backup check fails until a backup exists.

    The agent: section names the work unit and application of every check,
    and the backup check replaces the application with its own.
    """
    config = folder / "checks.yaml"
    config.write_text(
        f"""\
agent:
  host: {AGENT_HOST}
  collector: {collector.url}
  token_file: agent.token
  listen: 127.0.0.1:{free_port()}
  spool: spool
  application: Pelihara
  unit: Biro Umum
checks:
  - name: collector-health
    kind: http
    category: application
    url: {collector.url}/healthz
    timeout: 10s
  - name: collector-backup
    kind: backup
    category: database
    application: Pelihara backups
    path: backups/*.db
    max_age: 1d
"""
    )
    return config


def run_agent_once(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [program("pelihara-agent"), "run", "--config", str(config), "--once"],
        capture_output=True,
        text=True,
        timeout=120,
    )


def list_cases(collector: Collector, token: str) -> list[dict]:
    answer = requests.get(
        f"{collector.url}/api/v1/cases",
        params={"host": AGENT_HOST},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["cases"]


def get_case(collector: Collector, token: str, case_id: int) -> dict:
    answer = requests.get(
        f"{collector.url}/api/v1/cases/{case_id}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_agent_round_opens_one_case_and_records_recovery(
    tmp_path: Path, collector: Collector
) -> None:
    collector.start()
    collector.agent_token(AGENT_HOST, tmp_path / "agent.token")
    viewer_token = collector.user_token("ops", "viewer")
    config = write_checks(tmp_path, collector)

    first_round = run_agent_once(config)
    assert first_round.returncode == 1, first_round.stderr
    assert "collector-backup" in first_round.stdout
    assert "CRITICAL" in first_round.stdout

    cases = list_cases(collector, viewer_token)
    assert [case["check"] for case in cases] == ["collector-backup"]
    assert cases[0]["status"] == "open"
    assert cases[0]["occurrences"] == 1
    assert cases[0]["step"] == "received"
    assert cases[0]["application"] == "Pelihara backups"
    assert cases[0]["unit"] == "Biro Umum"
    steps = get_case(collector, viewer_token, cases[0]["id"])["steps"]
    assert steps[0]["id"] == "received"
    assert steps[0]["fields"] == {
        "source": "agent",
        "application": "Pelihara backups",
        "unit": "Biro Umum",
    }

    second_round = run_agent_once(config)
    assert second_round.returncode == 1, second_round.stderr
    cases = list_cases(collector, viewer_token)
    assert len(cases) == 1
    assert cases[0]["occurrences"] == 2

    (tmp_path / "backups").mkdir()
    if collector.database_url.startswith("sqlite"):
        collector.command("backup", "--output-dir", str(tmp_path / "backups"))
    else:
        # The backup command copies SQLite files only (PostgreSQL has
        # pg_dump), so here the test makes the file the check looks for.
        (tmp_path / "backups" / "dump.db").write_bytes(b"dump")

    third_round = run_agent_once(config)
    assert third_round.returncode == 0, third_round.stdout + third_round.stderr
    cases = list_cases(collector, viewer_token)
    assert len(cases) == 1
    assert cases[0]["status"] == "open"
    assert cases[0]["recovered_at"] is not None


def test_agent_without_token_is_rejected(tmp_path: Path, collector: Collector) -> None:
    collector.start()
    answer = requests.post(
        f"{collector.url}/api/v1/results",
        json={"agent": {"host": AGENT_HOST, "interval_seconds": 60}, "results": []},
        timeout=10,
    )
    assert answer.status_code == 401


def test_programs_print_version() -> None:
    for name in ("pelihara-agent", "pelihara-collector"):
        completed = subprocess.run(
            [program(name), "--version"], capture_output=True, text=True, timeout=30
        )
        assert completed.returncode == 0, completed.stderr
        assert completed.stdout.strip() == f"{name} 0.1.0"
