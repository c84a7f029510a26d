"""Delivery faults with real processes: collector down, agent killed, silent peer."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from .conftest import Collector, free_port, program

AGENT_HOST = "fault-host"
FAILING_CHECKS = ("backup-a", "backup-b")


def write_checks(
    folder: Path, collector_url: str, interval: str = "2h", listen_port: int = 0
) -> Path:
    """Write a checks.yaml with two backup checks that fail (no backup files)."""
    checks = "".join(
        f"""\
  - name: {name}
    kind: backup
    category: database
    path: missing-{name}/*.db
    max_age: 1d
    interval: {interval}
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
  listen: 127.0.0.1:{listen_port or free_port()}
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


class AgentService:
    """A long-running `pelihara-agent run` process, its log in a file."""

    def __init__(self, config: Path, metrics_port: int) -> None:
        self.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        self.log_path = config.parent / "agent.log"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [program("pelihara-agent"), "run", "--config", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def metric(self, name: str, **labels: str) -> float | None:
        """Return one sample of the agent's /metrics, None if it is absent."""
        text = requests.get(self.metrics_url, timeout=10).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return sample.value
        return None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` until it is true; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.2)


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


def start_with_tokens(collector: Collector, folder: Path) -> str:
    """Start the collector, write the agent's token file, return a viewer's token."""
    collector.start()
    collector.agent_token(AGENT_HOST, folder / "agent.token")
    return collector.user_token("ops", "viewer")


def test_results_spooled_while_collector_down_all_arrive_once(
    tmp_path: Path, collector: Collector
) -> None:
    viewer_token = start_with_tokens(collector, tmp_path)
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


def spooled_per_check(spool: Path) -> dict[str, int]:
    """Return how many results of each failing check wait in the spool."""
    counts = dict.fromkeys(FAILING_CHECKS, 0)
    for path in spool.glob("*.json"):
        if path.name.startswith("."):
            continue
        counts[json.loads(path.read_text())["check"]] += 1
    return counts


def collector_result_ids(collector: Collector, token: str) -> set[str]:
    return {
        result["id"]
        for found in cases_by_check(collector, token).values()
        for case in found
        for result in case["results"]
    }


def test_agent_service_outage_delivers_every_result_once(
    tmp_path: Path, collector: Collector
) -> None:
    """A running agent keeps its results through an outage, then sends each once."""
    viewer_token = start_with_tokens(collector, tmp_path)
    collector.stop()
    metrics_port = free_port()
    config = write_checks(tmp_path, collector.url, "1s", metrics_port)
    spool = tmp_path / "spool"

    agent = AgentService(config, metrics_port)
    try:
        wait_for(
            lambda: min(spooled_per_check(spool).values()) >= 3,
            60,
            "three rounds of results in the spool",
        )
        waiting = spooled_ids(spool)
        refused = agent.metric(
            "pelihara_agent_delivery_failures_total", reason="connection"
        )

        collector.start()
        wait_for(
            lambda: waiting <= collector_result_ids(collector, viewer_token),
            120,
            f"the collector to store the spooled results\n{agent.log_text()}",
        )
        agent_running = agent.process.poll() is None
    finally:
        agent.stop()

    assert agent_running is True
    assert refused is not None
    assert refused >= 1
    cases = cases_by_check(collector, viewer_token)
    assert sorted(cases) == sorted(FAILING_CHECKS)
    for check in FAILING_CHECKS:
        assert len(cases[check]) == 1, f"{check} has {len(cases[check])} cases"
        case = cases[check][0]
        stored = [result["id"] for result in case["results"]]
        assert len(stored) == len(set(stored)), f"{check} stored an id twice"
        assert case["occurrences"] == len(stored)


def test_agent_service_silent_peer_does_not_block_rounds(tmp_path: Path) -> None:
    """Rounds go on while the agent's only post waits on a peer that never responds."""
    silent = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    connected = threading.Event()

    def accept_and_hold() -> None:
        try:
            connection, _ = silent.accept()
        except OSError:
            return
        held.append(connection)
        connected.set()

    threading.Thread(target=accept_and_hold, daemon=True).start()
    (tmp_path / "agent.token").write_text("unused-token-for-a-silent-peer\n")
    metrics_port = free_port()
    url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    config = write_checks(tmp_path, url, "1s", metrics_port)

    agent = AgentService(config, metrics_port)
    try:
        assert connected.wait(60), agent.log_text()
        wait_for(
            lambda: min(spooled_per_check(tmp_path / "spool").values()) >= 3,
            60,
            f"three rounds of results in the spool\n{agent.log_text()}",
        )
        attempts = agent.metric("pelihara_agent_delivery_attempts_total")
        rounds = agent.metric("pelihara_agent_rounds_total")
    finally:
        agent.stop()
        for connection in held:
            connection.close()
        silent.close()

    # The post times out only after 30 s, so one attempt means it still hung.
    assert attempts == 1.0
    assert rounds is not None
    assert rounds >= 3


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
    viewer_token = start_with_tokens(collector, tmp_path)
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
