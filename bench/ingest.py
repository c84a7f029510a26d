"""Measure how fast a real collector process stores agent results.

Starts `pelihara-collector serve` on a private data folder, then posts
batches of failing results for many checks and reports the median time per
batch and results per second. Batches of one result show the per-request
cost; batches of 100 show the agent's normal spool flush.

    .venv/bin/python bench/ingest.py                      # SQLite
    .venv/bin/python bench/ingest.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench

Only loopback addresses are used.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import requests

BIN_DIR = Path(sys.executable).parent
HOST = "bench-host"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def collector_command(data_dir: Path, database_url: str, *arguments: str) -> list[str]:
    return [
        str(BIN_DIR / "pelihara-collector"),
        "--data-dir",
        str(data_dir),
        "--database-url",
        database_url,
        *arguments,
    ]


def make_batch(size: int, check_count: int, round_number: int) -> dict:
    """Return one results post; check i fails in every round, so cases repeat."""
    observed_at = datetime.now(UTC).isoformat()
    results = [
        {
            "id": uuid.uuid4().hex,
            "check": f"check-{(round_number * size + index) % check_count}",
            "kind": "disk",
            "category": "hardware",
            "status": "CRITICAL",
            "message": "/ is 95.0% used (critical at 90%)",
            "values": {"used_percent": 95.0},
            "reason": "threshold",
            "observed_at": observed_at,
            "duration_seconds": 0.001,
            "confirmed": True,
            "suppressed": None,
            "open_case_on": ["CRITICAL"],
        }
        for index in range(size)
    ]
    return {
        "agent": {"host": HOST, "version": "bench", "interval_seconds": 7200},
        "results": results,
    }


def wait_for_health(base_url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the collector exited during start-up")
        try:
            if requests.get(f"{base_url}/healthz", timeout=1).ok:
                return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise SystemExit("the collector did not answer /healthz within 30 s")


def measure(
    session: requests.Session, base_url: str, size: int, rounds: int
) -> list[float]:
    """Post `rounds` batches of `size` results; return seconds per batch."""
    timings = []
    for round_number in range(rounds):
        body = make_batch(size, check_count=50, round_number=round_number)
        started = time.perf_counter()
        answer = session.post(f"{base_url}/api/v1/results", json=body, timeout=60)
        timings.append(time.perf_counter() - started)
        answer.raise_for_status()
    return timings


def at_least_two(text: str) -> int:
    """Return `text` as a number of rounds; the p90 needs two timings."""
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be 2 or more, got {value}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: SQLite in a temporary folder")
    parser.add_argument(
        "--rounds", type=at_least_two, default=30, help="batches per size (at least 2)"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        database_url = arguments.database_url or f"sqlite:///{data_dir / 'bench.db'}"
        token_file = data_dir / "agent.token"
        created = subprocess.run(
            collector_command(
                data_dir, database_url, "agent-token", HOST, "--output", str(token_file)
            ),
            capture_output=True,
            text=True,
        )
        if created.returncode != 0:
            raise SystemExit(
                f"creating the agent token failed: {created.stderr.strip()}"
            )
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        process = subprocess.Popen(
            collector_command(
                data_dir,
                database_url,
                "serve",
                "--port",
                str(port),
                "--workers",
                str(arguments.workers),
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_health(base_url, process)
            session = requests.Session()
            session.headers["Authorization"] = (
                f"Bearer {token_file.read_text().strip()}"
            )
            measure(session, base_url, 10, 3)  # warm-up: tables, caches, workers

            dialect = database_url.split(":", 1)[0]
            print(f"database: {dialect}, workers: {arguments.workers}")
            for size in (1, 100):
                timings = measure(session, base_url, size, arguments.rounds)
                median = statistics.median(timings)
                print(
                    f"batch of {size:>3}: median {median * 1000:7.1f} ms per post, "
                    f"{size / median:7.0f} results/s "
                    f"(p90 {statistics.quantiles(timings, n=10)[-1] * 1000:.1f} ms, "
                    f"n={len(timings)})"
                )
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
