"""The sql kind against real SQLite files and local PostgreSQL and MariaDB servers."""

from __future__ import annotations

import os
import secrets
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.checks import sql
from agent.spec import CheckSpec, Status, redact_url

MakeCheck = Callable[..., CheckSpec]

POSTGRES_URL_VARIABLE = "PELIHARA_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MYSQL_URL_VARIABLE = "PELIHARA_TEST_MYSQL_URL"
DEFAULT_MYSQL_URL = "mysql+pymysql://root@127.0.0.1:3306/test"

# A query that keeps SQLite busy for minutes.
ENDLESS_QUERY = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
    "SELECT count(*) FROM n"
)


def run(make_check: MakeCheck, **options: object) -> sql.Outcome:
    check = make_check("sql", **options)
    return sql.run(check.options, check.timeout)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE jobs (id INTEGER, state TEXT)")
        connection.executemany(
            "INSERT INTO jobs VALUES (?, ?)", [(1, "done"), (2, "done"), (3, "queued")]
        )
    return path


def test_sql_sqlite_select_one(database: Path, make_check: MakeCheck) -> None:
    outcome = run(make_check, url="sqlite:///app.db")

    assert outcome.status is Status.OK
    assert outcome.message.startswith(
        f"sqlite:///{database}: query returned 1 rows in "
    )
    assert outcome.values["rows"] == 1


def test_sql_expect_value(database: Path, make_check: MakeCheck) -> None:
    outcome = run(
        make_check,
        url="sqlite:///app.db",
        query="SELECT count(*) FROM jobs WHERE state = 'queued'",
        expect="1",
    )

    assert outcome.status is Status.OK


def test_sql_expect_mismatch(database: Path, make_check: MakeCheck) -> None:
    outcome = run(
        make_check,
        url="sqlite:///app.db",
        query="SELECT state FROM jobs WHERE id = 3",
        expect="done",
    )

    assert outcome.status is Status.CRITICAL
    assert outcome.message == (
        f"sqlite:///{database}: query returned 'queued', expected 'done'"
    )
    assert outcome.reason == "mismatch"


def test_sql_expect_rows(database: Path, make_check: MakeCheck) -> None:
    outcome = run(
        make_check, url="sqlite:///app.db", query="SELECT * FROM jobs", expect_rows=2
    )

    assert outcome.status is Status.CRITICAL
    assert outcome.message == f"sqlite:///{database}: query returned 3 rows, expected 2"


def test_sql_min_rows(database: Path, make_check: MakeCheck) -> None:
    enough = run(
        make_check, url="sqlite:///app.db", query="SELECT * FROM jobs", min_rows=3
    )
    short = run(
        make_check, url="sqlite:///app.db", query="SELECT * FROM jobs", min_rows=4
    )

    assert enough.status is Status.OK
    assert short.status is Status.CRITICAL
    assert short.message == (
        f"sqlite:///{database}: query returned 3 rows, expected at least 4"
    )


def test_sql_query_error(database: Path, make_check: MakeCheck) -> None:
    outcome = run(
        make_check, url="sqlite:///app.db", query="SELECT * FROM missing_table"
    )

    assert outcome.status is Status.CRITICAL
    assert outcome.message == (
        f"sqlite:///{database}: query failed: no such table: missing_table"
    )
    assert outcome.reason == "error"


def test_sql_missing_sqlite_file_not_created(
    tmp_path: Path, make_check: MakeCheck
) -> None:
    outcome = run(make_check, url="sqlite:///gone.db")

    assert outcome.status is Status.CRITICAL
    assert outcome.message == (
        f"sqlite:///{tmp_path}/gone.db: database file {tmp_path}/gone.db not found"
    )
    assert outcome.reason == "not_found"
    assert not (tmp_path / "gone.db").exists()


def test_sql_sqlite_query_interrupted(database: Path, make_check: MakeCheck) -> None:
    started = time.monotonic()
    outcome = run(make_check, url="sqlite:///app.db", query=ENDLESS_QUERY, timeout="1s")
    elapsed = time.monotonic() - started

    assert outcome.status is Status.CRITICAL
    assert outcome.message == (
        f"sqlite:///{database}: no answer within 1s: interrupted"
    )
    assert outcome.reason == "timeout"
    assert elapsed < 3


def test_sql_latency_warning(database: Path, make_check: MakeCheck) -> None:
    outcome = run(make_check, url="sqlite:///app.db", warning="0s", critical="1m")

    assert outcome.status is Status.WARNING
    assert outcome.message.endswith("(warning at 0s)")


