"""Scheduling, overlap, retries, suppression and reload of agent.scheduler."""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from agent.metrics import Metrics
from agent.runner import Runner
from agent.scheduler import Scheduler
from agent.spec import Result, Status

from .conftest import make_config, make_spec


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Collected:
    """Listener that stores results and lets a test wait for a count."""

    def __init__(self) -> None:
        self.results: list[Result] = []
        self.changed = threading.Condition()

    def __call__(self, result: Result) -> None:
        with self.changed:
            self.results.append(result)
            self.changed.notify_all()

    def wait_for(self, count: int, check: str | None = None, timeout=20.0) -> bool:
        def enough() -> bool:
            return len(self.of(check)) >= count

        with self.changed:
            return self.changed.wait_for(enough, timeout)

    def of(self, check: str | None) -> list[Result]:
        return [r for r in self.results if check is None or r.check == check]


def test_scheduler_hanging_check_does_not_delay_round(runner: Runner) -> None:
    release = threading.Event()
    hanging = make_spec("hanging", timeout=1.0, options={"release": release})
    quick = [
        make_spec(f"quick-{i}", timeout=5.0, options={"sleep": 0.9}) for i in range(6)
    ]
    scheduler = Scheduler(make_config(hanging, *quick), runner=runner, splay=False)

    started = time.monotonic()
    results = scheduler.run_once()
    elapsed = time.monotonic() - started
    release.set()

    by_name = {result.check: result for result in results}
    assert sorted(by_name) == sorted(["hanging"] + [q.name for q in quick])
    assert by_name["hanging"].message == "timed out after 1s"
    assert by_name["hanging"].reason == "timeout"
    assert all(by_name[q.name].status == Status.OK for q in quick)
    # Run one after another, the round would take 6 * 0.9 + 1.2 s. The
    # generous bound is 3x the longest run (1 s timeout + 0.2 s grace).
    assert elapsed < 3 * 1.2


def test_scheduler_skips_overlapping_run(runner: Runner) -> None:
    release = threading.Event()
    starts: list[float] = []
    spec = make_spec(interval=10.0, options={"release": release, "starts": starts})
    clock = FakeClock()
    metrics = Metrics()
    scheduler = Scheduler(
        make_config(spec), runner=runner, metrics=metrics, splay=False, clock=clock
    )

    first = scheduler.tick()
    clock.now += 10.0
    second = scheduler.tick()
    release.set()

    labels = {"check": "c1", "kind": "fake", "category": "application"}
    skipped = metrics.registry.get_sample_value(
        "pelihara_check_skipped_runs_total", labels
    )
    assert first == 1
    assert second == 0
    assert skipped == 1.0
    assert len(starts) <= 1


def test_scheduler_hanging_check_does_not_stop_next_rounds(runner: Runner) -> None:
    release = threading.Event()
    starts: list[float] = []
    hanging = make_spec(
        "hanging",
        interval=0.2,
        timeout=0.5,
        options={"release": release, "starts": starts},
    )
    quick = make_spec("quick", interval=0.2)
    scheduler = Scheduler(make_config(hanging, quick), runner=runner, splay=False)
    collected = Collected()
    scheduler.add_listener(collected)
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run, args=(stop,), kwargs={"poll": 0.05})

    thread.start()
    timed_out = collected.wait_for(1, check="hanging")
    quick_so_far = len(collected.of("quick"))
    reached = collected.wait_for(quick_so_far + 3, check="quick")
    stop.set()
    thread.join(10)
    release.set()

    assert timed_out is True
    assert reached is True
    assert thread.is_alive() is False
    assert len(starts) == 1
    assert collected.of("hanging")[-1].message == (
        "still running after its previous run timed out"
    )


def test_scheduler_retries_before_confirming(runner: Runner) -> None:
    statuses = ["CRITICAL", "CRITICAL", "CRITICAL"]
    starts: list[float] = []
    spec = make_spec(
        retries=2, retry_interval=0.1, options={"statuses": statuses, "starts": starts}
    )
    scheduler = Scheduler(make_config(spec), runner=runner, splay=False)
    collected = Collected()
    scheduler.add_listener(collected)

    results = scheduler.run_once()

    assert [r.confirmed for r in collected.results] == [False, False, True]
    assert results[0].status == Status.CRITICAL
    assert results[0].confirmed is True
    assert starts[1] - starts[0] >= 0.1
    assert starts[2] - starts[1] >= 0.1


def test_scheduler_soft_failure_then_ok(runner: Runner) -> None:
    spec = make_spec(retries=1, options={"statuses": ["WARNING", "OK"]})
    scheduler = Scheduler(make_config(spec), runner=runner, splay=False)

    results = scheduler.run_once()

    assert results[0].status == Status.OK
    assert scheduler.hard_state("c1") == Status.OK


def run_checks_in_order(scheduler: Scheduler, *names: str) -> Collected:
    collected = Collected()
    scheduler.add_listener(collected)
    for count, name in enumerate(names, start=1):
        scheduler.tick(only=[name])
        assert collected.wait_for(count)
    return collected


