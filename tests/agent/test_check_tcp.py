"""The tcp kind against real listeners on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from agent.checks import tcp
from agent.spec import CheckSpec, Status

MakeCheck = Callable[..., CheckSpec]


def run(make_check: MakeCheck, **options: object) -> tcp.Outcome:
    check = make_check("tcp", **options)
    return tcp.run(check.options, check.timeout)


@pytest.fixture
def listener() -> Iterator[Callable[[Callable[[socket.socket], None]], int]]:
    """Return a function that serves connections with a handler and returns the port."""
    stop = threading.Event()
    sockets: list[socket.socket] = []
    threads: list[threading.Thread] = []

    def serve(handle: Callable[[socket.socket], None]) -> int:
        server = socket.create_server(("127.0.0.1", 0))
        server.settimeout(0.1)
        sockets.append(server)

        def loop() -> None:
            while not stop.is_set():
                try:
                    connection, _ = server.accept()
                except TimeoutError:
                    continue
                sockets.append(connection)
                handle(connection)

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        threads.append(thread)
        return server.getsockname()[1]

    yield serve
    stop.set()
    for thread in threads:
        thread.join(5)
    for open_socket in sockets:
        open_socket.close()


def greeter(connection: socket.socket) -> None:
    connection.sendall(b"220 mail.test ESMTP ready\r\n")


def echo(connection: socket.socket) -> None:
    connection.settimeout(2)
    connection.sendall(b"echo:" + connection.recv(100))


def silent(connection: socket.socket) -> None:
    pass


def test_tcp_connect_ok(listener, make_check: MakeCheck) -> None:
    port = listener(silent)

    outcome = run(make_check, host="127.0.0.1", port=port)

    assert outcome.status is Status.OK
    assert outcome.message.startswith(f"127.0.0.1:{port} accepted the connection in ")
    assert outcome.values["latency_seconds"] >= 0


def test_tcp_expect_banner(listener, make_check: MakeCheck) -> None:
    port = listener(greeter)

    outcome = run(make_check, host="127.0.0.1", port=port, expect="220 ")

    assert outcome.status is Status.OK


def test_tcp_send_and_expect(listener, make_check: MakeCheck) -> None:
    port = listener(echo)

    outcome = run(
        make_check, host="127.0.0.1", port=port, send="PING", expect="echo:PING"
    )

    assert outcome.status is Status.OK


def test_tcp_wrong_answer(listener, make_check: MakeCheck) -> None:
    def refuse(connection: socket.socket) -> None:
        connection.sendall(b"554 go away\r\n")
        connection.close()

    port = listener(refuse)

    outcome = run(make_check, host="127.0.0.1", port=port, expect="220 ")

    assert outcome.status is Status.CRITICAL
    assert outcome.message == (
        f"127.0.0.1:{port}: response '554 go away' does not contain '220 '"
    )
    assert outcome.reason == "mismatch"


def test_tcp_refused(make_check: MakeCheck, closed_port: int) -> None:
    outcome = run(make_check, host="127.0.0.1", port=closed_port)

    assert outcome.status is Status.CRITICAL
    assert outcome.message == (
        f"127.0.0.1:{closed_port}: connection failed: Connection refused"
    )
    assert outcome.reason == "refused"


def test_tcp_silent_peer_times_out(listener, make_check: MakeCheck) -> None:
    port = listener(silent)

    started = time.monotonic()
    outcome = run(make_check, host="127.0.0.1", port=port, expect="220", timeout="1s")
    elapsed = time.monotonic() - started

    assert outcome.status is Status.CRITICAL
    assert outcome.message == (
        f"127.0.0.1:{port}: connected, but the expected response did not arrive "
        "within 1s"
    )
    assert outcome.reason == "timeout"
    assert elapsed < 3


def test_tcp_latency_threshold(listener, make_check: MakeCheck) -> None:
    def slow_greeter(connection: socket.socket) -> None:
        time.sleep(0.2)
        greeter(connection)

    port = listener(slow_greeter)

    outcome = run(
        make_check,
        host="127.0.0.1",
        port=port,
        expect="220",
        warning="50ms",
        critical="10s",
    )

    assert outcome.status is Status.WARNING
    assert outcome.message.endswith("(warning at 0.050s)")
    assert outcome.reason == "threshold"


def test_tcp_ipv6_target_in_brackets(make_check: MakeCheck) -> None:
    try:
        server = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError as error:
        pytest.skip(f"no IPv6 loopback on this machine: {error}")
    with server:
        port = server.getsockname()[1]

        outcome = run(make_check, host="::1", port=port)

    assert outcome.status is Status.OK
    assert outcome.message.startswith(f"[::1]:{port} accepted the connection in ")
