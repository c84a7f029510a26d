"""The collector's Flask application factory."""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, Response, render_template, request
from flask import Request as FlaskRequest
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from collector import __version__, api, auth, db, procedure_api, ui
from collector.heartbeat import DEFAULT_GRACE_SECONDS, HeartbeatMonitor
from collector.ingest import DEFAULT_REOPEN_WINDOW
from collector.models import MAX_ROW_ID

logger = logging.getLogger(__name__)

SECRET_KEY_VARIABLE = "PELIHARA_SECRET_KEY"
SECRET_KEY_FILE = "secret_key"
REOPEN_DAYS_VARIABLE = "PELIHARA_REOPEN_DAYS"
HEARTBEAT_GRACE_VARIABLE = "PELIHARA_HEARTBEAT_GRACE_SECONDS"
# Set behind an HTTPS proxy, so that browsers never send the session cookie
# over plain HTTP.
SECURE_COOKIES_VARIABLE = "PELIHARA_SECURE_COOKIES"
# The number of reverse proxies in front of the collector that append the
# client address to X-Forwarded-For. With 0 the header is ignored, because
# any client can send it.
TRUSTED_PROXIES_VARIABLE = "PELIHARA_TRUSTED_PROXIES"
MAX_BODY_BYTES = 16 * 1024 * 1024
# The templates use no inline script or style, so only files of this site
# may run or style a page, and no other site may frame it.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _amount_from_environment(variable: str, unit: str, example: float) -> float | None:
    """Return $`variable` as a finite number of `unit`, 0 or more; None if unset."""
    text = os.environ.get(variable)
    if not text:
        return None
    try:
        amount = float(text)
    except ValueError:
        amount = -1.0
    if not 0 <= amount < float("inf"):
        raise ValueError(
            f"{variable}={text!r} is invalid; expected a number of {unit} "
            f"(0 or more, e.g. {example:g})"
        )
    return amount


def reopen_window_from_environment() -> timedelta:
    """Return $PELIHARA_REOPEN_DAYS as a timedelta, default 7 days."""
    days = _amount_from_environment(REOPEN_DAYS_VARIABLE, "days", 7)
    if days is None:
        return DEFAULT_REOPEN_WINDOW
    return timedelta(days=days)


def heartbeat_grace_from_environment() -> float:
    """Return $PELIHARA_HEARTBEAT_GRACE_SECONDS, default DEFAULT_GRACE_SECONDS."""
    seconds = _amount_from_environment(
        HEARTBEAT_GRACE_VARIABLE, "seconds", DEFAULT_GRACE_SECONDS
    )
    return DEFAULT_GRACE_SECONDS if seconds is None else seconds


def secure_cookies_from_environment() -> bool:
    """Return whether $PELIHARA_SECURE_COOKIES turns on HTTPS-only cookies."""
    text = os.environ.get(SECURE_COOKIES_VARIABLE, "").strip().lower()
    if text in ("", "0", "false", "no"):
        return False
    if text in ("1", "true", "yes"):
        return True
    raise ValueError(
        f"{SECURE_COOKIES_VARIABLE}={text!r} is invalid; expected true or false"
    )


def trusted_proxies_from_environment() -> int:
    """Return $PELIHARA_TRUSTED_PROXIES, the number of proxies in front, default 0."""
    text = os.environ.get(TRUSTED_PROXIES_VARIABLE, "").strip()
    if not text:
        return 0
    return _validate_trusted_proxies(text, TRUSTED_PROXIES_VARIABLE)


def _validate_trusted_proxies(value: Any, name: str) -> int:
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = -1
    if count < 0 or isinstance(value, bool | float):
        raise ValueError(
            f"{name}={value!r} is invalid; expected the number of reverse proxies "
            "in front of the collector (0 or more, e.g. 1)"
        )
    return count