def test_scheduler_suppresses_failure_of_dependent(runner: Runner) -> None:
    database = make_spec("db", options={"status": "CRITICAL"})
    app = make_spec("app", depends_on=("db",), options={"status": "CRITICAL"})
    scheduler = Scheduler(make_config(database, app), runner=runner, splay=False)

    collected = run_checks_in_order(scheduler, "db", "app")

    assert collected.of("db")[0].suppressed is None
    assert collected.of("app")[0].suppressed == "depends_on:db"


def test_scheduler_dependency_ok_means_no_suppression(runner: Runner) -> None:
    database = make_spec("db")
    app = make_spec("app", depends_on=("db",), options={"status": "CRITICAL"})
    scheduler = Scheduler(make_config(database, app), runner=runner, splay=False)

    collected = run_checks_in_order(scheduler, "db", "app")

    assert collected.of("app")[0].suppressed is None


def test_scheduler_soft_dependency_failure_not_suppressing(runner: Runner) -> None:
    database = make_spec("db", retries=3, options={"status": "CRITICAL"})
    app = make_spec("app", depends_on=("db",), options={"status": "CRITICAL"})
    scheduler = Scheduler(make_config(database, app), runner=runner, splay=False)

    collected = run_checks_in_order(scheduler, "db", "app")

    assert collected.of("db")[0].confirmed is False
    assert collected.of("app")[0].suppressed is None


@dataclass(frozen=True)
class Window:
    """A maintenance window from `start` to `end`, as spec.MaintenanceWindow."""

    name: str
    checks: frozenset[str]
    start: datetime
    end: datetime

    def is_active(self, at: datetime) -> bool:
        return self.start <= at < self.end


def window(name: str, checks: frozenset[str], active: bool) -> Window:
    """Return a two-hour window around now, or one starting in an hour."""
    now = datetime.now(UTC)
    start = now - timedelta(hours=1) if active else now + timedelta(hours=1)
    return Window(name, checks, start, start + timedelta(hours=2))


def test_scheduler_suppresses_during_maintenance(runner: Runner) -> None:
    spec = make_spec(options={"status": "CRITICAL"})
    windows = (window("upgrade", frozenset(), active=True),)
    config = make_config(spec, maintenance=windows)
    scheduler = Scheduler(config, runner=runner, splay=False)

    results = scheduler.run_once()

    assert results[0].suppressed == "maintenance:upgrade"


def test_scheduler_maintenance_of_other_check_ignored(runner: Runner) -> None:
    spec = make_spec(options={"status": "CRITICAL"})
    windows = (window("upgrade", frozenset({"other"}), active=True),)
    config = make_config(spec, maintenance=windows)
    scheduler = Scheduler(config, runner=runner, splay=False)

    assert scheduler.run_once()[0].suppressed is None


def test_scheduler_inactive_maintenance_ignored(runner: Runner) -> None:
    spec = make_spec(options={"status": "CRITICAL"})
    windows = (window("upgrade", frozenset(), active=False),)
    config = make_config(spec, maintenance=windows)
    scheduler = Scheduler(config, runner=runner, splay=False)

    assert scheduler.run_once()[0].suppressed is None


def test_scheduler_ok_result_never_suppressed(runner: Runner) -> None:
    windows = (window("upgrade", frozenset(), active=True),)
    config = make_config(make_spec(), maintenance=windows)
    scheduler = Scheduler(config, runner=runner, splay=False)

    assert scheduler.run_once()[0].suppressed is None


def test_scheduler_splay_within_cap(runner: Runner) -> None:
    checks = [make_spec(f"c{i}", interval=3600.0) for i in range(50)]
    clock = FakeClock()
    start = clock.now
    scheduler = Scheduler(
        make_config(*checks),
        runner=runner,
        splay_cap=300.0,
        rng=random.Random(7),
        clock=clock,
    )

    started_at_once = scheduler.tick()
    clock.now = start + 150.0
    started_by_half = scheduler.tick()
    clock.now = start + 300.0
    started_by_cap = scheduler.tick()

    assert started_at_once == 0
    assert 0 < started_by_half < 50
    assert started_at_once + started_by_half + started_by_cap == 50


def test_scheduler_splay_within_short_interval(runner: Runner) -> None:
    checks = [make_spec(f"c{i}", interval=10.0) for i in range(20)]
    clock = FakeClock()
    scheduler = Scheduler(
        make_config(*checks), runner=runner, rng=random.Random(3), clock=clock
    )

    clock.now += 10.0

    assert scheduler.tick() == 20


def test_scheduler_reload_keeps_hard_state(runner: Runner) -> None:
    database = make_spec("db", options={"status": "CRITICAL"})
    old = make_spec("old")
    scheduler = Scheduler(make_config(database, old), runner=runner, splay=False)
    run_checks_in_order(scheduler, "db")

    scheduler.reload(make_config(database, make_spec("new")))

    assert scheduler.hard_state("db") == Status.CRITICAL
    assert [c.name for c in scheduler.config.checks] == ["db", "new"]


