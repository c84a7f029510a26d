"""The loader's rules for entries of the checks: list."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agent.config import load_config
from agent.spec import Category

from .conftest import ConfigWriter, config_messages


def test_checks_unknown_key_suggests_close_key(write_config: ConfigWriter) -> None:
    path = write_config(
        """\
        checks:
          - name: root-disk
            kind: disk
            path: /
            critcal: 95%
        """
    )

    assert config_messages(path) == [
        f"{path}:5: checks[0].critcal: unknown key; did you mean 'critical'?"
    ]


def test_checks_unknown_key_lists_known_keys(write_config: ConfigWriter) -> None:
    path = write_config(
        """\
        checks:
          - name: mem
            kind: memory
            zzz: 1
        """
    )

    assert config_messages(path) == [
        f"{path}:4: checks[0].zzz: unknown key; known keys are name, kind, category, "
        "interval, timeout, retries, retry_interval, recover_after, open_case_on, "
        "depends_on, application, unit, warning, critical"
    ]


def test_checks_unknown_kind_suggests_close_kind(write_config: ConfigWriter) -> None:
    path = write_config("checks:\n  - name: a\n    kind: dsk\n")

    assert config_messages(path) == [
        f"{path}:3: checks[0].kind: unknown kind 'dsk'; did you mean 'disk'?"
    ]


def test_checks_unknown_kind_lists_kinds(write_config: ConfigWriter) -> None:
    path = write_config("checks:\n  - name: x\n    kind: nosuchkind\n")

    assert config_messages(path) == [
        f"{path}:3: checks[0].kind: unknown kind 'nosuchkind'; use one of http, "
        "tcp, tls, process, command, sql, disk, memory, swap, cpu, load, "
        "temperature, network, uptime, backup"
    ]


def test_checks_every_error_of_one_check(write_config: ConfigWriter) -> None:
    path = write_config(
        """\
        checks:
          - name: mail
            kind: tcp
            host: 127.0.0.1
            port: 70000
            interval: 1m
            timeout: 5m
            retries: many
        """
    )

    assert config_messages(path) == [
        f"{path}:5: checks[0].port: 70000 is above the maximum 65535; use a "
        "smaller value",
        f"{path}:7: checks[0].timeout: the timeout 5m is longer than the interval "
        "1m; use a shorter timeout",
        f"{path}:8: checks[0].retries: invalid whole number 'many'; write it like 3",
    ]


def test_checks_threshold_order_beside_bad_key(write_config: ConfigWriter) -> None:
    path = write_config(
        """\
        checks:
          - name: root-disk
            kind: disk
            path: /
            warning: 95%
            critical: 90%
            open_case_on: [sometimes]
        """
    )

    assert config_messages(path) == [
        f"{path}:5: checks[0].warning: warning 95% must be below critical 90%; "
        "swap or change the values",
        f"{path}:7: checks[0].open_case_on[0]: invalid status 'sometimes'; use "
        "warning, critical or unknown",
    ]


def test_checks_invalid_threshold_not_compared(write_config: ConfigWriter) -> None:
    path = write_config(
        """\
        checks:
          - name: root-disk
            kind: disk
            path: /
            warning: lots
            critical: 50%
        """
    )

    assert config_messages(path) == [
        f"{path}:5: checks[0].warning: invalid percent 'lots'; write it like 90%"
    ]


def test_checks_prepare_runs_beside_common_error(
    write_config: ConfigWriter,
) -> None:
    path = write_config(
        """\
        checks:
          - name: web
            kind: http
            url: ftp://127.0.0.1/
            recover_after: 0
        """
    )

    assert config_messages(path) == [
        f"{path}:4: checks[0].url: invalid URL 'ftp://127.0.0.1/'; write it like "
        "http://127.0.0.1:8080/",
        f"{path}:5: checks[0].recover_after: 0 is below the minimum 1; use a "
        "larger value",
    ]


def test_checks_bad_kind_value_reported_once(write_config: ConfigWriter) -> None:
    path = write_config("checks:\n  - name: x\n    kind: [tcp]\n")

    assert config_messages(path) == [
        f"{path}:3: checks[0].kind: expected text, not a list or mapping"
    ]


def test_checks_missing_name_and_kind(write_config: ConfigWriter) -> None:
    path = write_config("checks:\n  - interval: 1h\n")

    assert config_messages(path) == [
        f"{path}:2: checks[0].name: missing; add it",
        f"{path}:2: checks[0].kind: missing; add it",
    ]


def test_checks_missing_kind_option(write_config: ConfigWriter) -> None:
    path = write_config("checks:\n  - name: web\n    kind: http\n")

    assert config_messages(path) == [
        f"{path}:2: checks[0].url: missing; http checks need it"
    ]


def test_checks_entry_not_a_mapping(write_config: ConfigWriter) -> None:
    path = write_config("checks:\n  - root-disk\n")

    assert config_messages(path) == [
        f"{path}:2: checks[0]: expected a check as a mapping of key: value"
    ]


def test_checks_not_a_list(write_config: ConfigWriter) -> None:
    path = write_config("checks:\n  name: a\n")

    assert config_messages(path) == [
        f"{path}:2: checks: expected a list of checks, each starting with '- name:'"
    ]


def test_checks_duplicate_name(write_config: ConfigWriter) -> None:
    path = write_config(
        """\
        checks:
          - name: mem
            kind: memory
          - name: mem
            kind: swap
        """
    )

    assert config_messages(path) == [
        f"{path}:4: checks[1].name: duplicate check name 'mem'; it is first used on "
        "line 2; give each check its own name"
    ]


def test_checks_invalid_name(write_config: ConfigWriter) -> None:
    path = write_config("checks:\n  - name: root disk\n    kind: memory\n")

    assert config_messages(path) == [
        f"{path}:2: checks[0].name: invalid name 'root disk'; use up to 100 letters, "
        "digits, '.', '_' and '-', starting with a letter or digit"
    ]


def test_checks_name_yaml_trap_kept_as_text(write_config: ConfigWriter) -> None:
    path = write_config(
        """\
        checks:
          - name: no
            kind: memory
          - name: 010
            kind: swap
          - name: 1e3
            kind: cpu
          - name: on
            kind: load
          - name: yes
            kind: uptime
        """
    )

    config = load_config(path, {})

    assert [check.name for check in config.checks] == ["no", "010", "1e3", "on", "yes"]


def test_checks_sexagesimal_kept_as_text(write_config: ConfigWriter) -> None:
    path = write_config(
        """\
        checks:
          - name: web
            kind: http
            url: http://127.0.0.1:8080/
            body_contains: 12:30
        """
    )

    config = load_config(path, {})

    assert config.checks[0].options["body_contains"] == "12:30"


def test_checks_unknown_dependency(write_config: ConfigWriter) -> None:
    path = write_config(
        """\
        checks:
          - name: app-db
            kind: memory
          - name: web
            kind: swap
            depends_on: [app-dbx]
        """
    )

    assert config_messages(path) == [
        f"{path}:6: checks[1].depends_on[0]: unknown check 'app-dbx'; did you mean "
        "'app-db'?"
    ]


def test_checks_dependency_cycle(write_config: ConfigWriter) -> None:
    path = write_config(
        """\
        checks:
          - name: a
            kind: memory
            depends_on: [c]
          - name: b
            kind: swap
            depends_on: [a]
          - name: c
            kind: cpu
            depends_on: b
        """
    )

    assert config_messages(path) == [
        f"{path}:4: checks[0].depends_on: dependency cycle a -> c -> b -> a; remove "
        "one of these dependencies"
    ]


def test_checks_self_dependency(write_config: ConfigWriter) -> None:
    path = write_config("checks:\n  - name: a\n    kind: memory\n    depends_on: [a]\n")

    assert config_messages(path) == [
        f"{path}:4: checks[0].depends_on: dependency cycle a -> a; remove one of "
        "these dependencies"
    ]


def test_checks_threshold_order_used(write_config: ConfigWriter) -> None:
    path = write_config(
        """\
        checks:
          - name: root-disk
            kind: disk
            path: /
            warning: 95%
            critical: 90%
        """
    )

    assert config_messages(path) == [
        f"{path}:5: checks[0].warning: warning 95% must be below critical 90%; swap "
        "or change the values"
    ]


def test_checks_threshold_order_against_default(write_config: ConfigWriter) -> None:
    path = write_config("checks:\n  - name: m\n    kind: memory\n    warning: 95%\n")

    assert config_messages(path) == [
        f"{path}:4: checks[0].warning: warning 95% must be below critical 90%; swap "
        "or change the values"
    ]


def test_checks_threshold_order_free(write_config: ConfigWriter) -> None:
    path = write_config(
        """\
        checks:
          - name: root-disk
            kind: disk
            path: /
            free_warning: 1GiB
            free_critical: 5GiB
        """
    )

    assert config_messages(path) == [
        f"{path}:5: checks[0].free_warning: free_warning 1GiB must be above "
        "free_critical 5GiB; swap or change the values"
    ]


def test_checks_threshold_order_days_left(write_config: ConfigWriter) -> None:
    path = write_config(
        "checks:\n  - name: cert\n    kind: tls\n    host: 127.0.0.1\n    warning: 5\n"
    )

    assert config_messages(path) == [
        f"{path}:5: checks[0].warning: warning 5 must be above critical 7; swap or "
        "change the values"
    ]


def test_checks_invalid_percent(write_config: ConfigWriter) -> None:
    path = write_config(
        "checks:\n  - name: d\n    kind: disk\n    path: /\n    critical: 95x\n"
    )

    assert config_messages(path) == [
        f"{path}:5: checks[0].critical: invalid percent '95x'; write it like 90%"
    ]


def test_checks_invalid_whole_number(write_config: ConfigWriter) -> None:
    path = write_config("checks:\n  - name: m\n    kind: memory\n    retries: two\n")

    assert config_messages(path) == [
        f"{path}:4: checks[0].retries: invalid whole number 'two'; write it like 3"
    ]


def test_checks_invalid_bool(write_config: ConfigWriter) -> None:
    path = write_config("checks:\n  - name: d\n    kind: disk\n    all: maybe\n")

    assert config_messages(path) == [
        f"{path}:4: checks[0].all: invalid value 'maybe'; use true or false"
    ]


def test_checks_invalid_choice(write_config: ConfigWriter) -> None:
    path = write_config("checks:\n  - name: l\n    kind: load\n    minutes: 10\n")

    assert config_messages(path) == [
        f"{path}:4: checks[0].minutes: invalid value '10'; use one of 1, 5, 15"
    ]


def test_checks_value_below_minimum(write_config: ConfigWriter) -> None:
    path = write_config("checks:\n  - name: m\n    kind: memory\n    interval: 0s\n")

    assert config_messages(path) == [
        f"{path}:4: checks[0].interval: 0s is below the minimum 1s; use a larger value"
    ]


def test_checks_list_expected_text(write_config: ConfigWriter) -> None:
    path = write_config("checks:\n  - name: [a, b]\n    kind: memory\n")

    assert config_messages(path) == [
        f"{path}:2: checks[0].name: expected text, not a list or mapping"
    ]


def test_checks_timeout_longer_than_interval(write_config: ConfigWriter) -> None:
    path = write_config(
        "checks:\n  - name: m\n    kind: memory\n    interval: 1m\n    timeout: 2m\n"
    )

    assert config_messages(path) == [
        f"{path}:5: checks[0].timeout: the timeout 2m is longer than the interval 1m; "
        "use a shorter timeout"
    ]


def test_checks_default_timeout_fits_short_interval(
    write_config: ConfigWriter,
) -> None:
    path = write_config("checks:\n  - name: m\n    kind: memory\n    interval: 10s\n")

    config = load_config(path, {})

    assert config.checks[0].timeout == 10.0


def test_checks_default_timeout_capped_at_30s(write_config: ConfigWriter) -> None:
    path = write_config("checks:\n  - name: m\n    kind: memory\n    interval: 5m\n")

    config = load_config(path, {})

    assert config.checks[0].timeout == 30.0


def test_checks_default_timeout_reaches_prepare(write_config: ConfigWriter) -> None:
    path = write_config(
        "checks:\n  - name: c\n    kind: cpu\n    interval: 2s\n    sample: 3s\n"
    )

    assert config_messages(path) == [
        f"{path}:5: checks[0].sample: the sample 3s is not shorter than the timeout "
        "2s; use a shorter sample or a longer timeout"
    ]


def test_checks_invalid_open_case_on(write_config: ConfigWriter) -> None:
    path = write_config(
        "checks:\n  - name: m\n    kind: memory\n    open_case_on: [critical, ok]\n"
    )

    assert config_messages(path) == [
        f"{path}:4: checks[0].open_case_on[1]: invalid status 'ok'; use warning, "
        "critical or unknown"
    ]


def test_checks_invalid_category(write_config: ConfigWriter) -> None:
    path = write_config("checks:\n  - name: m\n    kind: memory\n    category: infra\n")

    assert config_messages(path) == [
        f"{path}:4: checks[0].category: invalid category 'infra'; use one of "
        "application, database, hardware"
    ]


def test_checks_category_overrides_kind_default(write_config: ConfigWriter) -> None:
    path = write_config(
        "checks:\n  - name: b\n    kind: backup\n    category: database\n"
        "    path: b/*.db\n    max_age: 1d\n"
    )

    config = load_config(path, {})

    assert config.checks[0].category is Category.DATABASE


def test_checks_category_defaults_by_kind(write_config: ConfigWriter) -> None:
    path = write_config(
        "checks:\n  - name: db\n    kind: sql\n    url: sqlite:///a.db\n"
        "  - name: web\n    kind: tcp\n    host: 127.0.0.1\n    port: 80\n"
    )

    config = load_config(path, {})

    assert config.checks[0].category is Category.DATABASE
    assert config.checks[1].category is Category.APPLICATION


def test_checks_relative_path_from_config_folder(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    path = write_config(
        "checks:\n  - name: b\n    kind: backup\n    path: backups/*.db\n"
        "    max_age: 1d\n"
    )

    config = load_config(path, {})

    assert config.checks[0].options["path"] == tmp_path / "backups" / "*.db"


def test_checks_variable_in_option(write_config: ConfigWriter) -> None:
    path = write_config(
        "checks:\n  - name: m\n    kind: memory\n"
        "    critical: ${MEMORY_CRITICAL:-97%}\n"
    )

    config = load_config(path, {})

    assert config.checks[0].options["critical"] == 97.0


def test_checks_variable_missing(write_config: ConfigWriter) -> None:
    path = write_config(
        "checks:\n  - name: db\n    kind: sql\n    url: ${APP_DB_URL}\n"
    )

    assert config_messages(path) == [
        f"{path}:4: checks[0].url: environment variable APP_DB_URL is not set; set "
        "it or write ${APP_DB_URL:-default}"
    ]


def test_checks_sql_password_not_in_errors(write_config: ConfigWriter) -> None:
    path = write_config(
        "checks:\n  - name: db\n    kind: sql\n"
        "    url: nosuchdb://app:hunter2@127.0.0.1/app\n"
    )

    assert config_messages(path) == [
        f"{path}:4: checks[0].url: unknown database dialect in "
        "'nosuchdb://app:***@127.0.0.1/app'; use postgresql, mysql or sqlite with a "
        "driver like postgresql+psycopg"
    ]


def test_checks_sql_unencoded_password_not_in_errors(
    write_config: ConfigWriter,
) -> None:
    path = write_config(
        "checks:\n  - name: db\n    kind: sql\n"
        "    url: nosuchdb://app:${DB_PASSWORD}@127.0.0.1/app\n"
    )

    messages = config_messages(path, {"DB_PASSWORD": "ab/cd#ef?gh"})

    assert messages == [
        f"{path}:4: checks[0].url: unknown database dialect in "
        "'nosuchdb://app:***@127.0.0.1/app'; use postgresql, mysql or sqlite with a "
        "driver like postgresql+psycopg"
    ]


def test_checks_sql_password_from_variable_not_in_repr(
    write_config: ConfigWriter,
) -> None:
    path = write_config(
        "checks:\n  - name: db\n    kind: sql\n"
        "    url: postgresql+psycopg://app:${DB_PASSWORD}@127.0.0.1/app\n"
    )

    config = load_config(path, {"DB_PASSWORD": "hunter2"})

    assert config.checks[0].options["url"] == (
        "postgresql+psycopg://app:hunter2@127.0.0.1/app"
    )
    assert "hunter2" not in repr(config)


def test_checks_sqlite_relative_to_config_folder(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    path = write_config(
        "checks:\n  - name: db\n    kind: sql\n    url: sqlite:///var/a.db\n"
    )

    config = load_config(path, {})

    assert config.checks[0].options["url"] == f"sqlite:///{tmp_path}/var/a.db"


def test_checks_http_secret_header_not_in_repr(write_config: ConfigWriter) -> None:
    path = write_config(
        "checks:\n  - name: web\n    kind: http\n    url: http://127.0.0.1/\n"
        "    headers:\n      Authorization: Bearer hunter2\n      Accept: text/html\n"
    )

    config = load_config(path, {})

    assert config.checks[0].options["headers"]["Authorization"] == "Bearer hunter2"
    assert "hunter2" not in repr(config)


def test_checks_http_invalid_url(write_config: ConfigWriter) -> None:
    path = write_config("checks:\n  - name: web\n    kind: http\n    url: ftp://x/\n")

    assert config_messages(path) == [
        f"{path}:4: checks[0].url: invalid URL 'ftp://x/'; write it like "
        "http://127.0.0.1:8080/"
    ]


def test_checks_invalid_regex(write_config: ConfigWriter) -> None:
    path = write_config(
        "checks:\n  - name: web\n    kind: http\n    url: http://127.0.0.1/\n"
        "    body_regex: '(open'\n"
    )

    assert config_messages(path) == [
        f"{path}:5: checks[0].body_regex: invalid regular expression '(open': "
        "missing ), unterminated subpattern at position 0; fix the pattern"
    ]


def test_checks_command_string_split(write_config: ConfigWriter) -> None:
    path = write_config(
        "checks:\n  - name: plug\n    kind: command\n"
        "    command: check_thing -w 'a b' --flag\n"
    )

    config = load_config(path, {})

    assert config.checks[0].options["command"] == ["check_thing", "-w", "a b", "--flag"]


def test_checks_command_unbalanced_quote(write_config: ConfigWriter) -> None:
    path = write_config(
        "checks:\n  - name: plug\n    kind: command\n    command: check 'open\n"
    )

    assert config_messages(path) == [
        f"{path}:4: checks[0].command: cannot split 'check 'open': No closing "
        "quotation; check the quotes"
    ]


def test_checks_disk_path_and_all(write_config: ConfigWriter) -> None:
    path = write_config(
        "checks:\n  - name: d\n    kind: disk\n    path: /\n    all: true\n"
    )

    assert config_messages(path) == [
        f"{path}:5: checks[0].all: set either path or all: true, not both"
    ]


def test_checks_process_needs_selector(write_config: ConfigWriter) -> None:
    path = write_config("checks:\n  - name: p\n    kind: process\n")

    assert config_messages(path) == [
        f"{path}:2: checks[0].process_name: missing; give process_name, cmdline, "
        "cmdline_regex or pid_file"
    ]


def test_checks_cpu_sample_longer_than_timeout(write_config: ConfigWriter) -> None:
    path = write_config(
        "checks:\n  - name: c\n    kind: cpu\n    sample: 5s\n    timeout: 5s\n"
    )

    assert config_messages(path) == [
        f"{path}:4: checks[0].sample: the sample 5s is not shorter than the timeout "
        "5s; use a shorter sample or a longer timeout"
    ]


def test_checks_kind_schemas_are_complete() -> None:
    from agent.checks import KINDS, load_kind
    from agent.config import CHECK_OPTIONS

    common = {option.key for option in CHECK_OPTIONS}
    for kind in KINDS:
        module = load_kind(kind)
        keys = [option.key for option in module.OPTIONS]
        assert isinstance(module.CATEGORY, Category), kind
        assert callable(module.run), kind
        assert not common & set(keys), kind
        assert len(keys) == len(set(keys)), kind
        for pair in module.THRESHOLDS:
            assert {pair.warning, pair.critical} <= set(keys), kind


def test_checks_command_secret_env_not_in_repr(write_config: ConfigWriter) -> None:
    path = write_config(
        "checks:\n  - name: plug\n    kind: command\n    command: check_db\n"
        "    env:\n      PGPASSWORD: hunter2\n      PGHOST: 127.0.0.1\n"
    )

    config = load_config(path, {})

    assert config.checks[0].options["env"]["PGPASSWORD"] == "hunter2"
    assert "hunter2" not in repr(config)
    assert "127.0.0.1" in repr(config)


def test_checks_dependency_on_invalid_check(write_config: ConfigWriter) -> None:
    path = write_config(
        """\
        checks:
          - name: app-db
            kind: sql
          - name: web
            kind: memory
            depends_on: [app-db]
        """
    )

    assert config_messages(path) == [
        f"{path}:2: checks[0].url: missing; sql checks need it"
    ]


def test_checks_dependency_from_variable(write_config: ConfigWriter) -> None:
    path = write_config(
        """\
        checks:
          - name: app-db
            kind: memory
          - name: web
            kind: swap
            depends_on: ["${DATABASE_CHECK}"]
        """
    )

    config = load_config(path, {"DATABASE_CHECK": "app-db"})

    assert config.checks[1].depends_on == ("app-db",)


def test_checks_sql_driver_imported_only_to_run(write_config: ConfigWriter) -> None:
    path = write_config(
        "checks:\n  - name: db\n    kind: sql\n"
        "    url: postgresql+psycopg://monitor@127.0.0.1/app\n"
        "  - name: m\n    kind: memory\n"
    )
    script = (
        "import sys\n"
        "from agent.config import load_config\n"
        f"load_config({str(path)!r}, {{}})\n"
        "print('psycopg' in sys.modules)\n"
    )

    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "False"


def test_checks_without_sql_skip_sqlalchemy(write_config: ConfigWriter) -> None:
    path = write_config("checks:\n  - name: m\n    kind: memory\n")
    script = (
        "import sys\n"
        "from agent.config import load_config\n"
        f"load_config({str(path)!r}, {{}})\n"
        "print('sqlalchemy' in sys.modules)\n"
    )

    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "False"
