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
from collections.abc import Callable, Iterator
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
    """An HTTP server that responds to POSTs from a script of responses.

    Each scripted response is `(status, body)` or HANG, which reads the
    request and never responds until the test ends. When the script is
    empty, `responder(body)` gives the response if set, else `default`.
    """

    server: ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)
    script: deque = field(default_factory=deque)
    default: Any = (200, {"accepted": 0, "duplicates": 0, "cases": []})
    responder: Callable[[dict[str, Any]], Any] | None = None
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

    def next_response(self, body: dict[str, Any]) -> Any:
        with self.lock:
            if self.script:
                return self.script.popleft()
        if self.responder is not None:
            return self.responder(body)
        return self.default


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

            response = collector.next_response(body)
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
    """Return the URL of a socket that accepts connections and never responds."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    host, port = sock.getsockname()
    yield f"http://{host}:{port}"
    sock.close()


def write_self_signed(folder: Path) -> tuple[Path, Path]:
    """Write a self-signed certificate for 127.0.0.1 and its key; return paths."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = folder / "collector.pem"
    key_path = folder / "collector.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_collector(tmp_path: Path) -> Iterator[tuple[FakeCollector, Path]]:
    """Return a fake collector served over HTTPS and its CA bundle path."""
    import ssl

    cert_path, key_path = write_self_signed(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    fake = FakeCollector(server)
    server.RequestHandlerClass = _handler(fake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake, cert_path
    fake.release.set()
    server.shutdown()
    server.server_close()
