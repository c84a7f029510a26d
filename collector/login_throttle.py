"""Throttling of failed password logins.

Failures count per pair of user name and client address, so that wrong
passwords sent from elsewhere cannot lock the real user out, and per client
address across all user names, which limits password spraying. The rows
live in the `login_failures` table, so every worker and collector host
counts the same failures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import request
from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from collector.models.users import LoginFailure

MAX_FAILURES_PER_NAME_AND_ADDRESS = 5
MAX_FAILURES_PER_ADDRESS = 20
FAILURE_WINDOW = timedelta(minutes=15)
# Sizes of the login_failures columns.
MAX_NAME_LENGTH = 100
MAX_ADDRESS_LENGTH = 64


@dataclass(frozen=True)
class Lockout:
    """A login lock in force: the limit that was reached and when it ends."""

    per_address: bool
    limit: int
    until: datetime

    def describe(self) -> str:
        """Return the reason of the lock for the log, without secrets."""
        scope = (
            "from this address for any user name"
            if self.per_address
            else "for this user name from this address"
        )
        minutes = FAILURE_WINDOW // timedelta(minutes=1)
        return f"{self.limit} failed logins {scope} within {minutes} minutes"

    def retry_after_seconds(self, now: datetime) -> int:
        """Return the whole seconds until the lock ends, at least 1."""
        return max(1, math.ceil((self.until - now).total_seconds()))


def client_address() -> str:
    """Return the client address that the limits count failures of.

    With TRUSTED_PROXIES set, werkzeug's ProxyFix has already replaced
    `remote_addr` by the client address that the proxies forwarded.
    """
    return (request.remote_addr or "unknown")[:MAX_ADDRESS_LENGTH]


def find_lockout(
    database: Session, name: str, address: str, now: datetime
) -> Lockout | None:
    """Return the lock in force for a login of `name` from `address`, or None.

    When both limits are reached, the lock that ends later is returned.
    """
    locks = []
    pair_end = _lock_end(
        database,
        (LoginFailure.name == name[:MAX_NAME_LENGTH])
        & (LoginFailure.address == address),
        MAX_FAILURES_PER_NAME_AND_ADDRESS,
        now,
    )
    if pair_end is not None:
        locks.append(Lockout(False, MAX_FAILURES_PER_NAME_AND_ADDRESS, pair_end))
    address_end = _lock_end(
        database, LoginFailure.address == address, MAX_FAILURES_PER_ADDRESS, now
    )
    if address_end is not None:
        locks.append(Lockout(True, MAX_FAILURES_PER_ADDRESS, address_end))
    return max(locks, key=lambda lock: lock.until, default=None)


def _lock_end(
    database: Session, condition: ColumnElement[bool], limit: int, now: datetime
) -> datetime | None:
    # The lock lasts while `limit` failures are inside the window, so it
    # ends when the limit-th newest failure leaves the window.
    newest = database.scalars(
        select(LoginFailure.at)
        .where(condition, LoginFailure.at > now - FAILURE_WINDOW)
        .order_by(LoginFailure.at.desc())
        .limit(limit)
    ).all()
    if len(newest) < limit:
        return None
    return newest[-1] + FAILURE_WINDOW


def record_attempt(database: Session, name: str, address: str, now: datetime) -> None:
    """Store a login attempt as a failure until forget_failures clears it.

    The login calls this before the slow password check, so that guesses
    sent in parallel count before any of their password checks finishes.
    """
    # NOTE: find_lockout and this insert are separate statements, so a few
    # requests that arrive at the same moment can all pass the limit.
    # Failures older than the window no longer count, so they are dropped.
    database.execute(
        delete(LoginFailure).where(LoginFailure.at <= now - FAILURE_WINDOW)
    )
    database.add(LoginFailure(name=name[:MAX_NAME_LENGTH], address=address, at=now))
    database.commit()


def forget_failures(database: Session, name: str, address: str) -> None:
    """Delete the failures of `name` from `address`, after a successful login.

    Failures of other user names from that address still count towards
    the per-address limit.
    """
    database.execute(
        delete(LoginFailure).where(
            LoginFailure.name == name[:MAX_NAME_LENGTH],
            LoginFailure.address == address,
        )
    )
    database.commit()
