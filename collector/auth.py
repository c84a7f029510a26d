"""Authentication of users: personal API tokens, the web login and roles.

A request with `Authorization: Bearer` is authenticated by that token only,
never by the session cookie, and is exempt from CSRF checks because a
browser does not attach the header on its own. Every other unsafe request
must carry a CSRF token (Flask-WTF), including API calls made with the
session cookie.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from collector import login_throttle
from collector.db import get_session
from collector.errors import error_response
from collector.models import User, utcnow
from collector.tokens import find_user_by_token

logger = logging.getLogger(__name__)

csrf = CSRFProtect()
bp = Blueprint("auth", __name__)
F = TypeVar("F", bound=Callable[..., Any])
SESSION_USER_KEY = "user_id"
SESSION_VERSION_KEY = "session_version"


def bearer_token() -> str | None:
    """Return the token of an `Authorization: Bearer` header, else None."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


def is_api_request() -> bool:
    """Return whether the request is for the JSON API, whose errors are JSON."""
    return request.path.startswith("/api/")


def current_user() -> User | None:
    """Return the authenticated user of this request, or None."""
    if "_pelihara_user" not in g:
        g._pelihara_user = _load_user()
    return g._pelihara_user


def _load_user() -> User | None:
    token = bearer_token()
    if token is not None:
        return find_user_by_token(get_session(), token) if token else None
    user_id = session.get(SESSION_USER_KEY)
    if user_id is None:
        return None
    user = get_session().get(User, user_id)
    if user is None or not user.active:
        session.clear()
        return None
    if session.get(SESSION_VERSION_KEY) != user.session_version:
        # The user logged out since this cookie was issued.
        session.clear()
        return None
    return user


def _deny(status: int, message: str) -> Any:
    if is_api_request():
        response = error_response(status, message)
        if status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response
    if status == 401:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    abort(status, message)


def require_roles(*roles: str) -> Callable[[F], F]:
    """Let only authenticated users with one of `roles` call the view.

    With no roles any authenticated user passes. API requests get 401 or
    403 as JSON; UI requests without a login are sent to the login page.
    """

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                return _deny(
                    401,
                    "authentication required: send 'Authorization: Bearer "
                    "<API token>' or log in",
                )
            if roles and user.role not in roles:
                return _deny(
                    403,
                    f"role {user.role!r} may not do this; needs one of "
                    f"{', '.join(roles)}",
                )
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def _protect_csrf() -> None:
    # Bearer-token requests cannot be forged by another site, and an API
    # request without a logged-in session has no authority to abuse, so
    # require_roles rejects it with 401 instead of a CSRF error.
    if bearer_token() is not None:
        return
    if is_api_request() and SESSION_USER_KEY not in session:
        return
    csrf.protect()


def init_app(app: Flask) -> None:
    """Install CSRF protection, the login views and the user in templates."""
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    csrf.init_app(app)
    app.before_request(_protect_csrf)
    app.context_processor(lambda: {"current_user": current_user()})
    app.register_blueprint(bp)


def _safe_next(target: str | None) -> str:
    # Only paths on this site, so the login form cannot redirect elsewhere.
    if not target:
        return url_for("ui.cases")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or "\\" in target:
        return url_for("ui.cases")
    return target


def _reject_locked_login(
    lockout: login_throttle.Lockout,
    name: str,
    address: str,
    next_url: str | None,
    now: datetime,
) -> Any:
    retry_after = lockout.retry_after_seconds(now)
    logger.info(
        "login for user name %r from %s rejected until %s: %s",
        name[: login_throttle.MAX_NAME_LENGTH],
        address,
        lockout.until.isoformat(timespec="seconds"),
        lockout.describe(),
    )
    minutes = math.ceil(retry_after / 60)
    flash(
        f"Terlalu banyak percobaan masuk yang gagal; coba lagi dalam {minutes} menit "
        f"(too many failed logins; try again in {minutes} "
        f"{'minute' if minutes == 1 else 'minutes'}).",
        "error",
    )
    page = render_template("login.html", next=next_url, name=name)
    return page, 429, {"Retry-After": str(retry_after)}


def _log_failed_login(
    database: Session, name: str, address: str, now: datetime
) -> None:
    shown_name = name[: login_throttle.MAX_NAME_LENGTH]
    logger.info("failed login for user name %r from %s", shown_name, address)
    lockout = login_throttle.find_lockout(database, name, address, now)
    if lockout is not None:
        logger.warning(
            "login for user name %r from %s locked until %s: %s",
            shown_name,
            address,
            lockout.until.isoformat(timespec="seconds"),
            lockout.describe(),
        )


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    next_url = request.values.get("next")
    if request.method == "GET":
        return render_template("login.html", next=next_url)

    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    address = login_throttle.client_address()
    database = get_session()
    now = utcnow()
    lockout = login_throttle.find_lockout(database, name, address, now)
    if lockout is not None:
        return _reject_locked_login(lockout, name, address, next_url, now)

    login_throttle.record_attempt(database, name, address, now)
    user = database.scalar(select(User).where(User.name == name))
    if (
        user is None
        or not user.active
        or user.password_hash is None
        or not check_password_hash(user.password_hash, password)
    ):
        _log_failed_login(database, name, address, now)
        flash("Nama atau kata sandi salah (wrong name or password).", "error")
        return render_template("login.html", next=next_url, name=name), 401

    login_throttle.forget_failures(database, name, address)
    session.clear()
    session[SESSION_USER_KEY] = user.id
    session[SESSION_VERSION_KEY] = user.session_version
    session.permanent = True
    logger.info("user %s logged in", user.name)
    return redirect(_safe_next(next_url))


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    user = current_user() if bearer_token() is None else None
    session.clear()
    if user is not None:
        # Ends every session of the user: a copy of the cookie kept by
        # someone else must not outlive the logout.
        database = get_session()
        database.execute(
            update(User)
            .where(User.id == user.id)
            .values(session_version=User.session_version + 1)
        )
        database.commit()
        logger.info("user %s logged out", user.name)
    return redirect(url_for("auth.login"))
