"""The web UI: login, the case list and one case, with untrusted output escaped."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from collector.models import Case

from .conftest import BASE_TIME, Agent, Persona, login, make_result, minutes, post

SCRIPT = "<script>alert('x')</script>"


def first_case_id(client: FlaskClient, viewer: Persona) -> int:
    answer = client.get("/api/v1/cases", headers=viewer.headers())
    return answer.get_json()["cases"][0]["id"]


def test_ui_case_page_requires_login(client: FlaskClient) -> None:
    answer = client.get("/cases/1")

    assert answer.status_code == 302
    assert answer.headers["Location"] == "/login?next=/cases/1"


def test_ui_login_page_is_indonesian(client: FlaskClient) -> None:
    page = client.get("/login").get_data(as_text=True)

    assert "Masuk" in page
    assert "Kata sandi" in page


def test_ui_cases_lists_open_case(
    client: FlaskClient, agent: Agent, technician: Persona
) -> None:
    post(client, agent, make_result("root-disk"))
    login(client, technician)

    page = client.get("/").get_data(as_text=True)

    assert "root-disk CRITICAL on app-01" in page
    assert '<tr class="open">' in page
    assert "terbuka" in page


def test_ui_cases_filter_by_status(
    client: FlaskClient, agent: Agent, technician: Persona
) -> None:
    post(client, agent, make_result("root-disk"))
    login(client, technician)

    page = client.get("/?status=closed").get_data(as_text=True)

    assert "root-disk CRITICAL" not in page
    assert "Tidak ada kasus" in page


def test_ui_case_page_shows_results_and_events(
    client: FlaskClient, agent: Agent, technician: Persona, viewer: Persona
) -> None:
    post(client, agent, make_result(message="/ is 93.1% used", at=BASE_TIME))
    post(
        client, agent, make_result(message="/ is 95.0% used", at=BASE_TIME + minutes(5))
    )
    login(client, technician)

    page = client.get(f"/cases/{first_case_id(client, viewer)}").get_data(as_text=True)

    assert "/ is 93.1% used" in page
    assert "/ is 95.0% used" in page
    assert "<strong>opened</strong>" in page
    assert "<strong>repeated</strong>" in page


def test_ui_case_page_shows_whole_values(
    client: FlaskClient, agent: Agent, technician: Persona, viewer: Persona
) -> None:
    values = {"files": 0, "size_bytes": 296.0, "age_seconds": 0.634}
    post(client, agent, make_result(values=values))
    login(client, technician)

    page = client.get(f"/cases/{first_case_id(client, viewer)}").get_data(as_text=True)

    assert "files=0 " in page
    assert "size_bytes=296 " in page
    assert "age_seconds=0.634 " in page
    assert "=0.0" not in page


def test_ui_check_output_is_escaped(
    client: FlaskClient, agent: Agent, technician: Persona, viewer: Persona
) -> None:
    post(client, agent, make_result(message=SCRIPT))
    login(client, technician)

    page = client.get(f"/cases/{first_case_id(client, viewer)}").get_data(as_text=True)

    assert SCRIPT not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page


def test_ui_unknown_case_is_404_html(client: FlaskClient, technician: Persona) -> None:
    login(client, technician)

    answer = client.get("/cases/999")

    assert answer.status_code == 404
    assert answer.mimetype == "text/html"
    assert "Kasus 999 tidak ditemukan" in answer.get_data(as_text=True)


def test_ui_case_id_beyond_integer_is_404(
    client: FlaskClient, technician: Persona
) -> None:
    login(client, technician)

    answer = client.get("/cases/99999999999999999999")

    assert answer.status_code == 404
    assert answer.mimetype == "text/html"


def test_ui_unit_user_sees_own_cases(
    client: FlaskClient, agent: Agent, session: Session, unit_user: Persona
) -> None:
    post(client, agent, make_result("root-disk"), make_result("postgres-up"))
    mine = session.scalars(select(Case).where(Case.check.has(name="root-disk"))).one()
    mine.unit = "Bagian Umum"
    session.commit()
    login(client, unit_user)

    page = client.get("/").get_data(as_text=True)

    assert "root-disk CRITICAL on app-01" in page
    assert "postgres-up CRITICAL on app-01" not in page
