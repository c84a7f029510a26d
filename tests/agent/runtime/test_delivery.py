"""Sending spooled results to a collector: agent.delivery against real servers."""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
from pathlib import Path

import pytest

from agent.delivery import (
    FAILED,
    IDLE,
    SENT,
    Delivery,
    Target,
    backoff_delay,
    names_a_result,
)
from agent.metrics import Metrics
from agent.runner import Runner
from agent.scheduler import Scheduler
from agent.spec import Status
from agent.spool import Spool

from . import fakekind
from .conftest import HANG, FakeCollector, make_config, make_spec
from .test_spool import payload


def open_delivery(
    tmp_path: Path, url: str, metrics: Metrics | None = None, **changes
) -> Delivery:
    target_values = {
        "collector": url,
        "token": "secret-token",
        "host": "app-01",
        "interval_seconds": 60.0,
        "batch_size": changes.pop("batch_size", 500),
        "ca_bundle": changes.pop("ca_bundle", None),
    }
    spool = Spool(tmp_path / "spool", 1 << 20)
    options = {"connect_timeout": 2.0, "read_timeout": 2.0, "backoff_base": 0.01}
    options.update(changes)
    return Delivery(spool, Target(**target_values), metrics=metrics, **options)


def failures(metrics: Metrics, reason: str) -> float | None:
    return metrics.registry.get_sample_value(
        "pelihara_agent_delivery_failures_total", {"reason": reason}
    )


def test_delivery_posts_batch_per_protocol(
    tmp_path: Path, collector: FakeCollector
) -> None:
    delivery = open_delivery(tmp_path, collector.url)
    ids = [delivery.spool.put(payload()).id for _ in range(3)]

    outcome = delivery.step()

    request = collector.received[0]
    assert outcome == SENT
    assert request.path == "/api/v1/results"
    assert request.headers["Authorization"] == "Bearer secret-token"
    assert request.headers["Content-Type"] == "application/json"
    assert request.body["agent"] == {
        "host": "app-01",
        "version": "0.1.0",
        "interval_seconds": 60,
    }
    assert [r["id"] for r in request.body["results"]] == ids
    assert len(delivery.spool) == 0


def test_delivery_splits_into_batches(tmp_path: Path, collector: FakeCollector) -> None:
    delivery = open_delivery(tmp_path, collector.url, batch_size=2)
    for _ in range(5):
        delivery.spool.put(payload())

    outcomes = [delivery.step() for _ in range(3)]

    assert outcomes == [SENT, SENT, SENT]
    assert [len(r.body["results"]) for r in collector.received] == [2, 2, 1]


def test_delivery_retries_server_error_with_same_ids(
    tmp_path: Path, collector: FakeCollector
) -> None:
    metrics = Metrics()
    delivery = open_delivery(tmp_path, collector.url, metrics)
    ids = [delivery.spool.put(payload()).id for _ in range(2)]
    collector.script.append((500, {"error": "database is locked"}))

    first = delivery.step()
    pending_after_error = len(delivery.spool)
    second = delivery.step()

    assert first == FAILED
    assert pending_after_error == 2
    assert second == SENT
    assert collector.ids() == ids + ids
    assert failures(metrics, "server_error") == 1.0


def test_delivery_keeps_results_on_auth_errors(
    tmp_path: Path, collector: FakeCollector
) -> None:
    metrics = Metrics()
    delivery = open_delivery(tmp_path, collector.url, metrics)
    delivery.spool.put(payload())
    for status in (401, 403, 429):
        collector.script.append((status, {"error": "no"}))

    outcomes = [delivery.step() for _ in range(3)]

    assert outcomes == [FAILED, FAILED, FAILED]
    assert len(delivery.spool) == 1
    assert failures(metrics, "unauthorized") == 1.0
    assert failures(metrics, "forbidden") == 1.0
    assert failures(metrics, "throttled") == 1.0


