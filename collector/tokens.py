"""Agent tokens and personal API tokens: made once, stored only as SHA-256."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from collector.models import ROLES, AgentToken, Host, User, is_row_id, utcnow

logger = logging.getLogger(__name__)

AGENT_TOKEN_PREFIX = "pa_"
USER_TOKEN_PREFIX = "pu_"
SHOWN_PREFIX_LENGTH = 10
HOST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
# werkzeug's default: memory-hard scrypt.
PASSWORD_HASH_METHOD = "scrypt"
USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")


class TokenError(ValueError):
    """An invalid request to create or revoke a token or user."""


def hash_token(token: str) -> str:
    """Return the hex SHA-256 digest under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def generate_token(prefix: str) -> str:
    """Return a new random token: `prefix` and 256 bits, URL-safe."""
    return prefix + secrets.token_urlsafe(32)


def validate_host_name(name: str) -> None:
    """Raise TokenError unless `name` is a usable host name."""
    if not HOST_NAME.match(name):
        raise TokenError(
            f"invalid host name {name!r}: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit, at most 255 characters"
        )


def get_or_create_host(session: Session, name: str) -> Host:
    """Return the host called `name`, inserting it if it does not exist."""
    host = session.scalar(select(Host).where(Host.name == name))
    if host is not None:
        return host
    try:
        with session.begin_nested():
            host = Host(name=name)
            session.add(host)
            session.flush()
    except IntegrityError:
        # Another process inserted the same host first.
        host = session.scalars(select(Host).where(Host.name == name)).one()
    return host


def create_agent_token(session: Session, host_name: str) -> tuple[AgentToken, str]:
    """Create a token for `host_name` (and the host) and return it with its text.

    The text is returned only here; the database keeps its SHA-256 digest.
    The caller commits.
    """
    validate_host_name(host_name)
    host = get_or_create_host(session, host_name)
    token = generate_token(AGENT_TOKEN_PREFIX)
    record = AgentToken(
        host=host, token_hash=hash_token(token), prefix=token[:SHOWN_PREFIX_LENGTH]
    )
    session.add(record)
    session.flush()
    logger.info("agent token %d for host %s created", record.id, host_name)
    return record, token


def list_agent_tokens(session: Session) -> list[AgentToken]:
    """Return all agent tokens, oldest first, with their hosts loaded."""
    return list(session.scalars(select(AgentToken).order_by(AgentToken.id)))


def revoke_agent_token(
    session: Session, token_id: int, now: datetime | None = None
) -> AgentToken:
    """Mark token `token_id` revoked; the caller commits."""
    record = session.get(AgentToken, token_id) if is_row_id(token_id) else None
    if record is None:
        raise TokenError(
            f"agent token {token_id} not found; `agent-tokens` lists the ids"
        )
    if record.revoked_at is None:
        record.revoked_at = now or utcnow()
        logger.info("revoked agent token %d of host %s", token_id, record.host.name)
    return record


def find_agent_token(session: Session, token: str) -> AgentToken | None:
    """Return the unrevoked agent token with this text, or None."""
    record = session.scalar(
        select(AgentToken).where(AgentToken.token_hash == hash_token(token))
    )
    if record is None or record.revoked_at is not None:
        return None
    return record


@dataclass(frozen=True)
class NewUser:
    """A created user with the secrets shown to the operator once."""

    user: User
    api_token: str
    password: str
    password_generated: bool


def create_user(
    session: Session,
    name: str,
    role: str,
    *,
    unit: str | None = None,
    vendor: str | None = None,
    password: str | None = None,
) -> NewUser:
    """Insert a user with a personal API token and a password.

    Without `password` a random one is generated. The caller commits.
    """
    if not USER_NAME.match(name):
        raise TokenError(
            f"invalid user name {name!r}: use letters, digits, '.', '_', '@' and "
            "'-', at most 100 characters"
        )
    if role not in ROLES:
        raise TokenError(f"invalid role {role!r}; expected one of {', '.join(ROLES)}")
    if role == "unit" and not unit:
        raise TokenError("role 'unit' needs the work unit: add --unit UNIT")
    if role == "vendor" and not vendor:
        raise TokenError("role 'vendor' needs the vendor: add --vendor VENDOR")
    if unit and vendor:
        raise TokenError("give either a unit or a vendor, not both")
    if password is not None and not password:
        raise TokenError("the password is empty; give one or let one be generated")
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise TokenError(f"user {name!r} already exists")

    generated = password is None
    password = password or secrets.token_urlsafe(12)
    api_token = generate_token(USER_TOKEN_PREFIX)
    user = User(
        name=name,
        role=role,
        unit=unit or None,
        vendor=vendor or None,
        password_hash=generate_password_hash(password, method=PASSWORD_HASH_METHOD),
        api_token_hash=hash_token(api_token),
    )
    session.add(user)
    session.flush()
    logger.info("user %s created with role %s", name, role)
    return NewUser(user, api_token, password, generated)


def find_user_by_token(session: Session, token: str) -> User | None:
    """Return the active user owning this personal API token, or None."""
    user = session.scalar(select(User).where(User.api_token_hash == hash_token(token)))
    if user is None or not user.active:
        return None
    return user
