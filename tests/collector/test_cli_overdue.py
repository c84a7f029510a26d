"""The check-overdue command and the wording of the command messages."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from collector.cli import main
from collector.models.procedure import Notification

from .conftest import BASE_TIME, Agent, make_result, post

LONG_AGO = BASE_TIME - timedelta(days=30)


def _main(database_url: str, data_dir: Path, *arguments: str) -> int:
    return main(
        ["--database-url", database_url, "--data-dir", str(data_dir), *arguments]
    )


def test_cli_check_overdue_notifies_once(
    client: FlaskClient,
    agent: Agent,
    session: Session,
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    post(client, agent, make_result(at=LONG_AGO))
    session.commit()

    first = _main(database_url, tmp_path, "check-overdue")
    first_output = capsys.readouterr().out
    second = _main(database_url, tmp_path, "check-overdue")
    second_output = capsys.readouterr().out

    notice_id = session.scalars(select(Notification.id)).one()
    assert first == 0
    assert first_output == f"1 new overdue notice created (id {notice_id})\n"
    assert second == 0
    assert second_output == "0 new overdue notices created\n"


def test_cli_messages_share_wording(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _main(database_url, tmp_path, "create-user", "tester", "--role", "viewer")
    user_line = capsys.readouterr().out.splitlines()[0]
    _main(database_url, tmp_path, "agent-token", "app-01")
    token_line = capsys.readouterr().out.splitlines()[0]

    assert user_line == "user tester created with role viewer"
    assert token_line == "agent token 1 for host app-01 created (shown once):"


def test_cli_log_matches_output(
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="collector.tokens")

    _main(database_url, tmp_path, "create-user", "tester2", "--role", "viewer")

    messages = [record.getMessage() for record in caplog.records]
    assert "user tester2 created with role viewer" in messages
