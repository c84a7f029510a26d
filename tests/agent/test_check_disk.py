"""The disk kind on this machine's filesystems."""

from __future__ import annotations

import os
import threading
import time
from collections import namedtuple
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from agent.checks import disk
from agent.checks.base import CallTimeout, StillBlocked, call_with_timeout
from agent.spec import CheckSpec, Status

MakeCheck = Callable[..., CheckSpec]

# The fields of psutil.disk_partitions() entries that real_mounts reads.
Partition = namedtuple("Partition", "device mountpoint fstype opts")


class Hung:
    """A stand-in for a call on a hung mount: it blocks until `release` is set.

    Then it returns `function(path)`. `calls` records each path it was given.
    """

    def __init__(self, function: Callable[[str], object]) -> None:
        self.function = function
        self.release = threading.Event()
        self.calls: list[str] = []

    def __call__(self, path: str) -> object:
        self.calls.append(path)
        self.release.wait(30)
        return self.function(path)


def join_bounded_calls() -> None:
    """Wait for the threads of timed-out calls, after the test released them."""
    for thread in threading.enumerate():
        if thread.name == "bounded-call":
            thread.join(30)


def run(make_check: MakeCheck, **options: object) -> disk.Outcome:
    check = make_check("disk", **options)
    return disk.run(check.options, check.timeout)


def test_disk_root_ok(make_check: MakeCheck) -> None:
    outcome = run(make_check, path="/", warning="99.9%", critical="100%")

    assert outcome.status is Status.OK
    assert outcome.message.startswith("/ is ")
    assert 0 <= outcome.values["used_percent"] <= 100
    assert outcome.values["free_bytes"] > 0


def test_disk_used_critical(make_check: MakeCheck, tmp_path: Path) -> None:
    outcome = run(make_check, path=str(tmp_path), warning="0%", critical="0.01%")

    assert outcome.status is Status.CRITICAL
    assert outcome.message.endswith("used (critical at 0.01%)")
    assert outcome.reason == "threshold"


def test_disk_free_bytes_warning(make_check: MakeCheck) -> None:
    outcome = run(
        make_check,
        path="/",
        warning="99.9%",
        critical="100%",
        free_warning="100PiB",
        free_critical="1B",
    )

    assert outcome.status is Status.WARNING
    assert outcome.message.endswith("free (warning at 100.0 PiB)")


def test_disk_inodes_warning(make_check: MakeCheck) -> None:
    outcome = run(
        make_check,
        path="/",
        warning="99.9%",
        critical="100%",
        inodes_warning="0%",
        inodes_critical="100%",
    )

    if "inodes_used_percent" not in outcome.values:
        pytest.skip("the root filesystem reports no inode count")
    assert outcome.status is Status.WARNING
    assert "inodes are" in outcome.message


def test_disk_all_real_mounts(make_check: MakeCheck) -> None:
    outcome = run(make_check, all=True, warning="99.9%", critical="100%")

    assert outcome.status is Status.OK
    assert outcome.values["mounts"] >= 1


def test_disk_real_mounts_skip_pseudo_filesystems() -> None:
    mounts = disk.real_mounts()

    assert "/proc" not in mounts
    assert "/sys" not in mounts


