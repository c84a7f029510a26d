"""Declarative base and column types shared by every collector model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

# The largest id an Integer primary key holds on every supported database,
# because PostgreSQL stores it as a 32-bit INTEGER. A larger id in a query
# raises DataError there, and OverflowError in sqlite3 above 2**63 - 1, so
# callers check ids from requests with `is_row_id` before they look them up.
MAX_ROW_ID = 2**31 - 1


def is_row_id(value: Any) -> bool:
    """Return whether `value` is an int that a primary key column can hold."""
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and (1 <= value <= MAX_ROW_ID)
    )


def utcnow() -> datetime:
    """Return the current time as a timezone-aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite has no time zone type and returns naive datetimes, so values are
    converted to UTC before they are written and tagged as UTC when read.
    Naive values are rejected on write because their zone is unknown.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware value")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSONB on PostgreSQL for indexing and compact storage, JSON text elsewhere.
JSONValue = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    """Base class of all collector tables, including the procedure's."""

    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONValue}
