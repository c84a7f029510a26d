"""Hosts, agent tokens, checks, results, cases and their history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from collector.models.base import Base, utcnow

STATUSES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")
CASE_SOURCES = ("agent", "alertmanager", "memorandum", "complaint", "heartbeat")
CASE_STATUSES = ("open", "closed")
RESOLUTIONS = ("restored", "false_alarm", "duplicate")
CLASSIFICATIONS = ("minor", "severe")
HEARTBEAT_CHECK = "agent-heartbeat"


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


def open_key_for(host: str, check: str) -> str:
    """Return the key that allows one open case per host and check."""
    return f"{host}/{check}"


class Host(Base):
    """A server running an agent, created with its first agent token."""

    __tablename__ = "hosts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime | None]
    # The agent's shortest check interval; silent for twice this long means
    # "not reporting".
    interval_seconds: Mapped[float | None]
    agent_version: Mapped[str | None] = mapped_column(String(64))

    checks: Mapped[list[Check]] = relationship(back_populates="host")
    tokens: Mapped[list[AgentToken]] = relationship(back_populates="host")


class AgentToken(Base):
    """A bearer token one agent uses; only its SHA-256 digest is stored."""

    __tablename__ = "agent_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the token, so an operator can tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    host: Mapped[Host] = relationship(back_populates="tokens")


class Check(Base):
    """One check of one host with the state of its newest result."""

    __tablename__ = "checks"
    __table_args__ = (UniqueConstraint("host_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(64), default="")
    category: Mapped[str] = mapped_column(String(32), default="")
    status: Mapped[str | None] = mapped_column(String(16))
    observed_at: Mapped[datetime | None]
    message: Mapped[str] = mapped_column(Text, default="")
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)

    host: Mapped[Host] = relationship(back_populates="checks")


class Result(Base):
    """One run of one check as received; `result_id` makes posting idempotent."""

    __tablename__ = "results"
    __table_args__ = (
        Index("ix_results_check_observed", "check_id", "observed_at"),
        CheckConstraint(_in("status", STATUSES), name="ck_results_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    result_id: Mapped[str] = mapped_column(String(32), unique=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id"), index=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("checks.id"))
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text, default="")
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reason: Mapped[str] = mapped_column(String(32), default="")
    observed_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    duration_seconds: Mapped[float | None]
    confirmed: Mapped[bool] = mapped_column(Boolean, default=True)
    suppressed: Mapped[str | None] = mapped_column(String(255))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    # Older than the check's newest stored result: kept as history only.
    late: Mapped[bool] = mapped_column(Boolean, default=False)

    host: Mapped[Host] = relationship()
    check: Mapped[Check] = relationship()
    case: Mapped[Case | None] = relationship(back_populates="results")


class Case(Base):
    """A maintenance case, opened by an agent, an alert or a person."""

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(_in("source", CASE_SOURCES), name="ck_cases_source"),
        CheckConstraint(_in("status", CASE_STATUSES), name="ck_cases_status"),
        CheckConstraint(
            f"resolution IS NULL OR {_in('resolution', RESOLUTIONS)}",
            name="ck_cases_resolution",
        ),
        CheckConstraint(
            f"classification IS NULL OR {_in('classification', CLASSIFICATIONS)}",
            name="ck_cases_classification",
        ),
        Index("ix_cases_host_check_closed", "host_id", "check_id", "closed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    host_id: Mapped[int | None] = mapped_column(ForeignKey("hosts.id"), index=True)
    check_id: Mapped[int | None] = mapped_column(ForeignKey("checks.id"))
    source: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(500))
    application: Mapped[str | None] = mapped_column(String(200))
    unit: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    resolution: Mapped[str | None] = mapped_column(String(16))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    step: Mapped[str] = mapped_column(String(64), default="received")
    classification: Mapped[str | None] = mapped_column(String(16))
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    recovered_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # f"{host}/{check}" while the case is open and NULL once it is closed.
    # The unique constraint lets the database, not the application, enforce
    # one open case per host and check, also across collector processes.
    # Both SQLite and PostgreSQL allow any number of NULLs in it.
    open_key: Mapped[str | None] = mapped_column(String(460), unique=True)

    host: Mapped[Host | None] = relationship()
    check: Mapped[Check | None] = relationship()
    duplicate_of: Mapped[Case | None] = relationship(remote_side=[id])
    results: Mapped[list[Result]] = relationship(
        back_populates="case", order_by="Result.observed_at"
    )
    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.id"
    )

    @property
    def host_name(self) -> str | None:
        return self.host.name if self.host is not None else None

    @property
    def check_name(self) -> str | None:
        return self.check.name if self.check is not None else None


class CaseEvent(Base):
    """One entry of a case's append-only history."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # "agent:<host>", "user:<name>" or "system".
    actor: Mapped[str] = mapped_column(String(255))
    # opened, repeated, recovered, reopened, comment, transition, edit, ...
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)

    case: Mapped[Case] = relationship(back_populates="events")


class MetricCounter(Base):
    """A monotonically increasing count shared by all collector processes.

    Counting in the database keeps /metrics the same whichever gunicorn
    worker or collector host Prometheus scrapes.
    """

    __tablename__ = "metric_counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str] = mapped_column(String(64), primary_key=True, default="")
    value: Mapped[int] = mapped_column(BigInteger, default=0)
