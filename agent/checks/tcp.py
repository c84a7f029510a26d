"""Open a TCP connection, optionally send text and expect a response."""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from typing import Any

from agent.checks.base import clean_text, host_port, one_line_outcome, threshold_outcome
from agent.checks.schema import Option, Threshold
from agent.spec import Category, Outcome, Status
from agent.units import format_duration

CATEGORY = Category.APPLICATION

OPTIONS = (
    Option("host", "str", required=True, help="host name or IP address"),
    Option("port", "int", required=True, minimum=1, maximum=65535, help="TCP port"),
    Option("send", "str", help="text to send after connecting"),
    Option("expect", "str", help="text the first bytes of the response must contain"),
    Option("warning", "duration", help="time to connect (and respond) that warns"),
    Option(
        "critical", "duration", help="time to connect (and respond) that is critical"
    ),
)

THRESHOLDS = (Threshold("warning", "critical"),)

# Maximum bytes read while waiting for `expect`.
MAX_ANSWER = 4096


@one_line_outcome
def run(options: Mapping[str, Any], timeout: float) -> Outcome:
    """Connect to host:port and, with `expect`, read until the text arrives."""
    target = host_port(options["host"], options["port"])
    started = time.monotonic()
    deadline = started + timeout
    try:
        connection = socket.create_connection(
            (options["host"], options["port"]), timeout=timeout
        )
    except TimeoutError:
        return Outcome(
            Status.CRITICAL,
            f"{target}: no connection within {timeout:g}s",
            reason="timeout",
        )
    except socket.gaierror as error:
        return Outcome(
            Status.CRITICAL,
            f"{target}: cannot resolve host: {error.strerror}",
            reason="not_found",
        )
    except OSError as error:
        return Outcome(
            Status.CRITICAL,
            f"{target}: connection failed: {error.strerror or error}",
            reason="refused",
        )

    with connection:
        try:
            answer = _converse(connection, options, deadline)
        except TimeoutError:
            return Outcome(
                Status.CRITICAL,
                f"{target}: connected, but the expected response did not arrive within "
                f"{timeout:g}s",
                reason="timeout",
            )
        except OSError as error:
            return Outcome(
                Status.CRITICAL,
                f"{target}: connection failed: {error.strerror or error}",
                reason="error",
            )

    elapsed = time.monotonic() - started
    values = {"latency_seconds": round(elapsed, 6)}
    if options["expect"] is not None and options["expect"] not in answer:
        return Outcome(
            Status.CRITICAL,
            f"{target}: response {clean_text(answer, 80)!r} does not contain "
            f"{options['expect'][:80]!r}",
            values,
            reason="mismatch",
        )

    verb = "responded" if options["expect"] is not None else "accepted the connection"
    message = f"{target} {verb} in {format_duration(elapsed)}"
    return threshold_outcome(
        elapsed,
        message,
        values,
        options,
        format_duration,
    )


def _converse(
    connection: socket.socket, options: Mapping[str, Any], deadline: float
) -> str:
    """Send `send`, then read until `expect` arrives or the peer closes."""
    if options["send"] is not None:
        connection.settimeout(max(deadline - time.monotonic(), 0.001))
        connection.sendall(options["send"].encode())
    if options["expect"] is None:
        return ""

    received = b""
    while len(received) < MAX_ANSWER:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        connection.settimeout(remaining)
        chunk = connection.recv(MAX_ANSWER - len(received))
        if not chunk:
            break
        received += chunk
        if options["expect"].encode() in received:
            break
    return received.decode("utf-8", errors="replace")
