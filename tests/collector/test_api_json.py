"""Request bodies that claim to be JSON but cannot be parsed."""

from __future__ import annotations

import logging

import pytest
from flask.testing import FlaskClient

from .conftest import Agent, Persona, error_body

DEEPLY_NESTED = "[" * 100_000
NESTED_ANSWER = error_body(
    {"error": "the body is not valid JSON: it is nested too deeply", "field": ""}
)
JSON_HEADERS = {"Content-Type": "application/json"}


def _logged_tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.exc_info]


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.WARNING
    ]


def test_json_nested_results_is_400(
    client: FlaskClient, agent: Agent, caplog: pytest.LogCaptureFixture
) -> None:
    answer = client.post(
        "/api/v1/results",
        data=DEEPLY_NESTED,
        headers={**agent.headers(), **JSON_HEADERS},
    )

    assert answer.status_code == 400
    assert answer.get_json() == NESTED_ANSWER
    assert _logged_tracebacks(caplog) == []
    assert _warnings(caplog) == [
        "invalid JSON body on POST /api/v1/results: it is nested too deeply"
    ]


def test_json_nested_results_counts_invalid(client: FlaskClient, agent: Agent) -> None:
    client.post(
        "/api/v1/results",
        data=DEEPLY_NESTED,
        headers={**agent.headers(), **JSON_HEADERS},
    )

    metrics = client.get("/metrics").get_data(as_text=True)

    assert 'pelihara_ingest_errors_total{kind="invalid"} 1.0' in metrics


def test_json_nested_damage_report_is_400(
    client: FlaskClient, unit_user: Persona, caplog: pytest.LogCaptureFixture
) -> None:
    answer = client.post(
        "/api/v1/cases",
        data=DEEPLY_NESTED,
        headers={**unit_user.headers(), **JSON_HEADERS},
    )

    assert answer.status_code == 400
    assert answer.get_json() == NESTED_ANSWER
    assert _logged_tracebacks(caplog) == []


def test_json_syntax_error_is_400(client: FlaskClient, agent: Agent) -> None:
    answer = client.post(
        "/api/v1/results",
        data='{"agent": ',
        headers={**agent.headers(), **JSON_HEADERS},
    )

    assert answer.status_code == 400
    assert answer.get_json() == error_body(
        {
            "error": "the body is not valid JSON: Expecting value: line 1 column 11 "
            "(char 10)",
            "field": "",
        }
    )


def test_json_syntax_error_procedure_is_400(
    client: FlaskClient, unit_user: Persona
) -> None:
    answer = client.post(
        "/api/v1/cases",
        data="{",
        headers={**unit_user.headers(), **JSON_HEADERS},
    )

    assert answer.status_code == 400
    assert answer.get_json() == error_body(
        {
            "error": "the body is not valid JSON: Expecting property name enclosed in "
            "double quotes: line 1 column 2 (char 1)",
            "field": "",
        }
    )
