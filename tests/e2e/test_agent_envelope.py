"""An agent whose own settings the collector rejects, against a real collector."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.delivery import FAILED, SENT, Delivery, Target
from agent.spec import Category, Result, Status
from agent.spool import Spool

from .conftest import Collector
from .test_delivery_faults import AGENT_HOST, cases_by_check, start_with_tokens

CHECKS = ("disk-a", "disk-b", "disk-c")


def failing_payload(check: str) -> dict:
    result = Result(
        check=check,
        kind="disk",
        category=Category.HARDWARE,
        status=Status.CRITICAL,
        message=f"{check} is full",
        values={},
        reason="threshold",
        observed_at=datetime.now(UTC),
        duration_seconds=0.01,
    )
    return result.to_payload()


def test_long_agent_host_keeps_results(
    tmp_path: Path, collector: Collector, caplog: pytest.LogCaptureFixture
) -> None:
    viewer_token = start_with_tokens(collector, tmp_path)
    token = (tmp_path / "agent.token").read_text().strip()
    spool = Spool(tmp_path / "spool", 1 << 20)
    ids = {spool.put(failing_payload(check)).id for check in CHECKS}
    # The collector limits host names to 255 characters and validates the
    # envelope before it compares the host with the token's.
    long_host = Target(collector.url, token, "h" * 256, 60.0)
    delivery = Delivery(spool, long_host, connect_timeout=5.0, read_timeout=30.0)

    with caplog.at_level(logging.ERROR, logger="agent.delivery"):
        first = delivery.step()
    pending_ids = {entry.id for entry in spool.pending(100)}
    cases_before_fix = cases_by_check(collector, viewer_token)

    delivery.retarget(replace(long_host, host=AGENT_HOST))
    second = delivery.step()
    cases = cases_by_check(collector, viewer_token)
    delivery.stop()

    assert first == FAILED
    assert pending_ids == ids
    assert not (spool.directory / "rejected").exists()
    assert "'agent.host'" in caplog.text
    assert "longer than the maximum of 255 characters" in caplog.text
    assert "set `host` in the agent section of checks.yaml" in caplog.text
    assert cases_before_fix == {}
    assert second == SENT
    assert len(spool) == 0
    assert sorted(cases) == sorted(CHECKS)
    stored = {
        result["id"] for found in cases.values() for result in found[0]["results"]
    }
    assert stored == ids
