"""People who use the web UI and the API."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from collector.models.base import Base, utcnow

ROLES = ("admin", "head", "technician", "unit", "vendor", "viewer")


class User(Base):
    """A person with one role; unit and vendor users name their organisation."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role IN ({})".format(", ".join(f"'{role}'" for role in ROLES)),
            name="ck_users_role",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str | None] = mapped_column(String(200))
    vendor: Mapped[str | None] = mapped_column(String(200))
    # werkzeug.security hash; NULL means password login is disabled.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # SHA-256 of the personal API token.
    api_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Stored in the session cookie at login. Logging out increments it, so
    # every cookie issued before, saved copies included, stops being valid.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class LoginFailure(Base):
    """A failed password login, kept while it counts towards throttling.

    The rows live in the database, so every worker and collector host
    counts the same failures.
    """

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_name_at", "name", "at"),
        Index("ix_login_failures_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The user name as typed, cut to the column size; it may name nobody.
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