def load_secret_key(data_dir: Path) -> str:
    """Return $PELIHARA_SECRET_KEY, else the key kept in the data folder.

    A missing key file is created with mode 0600. It is written to a
    temporary file and linked into place, so that several workers starting
    at once all end up reading the same complete key.
    """
    configured = os.environ.get(SECRET_KEY_VARIABLE)
    if configured:
        return configured
    path = data_dir / SECRET_KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=data_dir, prefix=".secret_key.")
        try:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_hex(32))
            os.chmod(temporary, 0o600)
            try:
                os.link(temporary, path)
                logger.info("created a new session secret key in %s", path)
            except FileExistsError:
                pass
        finally:
            os.unlink(temporary)
    key = path.read_text().strip()
    if not key:
        raise RuntimeError(
            f"{path} is empty; delete it to have a new key made, or set "
            f"{SECRET_KEY_VARIABLE}"
        )
    return key


class InvalidJSON(BadRequest):
    """A request body that claims to be JSON but cannot be parsed."""

    field = ""


class CollectorRequest(FlaskRequest):
    """A request whose unparsable JSON body is always a 400 for the client.

    Werkzeug lets a RecursionError from a deeply nested body escape as a
    server error, and with `silent=True` turns other parse errors into None.
    Here both become InvalidJSON, so every endpoint rejects them the same
    way. A body that is not labelled JSON still follows `silent`.
    """

    def get_json(
        self, force: bool = False, silent: bool = False, cache: bool = True
    ) -> Any | None:
        if not (force or self.is_json):
            return None if silent else self.on_json_loading_failed(None)
        try:
            return super().get_json(force=True, silent=False, cache=cache)
        except RecursionError:
            raise self._invalid("it is nested too deeply") from None

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        if e is None:
            return super().on_json_loading_failed(e)
        raise self._invalid(str(e)) from None

    def _invalid(self, reason: str) -> InvalidJSON:
        logger.warning(
            "invalid JSON body on %s %s: %s", self.method, self.path, reason[:200]
        )
        return InvalidJSON(f"the body is not valid JSON: {reason}")


# Titles of the HTML error pages: Indonesian first, English second.
ERROR_TITLES = {
    400: ("Permintaan tidak valid", "Bad request"),
    401: ("Perlu masuk", "Login required"),
    403: ("Akses ditolak", "Forbidden"),
    404: ("Halaman tidak ditemukan", "Not found"),
    405: ("Metode tidak diizinkan", "Method not allowed"),
    413: ("Isi permintaan terlalu besar", "Request body too large"),
    429: ("Terlalu banyak permintaan", "Too many requests"),
    500: ("Kesalahan internal", "Internal error"),
    503: ("Basis data tidak tersedia", "Database unavailable"),
}
CSRF_TITLE = (
    "Formulir kedaluwarsa atau tidak sah; muat ulang halaman lalu kirim lagi",
    "The form expired or is invalid; reload the page and send it again",
)


def _error_page(
    status: int, title: tuple[str, str] | None = None, detail: str | None = None
) -> tuple[str, int]:
    title_id, title_en = title or ERROR_TITLES.get(status, ("Kesalahan", "Error"))
    page = render_template(
        "error.html",
        status=status,
        title_id=title_id,
        title_en=title_en,
        detail=detail,
    )
    return page, status


def _answer_error(error: HTTPException) -> Response | tuple[str, int]:
    if auth.is_api_request() or request.path in ("/healthz", "/metrics"):
        return api.error(
            error.code or 500,
            error.description or error.name,
            getattr(error, "field", None),
        )
    if isinstance(error, CSRFError):
        # Flask-WTF's description distinguishes a missing token from an expired one.
        return _error_page(400, CSRF_TITLE, error.description)
    # Werkzeug's default descriptions are long English text that repeats
    # the title, so only a description given by a view is shown.
    detail = error.description
    if detail == type(error).description:
        detail = None
    return _error_page(error.code or 500, detail=detail)


def _answer_unexpected(error: Exception) -> Response | tuple[str, int]:
    logger.exception("unhandled error on %s %s", request.method, request.path)
    if auth.is_api_request():
        return api.error(500, "internal error; see the collector log")
    return _error_page(500, detail="Lihat log collector (see the collector log).")


