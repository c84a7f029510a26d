"""The `pelihara-collector` command: serve, tokens, users and backups."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from collector import __version__
from collector.backup import BackupError, backup_database
from collector.db import (
    Database,
    create_schema,
    get_database,
    redact,
    resolve_data_dir,
    resolve_database_url,
)
from collector.heartbeat import DEFAULT_CHECK_SECONDS, DEFAULT_GRACE_SECONDS
from collector.models import ROLES
from collector.tokens import (
    TokenError,
    create_agent_token,
    create_user,
    list_agent_tokens,
    revoke_agent_token,
)

logger = logging.getLogger(__name__)
PROGRAM = "pelihara-collector"
#: gunicorn's default access log format with the process id of the worker
#: that served the request appended as `<pid>`.
ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(p)s'


class CommandError(Exception):
    """A failed command; main prints the message and exits with status 2."""


def _settings(arguments: argparse.Namespace) -> tuple[Path, str]:
    data_dir = resolve_data_dir(arguments.data_dir)
    return data_dir, resolve_database_url(arguments.database_url, data_dir)


@contextlib.contextmanager
def _open_database(arguments: argparse.Namespace) -> Iterator[Database]:
    _, url = _settings(arguments)
    database = Database(url)
    try:
        create_schema(database.engine)
        yield database
    finally:
        database.dispose()


def _write_secret(path: Path, text: str) -> None:
    # Created with mode 0600 from the start, so the token is never readable
    # by others, not even for a moment.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text + "\n")


def command_agent_token(arguments: argparse.Namespace) -> int:
    with _open_database(arguments) as database, database.session() as session:
        record, token = create_agent_token(session, arguments.host)
        session.commit()
        token_id = record.id
    if arguments.output:
        _write_secret(Path(arguments.output), token)
        print(
            f"agent token {token_id} for host {arguments.host} created and "
            f"written to {arguments.output}"
        )
    else:
        print(f"agent token {token_id} for host {arguments.host} created (shown once):")
        print(token)
    return 0


def command_agent_tokens(arguments: argparse.Namespace) -> int:
    with _open_database(arguments) as database, database.session() as session:
        records = list_agent_tokens(session)
        print(
            f"{'ID':>4}  {'HOST':<24} {'PREFIX':<12} {'CREATED':<20} "
            f"{'LAST USED':<20} REVOKED"
        )
        for record in records:
            print(
                f"{record.id:>4}  {record.host.name:<24} {record.prefix:<12} "
                f"{_when(record.created_at):<20} {_when(record.last_used_at):<20} "
                f"{_when(record.revoked_at)}"
            )
    return 0


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value is not None else "-"


def command_revoke_token(arguments: argparse.Namespace) -> int:
    with _open_database(arguments) as database, database.session() as session:
        record = revoke_agent_token(session, arguments.id)
        session.commit()
        print(f"agent token {record.id} of host {record.host.name} revoked")
    return 0


def command_create_user(arguments: argparse.Namespace) -> int:
    password = None
    if arguments.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    with _open_database(arguments) as database, database.session() as session:
        created = create_user(
            session,
            arguments.name,
            arguments.role,
            unit=arguments.unit,
            vendor=arguments.vendor,
            password=password,
        )
        session.commit()
    print(f"user {arguments.name} created with role {arguments.role}")
    print(f"API token (shown once): {created.api_token}")
    if created.password_generated:
        print(f"password (shown once): {created.password}")
    return 0


def command_backup(arguments: argparse.Namespace) -> int:
    data_dir, url = _settings(arguments)
    output_dir = Path(arguments.output_dir) if arguments.output_dir else None
    target = backup_database(url, output_dir or data_dir / "backups")
    print(target)
    return 0


class CollectorServer(BaseApplication):
    """gunicorn running the collector, configured from the command line.

    Each worker builds its own application after the fork (no preload), so
    no database connection is shared between processes. Each worker also
    runs the heartbeat monitor; the open_key constraint keeps their cases
    to one per host.
    """

    def __init__(self, options: dict[str, Any], app_config: dict[str, Any]) -> None:
        self.options = options
        self.app_config = app_config
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        # gunicorn 27 opens a control socket at one fixed path per user, which
        # two collectors on one machine would fight over; it is not needed.
        if "control_socket_disable" in self.cfg.settings:
            self.cfg.set("control_socket_disable", True)

    def load(self) -> Any:
        from collector.app import create_app

        return create_app(dict(self.app_config))


def command_check_overdue(arguments: argparse.Namespace) -> int:
    from collector.app import create_app
    from collector.procedure_status import run_overdue_check

    data_dir, url = _settings(arguments)
    # The background check is off: this command runs the check once itself.
    app = create_app(
        {"DATA_DIR": str(data_dir), "DATABASE_URL": url, "OVERDUE_CHECK_SECONDS": 0}
    )
    try:
        notice_ids = run_overdue_check(app)
    finally:
        get_database(app).dispose()
    count = len(notice_ids)
    if count == 0:
        print("0 new overdue notices created")
    elif count == 1:
        print(f"1 new overdue notice created (id {notice_ids[0]})")
    else:
        listed = ", ".join(str(notice_id) for notice_id in notice_ids)
        print(f"{count} new overdue notices created (ids {listed})")
    return 0


def command_serve(arguments: argparse.Namespace) -> int:
    data_dir, url = _settings(arguments)
    # Made once here, before the workers start, so they do not race to
    # create tables.
    database = Database(url)
    create_schema(database.engine)
    database.dispose()
    logger.info(
        "serving on %s:%d with %d workers of %d threads, database %s",
        arguments.host,
        arguments.port,
        arguments.workers,
        arguments.threads,
        redact(url),
    )
    options = {
        "bind": f"{arguments.host}:{arguments.port}",
        "workers": arguments.workers,
        "threads": arguments.threads,
        "worker_class": "gthread",
        "accesslog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        "graceful_timeout": 10,
        "timeout": 60,
    }
    app_config = {
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": url,
        "HEARTBEAT_SECONDS": arguments.heartbeat_seconds,
    }
    if arguments.heartbeat_grace_seconds is not None:
        app_config["HEARTBEAT_GRACE_SECONDS"] = arguments.heartbeat_grace_seconds
    CollectorServer(options, app_config).run()
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid number of seconds {text!r}; expected e.g. 300"
        ) from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Receive agent results and track maintenance cases.",
    )
    parser.add_argument(
        "--version", action="version", version=f"{PROGRAM} {__version__}"
    )
    parser.add_argument(
        "--database-url",
        help="SQLAlchemy database URL (default $PELIHARA_DATABASE_URL, else "
        "SQLite in the data folder)",
    )
    parser.add_argument(
        "--data-dir",
        help="folder for the SQLite file, the secret key and backups "
        "(default $PELIHARA_DATA_DIR, else ./var)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the web server (gunicorn)")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    serve.add_argument(
        "--port", type=int, default=8080, help="TCP port to listen on (default 8080)"
    )
    serve.add_argument(
        "--workers", type=_positive, default=2, help="worker processes (default 2)"
    )
    serve.add_argument(
        "--threads", type=_positive, default=4, help="threads per worker (default 4)"
    )
    serve.add_argument(
        "--heartbeat-seconds",
        type=_seconds,
        default=DEFAULT_CHECK_SECONDS,
        help="how often to look for agents that stopped reporting, in seconds "
        f"(default {DEFAULT_CHECK_SECONDS:g}; 0 turns the heartbeat monitor off)",
    )
    serve.add_argument(
        "--heartbeat-grace-seconds",
        type=_seconds,
        default=None,
        help="after the collector starts, how long agents last seen before the "
        "start have to report again before they count as not reporting, in "
        "seconds (default $PELIHARA_HEARTBEAT_GRACE_SECONDS, else "
        f"{DEFAULT_GRACE_SECONDS:g}: the agent's maximum retry backoff plus one "
        "post's timeouts)",
    )
    serve.set_defaults(handler=command_serve)

    token = commands.add_parser("agent-token", help="create a token for an agent")
    token.add_argument("host", metavar="HOST", help="host name the agent reports as")
    token.add_argument(
        "--output", metavar="FILE", help="write the token to FILE (mode 0600)"
    )
    token.set_defaults(handler=command_agent_token)

    tokens = commands.add_parser("agent-tokens", help="list agent tokens")
    tokens.set_defaults(handler=command_agent_tokens)

    revoke = commands.add_parser("revoke-token", help="revoke an agent token")
    revoke.add_argument("id", metavar="ID", type=int, help="id from agent-tokens")
    revoke.set_defaults(handler=command_revoke_token)

    user = commands.add_parser("create-user", help="create a user of the web UI/API")
    user.add_argument(
        "name",
        metavar="NAME",
        help="login name: up to 100 letters, digits, '.', '_', '@' and '-', "
        "starting with a letter or digit",
    )
    user.add_argument(
        "--role",
        required=True,
        choices=ROLES,
        help="what the user may do; unit needs --unit and vendor needs --vendor",
    )
    owner = user.add_mutually_exclusive_group()
    owner.add_argument("--unit", help="work unit of a 'unit' user")
    owner.add_argument("--vendor", help="vendor of a 'vendor' user")
    user.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input "
        "(default: generate one and print it once)",
    )
    user.set_defaults(handler=command_create_user)

    backup = commands.add_parser("backup", help="copy the SQLite database")
    backup.add_argument(
        "--output-dir",
        metavar="DIR",
        help="folder for the copy (default <data dir>/backups)",
    )
    backup.set_defaults(handler=command_backup)

    overdue = commands.add_parser(
        "check-overdue",
        help="notify every overdue procedure step once, then exit",
    )
    overdue.set_defaults(handler=command_check_overdue)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit status."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    arguments = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = arguments.handler
    try:
        return handler(arguments)
    except (TokenError, BackupError, CommandError) as problem:
        print(f"{PROGRAM}: error: {problem}", file=sys.stderr)
        return 2
    except Exception as problem:
        if "sqlalchemy" not in type(problem).__module__:
            raise
        _, url = _settings(arguments)
        print(
            f"{PROGRAM}: error: database {redact(url)} failed: "
            f"{type(problem).__name__}: {str(problem).splitlines()[0]}",
            file=sys.stderr,
        )
        return 1
