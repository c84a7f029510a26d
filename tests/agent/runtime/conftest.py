"""Fixtures for the agent runtime: configs built in code and a fake collector.

The fake collector is a real HTTP server on 127.0.0.1 that records every
request and answers from a script of responses, so tests see what an agent
really sends on the wire.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agent.runner import Runner
from agent.spec import AgentSettings, Category, CheckSpec, Config

from . import fakekind

HANG = "hang"


def make_spec(name: str = "c1", **changes: Any) -> CheckSpec:
    """Return a CheckSpec of the fake kind with short timings."""
    values: dict[str, Any] = {
        "name": name,
        "kind": "fake",
        "category": Category.APPLICATION,
        "interval": 3600.0,
        "timeout": 2.0,
        "retry_interval": 0.05,
    }
    values.update(changes)
    return CheckSpec(**values)


def make_config(*checks: CheckSpec, maintenance: tuple = (), **agent: Any) -> Config:
    settings = AgentSettings(host=agent.pop("host", "test-host"), **agent)
    return Config(
        source=Path("checks.yaml"),
        agent=settings,
        checks=tuple(checks),
        maintenance=maintenance,
    )


@pytest.fixture
def runner() -> Runner:
    return Runner(kind_loader=fakekind.load, grace=0.2)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeCollector:
    """An HTTP server that answers POSTs from a script of responses.

    Each scripted response is `(status, body)` or HANG, which reads the
    request and never answers until the test ends. When the script is
    empty, `default` is used.
    """

    server: ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)
    script: deque = field(default_factory=deque)
    default: Any = (200, {"accepted": 0, "duplicates": 0, "cases": []})
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    got_request: threading.Condition = field(default_factory=threading.Condition)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def ids(self) -> list[str]:
        with self.lock:
            return [r["id"] for req in self.received for r in req.body["results"]]

    def wait_for_requests(self, count: int, timeout: float = 20.0) -> bool:
        with self.got_request:
            return self.got_request.wait_for(
                lambda: len(self.received) >= count, timeout
            )

    def next_response(self) -> Any:
        with self.lock:
            return self.script.popleft() if self.script else self.default


def _handler(collector: FakeCollector) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            with collector.lock:
                collector.received.append(
                    Received(self.path, dict(self.headers.items()), body)
                )
            with collector.got_request:
                collector.got_request.notify_all()

            response = collector.next_response()
            if response == HANG:
                collector.release.wait(60)
                return
            status, payload = response
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@pytest.fixture
def collector() -> Iterator[FakeCollector]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.daemon_threads = True
    fake = FakeCollector(server)
    server.RequestHandlerClass = _handler(fake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent_collector() -> Iterator[str]:
    """Return the URL of a socket that accepts connections and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    host, port = sock.getsockname()
    yield f"http://{host}:{port}"
    sock.close()