def _answer_database_down(error: OperationalError) -> Response | tuple[str, int]:
    # A locked SQLite file past busy_timeout, or a lost PostgreSQL server:
    # the protocol has agents retry a 503 later with backoff.
    logger.error(
        "database error on %s %s: %s",
        request.method,
        request.path,
        str(error.orig).splitlines()[0] if error.orig else error,
    )
    if auth.is_api_request() or request.path in ("/healthz", "/metrics"):
        response = api.error(503, "database unavailable; retry later")
        response.headers["Retry-After"] = "30"
        return response
    return _error_page(503, detail="Coba lagi nanti (try again later).")


def _add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _start_heartbeat_monitor(app: Flask, database: db.Database) -> None:
    interval = app.config.get("HEARTBEAT_SECONDS")
    if not interval:
        return
    monitor = HeartbeatMonitor(
        database,
        float(interval),
        app.config["REOPEN_WINDOW"],
        app=app,
        grace_seconds=float(app.config["HEARTBEAT_GRACE_SECONDS"]),
    )
    monitor.start()
    app.extensions["pelihara.heartbeat"] = monitor


class RowIdConverter(IntegerConverter):
    """The `int` URL converter, bounded to ids a primary key can hold.

    A path such as /cases/2147483648 matches no route and is 404, because
    the database would raise on an id that does not fit the column.
    """

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(url_map, *args, **kwargs)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the collector application.

    Keys of `config` override the defaults: DATABASE_URL, DATA_DIR,
    SECRET_KEY, REOPEN_WINDOW (a timedelta or seconds), HEARTBEAT_SECONDS,
    HEARTBEAT_GRACE_SECONDS, SQLITE_BUSY_TIMEOUT_MS, TRUSTED_PROXIES (the
    number of reverse proxies whose X-Forwarded-For is trusted) and any
    Flask or Flask-WTF setting. With HEARTBEAT_SECONDS set, a thread runs
    the heartbeat monitor at that interval. Missing tables are created.
    """
    config = dict(config or {})
    app = Flask(__name__)
    app.request_class = CollectorRequest
    app.url_map.converters["int"] = RowIdConverter
    data_dir = db.resolve_data_dir(config.pop("DATA_DIR", None))
    database_url = db.resolve_database_url(config.pop("DATABASE_URL", None), data_dir)
    app.config.update(
        DATA_DIR=data_dir,
        DATABASE_URL=database_url,
        REOPEN_WINDOW=reopen_window_from_environment(),
        HEARTBEAT_GRACE_SECONDS=heartbeat_grace_from_environment(),
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=secure_cookies_from_environment(),
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        JSON_SORT_KEYS=False,
        TRUSTED_PROXIES=trusted_proxies_from_environment(),
    )
    app.config.update(config)
    proxies = _validate_trusted_proxies(
        app.config["TRUSTED_PROXIES"], "TRUSTED_PROXIES"
    )
    if proxies:
        # remote_addr becomes the client address the proxies forwarded, which
        # the login throttle counts failures of.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies)  # type: ignore[method-assign]
    if isinstance(app.config["REOPEN_WINDOW"], int | float):
        app.config["REOPEN_WINDOW"] = timedelta(seconds=app.config["REOPEN_WINDOW"])
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = load_secret_key(data_dir)
    app.jinja_env.globals["version"] = __version__

    database = db.Database(
        database_url,
        app.config.get("SQLITE_BUSY_TIMEOUT_MS", db.SQLITE_BUSY_TIMEOUT_MS),
    )
    db.create_schema(database.engine)
    db.init_app(app, database)
    logger.info("collector using database %s", db.redact(database_url))

    auth.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(api.health)
    app.register_blueprint(ui.bp)
    procedure_api.init_app(app)
    _start_heartbeat_monitor(app, database)
    app.after_request(_add_security_headers)
    app.register_error_handler(HTTPException, _answer_error)
    app.register_error_handler(OperationalError, _answer_database_down)
    if not app.testing:
        app.register_error_handler(Exception, _answer_unexpected)
    return app
