"""Run a query against a database through SQLAlchemy and check the rows.

SQLAlchemy and the database driver are imported only when an sql check is
configured, so an agent without one never loads them.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent.checks.base import clean_text, one_line_outcome, threshold_outcome
from agent.checks.schema import Option, OptionContext, SecretURL, Threshold
from agent.spec import Category, Outcome, Status, redact_text, redact_url
from agent.units import format_duration

logger = logging.getLogger(__name__)

CATEGORY = Category.DATABASE

OPTIONS = (
    Option("url", "str", required=True, help="SQLAlchemy database URL"),
    Option("query", "str", default="SELECT 1", help="SQL to run"),
    Option("expect", "str", help="text the first column of the first row must equal"),
    Option("expect_rows", "int", minimum=0, help="exact number of rows"),
    Option("min_rows", "int", minimum=0, help="minimum number of rows"),
    Option(
        "connect_timeout",
        "duration",
        minimum=0.001,
        help="time allowed to connect; default: the check's timeout",
    ),
    Option("warning", "duration", help="connect and query time that warns"),
    Option("critical", "duration", help="connect and query time that is critical"),
)

THRESHOLDS = (Threshold("warning", "critical"),)

# Rows read at most; enough for any row-count rule a health query needs.
MAX_ROWS = 10_000

# Python module each SQLAlchemy driver name imports.
DRIVER_MODULES = {
    "pysqlite": "sqlite3",
    "psycopg": "psycopg",
    "psycopg2": "psycopg2",
    "pg8000": "pg8000",
    "pymysql": "pymysql",
    "mysqldb": "MySQLdb",
    "mysqlconnector": "mysql.connector",
}

EXTRAS = {"postgresql": "postgresql", "mysql": "mysql"}


def prepare(options: dict[str, Any], context: OptionContext) -> list[tuple[str, str]]:
    """Parse the URL, find its driver and anchor a relative SQLite path."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    shown = redact_url(options["url"])
    try:
        url = make_url(options["url"])
        dialect = url.get_dialect()
    except NoSuchModuleError:
        return [
            (
                "url",
                f"unknown database dialect in '{shown}'; use postgresql, mysql or "
                "sqlite with a driver like postgresql+psycopg",
            )
        ]
    except ArgumentError:
        return [
            (
                "url",
                f"invalid database URL '{shown}'; write it like "
                "postgresql+psycopg://user@127.0.0.1/name or sqlite:///file.db",
            )
        ]

    module = DRIVER_MODULES.get(dialect.driver)
    if module is not None and importlib.util.find_spec(module.split(".")[0]) is None:
        extra = EXTRAS.get(url.get_backend_name(), url.get_backend_name())
        return [
            (
                "url",
                f"the driver {module} for '{shown}' is not installed; install it "
                f"with pip install 'pelihara[{extra}]'",
            )
        ]

    if url.get_backend_name() == "sqlite" and url.database not in (
        None,
        "",
        ":memory:",
    ):
        database = Path(url.database).expanduser()
        if not database.is_absolute():
            url = url.set(database=str(context.base_dir / database))
    if options["expect_rows"] is not None and options["min_rows"] is not None:
        return [("min_rows", "set either expect_rows or min_rows, not both")]

    options["url"] = SecretURL(url.render_as_string(hide_password=False))
    if options["connect_timeout"] is None:
        options["connect_timeout"] = context.timeout
    return []


@one_line_outcome
def run(options: Mapping[str, Any], timeout: float) -> Outcome:
    """Connect, run the query within `timeout` and check the rows."""
    from sqlalchemy import create_engine, event, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError
    from sqlalchemy.pool import NullPool

    url = make_url(options["url"])
    shown = redact_url(options["url"])
    backend = url.get_backend_name()
    if backend == "sqlite" and url.database not in (None, "", ":memory:"):
        # SQLite creates a missing file, which would hide a lost database.
        if not Path(url.database).is_file():
            return Outcome(
                Status.CRITICAL,
                f"{shown}: database file {url.database} not found",
                reason="not_found",
            )

    started = time.monotonic()
    deadline = started + timeout
    connect_timeout = min(options["connect_timeout"], timeout)
    engine = create_engine(
        url,
        poolclass=NullPool,
        connect_args=_connect_args(backend, connect_timeout, timeout),
    )
    if backend == "sqlite":
        event.listen(engine, "connect", _interrupt_after(deadline))

    phase = "connect"
    try:
        with engine.connect() as connection:
            phase = "query"
            _limit_statement_time(connection, backend, deadline)
            result = connection.execute(text(options["query"]))
            rows = result.fetchmany(MAX_ROWS) if result.returns_rows else []
    except DBAPIError as error:
        return _failure(shown, phase, error.orig, options["url"], timeout)
    except SQLAlchemyError as error:
        return _failure(shown, phase, error, options["url"], timeout)
    finally:
        engine.dispose()

    elapsed = time.monotonic() - started
    values = {"latency_seconds": round(elapsed, 6), "rows": len(rows)}
    return _judge(rows, elapsed, shown, options, values)


