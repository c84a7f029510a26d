"""The application and work unit in checks.yaml, and how results carry them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.config import MAX_APPLICATION_CHARS, MAX_UNIT_CHARS, load_config
from agent.spec import Category, Result, Status
from collector import limits

from .conftest import ConfigWriter, config_messages

REPOSITORY = Path(__file__).resolve().parents[2]

TWO_CHECKS = """\
checks:
  - name: app-db
    kind: memory
  - name: root-disk
    kind: disk
    path: /
"""


def make_result(application: str | None, unit: str | None) -> Result:
    return Result(
        check="root-disk",
        kind="disk",
        category=Category.HARDWARE,
        status=Status.CRITICAL,
        message="/ is 93% used",
        values={},
        reason="threshold",
        observed_at=datetime(2026, 12, 4, 3, tzinfo=UTC),
        duration_seconds=0.01,
        application=application,
        unit=unit,
    )


def test_case_fields_agent_defaults_apply_to_every_check(
    write_config: ConfigWriter,
) -> None:
    path = write_config(
        "agent:\n  application: SIMPEG\n  unit: Biro Kepegawaian\n" + TWO_CHECKS
    )

    checks = load_config(path, {}).checks

    assert [check.application for check in checks] == ["SIMPEG", "SIMPEG"]
    assert [check.unit for check in checks] == ["Biro Kepegawaian"] * 2


def test_case_fields_check_overrides_agent_default(
    write_config: ConfigWriter,
) -> None:
    path = write_config(
        """\
        agent:
          application: SIMPEG
          unit: Biro Kepegawaian
        checks:
          - name: app-db
            kind: memory
            application: SIKEU
          - name: root-disk
            kind: disk
            path: /
            unit: Biro Umum
        """
    )

    app_db, root_disk = load_config(path, {}).checks

    assert app_db.application == "SIKEU"
    assert app_db.unit == "Biro Kepegawaian"
    assert root_disk.application == "SIMPEG"
    assert root_disk.unit == "Biro Umum"


def test_case_fields_unset_by_default(write_config: ConfigWriter) -> None:
    path = write_config(TWO_CHECKS)

    config = load_config(path, {})

    assert config.agent.application is None
    assert config.agent.unit is None
    assert [check.application for check in config.checks] == [None, None]
    assert [check.unit for check in config.checks] == [None, None]


def test_case_fields_null_inherits_agent_default(write_config: ConfigWriter) -> None:
    path = write_config(
        """\
        agent:
          application: SIMPEG
        checks:
          - name: app-db
            kind: memory
            application: ~
        """
    )

    assert load_config(path, {}).checks[0].application == "SIMPEG"


def test_case_fields_yaml_traps_kept_as_text(write_config: ConfigWriter) -> None:
    path = write_config(
        """\
        agent:
          application: no
          unit: 010
        checks:
          - name: app-db
            kind: memory
            application: 12:30
        """
    )

    config = load_config(path, {})

    assert config.agent.application == "no"
    assert config.agent.unit == "010"
    assert config.checks[0].application == "12:30"
    assert config.checks[0].unit == "010"


def test_case_fields_from_environment_and_stripped(
    write_config: ConfigWriter,
) -> None:
    path = write_config(
        """\
        agent:
          application: "  ${APP_NAME}  "
        checks:
          - name: app-db
            kind: memory
        """
    )

    config = load_config(path, {"APP_NAME": "SIMPEG"})

    assert config.agent.application == "SIMPEG"


def test_case_fields_of_max_length_accepted(write_config: ConfigWriter) -> None:
    path = write_config(
        f"agent:\n  application: {'a' * 200}\n  unit: {'u' * 200}\n" + TWO_CHECKS
    )

    agent = load_config(path, {}).agent

    assert agent.application == "a" * 200
    assert agent.unit == "u" * 200


def test_case_fields_limits_match_collector() -> None:
    assert MAX_APPLICATION_CHARS == limits.MAX_APPLICATION_CHARS
    assert MAX_UNIT_CHARS == limits.MAX_UNIT_CHARS


def test_case_fields_invalid_in_agent_section(write_config: ConfigWriter) -> None:
    path = write_config(
        f"agent:\n  application: {'a' * 201}\n  unit: ''\n" + TWO_CHECKS
    )

    assert config_messages(path) == [
        f"{path}:2: agent.application: 201 characters, more than the maximum of "
        "200 that the collector stores; shorten the application name",
        f"{path}:3: agent.unit: the work unit name is empty; give a name or "
        "remove the key",
    ]


def test_case_fields_invalid_in_check(write_config: ConfigWriter) -> None:
    path = write_config(
        """\
        checks:
          - name: app-db
            kind: memory
            application: "SIMPEG\\nSIKEU"
            unit: [Biro Umum]
          - name: root-disk
            kind: disk
            path: /
            unit: ${UNIT_NAME}
        """
    )

    assert config_messages(path) == [
        f"{path}:4: checks[0].application: the application name contains a line "
        "break or another control character; write it on one line",
        f"{path}:5: checks[0].unit: expected text, not a list or mapping",
        f"{path}:9: checks[1].unit: environment variable UNIT_NAME is not set; "
        "set it or write ${UNIT_NAME:-default}",
    ]


def test_case_fields_unknown_key_suggests_name(write_config: ConfigWriter) -> None:
    path = write_config(
        """\
        agent:
          aplication: SIMPEG
        checks:
          - name: app-db
            kind: memory
            units: Biro Umum
        """
    )

    assert config_messages(path) == [
        f"{path}:2: agent.aplication: unknown key; did you mean 'application'?",
        f"{path}:6: checks[0].units: unknown key; did you mean 'unit'?",
    ]


def test_result_payload_carries_case_fields() -> None:
    payload = make_result("SIMPEG", "Biro Kepegawaian").to_payload()

    assert payload["application"] == "SIMPEG"
    assert payload["unit"] == "Biro Kepegawaian"


def test_result_payload_leaves_out_unset_case_fields() -> None:
    payload = make_result(None, None).to_payload()

    assert "application" not in payload
    assert "unit" not in payload


@pytest.mark.parametrize(
    "check", ["collector-health", "collector-database", "collector-backup"]
)
def test_repository_checks_yaml_names_application(tmp_path: Path, check: str) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "agent.token").write_text("token-for-validate\n")
    copy = tmp_path / "checks.yaml"
    copy.write_text((REPOSITORY / "checks.yaml").read_text())

    checks = {spec.name: spec for spec in load_config(copy, {}).checks}

    assert checks[check].application == "Pelihara"