def test_sql_refused_hides_password(make_check: MakeCheck, closed_port: int) -> None:
    url = f"postgresql+psycopg://postgres:hunter2@127.0.0.1:{closed_port}/test"

    outcome = run(make_check, url=url, timeout="5s")

    assert outcome.status is Status.CRITICAL
    assert outcome.message.startswith(
        f"postgresql+psycopg://postgres:***@127.0.0.1:{closed_port}/test: "
        'connection failed: connection to server at "127.0.0.1", port '
        f"{closed_port} failed: Connection refused"
    )
    assert "hunter2" not in outcome.message
    assert outcome.reason == "refused"


def test_sql_refused_hides_query_password(
    make_check: MakeCheck, closed_port: int
) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port}/test?password=Sekr3t"

    outcome = run(make_check, url=url, timeout="5s")

    assert outcome.message.startswith(
        f"postgresql+psycopg://postgres@127.0.0.1:{closed_port}/test?password=***: "
        "connection failed: "
    )
    assert "Sekr3t" not in outcome.message


def test_sql_missing_file_hides_query_token(
    make_check: MakeCheck, tmp_path: Path
) -> None:
    outcome = run(make_check, url="sqlite:///missing.db?token=QueryTok3nSecret")

    assert outcome.message == (
        f"sqlite:///{tmp_path}/missing.db?token=***: database file "
        f"{tmp_path}/missing.db not found"
    )


@pytest.fixture
def postgres_url() -> str:
    """Return the test server's URL, skipping when it is not reachable."""
    import psycopg
    from sqlalchemy.engine import make_url

    configured = os.environ.get(POSTGRES_URL_VARIABLE)
    url = configured or DEFAULT_POSTGRES_URL
    server = make_url(url)
    try:
        psycopg.connect(
            host=server.host,
            port=server.port or 5432,
            user=server.username,
            password=server.password,
            dbname=server.database,
            connect_timeout=5,
        ).close()
    except psycopg.OperationalError as error:
        if configured:
            pytest.fail(f"PostgreSQL at {server.host}:{server.port} failed: {error}")
        pytest.skip(
            f"PostgreSQL not reachable at {server.host}:{server.port} ({error}); "
            f"set {POSTGRES_URL_VARIABLE} to require it"
        )
    return url


@pytest.mark.postgresql
def test_sql_postgres_select_one(postgres_url: str, make_check: MakeCheck) -> None:
    outcome = run(make_check, url=postgres_url, query="SELECT 41 + 1", expect="42")

    assert outcome.status is Status.OK


@pytest.mark.postgresql
def test_sql_postgres_statement_timeout(
    postgres_url: str, make_check: MakeCheck
) -> None:
    started = time.monotonic()
    outcome = run(
        make_check, url=postgres_url, query="SELECT pg_sleep(30)", timeout="1s"
    )
    elapsed = time.monotonic() - started

    assert outcome.status is Status.CRITICAL
    assert "canceling statement due to statement timeout" in outcome.message
    assert outcome.reason == "timeout"
    assert elapsed < 3


@pytest.mark.postgresql
def test_sql_postgres_unknown_table(postgres_url: str, make_check: MakeCheck) -> None:
    outcome = run(make_check, url=postgres_url, query="SELECT * FROM no_such_table_x")

    assert outcome.status is Status.CRITICAL
    assert 'relation "no_such_table_x" does not exist' in outcome.message
    assert outcome.reason == "error"


@pytest.fixture
def mysql_url() -> str:
    """Return the MariaDB or MySQL test server's URL, skipping when unreachable."""
    import pymysql
    from sqlalchemy.engine import make_url

    configured = os.environ.get(MYSQL_URL_VARIABLE)
    url = configured or DEFAULT_MYSQL_URL
    server = make_url(url)
    try:
        pymysql.connect(
            host=server.host,
            port=server.port or 3306,
            user=server.username,
            password=server.password or "",
            database=server.database,
            connect_timeout=5,
        ).close()
    except pymysql.err.MySQLError as error:
        if configured:
            pytest.fail(f"MySQL at {server.host}:{server.port} failed: {error}")
        pytest.skip(
            f"MySQL not reachable at {server.host}:{server.port} ({error}); "
            f"set {MYSQL_URL_VARIABLE} to require it"
        )
    return url


