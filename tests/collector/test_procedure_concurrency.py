"""Two people moving the same case at once: one move wins, the other is refused."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from collector.db import get_database
from collector.models import Case, User
from collector.models.procedure import StepRecord
from collector.procedure import EXTENSION_KEY, TransitionRefused, transition

from .conftest import Persona
from .procedure_support import (
    Clock,
    file_report,
    start_clock,
    wait_for_lock_wait,
    wib,
)


@pytest.fixture
def clock() -> Clock:
    return start_clock()


@pytest.fixture
def app_config(clock: Clock) -> dict[str, Any]:
    return {"PROCEDURE_CLOCK": clock}


def test_concurrent_moves_one_wins(
    app: Flask,
    client: FlaskClient,
    clock: Clock,
    unit_user: Persona,
    head: Persona,
) -> None:
    case_id = file_report(client, unit_user, wib(2026, 12, 4, 14))["id"]
    database = get_database(app)
    procedure = app.extensions[EXTENSION_KEY]
    at = wib(2026, 12, 4, 15)
    outcome: dict[str, Any] = {}

    def second_move() -> None:
        with database.session() as other:
            try:
                transition(
                    other,
                    other.get(Case, case_id),
                    "assignment",
                    other.get(User, head.id),
                    {},
                    at,
                    procedure,
                )
                other.commit()
                outcome["status"] = 200
            except TransitionRefused as problem:
                outcome["status"] = problem.status
                outcome["reason"] = problem.reason
            except Exception as problem:  # reported by the asserts below
                outcome["error"] = repr(problem)

    with database.session() as first:
        transition(
            first,
            first.get(Case, case_id),
            "assignment",
            first.get(User, head.id),
            {},
            at,
            procedure,
        )
        thread = threading.Thread(target=second_move)
        thread.start()
        wait_for_lock_wait(app, thread)
        first.commit()
    thread.join(timeout=60)

    assert not thread.is_alive()
    assert "error" not in outcome, outcome["error"]
    assert outcome["status"] == 409
    assert outcome["reason"] == (
        "step 'assignment' cannot go to 'assignment'; allowed next steps: analysis"
    )
    with database.session() as check:
        records = check.scalar(
            select(func.count())
            .select_from(StepRecord)
            .where(StepRecord.case_id == case_id)
        )
    assert records == 2
