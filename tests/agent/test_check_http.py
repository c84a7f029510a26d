"""The http kind against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import datetime
import ssl
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from urllib3.exceptions import InsecureRequestWarning

from agent.checks import http
from agent.spec import CheckSpec, Status

from .conftest import Certificates

RELEASE = threading.Event()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def answer(self, status: int, body: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/ok":
            self.answer(200, b"service is healthy")
        elif self.path == "/error":
            self.answer(500, b"database down")
        elif self.path == "/redirect":
            self.answer(302, b"", {"Location": "/ok"})
        elif self.path == "/headers":
            self.answer(200, f"token={self.headers.get('X-Token')}".encode())
        elif self.path == "/big":
            self.answer(200, b"x" * (2 * 1024 * 1024) + b"needle")
        elif self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"first part, ", b"second part"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/slow":
            RELEASE.wait(0.3)
            self.answer(200, b"late but fine")
        elif self.path == "/hang":
            RELEASE.wait(30)
        elif self.path == "/trickle":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(1000):
                if RELEASE.wait(0.05):
                    return
                self.wfile.write(b".")
                self.wfile.flush()
        else:
            self.answer(404, b"no such page")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.answer(201, b"got " + self.rfile.read(length))


@pytest.fixture
def server() -> Iterator[str]:
    RELEASE.clear()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    RELEASE.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def https_server(certificates: Certificates) -> Iterator[str]:
    RELEASE.clear()
    certificate, key = certificates.server(
        "web",
        ["localhost"],
        datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=90),
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield f"https://localhost:{httpd.server_address[1]}"
    RELEASE.set()
    httpd.shutdown()
    httpd.server_close()


MakeCheck = Callable[..., CheckSpec]


def run(make_check: MakeCheck, **options: object) -> http.Outcome:
    check = make_check("http", **options)
    return http.run(check.options, check.timeout)


def test_http_ok(server: str, make_check: MakeCheck) -> None:
    outcome = run(make_check, url=f"{server}/ok", body_contains="healthy")

    assert outcome.status is Status.OK
    assert outcome.message.startswith(f"GET {server}/ok returned 200 in ")
    assert outcome.values["status_code"] == 200
    assert outcome.reason == ""


def test_http_wrong_status(server: str, make_check: MakeCheck) -> None:
    outcome = run(make_check, url=f"{server}/error")

    assert outcome.status is Status.CRITICAL
    assert outcome.message == f"GET {server}/error returned status 500, expected 200"
    assert outcome.reason == "mismatch"


def test_http_expected_status_list(server: str, make_check: MakeCheck) -> None:
    outcome = run(make_check, url=f"{server}/missing", expected_status=[200, 404])

    assert outcome.status is Status.OK


def test_http_wrong_body(server: str, make_check: MakeCheck) -> None:
    outcome = run(make_check, url=f"{server}/ok", body_contains="ready")

    assert outcome.status is Status.CRITICAL
    assert outcome.message == (
        f"GET {server}/ok: 'ready' not found in the first 18 B of the body"
    )
    assert outcome.reason == "mismatch"


def test_http_body_regex(server: str, make_check: MakeCheck) -> None:
    matching = run(make_check, url=f"{server}/ok", body_regex=r"is\s+health")
    failing = run(make_check, url=f"{server}/ok", body_regex=r"^down")

    assert matching.status is Status.OK
    assert failing.status is Status.CRITICAL
    assert failing.message == (
        f"GET {server}/ok: /^down/ does not match the first 18 B of the body"
    )


def test_http_body_read_is_capped(server: str, make_check: MakeCheck) -> None:
    outcome = run(make_check, url=f"{server}/big", body_contains="needle")

    assert outcome.status is Status.CRITICAL
    assert outcome.message == (
        f"GET {server}/big: 'needle' not found in the first 1.0 MiB of the body"
    )
    assert outcome.values["body_bytes"] == 1024 * 1024


def test_http_larger_body_limit(server: str, make_check: MakeCheck) -> None:
    outcome = run(
        make_check, url=f"{server}/big", body_contains="needle", max_body_size="3MiB"
    )

    assert outcome.status is Status.OK


def test_http_chunked_body(server: str, make_check: MakeCheck) -> None:
    outcome = run(make_check, url=f"{server}/chunked", body_contains="second part")

    assert outcome.status is Status.OK
    assert outcome.values["body_bytes"] == 23


def test_http_follows_redirect(server: str, make_check: MakeCheck) -> None:
    outcome = run(make_check, url=f"{server}/redirect", body_contains="healthy")

    assert outcome.status is Status.OK


def test_http_redirect_not_followed(server: str, make_check: MakeCheck) -> None:
    outcome = run(make_check, url=f"{server}/redirect", follow_redirects=False)

    assert outcome.status is Status.CRITICAL
    assert outcome.message == (
        f"GET {server}/redirect returned status 302, expected 200"
    )


def test_http_sends_headers(server: str, make_check: MakeCheck) -> None:
    outcome = run(
        make_check,
        url=f"{server}/headers",
        headers={"X-Token": "abc"},
        body_contains="token=abc",
    )

    assert outcome.status is Status.OK


def test_http_post_body(server: str, make_check: MakeCheck) -> None:
    outcome = run(
        make_check,
        url=f"{server}/submit",
        method="POST",
        body="ping",
        expected_status=[201],
        body_contains="got ping",
    )

    assert outcome.status is Status.OK


def test_http_latency_warning(server: str, make_check: MakeCheck) -> None:
    outcome = run(make_check, url=f"{server}/slow", warning="100ms", critical="20s")

    assert outcome.status is Status.WARNING
    assert outcome.message.endswith("(warning at 0.100s)")
    assert outcome.reason == "threshold"


def test_http_hanging_server_times_out(server: str, make_check: MakeCheck) -> None:
    started = time.monotonic()
    outcome = run(make_check, url=f"{server}/hang", timeout="1s")
    elapsed = time.monotonic() - started

    assert outcome.status is Status.CRITICAL
    assert outcome.message == f"GET {server}/hang: no response within 1s"
    assert outcome.reason == "timeout"
    assert elapsed < 3


def test_http_trickling_body_times_out(server: str, make_check: MakeCheck) -> None:
    started = time.monotonic()
    outcome = run(make_check, url=f"{server}/trickle", timeout="1s")
    elapsed = time.monotonic() - started

    assert outcome.status is Status.CRITICAL
    assert outcome.message == f"GET {server}/trickle: body not received within 1s"
    assert outcome.reason == "timeout"
    assert elapsed < 3


def test_http_connection_refused(make_check: MakeCheck, closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}/"

    outcome = run(make_check, url=url)

    assert outcome.status is Status.CRITICAL
    assert outcome.message == f"GET {url}: connection failed: Connection refused"
    assert outcome.reason == "refused"


def test_http_password_redacted(make_check: MakeCheck, closed_port: int) -> None:
    outcome = run(make_check, url=f"http://user:hunter2@127.0.0.1:{closed_port}/")

    assert "hunter2" not in outcome.message
    assert f"http://user:***@127.0.0.1:{closed_port}/" in outcome.message


def test_http_query_token_redacted(server: str, make_check: MakeCheck) -> None:
    outcome = run(make_check, url=f"{server}/?token=QueryTok3nSecret")

    assert outcome.message == (
        f"GET {server}/?token=*** returned status 404, expected 200"
    )


def test_http_query_key_redacted_on_refused(
    make_check: MakeCheck, closed_port: int
) -> None:
    url = f"http://127.0.0.1:{closed_port}/?page=2&api_key=QueryTok3nSecret"

    outcome = run(make_check, url=url)

    assert outcome.message == (
        f"GET http://127.0.0.1:{closed_port}/?page=2&api_key=***: connection "
        "failed: Connection refused"
    )


def test_http_invalid_url_hides_query_token(write_config: Callable) -> None:
    from .conftest import config_messages

    path = write_config(
        "checks:\n  - name: web\n    kind: http\n"
        "    url: ftp://127.0.0.1/?token=QueryTok3nSecret\n"
    )

    assert config_messages(path) == [
        f"{path}:4: checks[0].url: invalid URL 'ftp://127.0.0.1/?token=***'; "
        "write it like http://127.0.0.1:8080/"
    ]


def test_http_https_with_ca_bundle(
    https_server: str, certificates: Certificates, make_check: MakeCheck
) -> None:
    outcome = run(
        make_check, url=f"{https_server}/ok", ca_bundle=str(certificates.ca_file)
    )

    assert outcome.status is Status.OK


def test_http_https_untrusted(https_server: str, make_check: MakeCheck) -> None:
    outcome = run(make_check, url=f"{https_server}/ok")

    assert outcome.status is Status.CRITICAL
    assert outcome.message == (
        f"GET {https_server}/ok: TLS failed: unable to get local issuer certificate"
    )
    assert outcome.reason == "tls"


def test_http_https_verify_off(https_server: str, make_check: MakeCheck) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcome = run(make_check, url=f"{https_server}/ok", verify_tls=False)

    assert outcome.status is Status.OK
    assert outcome.message.startswith(
        f"GET {https_server}/ok (certificate not verified) returned 200 in "
    )
    assert [str(warning.message) for warning in caught] == []


def test_http_verify_off_keeps_warning_filters(
    https_server: str, make_check: MakeCheck
) -> None:
    before = list(warnings.filters)

    run(make_check, url=f"{https_server}/ok", verify_tls=False)

    assert warnings.filters == before
    with pytest.warns(InsecureRequestWarning):
        requests.get(f"{https_server}/ok", verify=False, timeout=5)


def test_http_verify_off_overlapping_runs(
    https_server: str, make_check: MakeCheck
) -> None:
    check = make_check("http", url=f"{https_server}/slow", verify_tls=False)
    outcomes: list[http.Outcome] = []
    before = list(warnings.filters)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        threads = [
            threading.Thread(
                target=lambda: outcomes.append(http.run(check.options, 10.0))
            )
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
            time.sleep(0.05)
        for thread in threads:
            thread.join(30)

    assert [outcome.status for outcome in outcomes] == [Status.OK] * 4
    assert [str(warning.message) for warning in caught] == []
    assert warnings.filters == before