def running_queries(url: str, marker: str) -> int:
    """Return how many statements containing `marker` the server still runs."""
    import pymysql
    from sqlalchemy.engine import make_url

    server = make_url(url)
    connection = pymysql.connect(
        host=server.host,
        port=server.port or 3306,
        user=server.username,
        password=server.password or "",
        database=server.database,
        connect_timeout=5,
    )
    with connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM information_schema.processlist "
            "WHERE info LIKE %s AND id <> CONNECTION_ID()",
            (f"%{marker}%",),
        )
        return cursor.fetchone()[0]


@pytest.mark.mysql
def test_sql_mysql_select_one(mysql_url: str, make_check: MakeCheck) -> None:
    outcome = run(make_check, url=mysql_url, query="SELECT 41 + 1", expect="42")

    assert outcome.status is Status.OK
    assert outcome.message.startswith(
        f"{redact_url(mysql_url)}: query returned 1 rows in "
    )
    assert outcome.values["rows"] == 1


@pytest.mark.mysql
def test_sql_mysql_expect_mismatch(mysql_url: str, make_check: MakeCheck) -> None:
    outcome = run(make_check, url=mysql_url, query="SELECT 41 + 1", expect="43")

    assert outcome.status is Status.CRITICAL
    assert outcome.message == (
        f"{redact_url(mysql_url)}: query returned '42', expected '43'"
    )
    assert outcome.reason == "mismatch"


@pytest.mark.mysql
def test_sql_mysql_row_count(mysql_url: str, make_check: MakeCheck) -> None:
    three_rows = "SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3"

    exact = run(make_check, url=mysql_url, query=three_rows, expect_rows=3)
    wrong = run(make_check, url=mysql_url, query=three_rows, expect_rows=2)
    short = run(make_check, url=mysql_url, query=three_rows, min_rows=4)

    assert exact.status is Status.OK
    assert exact.values["rows"] == 3
    assert wrong.status is Status.CRITICAL
    assert wrong.message == (
        f"{redact_url(mysql_url)}: query returned 3 rows, expected 2"
    )
    assert wrong.reason == "mismatch"
    assert short.message == (
        f"{redact_url(mysql_url)}: query returned 3 rows, expected at least 4"
    )


@pytest.mark.mysql
def test_sql_mysql_query_timeout(mysql_url: str, make_check: MakeCheck) -> None:
    marker = f"pelihara_{secrets.token_hex(4)}"

    started = time.monotonic()
    outcome = run(
        make_check,
        url=mysql_url,
        query=f"SELECT SLEEP(10) AS {marker}",
        timeout="1s",
    )
    elapsed = time.monotonic() - started

    assert outcome.status is Status.CRITICAL
    assert outcome.message.startswith(f"{redact_url(mysql_url)}: no answer within 1s: ")
    assert outcome.reason == "timeout"
    assert elapsed < 5
    # The server stopped the statement too, so it does not keep sleeping.
    assert running_queries(mysql_url, marker) == 0


@pytest.mark.mysql
def test_sql_mysql_unknown_table(mysql_url: str, make_check: MakeCheck) -> None:
    outcome = run(make_check, url=mysql_url, query="SELECT * FROM no_such_table_x")

    assert outcome.status is Status.CRITICAL
    assert outcome.message.startswith(
        f"{redact_url(mysql_url)}: query failed: error 1146: Table "
    )
    assert outcome.reason == "error"


@pytest.mark.mysql
def test_sql_mysql_wrong_password_hidden(mysql_url: str, make_check: MakeCheck) -> None:
    from sqlalchemy.engine import make_url

    password = f"wrong-{secrets.token_hex(8)}"
    url = make_url(mysql_url).set(password=password)
    rendered = url.render_as_string(hide_password=False)

    outcome = run(make_check, url=rendered, timeout="5s")

    assert outcome.status is Status.CRITICAL
    assert outcome.message.startswith(
        f"{url.render_as_string(hide_password=True)}: connection failed: "
        "error 1045: Access denied for user "
    )
    assert password not in outcome.message
    assert outcome.reason == "error"


def test_sql_mysql_refused_hides_password(
    make_check: MakeCheck, closed_port: int
) -> None:
    url = f"mysql+pymysql://root:hunter2@127.0.0.1:{closed_port}/test"

    outcome = run(make_check, url=url, timeout="5s")

    assert outcome.status is Status.CRITICAL
    assert outcome.message.startswith(
        f"mysql+pymysql://root:***@127.0.0.1:{closed_port}/test: connection failed: "
        "error 2003: Can't connect to MySQL server on '127.0.0.1'"
    )
    assert "hunter2" not in outcome.message
    assert outcome.reason == "refused"