def test_delivery_sets_invalid_result_aside(
    tmp_path: Path, collector: FakeCollector
) -> None:
    metrics = Metrics()
    delivery = open_delivery(tmp_path, collector.url, metrics)
    entry = delivery.spool.put(payload())
    error = {"error": "results[0].status: invalid value", "field": "results[0].status"}
    collector.script.append((400, error))

    outcome = delivery.step()

    rejected = delivery.spool.directory / "rejected"
    assert outcome == SENT
    assert len(delivery.spool) == 0
    assert (rejected / entry.name).is_file()
    assert "HTTP 400" in (rejected / f"{entry.name}.error").read_text()
    assert (
        metrics.registry.get_sample_value("pelihara_agent_rejected_results_total")
        == 1.0
    )


def test_delivery_split_isolates_invalid_result(
    tmp_path: Path, collector: FakeCollector
) -> None:
    delivery = open_delivery(tmp_path, collector.url)
    entries = [delivery.spool.put(payload()) for _ in range(5)]
    bad_id = entries[3].id

    def reject_bad(body: dict) -> tuple[int, dict]:
        if any(r["id"] == bad_id for r in body["results"]):
            return 422, {"error": "results[0].values: invalid"}
        return 200, {"accepted": len(body["results"])}

    collector.responder = reject_bad

    outcome = delivery.step()

    rejected = sorted(p.name for p in (delivery.spool.directory / "rejected").iterdir())
    assert outcome == SENT
    assert len(delivery.spool) == 0
    assert rejected == [entries[3].name, f"{entries[3].name}.error"]
    assert sorted(set(collector.ids()) - {bad_id}) == sorted(
        e.id for e in entries if e.id != bad_id
    )


