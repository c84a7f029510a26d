"""Measure one agent round: concurrent checks against the sum of their times.

Writes a checks.yaml with N `command` checks that each sleep S seconds and
one check that hangs past its timeout, then times `pelihara-agent run
--once` (a real process, with start-up) over several runs. A round should
take about the longest timeout, not the sum of all checks.

    .venv/bin/python bench/round.py --checks 16 --sleep 0.5 --runs 5
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN_DIR = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_config(folder: Path, checks: int, sleep: float, hang_timeout: float) -> Path:
    lines = [
        "agent:",
        "  host: bench-host",
        f"  listen: 127.0.0.1:{free_port()}",
        "  spool: spool",
        "checks:",
    ]
    for index in range(checks):
        lines += [
            f"  - name: sleeper-{index}",
            "    kind: command",
            "    category: application",
            f"    command: [sleep, '{sleep}']",
            "    timeout: 10s",
        ]
    lines += [
        "  - name: hanging",
        "    kind: command",
        "    category: application",
        "    command: [sleep, '3600']",
        f"    timeout: {hang_timeout}s",
    ]
    config = folder / "checks.yaml"
    config.write_text("\n".join(lines) + "\n")
    return config


def positive_int(text: str) -> int:
    """Parse a count of 1 or more for argparse."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=16)
    parser.add_argument("--sleep", type=float, default=0.5, help="seconds per check")
    parser.add_argument("--hang-timeout", type=float, default=2.0)
    parser.add_argument("--runs", type=positive_int, default=5)
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        config = write_config(
            Path(folder), arguments.checks, arguments.sleep, arguments.hang_timeout
        )
        timings = []
        for _ in range(arguments.runs):
            started = time.perf_counter()
            finished = subprocess.run(
                [
                    str(BIN_DIR / "pelihara-agent"),
                    "run",
                    "--config",
                    str(config),
                    "--once",
                ],
                capture_output=True,
                text=True,
                timeout=120,
            )
            timings.append(time.perf_counter() - started)
            # 1 is expected because the hanging check ends UNKNOWN; any other
            # code means the round did not run its checks.
            if finished.returncode != 1:
                raise SystemExit(
                    f"pelihara-agent exited with {finished.returncode}, expected 1: "
                    f"{finished.stderr.strip()}"
                )

    serial = arguments.checks * arguments.sleep + arguments.hang_timeout
    median = statistics.median(timings)
    print(
        f"{arguments.checks} checks of {arguments.sleep}s + 1 hanging "
        f"(timeout {arguments.hang_timeout}s), {arguments.runs} runs"
    )
    print(
        f"round median {median:.2f}s (min {min(timings):.2f}s, max {max(timings):.2f}s)"
    )
    print(f"serial sum {serial:.2f}s, ratio serial/round {serial / median:.1f}x")


if __name__ == "__main__":
    main()
