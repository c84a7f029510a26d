"""Backups of the SQLite database while the collector writes."""

from __future__ import annotations

import sqlite3
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from collector.backup import BackupError, backup_database
from collector.db import make_engine
from collector.models import Base


def test_backup_copy_while_writing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pelihara.db'}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    with engine.begin() as connection:
        for number in range(2000):
            connection.execute(
                text("INSERT INTO hosts (name, created_at) VALUES (:n, :t)"),
                {"n": f"seed-{number}", "t": "2026-12-04 03:00:00"},
            )
    stop = threading.Event()
    started = threading.Event()

    def write() -> None:
        number = 0
        while not stop.is_set() and number < 100_000:
            with engine.begin() as connection:
                connection.execute(
                    text("INSERT INTO hosts (name, created_at) VALUES (:n, :t)"),
                    {"n": f"live-{number}", "t": "2026-12-04 03:00:00"},
                )
            number += 1
            started.set()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert started.wait(60), "the writer thread did not start writing"
        copies = [backup_database(url, tmp_path / "backups") for _ in range(3)]
    finally:
        stop.set()
        writer.join(60)
    engine.dispose()

    for copy in copies:
        with sqlite3.connect(copy) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            count = connection.execute("SELECT count(*) FROM hosts").fetchone()[0]
        assert count >= 2000
        assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert len(set(copies)) == 3


def test_backup_file_name(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pelihara.db'}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()

    copy = backup_database(
        url, tmp_path / "out", now=datetime(2026, 12, 4, 3, 5, 9, tzinfo=UTC)
    )

    assert copy == tmp_path / "out" / "pelihara-20261204T030509Z.db"
    assert list((tmp_path / "out").iterdir()) == [copy]


def test_backup_rejects_postgresql() -> None:
    with pytest.raises(BackupError) as raised:
        backup_database(
            "postgresql+psycopg://postgres:secret@127.0.0.1/test", Path("unused")
        )

    assert str(raised.value) == (
        "backup copies SQLite databases only, but the database is "
        "postgresql+psycopg://postgres:***@127.0.0.1/test; use pg_dump for PostgreSQL"
    )


def test_backup_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BackupError) as raised:
        backup_database(f"sqlite:///{tmp_path / 'none.db'}", tmp_path)

    assert (
        str(raised.value) == f"the database file {tmp_path / 'none.db'} does not exist"
    )


def test_backup_unwritable_output_dir(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pelihara.db'}"
    (tmp_path / "pelihara.db").touch()
    blocker = tmp_path / "a-file"
    blocker.touch()

    with pytest.raises(BackupError) as raised:
        backup_database(url, blocker / "backups")

    assert str(raised.value) == (
        f"cannot write a backup into {blocker / 'backups'}: Not a directory; "
        "choose a writable folder with --output-dir"
    )


def test_backup_copy_readable_by_plain_engine(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pelihara.db'}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    copy = backup_database(url, tmp_path / "out")

    reader = create_engine(f"sqlite:///{copy}")
    with reader.connect() as connection:
        tables = (
            connection.execute(
                text("SELECT name FROM sqlite_master WHERE type = 'table'")
            )
            .scalars()
            .all()
        )
    reader.dispose()
    assert "cases" in tables
