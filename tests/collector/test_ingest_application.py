"""The application and work unit an agent sends, on the cases it opens.

The workflow here requires `application` on the `received` step of agent
cases, so a case that moves on without typed values shows that the agent's
value was recorded.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from collector.ingest import close_case
from collector.models import Case, CaseEvent, utcnow
from collector.procedure_ui import event_detail

from .conftest import BASE_TIME, Agent, Persona, make_result, minutes, post
from .procedure_support import Clock, move, start_clock


@pytest.fixture
def clock() -> Clock:
    return start_clock()


@pytest.fixture
def app_config(clock: Clock, tmp_path: Path) -> dict[str, Any]:
    default = resources.files("collector.workflow").joinpath("default.yaml")
    text = default.read_text("utf-8")
    field = "        name_en: Application\n"
    assert text.count(field) == 1
    text = text.replace(field, field + "        required_when: {source: agent}\n")
    path = tmp_path / "workflow.yaml"
    path.write_text(text, encoding="utf-8")
    return {"PROCEDURE_CLOCK": clock, "WORKFLOW_FILE": str(path)}


def only_case(session: Session) -> Case:
    session.expire_all()
    return session.scalars(select(Case)).one()


def received_fields(client: FlaskClient, persona: Persona, case_id: int) -> dict:
    """Return the values recorded on the newest `received` step of a case."""
    answer = client.get(f"/api/v1/cases/{case_id}", headers=persona.headers())
    assert answer.status_code == 200, answer.get_json()
    views = [view for view in answer.get_json()["steps"] if view["id"] == "received"]
    return views[-1]["fields"]


def edit_received(
    client: FlaskClient, persona: Persona, case_id: int, **fields: Any
) -> None:
    answer = client.post(
        f"/api/v1/cases/{case_id}/fields",
        json={"step": "received", "fields": fields},
        headers=persona.headers(),
    )
    assert answer.status_code == 200, answer.get_json()


def test_agent_case_opens_with_application_and_unit(
    client: FlaskClient, agent: Agent, session: Session, head: Persona
) -> None:
    answer = post(
        client, agent, make_result(application="SIMPEG", unit="Biro Kepegawaian")
    )

    assert answer.status_code == 200, answer.get_json()
    case = only_case(session)
    assert case.application == "SIMPEG"
    assert case.unit == "Biro Kepegawaian"
    assert received_fields(client, head, case.id) == {
        "source": "agent",
        "application": "SIMPEG",
        "unit": "Biro Kepegawaian",
    }


def test_agent_case_moves_on_without_typing(
    client: FlaskClient, agent: Agent, session: Session, head: Persona
) -> None:
    post(client, agent, make_result(application="SIMPEG"))
    case_id = only_case(session).id

    answer = move(client, head, case_id, "assignment")

    assert answer.status_code == 200, answer.get_json()
    assert only_case(session).step == "assignment"


def test_agent_case_without_application_needs_typing(
    client: FlaskClient, agent: Agent, session: Session, head: Persona
) -> None:
    post(client, agent, make_result())
    case = only_case(session)

    answer = move(client, head, case.id, "assignment")

    assert case.application is None
    assert case.unit is None
    assert answer.status_code == 422
    assert answer.get_json()["field"] == "fields.application"


def test_agent_application_typed_later_wins(
    client: FlaskClient, agent: Agent, session: Session, head: Persona
) -> None:
    post(client, agent, make_result(application="SIMPEG"))
    case_id = only_case(session).id

    answer = move(client, head, case_id, "assignment", {"application": "SIKEU"})

    assert answer.status_code == 200, answer.get_json()
    assert only_case(session).application == "SIKEU"
    assert received_fields(client, head, case_id)["application"] == "SIKEU"


def test_repeat_keeps_value_a_person_edited(
    client: FlaskClient, agent: Agent, session: Session, head: Persona
) -> None:
    post(client, agent, make_result(application="SIMPEG", unit="Biro Kepegawaian"))
    case_id = only_case(session).id
    edit_received(client, head, case_id, application="SIKEU", unit="Biro Keuangan")

    answer = post(
        client,
        agent,
        make_result(
            at=BASE_TIME + minutes(120), application="SIMPEG", unit="Biro Kepegawaian"
        ),
    )

    assert answer.get_json()["cases"][0]["action"] == "repeated"
    case = only_case(session)
    assert case.application == "SIKEU"
    assert case.unit == "Biro Keuangan"
    fields = received_fields(client, head, case_id)
    assert fields["application"] == "SIKEU"
    assert fields["unit"] == "Biro Keuangan"


def test_repeat_keeps_draft_value_not_yet_on_case(
    client: FlaskClient, agent: Agent, session: Session, head: Persona
) -> None:
    post(client, agent, make_result())
    case = only_case(session)
    edit_received(client, head, case.id, unit="Biro Keuangan")
    # With the case row cleared, the draft on the step record is the only
    # place the person's value is kept, and it must still win.
    case.unit = None
    session.commit()

    post(
        client,
        agent,
        make_result(at=BASE_TIME + minutes(120), unit="Biro Kepegawaian"),
    )

    assert only_case(session).unit is None
    assert received_fields(client, head, case.id)["unit"] == "Biro Keuangan"


def test_repeat_fills_value_the_case_lacks(
    client: FlaskClient, agent: Agent, session: Session, head: Persona
) -> None:
    post(client, agent, make_result())
    case_id = only_case(session).id

    post(
        client,
        agent,
        make_result(at=BASE_TIME + minutes(120), application="SIMPEG"),
    )

    case = only_case(session)
    assert case.application == "SIMPEG"
    assert case.unit is None
    assert received_fields(client, head, case_id)["application"] == "SIMPEG"
    repeated = session.scalars(
        select(CaseEvent).where(CaseEvent.kind == "repeated")
    ).one()
    assert repeated.detail["filled"] == {"application": "SIMPEG"}


def test_repeat_fill_readable_in_history(
    app: Flask, client: FlaskClient, agent: Agent, session: Session
) -> None:
    post(client, agent, make_result())
    post(
        client,
        agent,
        make_result(at=BASE_TIME + minutes(120), application="SIMPEG"),
    )
    repeated = session.scalars(
        select(CaseEvent).where(CaseEvent.kind == "repeated")
    ).one()

    # event_detail hides complaints by the request's user, so it needs a request.
    with app.test_request_context():
        pairs = dict(event_detail(repeated))

    assert pairs["Aplikasi (Application)"] == "SIMPEG"


def test_repeat_keeps_agent_value_of_first_result(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    post(client, agent, make_result(application="SIMPEG"))

    post(
        client,
        agent,
        make_result(at=BASE_TIME + minutes(120), application="SIKEU"),
    )

    assert only_case(session).application == "SIMPEG"


def test_repeat_after_first_step_fills_nothing(
    client: FlaskClient, agent: Agent, session: Session, head: Persona
) -> None:
    post(client, agent, make_result(unit="Biro Kepegawaian"))
    case_id = only_case(session).id
    move(client, head, case_id, "assignment", {"application": "SIMPEG"})
    edit_received(client, head, case_id, unit=None)
    case = only_case(session)
    case.unit = None
    session.commit()

    post(client, agent, make_result(at=BASE_TIME + minutes(120), unit="Biro Umum"))

    assert only_case(session).unit is None
    assert "unit" not in received_fields(client, head, case_id)


def test_reopen_fills_value_the_case_lacks(
    client: FlaskClient, agent: Agent, session: Session, head: Persona
) -> None:
    post(client, agent, make_result(application="SIMPEG"))
    case = only_case(session)
    close_case(session, case, "restored", BASE_TIME + minutes(60), "user:test")
    session.commit()

    answer = post(
        client,
        agent,
        make_result(
            at=BASE_TIME + minutes(120), application="SIKEU", unit="Biro Kepegawaian"
        ),
    )

    assert answer.get_json()["cases"][0]["action"] == "reopened"
    case = only_case(session)
    assert case.application == "SIMPEG"
    assert case.unit == "Biro Kepegawaian"
    fields = received_fields(client, head, case.id)
    assert fields["application"] == "SIMPEG"
    assert fields["unit"] == "Biro Kepegawaian"


def test_result_without_application_accepted(client: FlaskClient, agent: Agent) -> None:
    result = make_result()
    assert "application" not in result

    answer = post(client, agent, result, make_result("swap", application=None))

    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["accepted"] == 2


def test_result_application_blank_counts_as_unset(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    post(client, agent, make_result(application="  ", unit=" Biro Umum "))

    case = only_case(session)
    assert case.application is None
    assert case.unit == "Biro Umum"


@pytest.mark.parametrize("key", ["application", "unit"])
def test_result_case_field_of_max_length_accepted(
    client: FlaskClient, agent: Agent, session: Session, key: str
) -> None:
    answer = post(client, agent, make_result(**{key: "a" * 200}))

    assert answer.status_code == 200, answer.get_json()
    assert getattr(only_case(session), key) == "a" * 200


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("application", "a" * 201, "longer than the maximum of 200 characters"),
        ("unit", "u" * 201, "longer than the maximum of 200 characters"),
        ("application", 7, "expected a string, got int"),
        (
            "unit",
            "Biro\nUmum",
            "contains a line break or another control character; send one line",
        ),
    ],
)
def test_result_invalid_case_field_rejected(
    client: FlaskClient,
    agent: Agent,
    session: Session,
    key: str,
    value: Any,
    message: str,
) -> None:
    answer = post(client, agent, make_result(**{key: value}))

    assert answer.status_code == 422
    body = answer.get_json()
    assert body["field"] == f"results[0].{key}"
    assert body["error"] == f"results[0].{key}: {message}"
    assert session.scalars(select(Case)).all() == []


def test_closed_case_keeps_application(
    client: FlaskClient, agent: Agent, session: Session
) -> None:
    post(client, agent, make_result(application="SIMPEG"))
    case = only_case(session)
    close_case(session, case, "false_alarm", utcnow(), "user:test")
    session.commit()

    post(client, agent, make_result(at=BASE_TIME + minutes(120), application="SIKEU"))

    cases = session.scalars(select(Case).order_by(Case.id)).all()
    assert [case.application for case in cases] == ["SIMPEG", "SIKEU"]
