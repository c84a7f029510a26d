"""The pelihara-agent command, run as a real subprocess."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from agent import cli

from .conftest import HANG, FakeCollector

AGENT = [sys.executable, "-m", "agent"]

#: Keys of a check that runs every second (the loader wants timeout < interval).
FAST = "    interval: 1s\n    timeout: 900ms\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(
    folder: Path,
    checks: str,
    collector: str | None = None,
    listen: str = "127.0.0.1:0",
    name: str = "checks.yaml",
) -> Path:
    agent = f"agent:\n  host: test-host\n  listen: {listen}\n  spool: spool\n"
    if collector is not None:
        agent += f"  collector: {collector}\n  token: secret-token\n"
    path = folder / name
    path.write_text(agent + "checks:\n" + checks)
    return path


def command_check(name: str, script: str, extra: str = "") -> str:
    return (
        f"  - name: {name}\n"
        "    kind: command\n"
        f'    command: ["sh", "-c", "{script}"]\n'
        f"{extra}"
    )


def run_agent(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AGENT, *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def spooled(folder: Path) -> list[Path]:
    spool = folder / "spool"
    if not spool.is_dir():
        return []
    return [p for p in spool.glob("*.json") if not p.name.startswith(".")]


def test_cli_version() -> None:
    completed = run_agent("--version", cwd=Path.cwd())
    assert completed.returncode == 0
    assert completed.stdout == "pelihara-agent 0.1.0\n"


def test_cli_validate_valid_file(tmp_path: Path) -> None:
    write_config(tmp_path, command_check("a", "exit 0") + command_check("b", "exit 0"))

    completed = run_agent("validate", "checks.yaml", cwd=tmp_path)

    assert completed.returncode == 0
    assert completed.stdout == "checks.yaml: 2 checks OK\n"


def test_cli_validate_one_check_singular(tmp_path: Path) -> None:
    write_config(tmp_path, command_check("a", "exit 0"))

    completed = run_agent("validate", "checks.yaml", cwd=tmp_path)

    assert completed.stdout == "checks.yaml: 1 check OK\n"


def test_cli_validate_prints_every_issue(tmp_path: Path) -> None:
    checks = (
        "  - name: a\n    kind: nosuchkind\n"
        "  - name: b\n    kind: command\n    command: [true]\n    interval: soon\n"
    )
    write_config(tmp_path, checks)

    completed = run_agent("validate", "checks.yaml", cwd=tmp_path)

    lines = completed.stdout.splitlines()
    assert completed.returncode == 1
    assert len(lines) == 2
    assert lines[0].startswith("checks.yaml:7: checks[0].kind: ")
    assert lines[1].startswith("checks.yaml:11: checks[1].interval: ")


def test_cli_once_all_ok_exits_zero(tmp_path: Path) -> None:
    write_config(tmp_path, command_check("fine", "echo all good"))

    completed = run_agent("run", "--config", "checks.yaml", "--once", cwd=tmp_path)

    assert completed.returncode == 0
    assert completed.stdout == "fine  OK        all good\n"


def test_cli_once_failure_exits_one(tmp_path: Path) -> None:
    checks = command_check("fine", "echo all good") + command_check(
        "broken", "echo disk gone; exit 2"
    )
    write_config(tmp_path, checks)

    completed = run_agent("run", "--config", "checks.yaml", "--once", cwd=tmp_path)

    assert completed.returncode == 1
    assert completed.stdout.splitlines() == [
        "fine    OK        all good",
        "broken  CRITICAL  disk gone",
    ]


def test_cli_once_config_error_exits_two(tmp_path: Path) -> None:
    write_config(tmp_path, "  - name: a\n    kind: nosuchkind\n")

    completed = run_agent("run", "--config", "checks.yaml", "--once", cwd=tmp_path)

    assert completed.returncode == 2
    assert completed.stdout == ""
    assert completed.stderr.startswith("checks.yaml:7: checks[0].kind: ")


def test_cli_once_hanging_check_times_out(tmp_path: Path) -> None:
    checks = command_check("slow", "sleep 60", "    timeout: 1s\n") + command_check(
        "fine", "echo ok"
    )
    write_config(tmp_path, checks)

    started = time.monotonic()
    completed = run_agent("run", "--config", "checks.yaml", "--once", cwd=tmp_path)
    elapsed = time.monotonic() - started

    assert completed.returncode == 1
    assert "slow  UNKNOWN" in completed.stdout
    assert "fine  OK" in completed.stdout
    # Sanity bound for hang detection: the check's timeout is 1 s.
    assert elapsed < 30


def test_cli_once_delivers_results(tmp_path: Path, collector: FakeCollector) -> None:
    write_config(tmp_path, command_check("fine", "echo ok"), collector=collector.url)

    completed = run_agent("run", "--config", "checks.yaml", "--once", cwd=tmp_path)

    results = [r for req in collector.received for r in req.body["results"]]
    assert completed.returncode == 0
    assert [r["check"] for r in results] == ["fine"]
    assert collector.received[0].headers["Authorization"] == "Bearer secret-token"
    assert spooled(tmp_path) == []


def test_cli_once_delivers_plugin_infinite_value(
    tmp_path: Path, collector: FakeCollector
) -> None:
    checks = command_check("huge", "echo 'OK | used=5 huge=1e400'")
    write_config(tmp_path, checks, collector=collector.url)

    completed = run_agent("run", "--config", "checks.yaml", "--once", cwd=tmp_path)

    results = [r for req in collector.received for r in req.body["results"]]
    assert completed.returncode == 0
    assert [r["values"] for r in results] == [{"used": 5.0}]
    assert spooled(tmp_path) == []


def test_cli_once_keeps_results_for_next_run(
    tmp_path: Path, collector: FakeCollector
) -> None:
    port = free_port()
    write_config(
        tmp_path, command_check("fine", "echo ok"), collector=f"http://127.0.0.1:{port}"
    )
    first = run_agent(
        "run",
        "--config",
        "checks.yaml",
        "--once",
        "--delivery-timeout",
        "1",
        cwd=tmp_path,
    )
    left_over = [p.name.split("-", 1)[1][:-5] for p in spooled(tmp_path)]
    write_config(tmp_path, command_check("fine", "echo ok"), collector=collector.url)

    second = run_agent("run", "--config", "checks.yaml", "--once", cwd=tmp_path)

    assert first.returncode == 0
    assert "left 1 result in the spool" in first.stderr
    assert len(left_over) == 1
    assert second.returncode == 0
    assert left_over[0] in collector.ids()
    assert len(collector.ids()) == 2
    assert spooled(tmp_path) == []


def start_agent(folder: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*AGENT, "run", "--config", "checks.yaml", "--log-level", "INFO"],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def start_once_agent(folder: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*AGENT, "run", "--config", "checks.yaml", "--once"],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def stop_agent(agent: subprocess.Popen[str]) -> tuple[int, str]:
    agent.send_signal(signal.SIGTERM)
    try:
        _out, err = agent.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        agent.kill()
        _out, err = agent.communicate()
    return agent.returncode, err


def test_cli_sigkill_mid_send_then_restart_delivers_all(
    tmp_path: Path, collector: FakeCollector
) -> None:
    checks = command_check("fine", "echo ok", FAST) + command_check(
        "broken", "echo bad; exit 1", FAST
    )
    write_config(tmp_path, checks, collector=collector.url)

    def hang_on_results(body: dict) -> object:
        return HANG if body["results"] else (200, {"accepted": 0})

    collector.responder = hang_on_results
    agent = start_agent(tmp_path)
    try:
        sent_before_kill = wait_until(
            lambda: any(req.body["results"] for req in collector.received)
        )
    finally:
        agent.send_signal(signal.SIGKILL)
        agent.communicate(timeout=30)
    in_flight = set(collector.ids())
    in_spool = {p.name.split("-", 1)[1][:-5] for p in spooled(tmp_path)}

    acknowledged: list[str] = []
    collector.received.clear()

    def accept(body: dict) -> object:
        acknowledged.extend(r["id"] for r in body["results"])
        return 200, {"accepted": len(body["results"])}

    collector.responder = accept
    restarted = start_agent(tmp_path)
    try:
        resent = wait_until(lambda: in_spool <= set(acknowledged))
    finally:
        returncode, stderr = stop_agent(restarted)

    assert sent_before_kill is True
    assert in_flight
    assert in_flight <= in_spool
    assert resent is True
    assert len(acknowledged) == len(set(acknowledged))
    assert returncode == 0
    assert "pelihara-agent stopped" in stderr


def sent_results(collector: FakeCollector) -> list[dict]:
    with collector.lock:
        return [r for req in collector.received for r in req.body["results"]]


def test_cli_once_sends_failure_during_retries(
    tmp_path: Path, collector: FakeCollector
) -> None:
    gate = tmp_path / "go"
    waiting = f"if [ -e {gate} ]; then echo ready; else echo waiting; exit 2; fi"
    retries = "    retries: 20\n    retry_interval: 2s\n"
    checks = command_check("broken", "echo disk gone; exit 2") + command_check(
        "slow", waiting, retries
    )
    write_config(tmp_path, checks, collector=collector.url)
    agent = start_once_agent(tmp_path)
    try:
        arrived = wait_until(
            lambda: any(
                r["check"] == "broken" and r["confirmed"]
                for r in sent_results(collector)
            )
        )
        still_running = agent.poll() is None
    finally:
        gate.touch()
        stdout, _stderr = agent.communicate(timeout=120)

    assert arrived is True
    assert still_running is True
    assert agent.returncode == 1
    assert stdout.splitlines() == [
        "broken  CRITICAL  disk gone",
        "slow    OK        ready",
    ]
    assert spooled(tmp_path) == []


def test_cli_once_hides_query_token(tmp_path: Path, collector: FakeCollector) -> None:
    port = free_port()
    checks = (
        "  - name: web\n"
        "    kind: http\n"
        f"    url: http://127.0.0.1:{port}/?token=QueryTok3nSecret\n"
    )
    write_config(tmp_path, checks, collector=collector.url)

    completed = run_agent(
        "run", "--config", "checks.yaml", "--once", "--log-level", "DEBUG", cwd=tmp_path
    )

    messages = [r["message"] for r in sent_results(collector)]
    assert completed.returncode == 1
    assert messages == [
        f"GET http://127.0.0.1:{port}/?token=***: connection failed: Connection refused"
    ]
    assert "QueryTok3nSecret" not in completed.stdout
    assert "QueryTok3nSecret" not in completed.stderr


def scrape(port: int) -> str:
    try:
        return requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except requests.RequestException:
        return ""


def runs_of(port: int, check: str) -> float:
    """Return the runs of `check` counted on the agent's /metrics, 0 if none."""
    total = 0.0
    for family in text_string_to_metric_families(scrape(port)):
        for sample in family.samples:
            if (
                sample.name == "pelihara_check_runs_total"
                and sample.labels.get("check") == check
            ):
                total += sample.value
    return total


