"""Durable on-disk queue of results waiting for the collector.

Each result is one JSON file, `<write time ns>-<result id>.json`, holding
the payload sent to the collector. A file is written to a `.tmp-` name,
fsync'd, renamed into place and the folder fsync'd, so after a crash a
result is either wholly in the spool or not at all. Temp files left by a
crash are ignored, and removed on open once a minute old. A result leaves
the spool only when the collector acknowledged it (`ack`) or rejected it as
invalid (`reject`, which moves it to `rejected/`). Because the id is stored
in the file, a result resent after a crash carries the same id and the
collector stores it once.

The spool is bounded by size: when a new result does not fit, the oldest OK
results are dropped first and failures only when no OK result is left. A new
OK result never pushes out a failure: when dropping every older OK result
would not make room, the new result is dropped instead.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.spec import Status
from agent.units import plural

log = logging.getLogger(__name__)

SUFFIX = ".json"
TEMP_PREFIX = ".tmp-"
REJECTED = "rejected"

#: Age in seconds after which a temp file is taken as left by a crash.
#: A younger one may belong to another agent process writing to the folder.
STALE_TEMP_SECONDS = 60.0


@dataclass(frozen=True)
class Entry:
    """One spooled result: its file name, size in bytes and payload."""

    name: str
    size: int
    written_ns: int
    payload: Mapping[str, Any]

    @property
    def status(self) -> str:
        return str(self.payload.get("status", ""))

    @property
    def id(self) -> str:
        return str(self.payload.get("id", ""))


class Spool:
    """The spool folder, with an in-memory index of its entries, oldest first.

    Thread-safe: the scheduler's threads write while the delivery thread
    reads, acknowledges and rejects. `on_drop(entry)` is called for each
    result dropped because the spool was full.
    """

    def __init__(
        self,
        directory: Path,
        max_bytes: int,
        on_drop: Callable[[Entry], None] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self._on_drop = on_drop
        self._lock = threading.Lock()
        self._entries: dict[str, Entry] = {}
        self._bytes = 0
        self._last_ns = 0
        self.directory.mkdir(parents=True, exist_ok=True)
        self._load()

    def _load(self) -> None:
        removed = self._remove_stale_temp_files()
        if removed:
            log.warning(
                "removed %d half-written spool files from %s", removed, self.directory
            )
        self.refresh()
        if self._entries:
            log.info(
                "spool %s contains %s from an earlier run",
                self.directory,
                plural(len(self._entries), "result"),
            )

    def _remove_stale_temp_files(self) -> int:
        removed = 0
        now = time.time()
        for path in self.directory.iterdir():
            if not path.name.startswith(TEMP_PREFIX):
                continue
            try:
                if now - path.stat().st_mtime < STALE_TEMP_SECONDS:
                    continue
                path.unlink()
            except FileNotFoundError:
                continue
            removed += 1
        if removed:
            _fsync_dir(self.directory)
        return removed

    def refresh(self) -> int:
        """Re-read the folder and return how many results were new to the index.

        Picks up results another agent process (a `run --once` beside the
        service) wrote to the same folder, and forgets those it delivered.
        """
        with self._lock:
            on_disk = {
                path.name
                for path in self.directory.iterdir()
                if path.name.endswith(SUFFIX)
                and not path.name.startswith(TEMP_PREFIX)
                and path.is_file()
            }
            for name in set(self._entries) - on_disk:
                self._bytes -= self._entries.pop(name).size
            added = 0
            for name in sorted(on_disk - set(self._entries)):
                entry = self._read(self.directory / name)
                if entry is not None:
                    self._entries[name] = entry
                    self._bytes += entry.size
                    added += 1
            return added

    def _read(self, path: Path) -> Entry | None:
        try:
            written_ns = int(path.name.split("-", 1)[0])
            data = path.read_bytes()
            payload = json.loads(data, parse_constant=_reject_constant)
            if not isinstance(payload, dict):
                raise ValueError("not a JSON object")
        except FileNotFoundError:
            return None  # delivered by another process since the listing
        except (OSError, ValueError) as exc:
            # A renamed file is complete, so this is outside damage (disk,
            # an operator's edit); keep it for inspection but never resend it.
            log.error("spool file %s is unreadable (%s); moving it aside", path, exc)
            self._move_aside(path.name, f"unreadable spool file: {exc}")
            return None
        return Entry(path.name, len(data), written_ns, payload)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def size_bytes(self) -> int:
        with self._lock:
            return self._bytes

    def put(self, payload: Mapping[str, Any]) -> Entry | None:
        """Write one result payload durably and return its entry.

        Drops older results first if the new one does not fit in max_bytes.
        Drops the new one instead (returning None) if it alone is larger, or
        if it is OK and fits only by dropping a failure.
        Raises OSError if the file cannot be written, leaving the spool as it
        was apart from the drops.
        """
        data = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        dropped: list[Entry] = []
        try:
            with self._lock:
                written_ns = max(time.time_ns(), self._last_ns + 1)
                self._last_ns = written_ns
                name = f"{written_ns:020d}-{payload['id']}{SUFFIX}"
                entry = Entry(name, len(data), written_ns, payload)
                if not self._can_make_room(entry):
                    dropped.append(entry)
                    return None
                dropped.extend(self._make_room(entry.size))
                self._write_file(name, data)
                self._entries[name] = entry
                self._bytes += entry.size
                return entry
        finally:
            # Reported outside the lock because on_drop may read the spool.
            for old in dropped:
                self._report_drop(old)

    def _can_make_room(self, entry: Entry) -> bool:
        if entry.size > self.max_bytes:
            return False
        if entry.status != "OK":
            return True
        # An OK result may push out only older OK results, never a failure.
        ok_bytes = sum(e.size for e in self._entries.values() if e.status == "OK")
        return self._bytes - ok_bytes + entry.size <= self.max_bytes

    def _make_room(self, size: int) -> list[Entry]:
        dropped: list[Entry] = []
        if self._bytes + size <= self.max_bytes:
            return dropped
        # Sorted by name is oldest first; OK results go before any failure.
        order = sorted(self._entries.values(), key=lambda e: (e.status != "OK", e.name))
        for entry in order:
            if self._bytes + size <= self.max_bytes:
                break
            self._unlink(entry)
            dropped.append(entry)
        if dropped:
            _fsync_dir(self.directory)
        return dropped

    def _report_drop(self, entry: Entry) -> None:
        log.warning(
            "spool %s is full (%d bytes max); dropped %s result %s of check %s",
            self.directory,
            self.max_bytes,
            entry.status,
            entry.id,
            entry.payload.get("check"),
        )
        if self._on_drop is not None:
            self._on_drop(entry)

    def _write_file(self, name: str, data: bytes) -> None:
        temp = self.directory / f"{TEMP_PREFIX}{name}"
        try:
            with open(temp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.directory / name)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        _fsync_dir(self.directory)

    def _unlink(self, entry: Entry) -> None:
        (self.directory / entry.name).unlink(missing_ok=True)
        self._entries.pop(entry.name, None)
        self._bytes -= entry.size

    def pending(self, limit: int) -> list[Entry]:
        """Return up to `limit` entries, oldest first."""
        with self._lock:
            names = sorted(self._entries)[:limit]
            return [self._entries[name] for name in names]

    def oldest_age_seconds(self) -> float:
        """Return the seconds since the oldest entry was written, 0 if empty."""
        with self._lock:
            if not self._entries:
                return 0.0
            oldest = min(self._entries)
            written_ns = self._entries[oldest].written_ns
        return max(0.0, (time.time_ns() - written_ns) / 1e9)

    def ack(self, entries: Iterable[Entry]) -> None:
        """Remove entries the collector acknowledged."""
        with self._lock:
            for entry in entries:
                if entry.name in self._entries:
                    self._unlink(entry)
            _fsync_dir(self.directory)

    def reject(self, entries: Iterable[Entry], error: str) -> None:
        """Move entries the collector rejected to `rejected/`, with the error."""
        with self._lock:
            for entry in entries:
                if entry.name not in self._entries:
                    continue
                self._move_aside(entry.name, error)
                self._entries.pop(entry.name)
                self._bytes -= entry.size
            _fsync_dir(self.directory)

    def _move_aside(self, name: str, error: str) -> None:
        # NOTE: rejected/ is not bounded by max_bytes; it needs an operator to
        # read and delete it, which is the point of keeping it.
        rejected = self.directory / REJECTED
        rejected.mkdir(exist_ok=True)
        os.replace(self.directory / name, rejected / name)
        (rejected / f"{name}.error").write_text(error + "\n", encoding="utf-8")
        _fsync_dir(rejected)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class HardStateFile:
    """The hard status of each check, kept across restarts of the agent.

    Without it every check would start as OK after a restart, so a failing
    check would confirm its failure again and a flapping one would recover
    on its first OK result, ignoring `recover_after`. The file is written
    like a spool entry (temp file, fsync, rename), so it is never half
    written.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def load(self) -> dict[str, Status]:
        """Return the saved hard status by check name; empty if none is saved."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            saved = data["checks"]
            return {str(name): Status[str(status)] for name, status in saved.items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning(
                "ignoring the saved check states in %s (%s); every check starts OK",
                self.path,
                exc,
            )
            return {}

    def save(self, states: Mapping[str, Status]) -> None:
        """Write `states` durably; log and keep the old file if that fails."""
        body = {
            "checks": {name: status.name for name, status in sorted(states.items())}
        }
        data = json.dumps(body, indent=1).encode()
        with self._lock:
            temp = self.path.with_name(f"{TEMP_PREFIX}{self.path.name}")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with open(temp, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temp, self.path)
                _fsync_dir(self.path.parent)
            except OSError as exc:
                temp.unlink(missing_ok=True)
                log.error("saving check states to %s failed: %s", self.path, exc)


def _reject_constant(name: str) -> Any:
    # Python's json reads Infinity and NaN, but requests will not encode them
    # in a post, so a batch that contains such a result could never be sent.
    raise ValueError(f"{name} is not a JSON number")