def test_delivery_keeps_results_on_agent_field_error(
    tmp_path: Path, collector: FakeCollector, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = Metrics()
    delivery = open_delivery(tmp_path, collector.url, metrics)
    for _ in range(3):
        delivery.spool.put(payload())
    error = {
        "error": "agent.host: longer than the maximum of 255 characters",
        "field": "agent.host",
    }
    collector.script.append((422, error))

    with caplog.at_level(logging.ERROR, logger="agent.delivery"):
        outcome = delivery.step()

    assert outcome == FAILED
    assert len(delivery.spool) == 3
    assert len(collector.received) == 1
    assert not (delivery.spool.directory / "rejected").exists()
    assert failures(metrics, "agent_config") == 1.0
    assert "'agent.host'" in caplog.text
    assert "set `host` in the agent section of checks.yaml" in caplog.text
    assert "keeping 3 results in the spool" in caplog.text


def test_delivery_agent_field_error_then_sends(
    tmp_path: Path, collector: FakeCollector
) -> None:
    delivery = open_delivery(tmp_path, collector.url)
    ids = [delivery.spool.put(payload()).id for _ in range(2)]
    collector.script.append((422, {"error": "agent: invalid", "field": "agent"}))

    first = delivery.step()
    second = delivery.step()

    assert first == FAILED
    assert second == SENT
    assert collector.ids() == ids + ids
    assert len(delivery.spool) == 0


def test_delivery_whole_body_error_keeps_results(
    tmp_path: Path, collector: FakeCollector
) -> None:
    delivery = open_delivery(tmp_path, collector.url)
    delivery.spool.put(payload())
    collector.script.append((400, {"error": "the body is not valid JSON", "field": ""}))

    outcome = delivery.step()

    assert outcome == FAILED
    assert len(delivery.spool) == 1
    assert not (delivery.spool.directory / "rejected").exists()


def test_delivery_results_list_error_splits_batch(
    tmp_path: Path, collector: FakeCollector
) -> None:
    delivery = open_delivery(tmp_path, collector.url)
    ids = [delivery.spool.put(payload()).id for _ in range(4)]
    collector.script.append((422, {"error": "results: too many", "field": "results"}))

    outcome = delivery.step()

    assert outcome == SENT
    assert len(delivery.spool) == 0
    assert sorted(collector.ids()) == sorted(ids + ids)
    assert not (delivery.spool.directory / "rejected").exists()


def test_delivery_heartbeat_field_error_retried(
    tmp_path: Path, collector: FakeCollector, caplog: pytest.LogCaptureFixture
) -> None:
    delivery = open_delivery(tmp_path, collector.url)
    error = {"error": "agent.interval_seconds: must be positive", "field": "agent"}
    collector.script.append((422, error))

    with caplog.at_level(logging.ERROR, logger="agent.delivery"):
        outcome = delivery.step()

    assert outcome == FAILED
    assert "keeping 0 results in the spool" in caplog.text


def test_names_a_result_by_field() -> None:
    assert names_a_result("results") is True
    assert names_a_result("results[3].status") is True
    assert names_a_result("agent.host") is False
    assert names_a_result("") is False
    assert names_a_result("resultsx") is False


def test_delivery_sends_heartbeat_when_idle(
    tmp_path: Path, collector: FakeCollector
) -> None:
    delivery = open_delivery(tmp_path, collector.url)

    first = delivery.step()
    second = delivery.step()

    assert first == IDLE
    assert second == IDLE
    assert len(collector.received) == 1
    assert collector.received[0].body["results"] == []


def test_delivery_heartbeat_due_again_after_interval(
    tmp_path: Path, collector: FakeCollector
) -> None:
    delivery = open_delivery(tmp_path, collector.url, heartbeat_interval=0.05)

    delivery.step()
    time.sleep(0.1)
    delivery.step()

    assert len(collector.received) == 2


def test_delivery_connection_refused_is_retried(tmp_path: Path) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    metrics = Metrics()
    delivery = open_delivery(tmp_path, f"http://127.0.0.1:{port}", metrics)
    delivery.spool.put(payload())

    assert delivery.step() == FAILED
    assert len(delivery.spool) == 1
    assert failures(metrics, "connection") == 1.0


def test_delivery_never_answering_times_out(
    tmp_path: Path, silent_collector: str
) -> None:
    metrics = Metrics()
    delivery = open_delivery(tmp_path, silent_collector, metrics, read_timeout=0.5)
    delivery.spool.put(payload())

    started = time.monotonic()
    outcome = delivery.step()
    elapsed = time.monotonic() - started

    assert outcome == FAILED
    assert failures(metrics, "timeout") == 1.0
    assert len(delivery.spool) == 1
    # Sanity bound for hang detection: the read timeout is 0.5 s.
    assert elapsed < 10


def test_delivery_hanging_collector_does_not_block_rounds(
    tmp_path: Path, collector: FakeCollector
) -> None:
    collector.default = HANG
    delivery = open_delivery(tmp_path, collector.url, read_timeout=30.0)
    quick = make_spec("quick", interval=0.1)
    runner = Runner(kind_loader=fakekind.load)
    scheduler = Scheduler(make_config(quick), runner=runner, splay=False)
    scheduler.add_listener(lambda result: delivery.spool.put(result.to_payload()))
    stop = threading.Event()
    thread = threading.Thread(
        target=scheduler.run,
        args=(stop,),
        kwargs={"after_round": delivery.notify, "poll": 0.02},
    )

    delivery.start()
    got_hanging_post = collector.wait_for_requests(1)
    thread.start()
    deadline = time.monotonic() + 20
    while len(delivery.spool) < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    thread.join(10)
    pending = len(delivery.spool)
    delivery.stop(timeout=0.1)

    assert got_hanging_post is True
    assert pending >= 5
    assert len(collector.received) == 1


def test_delivery_thread_retries_until_acknowledged(
    tmp_path: Path, collector: FakeCollector
) -> None:
    metrics = Metrics()
    delivery = open_delivery(tmp_path, collector.url, metrics)
    ids = [delivery.spool.put(payload(Status.CRITICAL)).id for _ in range(3)]
    collector.script.extend([(503, {}), (500, {})])

    delivery.start()
    deadline = time.monotonic() + 20
    while len(delivery.spool) and time.monotonic() < deadline:
        time.sleep(0.02)
    delivery.stop()

    assert len(delivery.spool) == 0
    assert collector.ids()[-3:] == ids
    assert failures(metrics, "server_error") == 2.0
    assert (
        metrics.registry.get_sample_value("pelihara_agent_delivered_results_total")
        == 3.0
    )


def test_delivery_wait_until_empty_sends_from_thread(
    tmp_path: Path, collector: FakeCollector
) -> None:
    delivery = open_delivery(tmp_path, collector.url, batch_size=2, heartbeats=False)
    for _ in range(5):
        delivery.spool.put(payload())
    collector.script.append((500, {}))
    delivery.start()

    try:
        emptied = delivery.wait_until_empty(timeout=20)
    finally:
        delivery.stop()

    assert emptied is True
    assert len(delivery.spool) == 0


def test_delivery_wait_until_empty_gives_up_at_timeout(
    tmp_path: Path, silent_collector: str
) -> None:
    delivery = open_delivery(
        tmp_path, silent_collector, read_timeout=5.0, heartbeats=False
    )
    delivery.spool.put(payload())
    delivery.start()

    started = time.monotonic()
    emptied = delivery.wait_until_empty(timeout=0.5)
    elapsed = time.monotonic() - started
    delivery.stop(timeout=0.1)

    assert emptied is False
    assert len(delivery.spool) == 1
    # Sanity bound for hang detection: the wait ends at its own timeout.
    assert elapsed < 5


def test_delivery_without_heartbeats_posts_nothing_when_idle(
    tmp_path: Path, collector: FakeCollector
) -> None:
    delivery = open_delivery(tmp_path, collector.url, heartbeats=False)

    outcome = delivery.step()

    assert outcome == IDLE
    assert collector.received == []


def test_delivery_https_with_ca_bundle(
    tmp_path: Path, tls_collector: tuple[FakeCollector, Path]
) -> None:
    collector, ca_bundle = tls_collector
    url = collector.url.replace("http://", "https://")
    delivery = open_delivery(tmp_path, url, ca_bundle=ca_bundle)
    delivery.spool.put(payload())

    assert delivery.step() == SENT
    assert len(collector.received) == 1


def test_delivery_https_unknown_ca_fails_as_tls(
    tmp_path: Path, tls_collector: tuple[FakeCollector, Path]
) -> None:
    collector, _ca_bundle = tls_collector
    metrics = Metrics()
    url = collector.url.replace("http://", "https://")
    delivery = open_delivery(tmp_path, url, metrics)
    delivery.spool.put(payload())

    assert delivery.step() == FAILED
    assert failures(metrics, "tls") == 1.0


def test_backoff_delay_bounded_by_exponent_and_cap() -> None:
    rng = random.Random(1)
    for attempt in range(12):
        limit = min(30.0, 0.5 * 2**attempt)
        draws = [backoff_delay(attempt, 0.5, 30.0, rng) for _ in range(200)]
        assert min(draws) >= 0.0
        assert max(draws) <= limit


def test_backoff_delay_jitters() -> None:
    rng = random.Random(2)
    draws = {backoff_delay(5, 1.0, 300.0, rng) for _ in range(50)}
    assert len(draws) == 50


def test_backoff_delay_huge_attempt_stays_at_cap() -> None:
    assert backoff_delay(10_000, 1.0, 300.0, random.Random(3)) <= 300.0


def test_delivery_rejected_heartbeat_is_retried(
    tmp_path: Path, collector: FakeCollector
) -> None:
    delivery = open_delivery(tmp_path, collector.url)
    collector.script.append((400, {"error": "agent.interval_seconds: missing"}))

    assert delivery.step() == FAILED
    assert not (delivery.spool.directory / "rejected").exists()


def test_delivery_target_repr_hides_token() -> None:
    target = Target("http://127.0.0.1:1", "secret-token", "app-01", 60.0)
    assert "secret-token" not in repr(target)