def test_cli_sighup_reloads_and_rejects_invalid(tmp_path: Path) -> None:
    port = free_port()
    listen = f"127.0.0.1:{port}"
    write_config(tmp_path, command_check("first", "echo ok", FAST), listen=listen)
    agent = start_agent(tmp_path)
    try:
        first_ran = wait_until(lambda: 'check="first"' in scrape(port))

        (tmp_path / "checks.yaml").write_text("agent: [\n")
        runs_before = runs_of(port, "first")
        agent.send_signal(signal.SIGHUP)
        # Two more runs at a 1 s interval: at least one after the reload.
        still_running = wait_until(lambda: runs_of(port, "first") >= runs_before + 2)

        write_config(
            tmp_path,
            command_check("second", "echo ok", FAST),
            listen=listen,
        )
        agent.send_signal(signal.SIGHUP)
        second_ran = wait_until(lambda: 'check="second"' in scrape(port))
        first_gone = 'check="first"' not in scrape(port)
    finally:
        returncode, stderr = stop_agent(agent)

    assert first_ran is True
    assert still_running is True
    assert "is invalid (1 issue); keeping the running one" in stderr
    assert "checks.yaml:2: invalid YAML" in stderr
    assert second_ran is True
    assert first_gone is True
    assert returncode == 0


