"""Types shared by the configuration loader, the check kinds and the scheduler.

The loader (`agent.config`) turns checks.yaml into a `Config`; the scheduler
(`agent.scheduler`) runs each `CheckSpec` through its kind (`agent.checks`)
and turns the returned `Outcome` into a `Result` that is spooled and sent to
the collector.
"""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote_plus, urlsplit


class Status(enum.IntEnum):
    """Result status, numbered like Nagios plugin exit codes."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


class Category(enum.StrEnum):
    """Area of the system a check watches."""

    APPLICATION = "application"
    DATABASE = "database"
    HARDWARE = "hardware"


@dataclass(frozen=True)
class Outcome:
    """What one run of a check kind found.

    `values` are the measured numbers in base units (seconds, bytes, ratios
    as percent), keyed by a short snake_case name. Counts and byte sizes
    are ints, so that the spool and the collector show `files=3`, not
    `files=3.0`. `reason` is a closed,
    low-cardinality class of the failure, used as a metric label:
    "" for OK, otherwise one of REASONS.
    """

    status: Status
    message: str
    values: Mapping[str, float] = field(default_factory=dict)
    reason: str = ""


REASONS = frozenset(
    {
        "threshold",  # a measured value crossed warning or critical
        "timeout",  # the check or its target did not answer in time
        "refused",  # connection refused or host unreachable
        "mismatch",  # wrong status, body, value or row count
        "not_found",  # process, file, mount, sensor or interface missing
        "tls",  # certificate invalid, expired or wrong host
        "error",  # the check raised or the target returned an error
        "unsupported",  # the machine cannot measure this (no sensors)
    }
)


class CheckKind(Protocol):
    """Interface each module in `agent.checks` provides."""

    def run(self, options: Mapping[str, Any], timeout: float) -> Outcome:
        """Run once against the target, giving up after `timeout` seconds."""
        ...


class MaintenanceWindow(Protocol):
    """A planned period in which failures must not open cases."""

    name: str
    checks: frozenset[str]  # empty means every check

    def is_active(self, at: datetime) -> bool: ...


@dataclass(frozen=True)
class CheckSpec:
    """One validated entry of the `checks:` list.

    Durations are in seconds. `options` holds the kind-specific keys after
    validation and unit conversion (thresholds as floats in base units).
    """

    name: str
    kind: str
    category: Category
    interval: float = 7200.0
    timeout: float = 30.0
    retries: int = 0
    retry_interval: float = 60.0
    recover_after: int = 1
    open_case_on: frozenset[Status] = frozenset({Status.CRITICAL})
    depends_on: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    line: int = 0  # line of the entry in the file, for messages
    # The check's own value, or the agent: section's default once loaded.
    application: str | None = None
    unit: str | None = None


@dataclass(frozen=True)
class AgentSettings:
    """The validated `agent:` section."""

    host: str
    collector: str | None = None  # base URL, e.g. http://127.0.0.1:8080
    token: str | None = field(default=None, repr=False)
    listen_host: str = "127.0.0.1"
    listen_port: int = 9531
    spool: Path | None = None
    spool_max_bytes: int = 64 * 1024 * 1024
    ca_bundle: Path | None = None
    batch_size: int = 500
    # Defaults for every check that sets no application or unit of its own.
    application: str | None = None
    unit: str | None = None


@dataclass(frozen=True)
class Config:
    """A whole validated checks.yaml."""

    source: Path
    agent: AgentSettings
    checks: tuple[CheckSpec, ...]
    maintenance: tuple[MaintenanceWindow, ...] = ()


@dataclass
class Result:
    """One run of one check as delivered to the collector.

    `confirmed` is the hard state: false while a failure (or a recovery)
    still waits for its re-runs. `suppressed` names why a failure may not
    open a case ("maintenance:NAME" or "depends_on:CHECK"), else None.
    """

    check: str
    kind: str
    category: Category
    status: Status
    message: str
    values: Mapping[str, float]
    reason: str
    observed_at: datetime
    duration_seconds: float
    confirmed: bool = True
    suppressed: str | None = None
    open_case_on: frozenset[Status] = frozenset({Status.CRITICAL})
    application: str | None = None
    unit: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def to_payload(self) -> dict[str, Any]:
        """Return the JSON object the collector's results API expects.

        `application` and `unit` are left out when unset, so the payload
        of a check without them is the one older collectors know.
        """
        payload = {
            "id": self.id,
            "check": self.check,
            "kind": self.kind,
            "category": str(self.category),
            "status": self.status.name,
            "message": self.message,
            "values": dict(self.values),
            "reason": self.reason,
            "observed_at": self.observed_at.astimezone(UTC).isoformat(),
            "duration_seconds": round(self.duration_seconds, 6),
            "confirmed": self.confirmed,
            "suppressed": self.suppressed,
            "open_case_on": sorted(s.name for s in self.open_case_on),
        }
        if self.application is not None:
            payload["application"] = self.application
        if self.unit is not None:
            payload["unit"] = self.unit
        return payload


#: Names of headers, environment variables and URL query parameters whose
#: values are credentials, matched anywhere in the name.
SECRET_NAMES = re.compile(
    r"authorization|cookie|token|secret|key|password|passwd|signature|credential",
    re.IGNORECASE,
)

# Short secret names matched only as a whole word of the name, because as
# substrings they would also hide `page`, `design` or `author`.
_SECRET_WORDS = frozenset({"auth", "pass", "pwd", "sig"})


def is_secret_name(name: str) -> bool:
    """Return whether a header, variable or query parameter `name` is a secret."""
    if SECRET_NAMES.search(name):
        return True
    words = re.split(r"[^a-z0-9]+", name.lower())
    return any(word in _SECRET_WORDS for word in words)


# The user info of a URL whose password contains an unencoded '/', '?' or
# '#', read as SQLAlchemy's make_url reads it: the password runs from the
# first ':' to the next '@'. urlsplit ends the host at such a character and
# finds no password. A ':' followed by digits and the end of the host is a
# port, not a password, so `http://host:8080/a@b` is left alone.
# NOTE: for the same reason an unencoded password that starts with digits
# and a '/', like `12/34`, is not found; percent-encode such passwords.
_LOOSE_PASSWORD = re.compile(
    r"[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\[\]]*:(?!\d*(?:[/?#]|$))(?P<password>[^@]*)@"
)


def _loose_password(url: str) -> tuple[int, int] | None:
    """Return where a password that urlsplit cannot see starts and ends in `url`."""
    match = _LOOSE_PASSWORD.match(url)
    if match is None or not match.group("password"):
        return None
    return match.span("password")


def redact_url(url: str) -> str:
    """Return `url` with secrets replaced by `***`, for messages and logs.

    The password of the user info is replaced, and so is the value of each
    query or fragment parameter whose name `is_secret_name`, like
    `?token=***`.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    span = _loose_password(url) if parts.password is None else None
    if span is not None:
        url = f"{url[: span[0]]}***{url[span[1] :]}"
        try:
            parts = urlsplit(url)
        except ValueError:
            return "<invalid URL>"
    # Rebuilt from the text, not with urlunsplit, which turns
    # sqlite:////var/app.db into sqlite://var/app.db.
    rest, hash_sign, fragment = url.partition("#")
    head, question_mark, query = rest.partition("?")
    if parts.password is not None:
        host = parts.netloc.rsplit("@", 1)[1]
        netloc = f"{parts.username or ''}:***@{host}"
        head = head.replace(parts.netloc, netloc, 1)
    query = _redact_parameters(query)
    fragment = _redact_parameters(fragment)
    return f"{head}{question_mark}{query}{hash_sign}{fragment}"


