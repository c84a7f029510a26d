"""Hiding secrets in URLs and in texts that repeat them: agent.spec helpers."""

from __future__ import annotations

import pytest

from agent.spec import is_secret_name, redact_text, redact_url


def test_redact_url_userinfo_password() -> None:
    shown = redact_url("postgresql://app:hunter2@127.0.0.1:5432/app")

    assert shown == "postgresql://app:***@127.0.0.1:5432/app"


@pytest.mark.parametrize(
    "name",
    [
        "token",
        "key",
        "api_key",
        "apikey",
        "password",
        "passwd",
        "pass",
        "pwd",
        "secret",
        "client_secret",
        "signature",
        "X-Amz-Signature",
        "sig",
        "auth",
        "access_token",
        "Token",
    ],
)
def test_redact_url_secret_query_value(name: str) -> None:
    shown = redact_url(f"http://127.0.0.1:18099/?{name}=QueryTok3nSecret")

    assert shown == f"http://127.0.0.1:18099/?{name}=***"


@pytest.mark.parametrize("name", ["page", "author", "design", "passage", "q"])
def test_redact_url_keeps_plain_query_value(name: str) -> None:
    url = f"http://127.0.0.1:18099/?{name}=visible"

    assert redact_url(url) == url


def test_redact_url_only_secret_parameters() -> None:
    shown = redact_url("http://127.0.0.1/x?page=2&token=abc&sort=name&sig=def")

    assert shown == "http://127.0.0.1/x?page=2&token=***&sort=name&sig=***"


def test_redact_url_password_and_query_together() -> None:
    shown = redact_url("https://u:pw@127.0.0.1/?api%5Fkey=abc#access_token=xyz")

    assert shown == "https://u:***@127.0.0.1/?api%5Fkey=***#access_token=***"


@pytest.mark.parametrize(
    "url, shown",
    [
        (
            "postgresql+psycopg://app:ab/cd#ef?gh@127.0.0.1/app",
            "postgresql+psycopg://app:***@127.0.0.1/app",
        ),
        ("http://app:pa#ss@127.0.0.1/", "http://app:***@127.0.0.1/"),
        ("mysql://app:x12/34@127.0.0.1/app", "mysql://app:***@127.0.0.1/app"),
    ],
)
def test_redact_url_unencoded_password(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/?email=a@example.test",
        "http://127.0.0.1:8080/users/@me",
        "http://[::1]:8080/users/@me",
        "http://127.0.0.1/users/@me",
    ],
)
def test_redact_url_keeps_port_before_at_sign(url: str) -> None:
    assert redact_url(url) == url


def test_redact_text_hides_unencoded_password() -> None:
    url = "postgresql://app:ab/cd#ef@127.0.0.1/app"

    hidden = redact_text("password ab/cd#ef rejected", url)

    assert hidden == "password *** rejected"


def test_redact_url_without_secrets_unchanged() -> None:
    url = "http://127.0.0.1:8080/healthz?verbose&empty_token="

    assert redact_url(url) == url


def test_redact_url_invalid() -> None:
    assert redact_url("http://[::1") == "<invalid URL>"


def test_is_secret_name_whole_short_words_only() -> None:
    assert is_secret_name("db_pass") is True
    assert is_secret_name("X-Auth") is True
    assert is_secret_name("author") is False
    assert is_secret_name("compass") is False


def test_redact_text_hides_typed_and_decoded_values() -> None:
    url = "http://u:p%40ss@127.0.0.1/?token=a%2Bb"
    text = "failed for /?token=a%2Bb (token a+b, password p@ss and p%40ss)"

    hidden = redact_text(text, url)

    assert hidden == "failed for /?token=*** (token ***, password *** and ***)"


def test_redact_url_keeps_sqlite_absolute_path() -> None:
    shown = redact_url("sqlite:////var/lib/app.db?token=abc")

    assert shown == "sqlite:////var/lib/app.db?token=***"
