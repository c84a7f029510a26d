"""Durability, bounds and set-aside results of agent.spool."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.spec import Category, Result, Status
from agent.spool import Entry, HardStateFile, Spool


def payload(status: Status = Status.OK, check: str = "c1") -> dict:
    result = Result(
        check=check,
        kind="fake",
        category=Category.APPLICATION,
        status=status,
        message="m" * 100,
        values={},
        reason="" if status == Status.OK else "threshold",
        observed_at=datetime.now(UTC),
        duration_seconds=0.01,
    )
    return result.to_payload()


def entry_size() -> int:
    """Return the largest spooled size of a test payload, whatever its status."""
    return max(
        len(json.dumps(payload(s), separators=(",", ":"), sort_keys=True))
        for s in Status
    )


def test_spool_survives_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20)
    written = [payload(Status.OK), payload(Status.CRITICAL), payload(Status.OK)]
    for item in written:
        spool.put(item)

    reopened = Spool(tmp_path, 1 << 20)

    assert [e.payload for e in reopened.pending(10)] == written
    assert len(reopened) == 3


def test_spool_pending_limit_oldest_first(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20)
    ids = [spool.put(payload()).id for _ in range(5)]

    assert [e.id for e in spool.pending(2)] == ids[:2]


def test_spool_ack_removes_for_good(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20)
    first = spool.put(payload())
    second = spool.put(payload())

    spool.ack([first])

    assert [e.id for e in Spool(tmp_path, 1 << 20).pending(10)] == [second.id]


def test_spool_removes_half_written_temp_file(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20)
    kept = spool.put(payload())
    temp = tmp_path / ".tmp-00000000000000000001-abc.json"
    temp.write_bytes(b'{"id": "ab')
    an_hour_ago = time.time() - 3600
    os.utime(temp, (an_hour_ago, an_hour_ago))

    reopened = Spool(tmp_path, 1 << 20)

    assert [e.id for e in reopened.pending(10)] == [kept.id]
    assert sorted(p.name for p in tmp_path.iterdir()) == [kept.name]


def test_spool_ignores_fresh_temp_file(tmp_path: Path) -> None:
    temp = tmp_path / ".tmp-00000000000000000001-abc.json"
    temp.write_bytes(b'{"id": "ab')

    reopened = Spool(tmp_path, 1 << 20)

    assert len(reopened) == 0
    assert temp.exists()


def test_spool_refresh_sees_other_process(tmp_path: Path) -> None:
    service = Spool(tmp_path, 1 << 20)
    delivered_elsewhere = service.put(payload())
    other = Spool(tmp_path, 1 << 20)
    written_elsewhere = other.put(payload())
    other.ack([delivered_elsewhere])

    added = service.refresh()

    assert added == 1
    assert [e.id for e in service.pending(10)] == [written_elsewhere.id]
    assert service.size_bytes == written_elsewhere.size


def test_spool_failed_write_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = Spool(tmp_path, 1 << 20)

    def crash(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        spool.put(payload())
    monkeypatch.undo()

    assert len(spool) == 0
    assert list(tmp_path.iterdir()) == []
    assert len(Spool(tmp_path, 1 << 20)) == 0


WRITER = """
import sys
from datetime import UTC, datetime
from agent.spec import Category, Result, Status
from agent.spool import Spool

spool = Spool(sys.argv[1], 1 << 30)
while True:
    result = Result("c1", "fake", Category.APPLICATION, Status.OK, "x" * 20000,
                    {}, "", datetime.now(UTC), 0.0)
    spool.put(result.to_payload())
