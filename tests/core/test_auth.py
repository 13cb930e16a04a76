import re

import pytest
from markupsafe import escape

from app.core.auth.models import ApiToken
from app.extensions import db
from tests.conftest import csrf_from, sign_in
from tests.helpers import assert_error_shape


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


def test_ten_wrong_passwords_lock_the_account_not_the_address(client, make_user):
    make_user("alice", "viewer")
    make_user("bob", "viewer")
    codes = [sign_in(client, "alice", "nope-nope").status_code for _ in range(10)]
    assert codes == [401] * 10  # the defaults: 10 failed sign-ins per account in 15 minutes
    locked = sign_in(client, "alice")  # even the right password, until the window ends
    html = locked.get_data(as_text=True)
    assert locked.status_code == 429 and 0 < int(locked.headers["Retry-After"]) <= 15 * 60
    assert "Too many failed sign-ins for this account; try again in 15 minutes." in html
    assert 'name="username" value="alice"' in html and 'name="password"' in html and 'name="csrf_token"' in html
    assert sign_in(client.application.test_client(), "bob").status_code == 302  # same address, other account


@pytest.mark.config(LOGIN_ADDRESS_RATE_LIMIT="5 per 15 minutes")
def test_failed_sign_ins_of_many_accounts_hit_the_address_limit(client):
    codes = [sign_in(client, f"user{n}", "nope-nope").status_code for n in range(6)]
    assert codes == [401] * 5 + [429]
    assert "from your network address" in sign_in(client, "user9", "nope").get_data(as_text=True)
    other = client.application.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.0.0.2"
    assert sign_in(other, "user0", "nope-nope").status_code == 401


@pytest.mark.config(LOGIN_ACCOUNT_RATE_LIMIT="3 per 15 minutes", LOGIN_ADDRESS_RATE_LIMIT="3 per 15 minutes")
def test_successful_sign_ins_do_not_count_and_clear_the_account_count(client, make_user):
    make_user("carol", "viewer")
    for _ in range(5):
        fresh = client.application.test_client()
        assert sign_in(fresh, "carol").status_code == 302
    assert [sign_in(client, "carol", "nope-nope").status_code for _ in range(2)] == [401, 401]
    assert sign_in(client.application.test_client(), "carol").status_code == 302  # the account starts again
    codes = [sign_in(client, "carol", "nope-nope").status_code for _ in range(2)]
    assert codes == [401, 429]  # the account had 0 of 3, but the address counts on: 2 + 1, then refused


@pytest.mark.config(LOGIN_ACCOUNT_RATE_LIMIT="1 per 15 minutes")
def test_an_api_client_is_told_in_the_error_shape_with_retry_after(client):
    token = client.get("/login").get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    data = {"username": "dave", "password": "nope-nope", "csrf_token": token}
    json = {"Accept": "application/json"}
    assert client.post("/login", data=data, headers=json).status_code == 401
    refused = client.post("/login", data=data, headers=json)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert_error_shape(refused)
    assert refused.json["error"]["code"] == "too_many_requests"
    assert refused.json["error"]["details"]["retry_after"] > 0


def _failed_sign_ins_from(client, forwarded_for: str, count: int) -> list[int]:
    token = client.get("/login").get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    headers = {"X-Forwarded-For": forwarded_for}
    data = {"password": "nope-nope", "csrf_token": token}
    return [
        client.post("/login", data={**data, "username": f"u{n}"}, headers=headers).status_code for n in range(count)
    ]


@pytest.mark.config(PROXY_FIX_X_FOR=1, LOGIN_ADDRESS_RATE_LIMIT="2 per 15 minutes")
def test_behind_the_proxy_x_forwarded_for_is_the_address(client):
    assert _failed_sign_ins_from(client, "203.0.113.5", 3) == [401, 401, 429]
    assert _failed_sign_ins_from(client, "203.0.113.6", 1) == [401]  # another client behind the same proxy


@pytest.mark.config(LOGIN_ADDRESS_RATE_LIMIT="2 per 15 minutes")
def test_without_the_proxy_setting_x_forwarded_for_is_ignored(client):
    assert _failed_sign_ins_from(client, "203.0.113.5", 2) == [401, 401]
    assert _failed_sign_ins_from(client, "203.0.113.6", 1) == [429]  # a client cannot pick its own address


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


def test_passwords_are_hashed_with_the_configured_method_scrypt_unless_told(app, make_user, client):
    from app.config import Config

    assert Config().PASSWORD_HASH_METHOD == "scrypt"  # what a deployment gets
    user = make_user("hashed", "viewer", "a-long-password")
    assert user.password_hash.startswith("pbkdf2:sha256:1000$")  # the tests' cheap one, as configured
    assert sign_in(client, "hashed", "a-long-password").status_code == 302