@pytest.mark.parametrize(
    "fstype", ["iso9660", "squashfs", "erofs", "fuse.lxcfs", "aufs", "tmpfs"]
)
def test_disk_real_mounts_skip_read_only_images(
    fstype: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    partitions = [
        Partition("/dev/sda1", "/", "ext4", "rw"),
        Partition("/dev/sr0", "/media/cdrom", fstype, "ro"),
        Partition("nas:/srv", "/mnt/nas", "nfs4", "rw"),
    ]
    monkeypatch.setattr(psutil, "disk_partitions", lambda all: partitions)

    mounts = disk.real_mounts()

    assert mounts == ["/", "/mnt/nas"]


def test_disk_missing_path(make_check: MakeCheck, tmp_path: Path) -> None:
    outcome = run(make_check, path=str(tmp_path / "unmounted"))

    assert outcome.status is Status.CRITICAL
    assert outcome.message == f"{tmp_path / 'unmounted'} not found; is it mounted?"
    assert outcome.reason == "not_found"


def test_disk_path_under_a_file(make_check: MakeCheck, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")

    outcome = run(make_check, path=str(tmp_path / "file" / "data"))

    assert outcome.status is Status.CRITICAL
    assert outcome.message == (
        f"{tmp_path / 'file' / 'data'} not found; is it mounted?"
    )
    assert outcome.reason == "not_found"


def test_disk_hung_statvfs_unknown(make_check: MakeCheck, tmp_path: Path) -> None:
    check = make_check("disk", path=str(tmp_path), timeout="500ms")
    hung_statvfs = Hung(os.statvfs)

    started = time.monotonic()
    try:
        outcome = disk.run(check.options, check.timeout, statvfs=hung_statvfs)
    finally:
        elapsed = time.monotonic() - started
        hung_statvfs.release.set()

    assert outcome.status is Status.UNKNOWN
    assert outcome.message == (
        f"statvfs of {tmp_path} did not return within 0.5s; the mount may hang"
    )
    assert outcome.reason == "timeout"
    assert hung_statvfs.calls == [str(tmp_path)]
    assert elapsed < 10


def test_disk_hung_mount_keeps_one_thread(
    make_check: MakeCheck, tmp_path: Path
) -> None:
    check = make_check("disk", path=str(tmp_path), timeout="200ms")
    hung_statvfs = Hung(os.statvfs)

    try:
        first = disk.run(check.options, check.timeout, statvfs=hung_statvfs)
        second = disk.run(check.options, check.timeout, statvfs=hung_statvfs)
    finally:
        hung_statvfs.release.set()
    join_bounded_calls()
    third = disk.run(check.options, check.timeout, statvfs=hung_statvfs)

    assert first.message.endswith("did not return within 0.2s; the mount may hang")
    assert second.status is Status.UNKNOWN
    assert second.message == (
        f"statvfs of {tmp_path} from an earlier run has still not returned; "
        "the mount hangs"
    )
    assert second.reason == "timeout"
    assert third.status is Status.OK
    assert hung_statvfs.calls == [str(tmp_path), str(tmp_path)]


def test_disk_all_one_hung_mount(make_check: MakeCheck) -> None:
    check = make_check("disk", all=True, timeout="1s")
    hung = disk.real_mounts()[-1]
    release = threading.Event()

    def statvfs(path: str) -> os.statvfs_result:
        if path == hung:
            release.wait(30)
        return os.statvfs(path)

    started = time.monotonic()
    try:
        outcome = disk.run(check.options, check.timeout, statvfs=statvfs)
    finally:
        elapsed = time.monotonic() - started
        release.set()

    assert outcome.status is Status.UNKNOWN
    assert outcome.message == (
        f"statvfs of {hung} did not return within 1s; the mount may hang"
    )
    assert outcome.reason == "timeout"
    assert elapsed < 10


def test_disk_all_vanished_mount_unknown(make_check: MakeCheck) -> None:
    check = make_check("disk", all=True)
    vanished = disk.real_mounts()[-1]

    def statvfs(path: str) -> os.statvfs_result:
        if path == vanished:
            raise FileNotFoundError(2, "No such file or directory", path)
        return os.statvfs(path)

    outcome = disk.run(check.options, check.timeout, statvfs=statvfs)

    assert outcome.status is Status.UNKNOWN
    assert outcome.message == (
        f"statvfs of {vanished} failed: [Errno 2] No such file or directory: "
        f"'{vanished}'"
    )
    assert outcome.reason == "error"


def test_disk_bounded_call_times_out() -> None:
    release = threading.Event()

    started = time.monotonic()
    with pytest.raises(CallTimeout):
        call_with_timeout(lambda: release.wait(30), 0.2)
    elapsed = time.monotonic() - started
    release.set()

    assert elapsed < 3


def test_disk_bounded_call_same_key_not_restarted() -> None:
    release = threading.Event()
    calls: list[int] = []

    def blocked() -> None:
        calls.append(1)
        release.wait(30)

    try:
        with pytest.raises(CallTimeout):
            call_with_timeout(blocked, 0.1, key="hung")
        with pytest.raises(StillBlocked):
            call_with_timeout(blocked, 0.1, key="hung")
        with pytest.raises(CallTimeout):
            call_with_timeout(blocked, 0.1, key="other")
    finally:
        release.set()
    join_bounded_calls()

    assert call_with_timeout(lambda: "done", 5, key="hung") == "done"
    assert len(calls) == 2


def test_disk_bounded_call_passes_errors() -> None:
    def fail() -> None:
        raise OSError(5, "Input/output error")

    with pytest.raises(OSError, match="Input/output error"):
        call_with_timeout(fail, 5)
