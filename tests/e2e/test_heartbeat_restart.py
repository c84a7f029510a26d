"""The heartbeat monitor of a restarted `pelihara-collector serve` process."""

from __future__ import annotations

from pathlib import Path

import requests

from .conftest import Collector
from .test_delivery_faults import wait_for

HOST_BEFORE_RESTART = "seen-before-restart"
HOST_AFTER_RESTART = "seen-after-restart"


def post_heartbeat(collector: Collector, token_path: Path, host: str) -> None:
    """Post an empty batch as the agent of `host` with a 1 s interval."""
    token = token_path.read_text().strip()
    answer = requests.post(
        f"{collector.url}/api/v1/results",
        json={"agent": {"host": host, "interval_seconds": 1}, "results": []},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text


def heartbeat_cases(collector: Collector, viewer_token: str, host: str) -> list:
    answer = requests.get(
        f"{collector.url}/api/v1/cases",
        params={"host": host, "check": "agent-heartbeat"},
        headers={"Authorization": f"Bearer {viewer_token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["cases"]


def test_restarted_collector_gives_grace(tmp_path: Path, collector: Collector) -> None:
    """An agent last seen before the restart gets the grace; a later one does not.

    Both agents have a 1 s interval, and the one seen before the restart was
    silent longer. Without the grace, the monitor round that opens the later
    agent's case would therefore have opened a case for it too.
    """
    collector.start()
    before_token = collector.agent_token(HOST_BEFORE_RESTART, tmp_path / "before.token")
    after_token = collector.agent_token(HOST_AFTER_RESTART, tmp_path / "after.token")
    viewer_token = collector.user_token("ops", "viewer")
    post_heartbeat(collector, before_token, HOST_BEFORE_RESTART)
    collector.stop()

    collector.start(
        1, "--heartbeat-seconds", "0.2", "--heartbeat-grace-seconds", "3600"
    )
    post_heartbeat(collector, after_token, HOST_AFTER_RESTART)
    wait_for(
        lambda: heartbeat_cases(collector, viewer_token, HOST_AFTER_RESTART) != [],
        60,
        f"a heartbeat case for {HOST_AFTER_RESTART}\n{collector.log_path.read_text()}",
    )

    assert heartbeat_cases(collector, viewer_token, HOST_BEFORE_RESTART) == []
    assert "agents last seen before now have 3600 s" in collector.log_path.read_text()