def test_cli_once_sigterm_stops_early(tmp_path: Path) -> None:
    write_config(tmp_path, command_check("slow", "sleep 30", "    timeout: 25s\n"))
    agent = start_once_agent(tmp_path)
    time.sleep(1.0)

    started = time.monotonic()
    agent.send_signal(signal.SIGTERM)
    stdout, stderr = agent.communicate(timeout=60)
    elapsed = time.monotonic() - started

    assert agent.returncode == 143
    assert stdout == ""
    assert "run interrupted by SIGTERM; 1 check did not finish: slow" in stderr
    # Sanity bound for hang detection: the check itself would take 25 s.
    assert elapsed < 15


def test_cli_once_sigint_keeps_finished_results(tmp_path: Path) -> None:
    pid_file = tmp_path / "plugin.pid"
    checks = command_check("fast", "echo fine") + command_check(
        "hang", f"echo $$ > {pid_file}; exec sleep 1000", "    timeout: 60s\n"
    )
    # Nothing listens on the port, so the finished result stays spooled.
    write_config(tmp_path, checks, collector=f"http://127.0.0.1:{free_port()}")
    agent = start_once_agent(tmp_path)
    assert wait_until(lambda: pid_file.exists() and len(spooled(tmp_path)) == 1)

    agent.send_signal(signal.SIGINT)
    stdout, stderr = agent.communicate(timeout=60)

    assert agent.returncode == 130
    assert stdout == "fast  OK        fine\n"
    assert "run interrupted by SIGINT; 1 check did not finish: hang" in stderr
    assert "left 1 result in the spool" in stderr
    assert len(spooled(tmp_path)) == 1


