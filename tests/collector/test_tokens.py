"""Agent tokens and personal API tokens."""

from __future__ import annotations

import threading

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from collector.db import get_database
from collector.models import AgentToken, Host, User
from collector.tokens import (
    TokenError,
    create_agent_token,
    create_user,
    find_agent_token,
    find_user_by_token,
    hash_token,
    list_agent_tokens,
    revoke_agent_token,
)

from .conftest import Agent, make_result, post


def test_tokens_stored_only_as_hash(session: Session) -> None:
    record, token = create_agent_token(session, "app-02")
    session.commit()

    stored = session.scalars(select(AgentToken)).one()
    assert stored.token_hash == hash_token(token)
    assert token not in (stored.token_hash, stored.prefix)
    assert token.startswith(stored.prefix)
    assert len(token) >= 40


def test_tokens_find_agent_token(session: Session) -> None:
    record, token = create_agent_token(session, "app-02")

    assert find_agent_token(session, token) is record
    assert find_agent_token(session, token + "x") is None


def test_tokens_revoked_token_not_found(session: Session) -> None:
    record, token = create_agent_token(session, "app-02")
    revoke_agent_token(session, record.id)

    assert record.revoked_at is not None
    assert find_agent_token(session, token) is None


def test_tokens_revoke_unknown_id(session: Session) -> None:
    with pytest.raises(TokenError) as raised:
        revoke_agent_token(session, 42)

    assert str(raised.value) == "agent token 42 not found; `agent-tokens` lists the ids"


def test_tokens_revoke_id_beyond_integer(session: Session) -> None:
    with pytest.raises(TokenError) as raised:
        revoke_agent_token(session, 10**20)

    assert str(raised.value) == (
        "agent token 100000000000000000000 not found; `agent-tokens` lists the ids"
    )


def test_tokens_second_token_same_host(session: Session) -> None:
    first, _ = create_agent_token(session, "app-02")
    second, _ = create_agent_token(session, "app-02")

    assert first.host_id == second.host_id
    assert [record.id for record in list_agent_tokens(session)] == [first.id, second.id]


def test_tokens_invalid_host_name(session: Session) -> None:
    with pytest.raises(TokenError) as raised:
        create_agent_token(session, "app/02")

    assert str(raised.value).startswith("invalid host name 'app/02'")


def test_tokens_last_used_set_by_post(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    post(client, agent, make_result())

    record = session.get(AgentToken, agent.token_id)
    assert record.last_used_at is not None


def test_tokens_user_token_finds_user(session: Session) -> None:
    created = create_user(session, "tech", "technician")

    assert find_user_by_token(session, created.api_token) is created.user
    assert created.user.api_token_hash == hash_token(created.api_token)


def test_tokens_inactive_user_token_rejected(session: Session) -> None:
    created = create_user(session, "tech", "technician")
    created.user.active = False

    assert find_user_by_token(session, created.api_token) is None


def test_tokens_generated_password(session: Session) -> None:
    created = create_user(session, "tech", "technician")

    assert created.password_generated is True
    assert len(created.password) >= 12
    assert created.password not in created.user.password_hash


@pytest.mark.parametrize(
    ("name", "role", "owner", "message"),
    [
        (
            "x",
            "boss",
            {},
            "invalid role 'boss'; expected one of admin, head, "
            "technician, unit, vendor, viewer",
        ),
        ("x", "unit", {}, "role 'unit' needs the work unit: add --unit UNIT"),
        ("x", "vendor", {}, "role 'vendor' needs the vendor: add --vendor VENDOR"),
        (
            "x y",
            "viewer",
            {},
            "invalid user name 'x y': use letters, digits, '.', "
            "'_', '@' and '-', at most 100 characters",
        ),
    ],
)
def test_tokens_create_user_invalid(
    session: Session, name: str, role: str, owner: dict[str, str], message: str
) -> None:
    with pytest.raises(TokenError) as raised:
        create_user(session, name, role, **owner)

    assert str(raised.value) == message


def test_tokens_create_user_twice(session: Session) -> None:
    create_user(session, "tech", "technician")

    with pytest.raises(TokenError) as raised:
        create_user(session, "tech", "viewer")

    assert str(raised.value) == "user 'tech' already exists"
    assert len(session.scalars(select(User)).all()) == 1


def test_tokens_concurrent_new_host_one_row(app: Flask, session: Session) -> None:
    first, _ = create_agent_token(session, "app-09")
    results: dict[str, int] = {}

    def second_token() -> None:
        # Waits for the first transaction: for its lock on SQLite, for its
        # uncommitted host row on PostgreSQL.
        with get_database(app).session() as other:
            record, _ = create_agent_token(other, "app-09")
            other.commit()
            results["host_id"] = record.host_id

    worker = threading.Thread(target=second_token)
    worker.start()
    worker.join(0.5)
    session.commit()
    worker.join(60)

    assert results["host_id"] == first.host_id
    assert len(session.scalars(select(Host)).all()) == 1