def _connect_args(
    backend: str, connect_timeout: float, timeout: float
) -> dict[str, Any]:
    if backend == "postgresql":
        milliseconds = max(1, int(timeout * 1000))
        return {
            # libpq takes whole seconds and treats values below 2 as 2.
            "connect_timeout": max(2, math.ceil(connect_timeout)),
            "options": f"-c statement_timeout={milliseconds}",
        }
    if backend == "mysql":
        # NOTE: PyMySQL (tested) and mysqlclient take these arguments, but
        # mysql-connector-python accepts read_timeout and write_timeout only
        # from release 9.2.0, and older releases reject the connect.
        seconds = max(1, math.ceil(timeout))
        return {
            "connect_timeout": max(1, math.ceil(connect_timeout)),
            "read_timeout": seconds,
            "write_timeout": seconds,
        }
    if backend == "sqlite":
        return {"timeout": connect_timeout}
    return {}


def _limit_statement_time(connection: Any, backend: str, deadline: float) -> None:
    """Make the server stop the query at `deadline`, which the connect used part of.

    A client-side read timeout alone would leave the query running on the
    server after the check gave up.
    """
    from sqlalchemy import text

    remaining = max(0.001, deadline - time.monotonic())
    milliseconds = max(1, int(remaining * 1000))
    if backend == "postgresql":
        connection.execute(text(f"SET LOCAL statement_timeout = {milliseconds}"))
    elif backend == "mysql" and connection.dialect.is_mariadb:
        # MariaDB 10.1 and later take seconds here and stop any statement.
        connection.execute(text(f"SET SESSION max_statement_time = {remaining:.3f}"))
    elif backend == "mysql":
        # NOTE: MySQL 5.7.8 and later take milliseconds and stop only SELECT,
        # so other statements rely on the driver's read timeout. The tests
        # run against MariaDB only, so no test runs this branch.
        connection.execute(text(f"SET SESSION max_execution_time = {milliseconds}"))


def _interrupt_after(deadline: float) -> Any:
    """Return a connect hook that aborts SQLite statements after `deadline`."""

    def on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        # The handler runs every 1000 virtual machine steps; a true result
        # makes SQLite abort the statement with "interrupted".
        dbapi_connection.set_progress_handler(lambda: time.monotonic() > deadline, 1000)

    return on_connect


def _judge(
    rows: list[Any],
    elapsed: float,
    shown: str,
    options: Mapping[str, Any],
    values: dict[str, float],
) -> Outcome:
    count = len(rows)
    if options["expect_rows"] is not None and count != options["expect_rows"]:
        return Outcome(
            Status.CRITICAL,
            f"{shown}: query returned {count} rows, expected {options['expect_rows']}",
            values,
            reason="mismatch",
        )
    if options["min_rows"] is not None and count < options["min_rows"]:
        return Outcome(
            Status.CRITICAL,
            f"{shown}: query returned {count} rows, expected at least "
            f"{options['min_rows']}",
            values,
            reason="mismatch",
        )
    if options["expect"] is not None:
        found = _first_value(rows)
        if found != options["expect"]:
            return Outcome(
                Status.CRITICAL,
                f"{shown}: query returned {clean_text(found, 80)!r}, expected "
                f"{options['expect']!r}",
                values,
                reason="mismatch",
            )

    message = f"{shown}: query returned {count} rows in {format_duration(elapsed)}"
    return threshold_outcome(
        elapsed,
        message,
        values,
        options,
        format_duration,
    )


def _first_value(rows: list[Any]) -> str:
    if not rows or len(rows[0]) == 0:
        return "(no rows)"
    value = rows[0][0]
    return "NULL" if value is None else str(value)


# Words in driver errors that mean a time limit stopped the connect or query:
# PostgreSQL's statement_timeout, SQLite's interrupt, MariaDB's
# max_statement_time, MySQL's max_execution_time and socket timeouts.
_TIMEOUT_MARKS = ("statement timeout", "interrupted", "timed out", "timeout expired")

_CONNECTION_FAILED = "connection failed:"

# Words that mean no server listens at the address or it cannot be reached.
_REFUSED_MARKS = ("refused", "can't connect", "could not connect", "no route")


def _failure(
    shown: str, phase: str, error: BaseException, url: str, timeout: float
) -> Outcome:
    """Classify an error raised while connecting (`phase` "connect") or querying.

    Driver errors may repeat the password or query parameters of `url`, so
    its secrets are hidden in the error text.
    """
    detail = clean_text(redact_text(_error_text(error), url), 200)
    lowered = detail.lower()
    if any(mark in lowered for mark in _TIMEOUT_MARKS):
        return Outcome(
            Status.CRITICAL,
            f"{shown}: no answer within {timeout:g}s: {detail}",
            reason="timeout",
        )
    if phase == "query":
        return Outcome(
            Status.CRITICAL, f"{shown}: query failed: {detail}", reason="error"
        )
    refused = any(mark in lowered for mark in _REFUSED_MARKS)
    # psycopg 3 starts its errors with the same words as this message.
    if lowered.startswith(_CONNECTION_FAILED):
        detail = detail[len(_CONNECTION_FAILED) :].lstrip()
    return Outcome(
        Status.CRITICAL,
        f"{shown}: {_CONNECTION_FAILED} {detail}",
        reason="refused" if refused else "error",
    )


def _error_text(error: BaseException) -> str:
    """Return a driver error as one line of text.

    PyMySQL and mysqlclient raise errors with args (code, message), shown
    like `error 1146: Table 'test.jobs' doesn't exist`.
    """
    arguments = error.args
    if (
        len(arguments) == 2
        and isinstance(arguments[0], int)
        and isinstance(arguments[1], str)
    ):
        return f"error {arguments[0]}: {arguments[1]}"
    return str(error)
