"""Connect with TLS and check the certificate: trust, host name, expiry."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Mapping
from typing import Any

from agent.checks.base import clean_text, host_port, one_line_outcome, threshold_outcome
from agent.checks.schema import Option, OptionContext, Threshold
from agent.spec import Category, Outcome, Status, redact_url

CATEGORY = Category.APPLICATION

OPTIONS = (
    Option("host", "str", required=True, help="host name or IP address to connect to"),
    Option("port", "int", default=443, minimum=1, maximum=65535, help="TCP port"),
    Option(
        "server_name",
        "str",
        help="name sent as SNI and matched against the certificate; default: host",
    ),
    Option("warning", "float", default=30.0, help="days left that warn"),
    Option("critical", "float", default=7.0, help="days left that are critical"),
    Option("ca_bundle", "path", help="PEM file of CA certificates to trust"),
)

THRESHOLDS = (Threshold("warning", "critical", higher_is_worse=False),)

DAY = 86400.0


def prepare(options: dict[str, Any], context: OptionContext) -> list[tuple[str, str]]:
    """Default server_name to host and check the host and the CA bundle."""
    if "/" in options["host"]:
        # A URL here would end up in messages, with any secret it contains.
        return [
            (
                "host",
                f"invalid host '{redact_url(options['host'])}'; give a host name "
                "or IP address, not a URL",
            )
        ]
    if options["server_name"] is None:
        options["server_name"] = options["host"]
    bundle = options["ca_bundle"]
    if bundle is not None and not bundle.is_file():
        return [("ca_bundle", f"file not found: {bundle}; give the path of a PEM file")]
    return []


@one_line_outcome
def run(options: Mapping[str, Any], timeout: float) -> Outcome:
    """Complete a verified handshake and grade the days the certificate has left."""
    target = host_port(options["host"], options["port"])
    context = ssl.create_default_context(
        cafile=str(options["ca_bundle"]) if options["ca_bundle"] else None
    )
    deadline = time.monotonic() + timeout

    try:
        with socket.create_connection(
            (options["host"], options["port"]), timeout=timeout
        ) as raw:
            raw.settimeout(max(deadline - time.monotonic(), 0.001))
            with context.wrap_socket(
                raw, server_hostname=options["server_name"]
            ) as connection:
                certificate = connection.getpeercert()
    except ssl.SSLCertVerificationError as error:
        detail = clean_text(error.verify_message or str(error), 160)
        return Outcome(
            Status.CRITICAL,
            f"{target}: certificate for {options['server_name']} failed "
            f"verification: {detail}",
            reason="tls",
        )
    except ssl.SSLError as error:
        detail = clean_text(error.reason or str(error), 160)
        return Outcome(
            Status.CRITICAL, f"{target}: TLS handshake failed: {detail}", reason="tls"
        )
    except TimeoutError:
        return Outcome(
            Status.CRITICAL,
            f"{target}: no TLS handshake within {timeout:g}s",
            reason="timeout",
        )
    except OSError as error:
        return Outcome(
            Status.CRITICAL,
            f"{target}: connection failed: {error.strerror or error}",
            reason="refused",
        )

    expires = ssl.cert_time_to_seconds(certificate["notAfter"])
    seconds_left = expires - time.time()
    days_left = seconds_left / DAY
    values = {"expires_in_seconds": round(seconds_left, 0)}
    message = (
        f"{target}: certificate for {options['server_name']} expires in "
        f"{days_left:.1f} days ({certificate['notAfter']})"
    )
    return threshold_outcome(
        days_left,
        message,
        values,
        options,
        lambda limit: f"{limit:g} days",
        higher_is_worse=False,
    )
