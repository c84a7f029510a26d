"""Consistent copies of the embedded SQLite database."""

from __future__ import annotations

import logging
import os
import sqlite3
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from collector.db import SQLITE_BUSY_TIMEOUT_MS, redact
from collector.models import utcnow

logger = logging.getLogger(__name__)


class BackupError(RuntimeError):
    """A failed backup; the message gives the cause and the fix."""


def sqlite_path(database_url: str) -> Path:
    """Return the file of a SQLite URL, or raise BackupError for other databases."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        raise BackupError(
            f"backup copies SQLite databases only, but the database is "
            f"{redact(database_url)}; use pg_dump for PostgreSQL"
        )
    if not url.database or url.database == ":memory:":
        raise BackupError(
            f"the database {redact(database_url)} is in memory; there is no file "
            "to back up"
        )
    path = Path(url.database)
    if not path.exists():
        raise BackupError(f"the database file {path} does not exist")
    return path


def backup_database(
    database_url: str, output_dir: Path, now: datetime | None = None
) -> Path:
    """Copy the SQLite database into `output_dir` and return the new file.

    sqlite3's online backup API copies one consistent snapshot while the
    collector keeps writing. The copy is named pelihara-YYYYmmddTHHMMSSZ.db
    and readable by its owner only, because it contains token digests and
    password hashes.
    """
    source_path = sqlite_path(database_url)
    stamp = (now or utcnow()).strftime("%Y%m%dT%H%M%SZ")
    target = output_dir / f"pelihara-{stamp}.db"
    counter = 1
    while target.exists():
        target = output_dir / f"pelihara-{stamp}-{counter}.db"
        counter += 1

    partial = target.with_name(f".{target.name}.partial")
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as problem:
        raise BackupError(
            f"cannot write a backup into {output_dir}: "
            f"{problem.strerror or problem}; choose a writable folder with "
            "--output-dir"
        ) from problem
    os.close(descriptor)
    source = sqlite3.connect(source_path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    try:
        destination = sqlite3.connect(partial)
        try:
            # pages=-1 copies everything in one step, from one snapshot.
            source.backup(destination, pages=-1)
            check = destination.execute("PRAGMA integrity_check").fetchone()[0]
            destination.execute("PRAGMA journal_mode = DELETE")
        finally:
            destination.close()
    except sqlite3.Error as problem:
        partial.unlink(missing_ok=True)
        raise BackupError(f"backup of {source_path} failed: {problem}") from problem
    finally:
        source.close()
    if check != "ok":
        partial.unlink(missing_ok=True)
        raise BackupError(
            f"the copy of {source_path} failed its integrity check: {check}"
        )
    os.replace(partial, target)
    logger.info("backed up %s to %s", source_path, target)
    return target
