"""Delivery faults with real processes: a collector down, an agent killed mid-send."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import requests

from .conftest import Collector, free_port, program

AGENT_HOST = "fault-host"
FAILING_CHECKS = ("backup-a", "backup-b")


def write_checks(folder: Path, collector_url: str) -> Path:
    """Write a checks.yaml with two backup checks that fail (no backup files)."""
    checks = "".join(
        f"""\
  - name: {name}
    kind: backup
    category: database
    path: missing-{name}/*.db
    max_age: 1d
"""
        for name in FAILING_CHECKS
    )
    config = folder / "checks.yaml"
    config.write_text(
        f"""\
agent:
  host: {AGENT_HOST}
  collector: {collector_url}
  token_file: agent.token
  listen: 127.0.0.1:{free_port()}
  spool: spool
checks:
{checks}"""
    )
    return config


def agent_once(config: Path, delivery_timeout: float = 5) -> subprocess.Popen:
    return subprocess.Popen(
        [
            program("pelihara-agent"),
            "run",
            "--config",
            str(config),
            "--once",
            "--delivery-timeout",
            str(delivery_timeout),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def spooled_ids(spool: Path) -> set[str]:
    """Return the result ids waiting in the agent's spool folder."""
    ids = set()
    for path in spool.rglob("*.json"):
        if "rejected" in path.parts:
            continue
        entry = json.loads(path.read_text())
        ids.add(entry.get("id") or entry["result"]["id"])
    return ids


def cases_by_check(collector: Collector, token: str) -> dict[str, dict]:
    headers = {"Authorization": f"Bearer {token}"}
    listing = requests.get(
        f"{collector.url}/api/v1/cases",
        params={"host": AGENT_HOST},
        headers=headers,
        timeout=10,
    )
    assert listing.status_code == 200, listing.text
    found = {}
    for case in listing.json()["cases"]:
        detail = requests.get(
            f"{collector.url}/api/v1/cases/{case['id']}", headers=headers, timeout=10
        )
        found.setdefault(case["check"], []).append(detail.json())
    return found


def test_results_spooled_while_collector_down_all_arrive_once(
    tmp_path: Path, collector: Collector
) -> None:
    collector.start()
    collector.agent_token(AGENT_HOST, tmp_path / "agent.token")
    viewer_token = collector.user_token("ops", "viewer")
    collector.stop()
    config = write_checks(tmp_path, collector.url)

    for _ in range(3):
        agent_once(config, delivery_timeout=1).communicate(timeout=60)
    waiting = spooled_ids(tmp_path / "spool")
    assert len(waiting) == 3 * len(FAILING_CHECKS)

    collector.start()
    last_round = agent_once(config, delivery_timeout=30)
    last_round.communicate(timeout=90)
    assert spooled_ids(tmp_path / "spool") == set()

    cases = cases_by_check(collector, viewer_token)
    assert sorted(cases) == sorted(FAILING_CHECKS)
    for check in FAILING_CHECKS:
        assert len(cases[check]) == 1, f"{check} has {len(cases[check])} cases"
        case = cases[check][0]
        stored_ids = [result["id"] for result in case["results"]]
        assert len(stored_ids) == len(set(stored_ids))
        assert case["occurrences"] == 4
    all_stored = {
        result["id"]
        for check in FAILING_CHECKS
        for result in cases[check][0]["results"]
    }
    assert waiting <= all_stored


class HoldingProxy:
    """A loopback TCP proxy that passes requests on but can withhold replies.

    While `hold` is set, each request reaches the collector, which stores it,
    but the reply never reaches the agent: the agent cannot know its results
    were acknowledged, exactly as when it dies in the middle of sending.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.hold = threading.Event()
        self.reply_withheld = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client, socket.create_connection(("127.0.0.1", self.target_port)) as up:
            threading.Thread(target=self._pipe, args=(client, up), daemon=True).start()
            while True:
                try:
                    chunk = up.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                if self.hold.is_set():
                    self.reply_withheld.set()
                    continue
                client.sendall(chunk)

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass

    def close(self) -> None:
        self.listener.close()


def test_agent_killed_mid_send_loses_nothing_and_counts_nothing_twice(
    tmp_path: Path, collector: Collector
) -> None:
    collector.start()
    collector.agent_token(AGENT_HOST, tmp_path / "agent.token")
    viewer_token = collector.user_token("ops", "viewer")
    proxy = HoldingProxy(collector.port)
    config = write_checks(tmp_path, f"http://127.0.0.1:{proxy.port}")

    proxy.hold.set()
    first = agent_once(config, delivery_timeout=60)
    assert proxy.reply_withheld.wait(timeout=60), "the agent never posted its results"
    os.kill(first.pid, signal.SIGKILL)
    first.communicate(timeout=30)
    unacknowledged = spooled_ids(tmp_path / "spool")
    assert len(unacknowledged) == len(FAILING_CHECKS)
    # The agent sends each result once it is final, so the kill may come
    # after one post or after both; these results reached the collector.
    stored_before_kill = {
        result["id"]
        for found in cases_by_check(collector, viewer_token).values()
        for result in found[0]["results"]
    }
    assert stored_before_kill
    assert stored_before_kill <= unacknowledged

    proxy.hold.clear()
    second = agent_once(config, delivery_timeout=30)
    second.communicate(timeout=90)
    proxy.close()
    assert spooled_ids(tmp_path / "spool") == set()

    cases = cases_by_check(collector, viewer_token)
    for check in FAILING_CHECKS:
        assert len(cases[check]) == 1
        case = cases[check][0]
        stored_ids = [result["id"] for result in case["results"]]
        assert len(stored_ids) == len(set(stored_ids))
        assert case["occurrences"] == 2
    all_stored = {
        result["id"]
        for check in FAILING_CHECKS
        for result in cases[check][0]["results"]
    }
    assert unacknowledged <= all_stored
    metrics = requests.get(f"{collector.url}/metrics", timeout=10).text
    duplicates = _counter(metrics, "pelihara_result_duplicates_total")
    assert duplicates >= len(stored_before_kill)


def _counter(metrics_text: str, name: str) -> float:
    total = 0.0
    for line in metrics_text.splitlines():
        if line.startswith(name):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_silent_collector_does_not_block_round(tmp_path: Path) -> None:
    """An agent whose collector never answers still ends its --once round."""
    silent = socket.create_server(("127.0.0.1", 0))
    (tmp_path / "agent.token").write_text("unused-token-for-a-silent-peer\n")
    config = write_checks(tmp_path, f"http://127.0.0.1:{silent.getsockname()[1]}")

    started = time.monotonic()
    round_process = agent_once(config, delivery_timeout=3)
    round_process.communicate(timeout=60)
    silent.close()

    assert round_process.returncode == 1
    assert time.monotonic() - started < 45
    assert len(spooled_ids(tmp_path / "spool")) == len(FAILING_CHECKS)