"""


def renamed_entries(spool_dir: Path) -> list[Path]:
    """Return the spool's finished entries; pathlib's glob also matches dot files."""
    return [p for p in spool_dir.glob("*.json") if not p.name.startswith(".")]


def test_spool_sigkill_mid_write_leaves_no_corrupt_entry(tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(spool_dir)])
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if spool_dir.is_dir() and len(renamed_entries(spool_dir)) >= 20:
                break
            time.sleep(0.05)
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(10)

    written = len(renamed_entries(spool_dir))
    reopened = Spool(spool_dir, 1 << 30)
    entries = reopened.pending(100000)

    assert written >= 20
    assert len(entries) == written
    assert all(len(e.payload["id"]) == 32 for e in entries)
    # The writer had at most one temp file open; it is ignored, not read.
    assert len([p for p in spool_dir.iterdir() if p.name.startswith(".tmp-")]) <= 1
    assert not (spool_dir / "rejected").exists()


def test_spool_full_drops_oldest_ok_first(tmp_path: Path) -> None:
    size = entry_size()
    dropped: list[Entry] = []
    spool = Spool(tmp_path, 4 * size + 10, on_drop=dropped.append)
    critical = spool.put(payload(Status.CRITICAL))
    ok_old = spool.put(payload(Status.OK))
    warning = spool.put(payload(Status.WARNING))
    ok_new = spool.put(payload(Status.OK))

    newest = spool.put(payload(Status.CRITICAL))

    remaining = [e.id for e in spool.pending(10)]
    assert [e.id for e in dropped] == [ok_old.id]
    assert remaining == [critical.id, warning.id, ok_new.id, newest.id]
    assert spool.size_bytes <= spool.max_bytes


def test_spool_full_of_failures_drops_oldest_failure(tmp_path: Path) -> None:
    size = entry_size()
    dropped: list[Entry] = []
    spool = Spool(tmp_path, 2 * size + 10, on_drop=dropped.append)
    first = spool.put(payload(Status.CRITICAL))
    second = spool.put(payload(Status.WARNING))

    third = spool.put(payload(Status.UNKNOWN))

    assert [e.id for e in dropped] == [first.id]
    assert [e.id for e in spool.pending(10)] == [second.id, third.id]


def test_spool_full_of_failures_drops_new_ok(tmp_path: Path) -> None:
    size = entry_size()
    dropped: list[Entry] = []
    spool = Spool(tmp_path, 2 * size + 10, on_drop=dropped.append)
    critical = spool.put(payload(Status.CRITICAL))
    ok_old = spool.put(payload(Status.OK))
    warning = spool.put(payload(Status.WARNING))

    ok_new = spool.put(payload(Status.OK))

    assert ok_new is None
    assert [e.status for e in dropped] == ["OK", "OK"]
    assert dropped[0].id == ok_old.id
    assert [e.id for e in spool.pending(10)] == [critical.id, warning.id]


def test_spool_drops_result_larger_than_spool(tmp_path: Path) -> None:
    dropped: list[Entry] = []
    spool = Spool(tmp_path, 50, on_drop=dropped.append)

    assert spool.put(payload()) is None
    assert len(dropped) == 1
    assert len(spool) == 0


def test_spool_reject_sets_result_aside(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20)
    bad = spool.put(payload())
    good = spool.put(payload())

    spool.reject([bad], "HTTP 400 results[0].status: invalid value")

    reopened = Spool(tmp_path, 1 << 20)
    error_file = tmp_path / "rejected" / f"{bad.name}.error"
    assert [e.id for e in reopened.pending(10)] == [good.id]
    assert (tmp_path / "rejected" / bad.name).is_file()
    assert error_file.read_text() == "HTTP 400 results[0].status: invalid value\n"


def test_spool_moves_unreadable_file_aside(tmp_path: Path) -> None:
    name = "00000000000000000001-" + "a" * 32 + ".json"
    (tmp_path / name).write_bytes(b"\x00garbage")

    spool = Spool(tmp_path, 1 << 20)

    assert len(spool) == 0
    assert (tmp_path / "rejected" / name).is_file()


def test_spool_moves_non_finite_value_aside(tmp_path: Path) -> None:
    name = "00000000000000000001-" + "b" * 32 + ".json"
    text = json.dumps(payload()).replace('"values": {}', '"values": {"a": Infinity}')
    (tmp_path / name).write_text(text)

    spool = Spool(tmp_path, 1 << 20)

    assert len(spool) == 0
    assert (tmp_path / "rejected" / name).is_file()


def test_spool_oldest_age_empty_is_zero(tmp_path: Path) -> None:
    assert Spool(tmp_path, 1 << 20).oldest_age_seconds() == 0.0


def test_spool_oldest_age_counts_from_write(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20)
    spool.put(payload())
    time.sleep(0.05)

    assert spool.oldest_age_seconds() >= 0.05


def test_hard_state_file_round_trip(tmp_path: Path) -> None:
    states = HardStateFile(tmp_path / "checks.state")

    states.save({"db": Status.CRITICAL, "app": Status.OK})

    assert states.load() == {"db": Status.CRITICAL, "app": Status.OK}


def test_hard_state_file_missing_is_empty(tmp_path: Path) -> None:
    assert HardStateFile(tmp_path / "checks.state").load() == {}


def test_hard_state_file_invalid_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "checks.state"
    path.write_text('{"checks": {"db": "BROKEN"}}')

    assert HardStateFile(path).load() == {}
