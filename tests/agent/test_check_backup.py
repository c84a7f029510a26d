"""The backup kind on files made in the test."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.checks import backup
from agent.spec import CheckSpec, Status

MakeCheck = Callable[..., CheckSpec]

HOUR = 3600.0


def make_file(path: Path, size: int, age: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def run(make_check: MakeCheck, **options: object) -> backup.Outcome:
    check = make_check("backup", **options)
    return backup.run(check.options, check.timeout)


def test_backup_fresh(tmp_path: Path, make_check: MakeCheck) -> None:
    make_file(tmp_path / "backups" / "old.db", 10, 30 * HOUR)
    newest = make_file(tmp_path / "backups" / "new.db", 20, 2 * HOUR)

    outcome = run(make_check, path="backups/*.db", max_age="1d")

    assert outcome.status is Status.OK
    assert outcome.message == f"newest backup {newest} is 2h old, 20 B"
    assert outcome.values["files"] == 2
    assert outcome.values["size_bytes"] == 20


def test_backup_too_old(tmp_path: Path, make_check: MakeCheck) -> None:
    stale = make_file(tmp_path / "backups" / "app.db", 10, 30 * HOUR)

    outcome = run(make_check, path="backups/*.db", max_age="1d")

    assert outcome.status is Status.CRITICAL
    assert outcome.message == (
        f"newest backup {stale} is 1d 6h old, 10 B; older than 1d"
    )
    assert outcome.reason == "threshold"


def test_backup_message_matches_age_value(
    tmp_path: Path, make_check: MakeCheck, monkeypatch: pytest.MonkeyPatch
) -> None:
    newest = make_file(tmp_path / "backups" / "app.db", 20, 0)
    modified = newest.stat().st_mtime
    monkeypatch.setattr(backup.time, "time", lambda: modified + 7530.4)

    outcome = run(make_check, path="backups/*.db", max_age="1d")

    assert outcome.message == f"newest backup {newest} is 2h 5m 30s old, 20 B"
    assert outcome.values["age_seconds"] == 7530


def test_backup_subsecond_age_is_zero(
    tmp_path: Path, make_check: MakeCheck, monkeypatch: pytest.MonkeyPatch
) -> None:
    newest = make_file(tmp_path / "backups" / "app.db", 20, 0)
    modified = newest.stat().st_mtime
    monkeypatch.setattr(backup.time, "time", lambda: modified + 0.4)

    outcome = run(make_check, path="backups/*.db", max_age="1d")

    assert outcome.message == f"newest backup {newest} is 0s old, 20 B"
    assert outcome.values["age_seconds"] == 0


def test_backup_values_are_integers(tmp_path: Path, make_check: MakeCheck) -> None:
    make_file(tmp_path / "backups" / "app.db", 20, HOUR)

    outcome = run(make_check, path="backups/*.db", max_age="1d")

    assert {name: type(value) for name, value in outcome.values.items()} == {
        "age_seconds": int,
        "size_bytes": int,
        "files": int,
    }


def test_backup_too_small(tmp_path: Path, make_check: MakeCheck) -> None:
    empty = make_file(tmp_path / "backups" / "app.db", 0, HOUR)

    outcome = run(make_check, path="backups/*.db", max_age="1d")

    assert outcome.status is Status.CRITICAL
    assert outcome.message == (
        f"newest backup {empty} is 1h old, 0 B; smaller than 1 B"
    )


def test_backup_min_size(tmp_path: Path, make_check: MakeCheck) -> None:
    make_file(tmp_path / "backups" / "app.db", 500, HOUR)

    outcome = run(make_check, path="backups/*.db", max_age="1d", min_size="1KiB")

    assert outcome.status is Status.CRITICAL
    assert outcome.message.endswith("; smaller than 1.0 KiB")


def test_backup_no_match(tmp_path: Path, make_check: MakeCheck) -> None:
    outcome = run(make_check, path="backups/*.db", max_age="1d")

    assert outcome.status is Status.CRITICAL
    assert outcome.message == (
        f"no backup found: no file matches {tmp_path / 'backups' / '*.db'}"
    )
    assert outcome.reason == "not_found"
    assert outcome.values == {"files": 0}
    assert isinstance(outcome.values["files"], int)


def test_backup_ignores_folders(tmp_path: Path, make_check: MakeCheck) -> None:
    (tmp_path / "backups" / "folder.db").mkdir(parents=True)

    outcome = run(make_check, path="backups/*.db", max_age="1d")

    assert outcome.status is Status.CRITICAL
    assert outcome.reason == "not_found"


def test_backup_recursive_glob(tmp_path: Path, make_check: MakeCheck) -> None:
    make_file(tmp_path / "backups" / "2026" / "12" / "app.sql.gz", 100, HOUR)

    outcome = run(make_check, path="backups/**/*.sql.gz", max_age="2h")

    assert outcome.status is Status.OK


def test_backup_hung_listing_is_unknown(tmp_path: Path, make_check: MakeCheck) -> None:
    check = make_check("backup", path="backups/*.db", max_age="1d", timeout="500ms")
    release = threading.Event()

    def hung_listing(pattern: str) -> backup.Newest | None:
        release.wait(30)
        return backup._newest(pattern)

    started = time.monotonic()
    try:
        outcome = backup.run(check.options, check.timeout, find_newest=hung_listing)
    finally:
        elapsed = time.monotonic() - started
        release.set()

    assert outcome.status is Status.UNKNOWN
    assert outcome.message == (
        f"listing {tmp_path}/backups/*.db did not finish within 0.5s; the mount "
        "may hang"
    )
    assert outcome.reason == "timeout"
    # Sanity bound for hang detection: the listing blocks for 30 s.
    assert elapsed < 10


def test_backup_hung_listing_not_restarted(
    tmp_path: Path, make_check: MakeCheck
) -> None:
    check = make_check("backup", path="backups/*.db", max_age="1d", timeout="200ms")
    release = threading.Event()
    calls: list[str] = []

    def hung_listing(pattern: str) -> backup.Newest | None:
        calls.append(pattern)
        release.wait(30)
        return backup._newest(pattern)

    first = backup.run(check.options, check.timeout, find_newest=hung_listing)
    second = backup.run(check.options, check.timeout, find_newest=hung_listing)
    release.set()

    assert first.message.endswith("did not finish within 0.2s; the mount may hang")

    assert second.status is Status.UNKNOWN
    assert second.message == (
        f"listing {tmp_path}/backups/*.db from an earlier run has still not "
        "finished; the mount hangs"
    )
    assert second.reason == "timeout"
    assert len(calls) == 1
