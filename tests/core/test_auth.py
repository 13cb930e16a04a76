import re

import pytest
from markupsafe import escape

from app.core.auth.models import ApiToken
from app.extensions import db
from tests.conftest import csrf_from, sign_in


def test_pages_redirect_to_login_and_api_answers_401(client):
    page = client.get("/queues/")
    assert page.status_code == 302 and "/login?next=/queues/" in page.headers["Location"]
    api = client.get("/api/v1/queues")
    assert api.status_code == 401
    assert api.json["error"]["code"] == "not_signed_in"


def test_public_routes_need_no_sign_in(client):
    assert client.get("/login").status_code == 200
    assert client.get("/health").status_code == 200
    assert client.get("/metrics").status_code == 200
    assert client.get("/api/v1/openapi.json").status_code == 200


def test_sign_in_and_out(client, make_user):
    make_user("alice", "engineer")
    response = sign_in(client, "alice")
    assert response.status_code == 302
    home = client.get("/")
    assert home.status_code == 200 and "alice" in home.get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_from(client)})
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused_and_password_is_hashed(client, make_user):
    user = make_user("bob", "viewer", "correct-horse")
    assert "correct-horse" not in user.password_hash
    response = sign_in(client, "bob", "wrong-password")
    assert response.status_code == 401
    assert "Wrong username or password" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


@pytest.mark.config(LOGIN_RATE_LIMIT="3 per minute")
def test_login_attempts_are_rate_limited(client, make_user):
    make_user("carol", "viewer")
    codes = [sign_in(client, "carol", "nope-nope").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]


def test_next_parameter_cannot_leave_the_site(client, make_user):
    make_user("dave", "viewer")
    page = client.get("/login")
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post(
        "/login?next=//evil.example/", data={"username": "dave", "password": "password123", "csrf_token": token}
    )
    assert response.headers["Location"] == "/"


def test_forms_without_csrf_token_are_refused(signed_in):
    client, _ = signed_in("operator")
    response = client.post("/account/tokens", data={"name": "x"})
    assert response.status_code == 400
    assert db.session.query(ApiToken).count() == 0


def test_token_shown_once_stored_hashed_and_revocable(signed_in):
    client, csrf = signed_in("viewer", "erin")
    page = client.post("/account/tokens", data={"name": "ci", "csrf_token": csrf}).get_data(as_text=True)
    token = page.split('id="new-token" class="secret">')[1].split("<")[0]
    row = db.session.query(ApiToken).one()
    assert token.startswith("fl_") and row.token_hash != token and token not in row.token_hash
    assert token not in client.get("/account").get_data(as_text=True)  # never shown again

    api = client.application.test_client()
    assert api.get("/api/v1/openapi.json").status_code == 200
    assert api.get("/", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert api.get("/api/v1/workers", headers={"Authorization": f"Bearer {token}"}).status_code == 403
    db.session.expire_all()
    assert row.last_used_at is not None  # written by a GET, which commits nothing else

    client.post(f"/account/tokens/{row.id}/revoke", data={"csrf_token": csrf})
    assert api.get("/api/v1/workers", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_role_check_gives_403(client, bearer):
    response = client.get("/api/v1/queues", headers=bearer("viewer"))
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"
    assert response.json["error"]["details"] == {"required": ["operator"]}
    assert client.get("/api/v1/queues", headers=bearer("operator")).status_code == 200


def test_viewer_gets_a_friendly_403_page(signed_in):
    client, _ = signed_in("viewer")
    page = client.get("/queues/")
    assert page.status_code == 403 and "Not allowed" in page.get_data(as_text=True)


# the second one runs in a JavaScript string ("return confirm('...')"): the first ends that statement first
@pytest.mark.parametrize("name", ["x');alert(1);('", "x'+alert(1)+'"])
def test_a_token_name_is_never_javascript_on_the_account_page(signed_in, name):
    client, csrf = signed_in("viewer", "mallory")
    client.post("/account/tokens", data={"name": name, "csrf_token": csrf})
    html = client.get("/account").get_data(as_text=True)
    assert name not in html  # only ever escaped: as text, and as the revoke form's question
    question = escape(f"Revoke token {name}? Clients using it stop working.")
    assert f'hx-confirm="{question}"' in html
    assert "onsubmit" not in html and "confirm(" not in html
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", html, re.S)
    handlers = re.findall(r"\son\w+=\"([^\"]*)\"", html)
    assert not any("alert(1)" in code for code in scripts + handlers)  # no script, no handler carries it


def test_a_junk_bearer_header_does_not_skip_csrf_for_a_session(signed_in):
    client, _ = signed_in("operator")
    junk = {"Authorization": "Bearer not-a-token"}
    response = client.post("/account/tokens", data={"name": "forged"}, headers=junk)
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    assert db.session.query(ApiToken).count() == 0


def test_a_valid_bearer_beside_a_session_cookie_still_needs_csrf(signed_in, bearer):
    client, _ = signed_in("operator")
    response = client.post("/account/tokens", data={"name": "forged"}, headers=bearer("viewer"))
    assert response.status_code == 400
    assert db.session.query(ApiToken).filter_by(name="forged").count() == 0


def test_a_valid_bearer_without_a_session_needs_no_csrf_and_gets_no_cookie(client, bearer):
    response = client.post("/account/tokens", data={"name": "by-api"}, headers=bearer("viewer"))
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert db.session.query(ApiToken).filter_by(name="by-api").count() == 1
    junk = client.post("/account/tokens", data={"name": "junk"}, headers={"Authorization": "Bearer nope"})
    assert junk.status_code == 302 and "/login" in junk.headers["Location"]  # not signed in at all