def url_secrets(url: str) -> list[str]:
    """Return the secrets that `redact_url` hides in `url`, as typed and decoded.

    Error texts of libraries may repeat parts of a URL, so callers replace
    these values in such texts too (see `redact_text`).
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = []
    if parts.password:
        found.append(parts.password)
    elif span := _loose_password(url):
        found.append(url[span[0] : span[1]])
    for text in (parts.query, parts.fragment):
        for name, value in _parameters(text):
            if value and is_secret_name(unquote_plus(name)):
                found.append(value)
    decoded = [unquote_plus(secret) for secret in found]
    # Longest first, so a secret that contains another is replaced whole.
    return sorted({*found, *decoded} - {""}, key=len, reverse=True)


def redact_text(text: str, url: str) -> str:
    """Return `text` with every secret of `url` replaced by `***`."""
    for secret in url_secrets(url):
        text = text.replace(secret, "***")
    return text


def _parameters(text: str) -> list[tuple[str, str]]:
    pairs = []
    for pair in text.split("&"):
        name, _, value = pair.partition("=")
        pairs.append((name, value))
    return pairs


def _redact_parameters(text: str) -> str:
    """Return a query or fragment with the values of secret parameters hidden."""
    if "=" not in text:
        return text
    pairs = []
    for pair in text.split("&"):
        name, separator, value = pair.partition("=")
        if separator and value and is_secret_name(unquote_plus(name)):
            pair = f"{name}=***"
        pairs.append(pair)
    return "&".join(pairs)
