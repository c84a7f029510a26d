"""HTML error pages: Indonesian title, English line, a link back."""

from __future__ import annotations

from flask.testing import FlaskClient

from .conftest import Persona, login

BACK_LINK = (
    '<a href="/">Kembali ke daftar kasus <span class="en">'
    "(Back to the case list)</span></a>"
)


def test_error_csrf_page_is_bilingual(client: FlaskClient) -> None:
    answer = client.post("/login", data={"name": "x", "password": "y"})
    page = answer.get_data(as_text=True)

    assert answer.status_code == 400
    assert answer.mimetype == "text/html"
    assert (
        "<h1>400 Formulir kedaluwarsa atau tidak sah; muat ulang halaman lalu "
        "kirim lagi</h1>"
    ) in page
    assert (
        '<p class="en">The form expired or is invalid; reload the page and send '
        "it again</p>"
    ) in page
    assert BACK_LINK in page


def test_error_404_page_is_bilingual(client: FlaskClient) -> None:
    answer = client.get("/no-such-page")
    page = answer.get_data(as_text=True)

    assert answer.status_code == 404
    assert "<h1>404 Halaman tidak ditemukan</h1>" in page
    assert '<p class="en">Not found</p>' in page
    assert "requested URL was not found" not in page
    assert BACK_LINK in page


def test_error_405_page_is_bilingual(client: FlaskClient) -> None:
    answer = client.get("/logout")
    page = answer.get_data(as_text=True)

    assert answer.status_code == 405
    assert "<h1>405 Metode tidak diizinkan</h1>" in page
    assert '<p class="en">Method not allowed</p>' in page
    assert BACK_LINK in page


def test_error_page_keeps_view_detail(client: FlaskClient, technician: Persona) -> None:
    login(client, technician)

    page = client.get("/cases/999").get_data(as_text=True)

    assert (
        '<p class="detail">Kasus 999 tidak ditemukan (case 999 not found).</p>'
    ) in page


def test_error_api_stays_json(client: FlaskClient) -> None:
    answer = client.get("/api/v1/no-such-endpoint")

    assert answer.status_code == 404
    assert answer.mimetype == "application/json"
