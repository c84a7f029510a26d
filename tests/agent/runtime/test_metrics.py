"""The /metrics endpoint, scraped over HTTP and parsed as Prometheus text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from agent.delivery import Delivery, Target
from agent.metrics import Metrics, serve
from agent.runner import Runner
from agent.scheduler import Scheduler
from agent.spool import Spool

from .conftest import FakeCollector, make_config, make_spec

ALLOWED_LABELS = {"check", "kind", "category", "value", "reason", "status", "version"}


@pytest.fixture
def scraped(
    tmp_path: Path, runner: Runner, collector: FakeCollector
) -> Iterator[dict[tuple[str, tuple], float]]:
    """Run two checks, deliver their results, scrape /metrics; return samples."""
    metrics = Metrics()
    spool = Spool(tmp_path / "spool", 1 << 20)
    metrics.watch_spool(
        lambda: len(spool), lambda: spool.size_bytes, spool.oldest_age_seconds
    )
    disk = make_spec(
        "root-disk",
        kind="disk",
        options={
            "status": "CRITICAL",
            "values": {"used_percent": 93.1, "free_bytes": 1288490188.0},
        },
    )
    broken = make_spec("broken", options={"raise": "boom"})
    config = make_config(disk, broken)
    scheduler = Scheduler(config, runner=runner, metrics=metrics, splay=False)
    scheduler.add_listener(lambda result: spool.put(result.to_payload()))
    scheduler.run_once()
    target = Target(collector.url, "t", "test-host", 60.0)
    Delivery(spool, target, metrics=metrics).step()

    server = serve(metrics, "127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        text = requests.get(url, timeout=10).text
    finally:
        server.shutdown()
        server.server_close()

    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    yield samples


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


DISK = {"check": "root-disk", "kind": "disk", "category": "application"}
BROKEN = {"check": "broken", "kind": "fake", "category": "application"}


def test_metrics_check_status(scraped: dict) -> None:
    assert value(scraped, "pelihara_check_status", **DISK) == 2.0
    assert value(scraped, "pelihara_check_up", **DISK) == 0.0
    assert value(scraped, "pelihara_check_status", **BROKEN) == 3.0


def test_metrics_check_values(scraped: dict) -> None:
    used = value(scraped, "pelihara_check_value", **DISK, value="used_percent")
    free = value(scraped, "pelihara_check_value", **DISK, value="free_bytes")
    assert used == 93.1
    assert free == 1288490188.0


def test_metrics_check_failures_by_reason(scraped: dict) -> None:
    threshold = value(
        scraped, "pelihara_check_failures_total", **DISK, reason="threshold"
    )
    error = value(scraped, "pelihara_check_failures_total", **BROKEN, reason="error")
    assert threshold == 1.0
    assert error == 1.0


def test_metrics_check_timing(scraped: dict) -> None:
    duration = value(scraped, "pelihara_check_duration_seconds", **DISK)
    last_run = value(scraped, "pelihara_check_last_run_timestamp_seconds", **DISK)
    assert duration is not None
    assert duration >= 0.0
    assert last_run is not None
    assert last_run > 1.7e9


def test_metrics_skipped_runs_exported_at_zero(scraped: dict) -> None:
    assert value(scraped, "pelihara_check_skipped_runs_total", **DISK) == 0.0


def test_metrics_agent_health(scraped: dict) -> None:
    assert value(scraped, "pelihara_agent_build_info", version="0.1.0") == 1.0
    assert value(scraped, "pelihara_agent_rounds_total") == 1.0
    assert value(scraped, "pelihara_agent_check_errors_total", check="broken") == 1.0
    assert value(scraped, "pelihara_agent_check_errors_total", check="root-disk") == 0.0
    assert value(scraped, "pelihara_agent_scheduler_lag_seconds") is not None


def test_metrics_spool_and_delivery(scraped: dict) -> None:
    assert value(scraped, "pelihara_agent_spool_pending_results") == 0.0
    assert value(scraped, "pelihara_agent_spool_oldest_pending_age_seconds") == 0.0
    assert value(scraped, "pelihara_agent_delivery_attempts_total") == 1.0
    assert value(scraped, "pelihara_agent_delivered_results_total") == 2.0
    assert (
        value(scraped, "pelihara_agent_delivery_failures_total", reason="timeout")
        == 0.0
    )
    assert value(scraped, "pelihara_agent_dropped_results_total", status="OK") == 0.0


def test_metrics_labels_bounded(scraped: dict) -> None:
    used = {name for (metric, labels) in scraped for name, _ in labels}
    assert used <= ALLOWED_LABELS


def test_metrics_names_prefixed(scraped: dict) -> None:
    ours = {metric for (metric, _labels) in scraped if metric.startswith("pelihara_")}
    others = {
        metric
        for (metric, _labels) in scraped
        if not metric.startswith(("pelihara_", "python_", "process_"))
    }
    assert len(ours) >= 20
    assert others == set()


def test_metrics_value_not_measured_is_removed() -> None:
    from datetime import UTC, datetime

    from agent.spec import Category, Result, Status

    metrics = Metrics()

    def observe(values: dict[str, float]) -> None:
        metrics.observe_result(
            Result(
                "root-disk",
                "disk",
                Category.HARDWARE,
                Status.OK,
                "ok",
                values,
                "",
                datetime.now(UTC),
                0.0,
            )
        )

    observe({"used_percent": 50.0, "free_bytes": 10.0})
    observe({"used_percent": 51.0})

    labels = {"check": "root-disk", "kind": "disk", "category": "hardware"}
    get = metrics.registry.get_sample_value
    assert get("pelihara_check_value", {**labels, "value": "used_percent"}) == 51.0
    assert get("pelihara_check_value", {**labels, "value": "free_bytes"}) is None


def test_metrics_spool_drop_counted_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from agent.cli import _open_spool
    from agent.spec import Status

    from .test_spool import payload

    metrics = Metrics()
    config = make_config(
        collector="http://127.0.0.1:1",
        spool=tmp_path / "spool",
        spool_max_bytes=1 << 20,
    )
    spool = _open_spool(config, metrics)
    large_ok = {**payload(Status.OK), "message": "m" * 400_000}
    first = spool.put(large_ok)
    spool.put({**large_ok, "id": "b" * 32})

    with caplog.at_level("WARNING", logger="agent.spool"):
        spool.put({**large_ok, "id": "c" * 32})

    get = metrics.registry.get_sample_value
    assert get("pelihara_agent_dropped_results_total", {"status": "OK"}) == 1.0
    assert get("pelihara_agent_dropped_results_total", {"status": "CRITICAL"}) == 0.0
    assert get("pelihara_agent_spool_pending_results") == 2.0
    assert first.id in caplog.text
    assert "is full" in caplog.text