def test_scheduler_reload_removes_metrics_of_dropped_check(runner: Runner) -> None:
    metrics = Metrics()
    scheduler = Scheduler(
        make_config(make_spec("old")), runner=runner, metrics=metrics, splay=False
    )
    scheduler.run_once()

    scheduler.reload(make_config(make_spec("new")))

    labels = {"check": "old", "kind": "fake", "category": "application"}
    status = metrics.registry.get_sample_value("pelihara_check_status", labels)
    assert status is None


def test_scheduler_hung_check_with_retries_confirmed(runner: Runner) -> None:
    release = threading.Event()
    spec = make_spec(
        timeout=0.2, retries=2, retry_interval=0.1, options={"release": release}
    )
    scheduler = Scheduler(make_config(spec), runner=runner, splay=False)
    collected = Collected()
    scheduler.add_listener(collected)

    results = scheduler.run_once()
    release.set()

    messages = [r.message for r in collected.results]
    assert results[0].status == Status.UNKNOWN
    assert results[0].confirmed is True
    assert messages == [
        "timed out after 0.2s",
        "still running after its previous run timed out",
        "still running after its previous run timed out",
    ]


def test_scheduler_bad_value_still_reaches_listener(runner: Runner) -> None:
    spec = make_spec(options={"values": {"used_percent": "lots"}})
    scheduler = Scheduler(
        make_config(spec), runner=runner, metrics=Metrics(), splay=False
    )
    collected = Collected()
    scheduler.add_listener(collected)

    scheduler.run_once()

    assert len(collected.results) == 1


def test_scheduler_once_runs_dependency_first(runner: Runner) -> None:
    starts: list[float] = []
    database = make_spec(
        "db", options={"status": "CRITICAL", "sleep": 0.2, "starts": starts}
    )
    app = make_spec(
        "app",
        depends_on=("db",),
        options={"status": "CRITICAL", "starts": starts},
    )
    scheduler = Scheduler(make_config(app, database), runner=runner, splay=False)

    results = scheduler.run_once()

    assert [r.check for r in results] == ["app", "db"]
    assert results[0].suppressed == "depends_on:db"
    assert starts[1] - starts[0] >= 0.2


def test_scheduler_once_dependency_cycle_still_runs(runner: Runner) -> None:
    first = make_spec("a", depends_on=("b",))
    second = make_spec("b", depends_on=("a",))
    scheduler = Scheduler(make_config(first, second), runner=runner, splay=False)

    results = scheduler.run_once()

    assert [r.status for r in results] == [Status.OK, Status.OK]


def test_scheduler_saved_failure_needs_confirmed_recovery(runner: Runner) -> None:
    saved: list[dict] = []
    spec = make_spec(recover_after=2)
    scheduler = Scheduler(
        make_config(spec),
        runner=runner,
        splay=False,
        hard_states={"c1": Status.CRITICAL},
        on_hard_change=lambda states: saved.append(dict(states)),
    )
    collected = Collected()
    scheduler.add_listener(collected)

    scheduler.run_once()

    assert [r.confirmed for r in collected.results] == [False, True]
    assert saved == [{"c1": Status.OK}]


def test_scheduler_reports_confirmed_failure_state(runner: Runner) -> None:
    saved: list[dict] = []
    spec = make_spec(options={"status": "WARNING"})
    scheduler = Scheduler(
        make_config(spec, make_spec("other")),
        runner=runner,
        splay=False,
        on_hard_change=lambda states: saved.append(dict(states)),
    )

    scheduler.run_once()

    assert saved == [{"c1": Status.WARNING, "other": Status.OK}]


def test_scheduler_logs_first_failure_as_first(
    runner: Runner, caplog: pytest.LogCaptureFixture
) -> None:
    spec = make_spec(options={"status": "CRITICAL", "message": "disk gone"})
    scheduler = Scheduler(make_config(spec), runner=runner, splay=False)

    with caplog.at_level(logging.WARNING, logger="agent.scheduler"):
        scheduler.run_once()

    assert caplog.messages == ["check c1: first result CRITICAL: disk gone"]


def test_scheduler_logs_change_from_saved_state(
    runner: Runner, caplog: pytest.LogCaptureFixture
) -> None:
    spec = make_spec(options={"status": "CRITICAL", "message": "disk gone"})
    scheduler = Scheduler(
        make_config(spec),
        runner=runner,
        splay=False,
        hard_states={"c1": Status.WARNING},
    )

    with caplog.at_level(logging.WARNING, logger="agent.scheduler"):
        scheduler.run_once()

    assert caplog.messages == ["check c1 is now CRITICAL (was WARNING): disk gone"]


def test_scheduler_logs_later_failure_as_change(
    runner: Runner, caplog: pytest.LogCaptureFixture
) -> None:
    spec = make_spec(
        options={"statuses": ["OK", "CRITICAL"], "message": "disk gone"},
        interval=1.0,
    )
    scheduler = Scheduler(make_config(spec), runner=runner, splay=False)
    scheduler.run_once()

    with caplog.at_level(logging.WARNING, logger="agent.scheduler"):
        scheduler.run_once()

    assert caplog.messages == ["check c1 is now CRITICAL (was OK): disk gone"]
