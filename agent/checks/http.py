"""Request a URL and check the status, the body and the response time."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import ssl
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import (
    DecodeError,
    InsecureRequestWarning,
    ProtocolError,
    ReadTimeoutError,
)

from agent.checks.base import clean_text, one_line_outcome, threshold_outcome
from agent.checks.schema import (
    Option,
    OptionContext,
    Secret,
    SecretURL,
    Threshold,
)
from agent.spec import (
    Category,
    Outcome,
    Status,
    is_secret_name,
    redact_text,
    redact_url,
)
from agent.units import format_duration, format_size

logger = logging.getLogger(__name__)

CATEGORY = Category.APPLICATION

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

OPTIONS = (
    Option("url", "str", required=True, help="http:// or https:// URL to request"),
    Option("method", "str", default="GET", choices=METHODS, help="request method"),
    Option("headers", "str_map", default={}, help="request headers"),
    Option("body", "str", help="request body to send"),
    Option(
        "expected_status",
        "int_list",
        default=(200,),
        help="status codes that count as OK",
    ),
    Option("body_contains", "str", help="text the response body must contain"),
    Option("body_regex", "regex", help="regular expression the body must match"),
    Option("warning", "duration", help="response time that warns"),
    Option("critical", "duration", help="response time that is critical"),
    Option("follow_redirects", "bool", default=True, help="follow 3xx redirects"),
    Option("verify_tls", "bool", default=True, help="verify the server certificate"),
    Option("ca_bundle", "path", help="PEM file of CA certificates to trust"),
    Option(
        "max_body_size",
        "size",
        default=1024 * 1024,
        minimum=1,
        help="bytes of the body read for body_contains and body_regex",
    ),
)

THRESHOLDS = (Threshold("warning", "critical"),)

MAX_REDIRECTS = 10
_CHUNK = 64 * 1024


def prepare(options: dict[str, Any], context: OptionContext) -> list[tuple[str, str]]:
    """Check the URL, status codes and CA bundle; hide secret header values."""
    shown = redact_url(options["url"])
    try:
        parts = urlsplit(options["url"])
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return [("url", f"invalid URL '{shown}'; write it like http://127.0.0.1:8080/")]

    problems = []
    for code in options["expected_status"]:
        if not 100 <= code <= 599:
            problems.append(
                ("expected_status", f"invalid status code {code}; use 100 to 599")
            )
    if options["ca_bundle"] is not None and not options["ca_bundle"].is_file():
        problems.append(
            (
                "ca_bundle",
                f"file not found: {options['ca_bundle']}; give the path of a PEM file",
            )
        )
    options["url"] = SecretURL(options["url"])
    options["headers"] = {
        name: Secret(value) if is_secret_name(name) else value
        for name, value in options["headers"].items()
    }
    return problems


@one_line_outcome
def run(options: Mapping[str, Any], timeout: float) -> Outcome:
    """Send the request and check the response, all within `timeout` seconds."""
    outcome = _request(options, timeout)
    # Error texts of requests and urllib3 repeat the path and query of the
    # URL, so secrets are hidden in the whole message, not only in `shown`.
    message = redact_text(outcome.message, options["url"])
    if message == outcome.message:
        return outcome
    return dataclasses.replace(outcome, message=message)


def _request(options: Mapping[str, Any], timeout: float) -> Outcome:
    shown = redact_url(options["url"])
    method = options["method"]
    started = time.monotonic()
    deadline = started + timeout

    session = requests.Session()
    # Proxies and .netrc from the environment would change which server is
    # checked; the check talks to exactly the URL it names.
    session.trust_env = False
    session.max_redirects = MAX_REDIRECTS
    verify: bool | str = options["verify_tls"]
    if verify and options["ca_bundle"] is not None:
        verify = str(options["ca_bundle"])
    request = f"{method} {shown}"
    if not verify and urlsplit(options["url"]).scheme == "https":
        request += " (certificate not verified)"
    # urllib3 warns on every unverified HTTPS request, which a check that
    # turned verification off on purpose would print on every run.
    hidden = _insecure_warning_hidden() if not verify else contextlib.nullcontext()

    try:
        with hidden, session:
            response = session.request(
                method,
                options["url"],
                headers=dict(options["headers"]),
                data=options["body"].encode() if options["body"] else None,
                # NOTE: requests applies this to the connect and to each read
                # separately, so slow headers after a slow connect can take up
                # to twice `timeout`. Only the body has an overall deadline.
                timeout=timeout,
                allow_redirects=options["follow_redirects"],
                verify=verify,
                stream=True,
            )
            with response:
                body = _read_body(response, options["max_body_size"], deadline)
    except _BodyTimeout:
        return Outcome(
            Status.CRITICAL,
            f"{request}: body not received within {timeout:g}s",
            reason="timeout",
        )
    except requests.exceptions.SSLError as error:
        return Outcome(
            Status.CRITICAL,
            f"{request}: TLS failed: {_reason(error)}",
            reason="tls",
        )
    except requests.exceptions.Timeout:
        return Outcome(
            Status.CRITICAL,
            f"{request}: no response within {timeout:g}s",
            reason="timeout",
        )
    except requests.exceptions.TooManyRedirects:
        return Outcome(
            Status.CRITICAL,
            f"{request}: more than {MAX_REDIRECTS} redirects",
            reason="error",
        )
    except requests.exceptions.ConnectionError as error:
        return Outcome(
            Status.CRITICAL,
            f"{request}: connection failed: {_reason(error)}",
            reason="refused",
        )
    except requests.exceptions.RequestException as error:
        return Outcome(
            Status.CRITICAL,
            f"{request}: request failed: {_reason(error)}",
            reason="error",
        )

    elapsed = time.monotonic() - started
    values = {
        "latency_seconds": round(elapsed, 6),
        "status_code": response.status_code,
        "body_bytes": len(body),
    }
    return _judge(response.status_code, body, elapsed, request, options, values)


_insecure_lock = threading.Lock()
_insecure_requests = 0
_insecure_filters: warnings.catch_warnings | None = None


@contextlib.contextmanager
def _insecure_warning_hidden() -> Iterator[None]:
    """Ignore InsecureRequestWarning while any unverified request is running.

    catch_warnings swaps the process-wide filter list. Overlapping uses in
    two check threads could restore each other's list and leave the filter
    in place for good, so the overlapping requests share one catch_warnings.
    Meanwhile the warning is hidden in every thread, which only affects other
    unverified requests because the agent makes none elsewhere.
    """
    global _insecure_requests, _insecure_filters
    with _insecure_lock:
        if _insecure_requests == 0:
            _insecure_filters = warnings.catch_warnings()
            _insecure_filters.__enter__()
            warnings.simplefilter("ignore", InsecureRequestWarning)
        _insecure_requests += 1
    try:
        yield
    finally:
        with _insecure_lock:
            _insecure_requests -= 1
            if _insecure_requests == 0 and _insecure_filters is not None:
                _insecure_filters.__exit__(None, None, None)
                _insecure_filters = None


class _BodyTimeout(Exception):
    """The body kept arriving past the deadline."""


def _read_body(response: requests.Response, limit: int, deadline: float) -> bytes:
    """Return up to `limit` bytes of the body, giving up at `deadline`."""
    chunks = []
    size = 0
    # NOTE: urllib3 releases without read1 fall back to small reads, which
    # each wait for their full 1 KiB, so a trickling body can overrun.
    read = getattr(response.raw, "read1", None) or _small_read(response.raw)
    try:
        while size < limit:
            # read1 returns after one socket read, so the deadline below also
            # stops a server that trickles its body. The read timeout alone
            # would restart with every byte.
            chunk = read(min(_CHUNK, limit - size), decode_content=True)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if time.monotonic() > deadline:
                raise _BodyTimeout
    except ReadTimeoutError as error:
        raise _BodyTimeout from error
    except (ProtocolError, DecodeError) as error:
        raise requests.exceptions.ConnectionError(error) from error
    return b"".join(chunks)


def _small_read(raw: Any) -> Any:
    def read(amount: int, decode_content: bool) -> bytes:
        return raw.read(min(amount, 1024), decode_content=decode_content)

    return read


def _judge(
    status_code: int,
    body: bytes,
    elapsed: float,
    request: str,
    options: Mapping[str, Any],
    values: dict[str, float],
) -> Outcome:
    expected = options["expected_status"]
    if status_code not in expected:
        wanted = ", ".join(str(code) for code in expected)
        return Outcome(
            Status.CRITICAL,
            f"{request} returned status {status_code}, expected {wanted}",
            values,
            reason="mismatch",
        )

    text = body.decode("utf-8", errors="replace")
    scope = f"the first {format_size(len(body))} of the body"
    if options["body_contains"] is not None and options["body_contains"] not in text:
        return Outcome(
            Status.CRITICAL,
            f"{request}: {clean_text(options['body_contains'], 80)!r} not found in "
            f"{scope}",
            values,
            reason="mismatch",
        )
    if options["body_regex"] is not None and not options["body_regex"].search(text):
        return Outcome(
            Status.CRITICAL,
            f"{request}: /{clean_text(options['body_regex'].pattern, 80)}/ does not "
            f"match {scope}",
            values,
            reason="mismatch",
        )

    message = f"{request} returned {status_code} in {format_duration(elapsed)}"
    return threshold_outcome(
        elapsed,
        message,
        values,
        options,
        format_duration,
    )


def _reason(error: BaseException) -> str:
    """Return the innermost cause of a requests error, on one short line."""
    seen = set()
    cause: BaseException | None = error
    deepest = error
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ssl.SSLCertVerificationError):
            return clean_text(cause.verify_message or str(cause), 160)
        if isinstance(cause, OSError) and cause.strerror:
            return clean_text(cause.strerror, 160)
        deepest = cause
        inner = getattr(cause, "reason", None)
        if not isinstance(inner, BaseException):
            first = cause.args[0] if cause.args else None
            inner = first if isinstance(first, BaseException) else None
        cause = inner or cause.__cause__ or cause.__context__
    return clean_text(str(deepest), 160)
