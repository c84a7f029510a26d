"""The loader on whole files and the agent: section."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from agent.config import ConfigError, default_spool, load_config, validate
from agent.spec import Category, Status

from .conftest import ConfigWriter, config_messages

MINIMAL_CHECK = """\
checks:
  - name: root-disk
    kind: disk
    path: /
"""


def test_config_full_example_loads(write_config: ConfigWriter, tmp_path: Path) -> None:
    (tmp_path / "agent.token").write_text("s3cret-token\n")
    path = write_config(
        """\
        agent:
          host: app-01
          collector: http://127.0.0.1:8080/
          token_file: agent.token
          listen: 127.0.0.1:9600
          spool: spool
          spool_max_size: 16MiB
        checks:
          - name: app-db
            kind: sql
            url: sqlite:///app.db
          - name: root-disk
            kind: disk
            category: hardware
            path: /
            warning: 80%
            critical: 90%
            interval: 1h30m
            timeout: 10s
            retries: 2
            retry_interval: 1m
            recover_after: 3
            open_case_on: [warning, critical]
            depends_on: [app-db]
        """
    )

    config = load_config(path, {})

    assert config.agent.host == "app-01"
    assert config.agent.collector == "http://127.0.0.1:8080"
    assert config.agent.token == "s3cret-token"
    assert config.agent.listen_host == "127.0.0.1"
    assert config.agent.listen_port == 9600
    assert config.agent.spool == tmp_path / "spool"
    assert config.agent.spool_max_bytes == 16 * 1024 * 1024
    disk = config.checks[1]
    assert disk.category is Category.HARDWARE
    assert disk.interval == 5400.0
    assert disk.timeout == 10.0
    assert disk.retries == 2
    assert disk.retry_interval == 60.0
    assert disk.recover_after == 3
    assert disk.open_case_on == frozenset({Status.WARNING, Status.CRITICAL})
    assert disk.depends_on == ("app-db",)
    assert disk.options["warning"] == 80.0
    assert disk.line == 12


def test_config_defaults(write_config: ConfigWriter) -> None:
    path = write_config(MINIMAL_CHECK)

    config = load_config(path, {"HOME": "/home/someone"})

    check = config.checks[0]
    assert config.agent.host == socket.gethostname()
    assert config.agent.collector is None
    assert config.agent.listen_port == 9531
    assert check.category is Category.HARDWARE
    assert check.interval == 7200.0
    assert check.timeout == 30.0
    assert check.retries == 0
    assert check.recover_after == 1
    assert check.open_case_on == frozenset({Status.CRITICAL})


def test_config_default_spool_for_root() -> None:
    spool = default_spool({"XDG_STATE_HOME": "/state"}, euid=0)

    assert spool == Path("/var/lib/pelihara/spool")


def test_config_default_spool_follows_xdg() -> None:
    spool = default_spool({"XDG_STATE_HOME": "/state", "HOME": "/home/u"}, euid=1000)

    assert spool == Path("/state/pelihara/spool")


def test_config_default_spool_under_home() -> None:
    spool = default_spool({"XDG_STATE_HOME": "", "HOME": "/home/u"}, euid=1000)

    assert spool == Path("/home/u/.local/state/pelihara/spool")


def test_config_default_spool_without_euid() -> None:
    spool = default_spool({"HOME": "/home/u"}, euid=None)

    assert spool == Path("/home/u/.local/state/pelihara/spool")


def test_config_default_spool_for_this_user(write_config: ConfigWriter) -> None:
    path = write_config(MINIMAL_CHECK)
    environ = {"XDG_STATE_HOME": "/state"}

    config = load_config(path, environ)

    assert config.agent.spool == default_spool(environ, os.geteuid())


def test_config_collects_all_errors(write_config: ConfigWriter) -> None:
    path = write_config(
        """\
        checks:
          - name: a
            kind: disk
            path: /
            warning: 95x
          - name: b
            kind: memory
            interval: soon
        """
    )

    assert config_messages(path) == [
        f"{path}:5: checks[0].warning: invalid percent '95x'; write it like 90%",
        f"{path}:8: checks[1].interval: invalid duration 'soon'; "
        "write it like 90s, 5m, 1h30m or 500ms",
    ]


def test_config_interval_above_maximum(write_config: ConfigWriter) -> None:
    path = write_config(
        """\
        checks:
          - name: a
            kind: memory
            interval: 99999999999999999999d
            retry_interval: 367d
        """
    )

    assert config_messages(path) == [
        f"{path}:4: checks[0].interval: 99999999999999999999d is above the maximum "
        "366d; use a smaller value",
        f"{path}:5: checks[0].retry_interval: 367d is above the maximum 366d; "
        "use a smaller value",
    ]


def test_config_error_str_lists_issues(write_config: ConfigWriter) -> None:
    path = write_config("checks: []\n")

    with pytest.raises(ConfigError) as caught:
        load_config(path, {})

    assert str(caught.value) == (
        f"{path}:1: checks: the list is empty; add at least one check"
    )


def test_config_validate_returns_issues(write_config: ConfigWriter) -> None:
    path = write_config("checks: []\n")

    issues = validate(path, {})

    assert [(issue.line, issue.key) for issue in issues] == [(1, "checks")]


def test_config_validate_passes_valid_file(write_config: ConfigWriter) -> None:
    path = write_config(MINIMAL_CHECK)

    assert validate(path, {}) == []


def test_config_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"

    assert config_messages(path) == [
        f"{path}: cannot read the file: [Errno 2] No such file or directory: "
        f"'{path}'; check the path"
    ]


def test_config_empty_file(write_config: ConfigWriter) -> None:
    path = write_config("")

    assert config_messages(path) == [
        f"{path}:1: the file is empty; add an agent: section and a checks: list"
    ]


def test_config_yaml_syntax_error(write_config: ConfigWriter) -> None:
    path = write_config("checks:\n  - name: [a\n")

    assert config_messages(path) == [
        f"{path}:3: invalid YAML: expected ',' or ']', but got '<stream end>'; "
        "fix the syntax"
    ]


def test_config_missing_checks(write_config: ConfigWriter) -> None:
    path = write_config("agent:\n  host: a\n")

    assert config_messages(path) == [
        f"{path}:1: checks: missing; add a list with at least one check"
    ]


def test_config_top_level_unknown_key(write_config: ConfigWriter) -> None:
    path = write_config(MINIMAL_CHECK + "maintenence: []\n")

    assert config_messages(path) == [
        f"{path}:5: maintenence: unknown key; did you mean 'maintenance'?"
    ]


def test_config_duplicate_key(write_config: ConfigWriter) -> None:
    path = write_config(MINIMAL_CHECK + "    path: /tmp\n")

    assert config_messages(path) == [
        f"{path}:5: checks[0].path: duplicate key; it is first set on line 4; keep one"
    ]


def test_config_merge_key_supplies_defaults(write_config: ConfigWriter) -> None:
    path = write_config(
        """\
        checks:
          - &base
            name: first
            kind: memory
            interval: 10m
          - <<: *base
            name: second
        """
    )

    config = load_config(path, {})

    assert config.checks[1].name == "second"
    assert config.checks[1].interval == 600.0


def test_agent_unknown_key(write_config: ConfigWriter) -> None:
    path = write_config("agent:\n  colector: http://127.0.0.1:8080\n" + MINIMAL_CHECK)

    assert config_messages(path) == [
        f"{path}:2: agent.colector: unknown key; did you mean 'collector'?"
    ]


def test_agent_token_from_environment(write_config: ConfigWriter) -> None:
    path = write_config(
        "agent:\n  collector: http://127.0.0.1:8080\n"
        "  token: ${PELIHARA_AGENT_TOKEN}\n" + MINIMAL_CHECK
    )

    config = load_config(path, {"PELIHARA_AGENT_TOKEN": "abc123"})

    assert config.agent.token == "abc123"


def test_agent_token_not_in_repr(write_config: ConfigWriter) -> None:
    path = write_config("agent:\n  token: abc123\n" + MINIMAL_CHECK)

    config = load_config(path, {})

    assert "abc123" not in repr(config)


def test_agent_token_variable_missing(write_config: ConfigWriter) -> None:
    path = write_config(
        "agent:\n  collector: http://127.0.0.1:8080\n"
        "  token: ${PELIHARA_AGENT_TOKEN}\n" + MINIMAL_CHECK
    )

    assert config_messages(path) == [
        f"{path}:3: agent.token: environment variable PELIHARA_AGENT_TOKEN is not "
        "set; set it or write ${PELIHARA_AGENT_TOKEN:-default}"
    ]


def test_agent_variable_default(write_config: ConfigWriter) -> None:
    path = write_config("agent:\n  host: ${HOST_NAME:-fallback-01}\n" + MINIMAL_CHECK)

    config = load_config(path, {})

    assert config.agent.host == "fallback-01"


def test_agent_variable_literal_dollar(write_config: ConfigWriter) -> None:
    path = write_config("agent:\n  host: a$${b}\n" + MINIMAL_CHECK)

    config = load_config(path, {})

    assert config.agent.host == "a${b}"


def test_agent_variable_invalid_reference(write_config: ConfigWriter) -> None:
    path = write_config("agent:\n  host: ${1x}\n" + MINIMAL_CHECK)

    assert config_messages(path) == [
        f"{path}:2: agent.host: invalid ${{...}} reference; write ${{NAME}} or "
        "${NAME:-default}, or $${ for a literal ${"
    ]


def test_agent_collector_needs_token(write_config: ConfigWriter) -> None:
    path = write_config("agent:\n  collector: http://127.0.0.1:8080\n" + MINIMAL_CHECK)

    assert config_messages(path) == [
        f"{path}:2: agent.token: missing; a collector needs token or token_file"
    ]


def test_agent_token_and_token_file(write_config: ConfigWriter) -> None:
    path = write_config("agent:\n  token: a\n  token_file: t\n" + MINIMAL_CHECK)

    assert config_messages(path) == [
        f"{path}:3: agent.token_file: set either token or token_file, not both"
    ]


def test_agent_token_file_missing(write_config: ConfigWriter, tmp_path: Path) -> None:
    path = write_config("agent:\n  token_file: agent.token\n" + MINIMAL_CHECK)

    assert config_messages(path) == [
        f"{path}:2: agent.token_file: cannot read {tmp_path / 'agent.token'}: "
        "No such file or directory; create it with "
        "`pelihara-collector agent-token HOST --output PATH`"
    ]


def test_agent_token_file_empty(write_config: ConfigWriter, tmp_path: Path) -> None:
    (tmp_path / "agent.token").write_text("\n")
    path = write_config("agent:\n  token_file: agent.token\n" + MINIMAL_CHECK)

    assert config_messages(path) == [
        f"{path}:2: agent.token_file: the token is empty; give the agent token of "
        "this host"
    ]


def test_agent_token_with_space_not_shown(write_config: ConfigWriter) -> None:
    path = write_config("agent:\n  token: 'abc def'\n" + MINIMAL_CHECK)

    assert config_messages(path) == [
        f"{path}:2: agent.token: the token contains white space; give the token on "
        "one line"
    ]


def test_agent_collector_invalid_url(write_config: ConfigWriter) -> None:
    path = write_config("agent:\n  collector: 127.0.0.1:8080\n" + MINIMAL_CHECK)

    assert config_messages(path) == [
        f"{path}:2: agent.collector: invalid URL '127.0.0.1:8080'; write it like "
        "http://127.0.0.1:8080"
    ]


def test_agent_collector_credentials_redacted(write_config: ConfigWriter) -> None:
    path = write_config(
        "agent:\n  collector: http://user:hunter2@127.0.0.1:8080\n" + MINIMAL_CHECK
    )

    assert config_messages(path) == [
        f"{path}:2: agent.collector: the URL 'http://user:***@127.0.0.1:8080' "
        "contains credentials; put the token in token or token_file instead"
    ]


def test_agent_collector_query_token_redacted(write_config: ConfigWriter) -> None:
    path = write_config(
        "agent:\n  collector: http://127.0.0.1:8080/?token=QueryTok3nSecret\n"
        "  token: t\n" + MINIMAL_CHECK
    )

    assert config_messages(path) == [
        f"{path}:2: agent.collector: the URL 'http://127.0.0.1:8080/?token=***' "
        "has a query or fragment; give only the base URL"
    ]


def test_agent_every_bad_key_reported(write_config: ConfigWriter) -> None:
    path = write_config(
        "agent:\n  spool_max_size: huge\n  listen: nowhere\n  batch_size: 0\n"
        + MINIMAL_CHECK
    )

    assert config_messages(path) == [
        f"{path}:2: agent.spool_max_size: invalid size 'huge'; write it like "
        "500MiB, 1.5GB or 1024 (bytes)",
        f"{path}:3: agent.listen: invalid address 'nowhere'; write it like "
        "127.0.0.1:9531",
        f"{path}:4: agent.batch_size: 0 is below the minimum 1; use a larger value",
    ]


def test_agent_host_too_long_rejected(write_config: ConfigWriter) -> None:
    path = write_config("agent:\n  host: " + "h" * 256 + "\n" + MINIMAL_CHECK)

    assert config_messages(path) == [
        f"{path}:2: agent.host: 256 characters, more than the maximum of 255; use "
        "the host name the collector's token was issued for"
    ]


def test_agent_host_of_max_length_accepted(write_config: ConfigWriter) -> None:
    path = write_config("agent:\n  host: " + "h" * 255 + "\n" + MINIMAL_CHECK)

    assert load_config(path, {}).agent.host == "h" * 255


def test_agent_listen_ipv6(write_config: ConfigWriter) -> None:
    path = write_config("agent:\n  listen: '[::1]:9600'\n" + MINIMAL_CHECK)

    config = load_config(path, {})

    assert config.agent.listen_host == "::1"
    assert config.agent.listen_port == 9600


def test_agent_listen_invalid(write_config: ConfigWriter) -> None:
    path = write_config("agent:\n  listen: localhost\n" + MINIMAL_CHECK)

    assert config_messages(path) == [
        f"{path}:2: agent.listen: invalid address 'localhost'; write it like "
        "127.0.0.1:9531"
    ]


def test_agent_spool_max_size_invalid(write_config: ConfigWriter) -> None:
    path = write_config("agent:\n  spool_max_size: 64MB!\n" + MINIMAL_CHECK)

    assert config_messages(path) == [
        f"{path}:2: agent.spool_max_size: invalid size '64MB!'; write it like "
        "500MiB, 1.5GB or 1024 (bytes)"
    ]


def test_agent_spool_max_size_too_small(write_config: ConfigWriter) -> None:
    path = write_config("agent:\n  spool_max_size: 1kB\n" + MINIMAL_CHECK)

    assert config_messages(path) == [
        f"{path}:2: agent.spool_max_size: 1kB is below the minimum 1.0 MiB; use a "
        "larger value"
    ]


def test_agent_ca_bundle_missing(write_config: ConfigWriter, tmp_path: Path) -> None:
    path = write_config("agent:\n  ca_bundle: ca.pem\n" + MINIMAL_CHECK)

    assert config_messages(path) == [
        f"{path}:2: agent.ca_bundle: file not found: {tmp_path / 'ca.pem'}; give the "
        "path of a PEM file"
    ]


def test_agent_host_yaml_trap_kept_as_text(write_config: ConfigWriter) -> None:
    path = write_config("agent:\n  host: no\n" + MINIMAL_CHECK)

    config = load_config(path, {})

    assert config.agent.host == "no"


REPOSITORY = Path(__file__).resolve().parents[2]


def test_config_repository_checks_yaml_is_valid(tmp_path: Path) -> None:
    # scripts/run writes var/agent.token before the agent starts, so the
    # copy gets one; every other path in the file may be missing.
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "agent.token").write_text("token-for-validate\n")
    copy = tmp_path / "checks.yaml"
    copy.write_text((REPOSITORY / "checks.yaml").read_text())

    assert [str(issue) for issue in validate(copy, {})] == []


def test_config_repository_checks_yaml_paths(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "agent.token").write_text("token-for-validate\n")
    copy = tmp_path / "checks.yaml"
    copy.write_text((REPOSITORY / "checks.yaml").read_text())

    config = load_config(copy, {})

    checks = {check.name: check for check in config.checks}
    assert config.agent.spool == tmp_path / "var" / "spool"
    assert checks["collector-database"].options["url"] == (
        f"sqlite:///{tmp_path}/var/pelihara.db"
    )
    assert checks["collector-backup"].options["path"] == tmp_path / "var/backups/*.db"


def test_config_repository_checks_yaml_ports_from_environment(
    tmp_path: Path,
) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "agent.token").write_text("token-for-validate\n")
    copy = tmp_path / "checks.yaml"
    copy.write_text((REPOSITORY / "checks.yaml").read_text())
    environ = {"PELIHARA_PORT": "18123", "PELIHARA_AGENT_METRICS_PORT": "19531"}

    config = load_config(copy, environ)

    checks = {check.name: check for check in config.checks}
    assert config.agent.collector == "http://127.0.0.1:18123"
    assert config.agent.listen_port == 19531
    assert checks["collector-health"].options["url"] == (
        "http://127.0.0.1:18123/healthz"
    )


def test_config_repository_checks_yaml_default_ports(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "agent.token").write_text("token-for-validate\n")
    copy = tmp_path / "checks.yaml"
    copy.write_text((REPOSITORY / "checks.yaml").read_text())

    config = load_config(copy, {})

    checks = {check.name: check for check in config.checks}
    assert config.agent.collector == "http://127.0.0.1:8080"
    assert config.agent.listen_port == 9531
    assert checks["collector-health"].options["url"] == (
        "http://127.0.0.1:8080/healthz"
    )


def test_config_repository_checks_yaml_cpu_tolerates_builds(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "agent.token").write_text("token-for-validate\n")
    copy = tmp_path / "checks.yaml"
    copy.write_text((REPOSITORY / "checks.yaml").read_text())

    cpu = next(c for c in load_config(copy, {}).checks if c.name == "cpu")

    assert cpu.options["warning"] == 90.0
    assert cpu.options["critical"] == 98.0
    assert cpu.options["sample"] == 5.0
    assert cpu.retries == 2
    assert cpu.retry_interval == 60.0
