"""A real Prometheus server scrapes a real agent, and promtool checks the rules."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from .conftest import free_port, program

DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def require_program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(
            f"{name} is not installed; `apt-get install prometheus` provides it"
        )
    return path


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


def test_prometheus_rules_pass_promtool() -> None:
    promtool = require_program("promtool")

    checked = subprocess.run(
        [promtool, "check", "rules", str(DEPLOY_DIR / "rules.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

    tested = subprocess.run(
        [promtool, "test", "rules", "rules_test.yml"],
        cwd=DEPLOY_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


@pytest.fixture(scope="module")
def running_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Start `pelihara-agent run` without a collector; yield its metrics port."""
    tmp_path = tmp_path_factory.mktemp("agent")
    port = free_port()
    config = tmp_path / "checks.yaml"
    config.write_text(
        f"""\
agent:
  host: scrape-host
  listen: 127.0.0.1:{port}
  spool: spool
checks:
  - name: memory
    kind: memory
    category: hardware
    critical: 99.9%
    interval: 2s
    timeout: 1s
  - name: missing-backup
    kind: backup
    category: database
    path: backups/*.tar
    max_age: 1d
    interval: 2s
    timeout: 1s
"""
    )
    log = (tmp_path / "agent.log").open("wb")
    process = subprocess.Popen(
        [program("pelihara-agent"), "run", "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.close()
            pytest.fail(f"agent exited:\n{(tmp_path / 'agent.log').read_text()}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/metrics", timeout=1).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.2)
    yield port
    stop(process)
    log.close()


@pytest.fixture(scope="module")
def prometheus(
    tmp_path_factory: pytest.TempPathFactory, running_agent: int
) -> Iterator[str]:
    """Start Prometheus scraping the agent every second; yield its base URL."""
    binary = require_program("prometheus")
    tmp_path = tmp_path_factory.mktemp("prometheus")
    port = free_port()
    shutil.copy(DEPLOY_DIR / "rules.yml", tmp_path / "rules.yml")
    (tmp_path / "prometheus.yml").write_text(
        f"""\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - rules.yml
scrape_configs:
  - job_name: pelihara-agent
    static_configs:
      - targets: ["127.0.0.1:{running_agent}"]
"""
    )
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield f"http://127.0.0.1:{port}"
    stop(process)
    log.close()


def query_until_present(base_url: str, expression: str) -> list[dict]:
    """Return the instant-query result once it is not empty (60 s at most)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            answer = requests.get(
                f"{base_url}/api/v1/query", params={"query": expression}, timeout=5
            )
            samples = answer.json()["data"]["result"]
            if samples:
                return samples
        except (requests.ConnectionError, KeyError, ValueError):
            pass
        time.sleep(0.5)
    pytest.fail(f"Prometheus returned nothing for {expression} within 60 s")


def test_prometheus_scrapes_agent_check_status(prometheus: str) -> None:
    samples = query_until_present(prometheus, 'pelihara_check_status{check="memory"}')

    assert samples[0]["metric"]["kind"] == "memory"
    assert samples[0]["metric"]["category"] == "hardware"
    assert samples[0]["value"][1] in {"0", "1", "2", "3"}


def test_prometheus_records_failing_checks(prometheus: str) -> None:
    samples = query_until_present(prometheus, "pelihara:checks_failing:count")

    by_category = {s["metric"]["category"]: s["value"][1] for s in samples}
    assert by_category.get("database") == "1"


def test_prometheus_sees_agent_build_info(prometheus: str) -> None:
    samples = query_until_present(prometheus, "pelihara_agent_build_info")

    assert samples[0]["metric"]["version"] == "0.1.0"


def test_grafana_dashboard_queries_are_valid_promql(prometheus: str) -> None:
    dashboard_path = DEPLOY_DIR.parent / "grafana" / "pelihara-overview.json"
    dashboard = json.loads(dashboard_path.read_text())
    expressions = [
        target["expr"] for panel in dashboard["panels"] for target in panel["targets"]
    ]
    assert expressions

    for expression in expressions:
        answer = requests.get(
            f"{prometheus}/api/v1/query", params={"query": expression}, timeout=10
        )
        assert answer.json()["status"] == "success", (expression, answer.text)