def test_cli_once_sigint_during_delivery_wait(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        command_check("fast", "echo fine"),
        collector=f"http://127.0.0.1:{free_port()}",
    )
    agent = subprocess.Popen(
        [*AGENT, "run", "--config", "checks.yaml", "--once"]
        + ["--delivery-timeout", "600"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert agent.stdout is not None
    first_line = agent.stdout.readline()

    agent.send_signal(signal.SIGINT)
    rest, stderr = agent.communicate(timeout=60)

    assert first_line == "fast  OK        fine\n"
    assert rest == ""
    assert agent.returncode == 130
    assert "run interrupted by SIGINT while delivering results" in stderr
    assert "left 1 result in the spool" in stderr
    assert len(spooled(tmp_path)) == 1


def test_cli_interrupt_while_loading(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def interrupted_load(path: Path) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_load_or_report", interrupted_load)

    status = cli.main(["run", "--config", str(tmp_path / "checks.yaml"), "--once"])

    assert status == 130
    assert capsys.readouterr().err == "pelihara-agent: interrupted by SIGINT\n"


def test_cli_once_sigint_kills_running_plugin(tmp_path: Path) -> None:
    pid_file = tmp_path / "plugin.pid"
    write_config(
        tmp_path,
        command_check(
            "hang", f"echo $$ > {pid_file}; exec sleep 1000", "    timeout: 60s\n"
        ),
    )
    agent = start_once_agent(tmp_path)
    assert wait_until(lambda: pid_file.exists() and pid_file.read_text().strip())

    agent.send_signal(signal.SIGINT)
    agent.communicate(timeout=60)

    plugin_pid = int(pid_file.read_text())
    assert not psutil.pid_exists(plugin_pid) or (
        psutil.Process(plugin_pid).status() == psutil.STATUS_ZOMBIE
    )


def test_cli_once_marks_suppressed_failures(tmp_path: Path) -> None:
    checks = command_check("db", "echo down; exit 2") + command_check(
        "app", "echo no db; exit 2", "    depends_on: [db]\n"
    )
    path = write_config(tmp_path, checks)
    path.write_text(
        path.read_text()
        + "maintenance:\n"
        + "  - name: upgrade\n"
        + "    checks: [db]\n"
        + "    start: 2000-01-01T00:00\n"
        + "    end: 2999-01-01T00:00\n"
    )

    completed = run_agent("run", "--config", "checks.yaml", "--once", cwd=tmp_path)

    lines = completed.stdout.splitlines()
    assert completed.returncode == 1
    assert lines[0] == "db   CRITICAL  down  [maintenance:upgrade]"
    assert lines[1] == "app  CRITICAL  no db  [depends_on:db]"


def test_cli_once_keeps_hard_state_between_runs(
    tmp_path: Path, collector: FakeCollector
) -> None:
    extra = "    recover_after: 2\n    retry_interval: 100ms\n"
    write_config(
        tmp_path, command_check("db", "echo down; exit 2", extra), collector.url
    )
    failing = run_agent("run", "--config", "checks.yaml", "--once", cwd=tmp_path)
    write_config(tmp_path, command_check("db", "echo up", extra), collector.url)

    recovered = run_agent("run", "--config", "checks.yaml", "--once", cwd=tmp_path)

    sent = [r for req in collector.received for r in req.body["results"]]
    saved = (tmp_path / "spool" / "checks.state").read_text()
    assert failing.returncode == 1
    assert recovered.returncode == 0
    assert [(r["status"], r["confirmed"]) for r in sent] == [
        ("CRITICAL", True),
        ("OK", False),
        ("OK", True),
    ]
    assert '"db": "OK"' in saved
