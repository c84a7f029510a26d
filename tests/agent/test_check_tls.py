"""The tls kind against real TLS listeners with certificates made in the test."""

from __future__ import annotations

import datetime
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.checks import tls
from agent.spec import CheckSpec, Status

from .conftest import Certificates

MakeCheck = Callable[..., CheckSpec]
Serve = Callable[[Path, Path], int]


def days_from_now(days: float) -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=days)


def run(make_check: MakeCheck, **options: object) -> tls.Outcome:
    check = make_check("tls", **options)
    return tls.run(check.options, check.timeout)


def test_tls_valid_with_custom_ca(
    certificates: Certificates, tls_server: Serve, make_check: MakeCheck
) -> None:
    port = tls_server(*certificates.server("good", ["localhost"], days_from_now(90)))

    outcome = run(
        make_check,
        host="127.0.0.1",
        port=port,
        server_name="localhost",
        ca_bundle=str(certificates.ca_file),
    )

    assert outcome.status is Status.OK
    assert outcome.message.startswith(
        f"127.0.0.1:{port}: certificate for localhost expires in "
    )
    assert 89 * 86400 < outcome.values["expires_in_seconds"] <= 90 * 86400


def test_tls_ip_address_certificate(
    certificates: Certificates, tls_server: Serve, make_check: MakeCheck
) -> None:
    port = tls_server(*certificates.server("ip", ["127.0.0.1"], days_from_now(90)))

    outcome = run(
        make_check, host="127.0.0.1", port=port, ca_bundle=str(certificates.ca_file)
    )

    assert outcome.status is Status.OK


def test_tls_expiry_warning(
    certificates: Certificates, tls_server: Serve, make_check: MakeCheck
) -> None:
    port = tls_server(*certificates.server("soon", ["localhost"], days_from_now(20)))

    outcome = run(
        make_check,
        host="127.0.0.1",
        port=port,
        server_name="localhost",
        ca_bundle=str(certificates.ca_file),
    )

    assert outcome.status is Status.WARNING
    assert outcome.message.endswith("(warning at 30 days)")
    assert outcome.reason == "threshold"


def test_tls_expiry_critical(
    certificates: Certificates, tls_server: Serve, make_check: MakeCheck
) -> None:
    port = tls_server(*certificates.server("sooner", ["localhost"], days_from_now(3)))

    outcome = run(
        make_check,
        host="127.0.0.1",
        port=port,
        server_name="localhost",
        ca_bundle=str(certificates.ca_file),
    )

    assert outcome.status is Status.CRITICAL
    assert outcome.message.endswith("(critical at 7 days)")


def test_tls_expired(
    certificates: Certificates, tls_server: Serve, make_check: MakeCheck
) -> None:
    port = tls_server(*certificates.server("old", ["localhost"], days_from_now(-2)))

    outcome = run(
        make_check,
        host="127.0.0.1",
        port=port,
        server_name="localhost",
        ca_bundle=str(certificates.ca_file),
    )

    assert outcome.status is Status.CRITICAL
    assert outcome.message == (
        f"127.0.0.1:{port}: certificate for localhost failed verification: "
        "certificate has expired"
    )
    assert outcome.reason == "tls"


def test_tls_wrong_hostname(
    certificates: Certificates, tls_server: Serve, make_check: MakeCheck
) -> None:
    port = tls_server(*certificates.server("other", ["other.test"], days_from_now(90)))

    outcome = run(
        make_check,
        host="127.0.0.1",
        port=port,
        server_name="localhost",
        ca_bundle=str(certificates.ca_file),
    )

    assert outcome.status is Status.CRITICAL
    assert outcome.message == (
        f"127.0.0.1:{port}: certificate for localhost failed verification: "
        "Hostname mismatch, certificate is not valid for 'localhost'."
    )
    assert outcome.reason == "tls"


def test_tls_unknown_ca(
    certificates: Certificates, tls_server: Serve, make_check: MakeCheck
) -> None:
    port = tls_server(*certificates.server("good", ["localhost"], days_from_now(90)))

    outcome = run(make_check, host="127.0.0.1", port=port, server_name="localhost")

    assert outcome.status is Status.CRITICAL
    assert outcome.message == (
        f"127.0.0.1:{port}: certificate for localhost failed verification: "
        "unable to get local issuer certificate"
    )


def test_tls_connection_refused(make_check: MakeCheck, closed_port: int) -> None:
    outcome = run(make_check, host="127.0.0.1", port=closed_port)

    assert outcome.status is Status.CRITICAL
    assert outcome.message == (
        f"127.0.0.1:{closed_port}: connection failed: Connection refused"
    )
    assert outcome.reason == "refused"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """Return a port whose listener accepts connections and never speaks."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(5)
    for connection in accepted:
        connection.close()
    listener.close()


def test_tls_silent_peer_times_out(silent_port: int, make_check: MakeCheck) -> None:
    started = time.monotonic()
    outcome = run(make_check, host="127.0.0.1", port=silent_port, timeout="1s")
    elapsed = time.monotonic() - started

    assert outcome.status is Status.CRITICAL
    assert outcome.message == (f"127.0.0.1:{silent_port}: no TLS handshake within 1s")
    assert outcome.reason == "timeout"
    assert elapsed < 3


def test_tls_url_as_host_rejected_without_secret(
    make_check: MakeCheck,
) -> None:
    from agent.config import ConfigError

    with pytest.raises(ConfigError) as caught:
        make_check("tls", host="https://u:hunter2@127.0.0.1/?token=QueryTok3nSecret")

    message = str(caught.value.issues[0])
    assert message.endswith(
        "checks[0].host: invalid host 'https://u:***@127.0.0.1/?token=***'; give "
        "a host name or IP address, not a URL"
    )
