"""Accounts (issue 14 point 14): your own password, the admins' users page and API, the last
admin, and what deactivation does to sessions and tokens."""

import re
import threading

import pytest
from werkzeug.security import check_password_hash

from app.core.audit.models import AuditEntry
from app.core.auth import service
from app.core.auth.models import User
from app.core.errors import Conflict
from app.extensions import db
from tests.conftest import csrf_from, sign_in
from tests.helpers import assert_error_shape


def _user(username: str) -> User:
    db.session.expire_all()
    return db.session.query(User).filter_by(username=username).one()


def _token(html: str) -> str:
    return re.search(r'name="form_token" value="([^"]+)"', html).group(1)


def _change(client, csrf, current, new, confirm=None, form_token=None):
    data = {"current_password": current, "new_password": new, "confirm_password": confirm or new, "csrf_token": csrf}
    if form_token:
        data["form_token"] = form_token
    return client.post("/account/password", data=data, follow_redirects=True)


REFUSED_PASSWORDS = [
    ("wrong-password", "new-password-1", None, "The current password is not right."),
    ("password123", "short", None, "Passwords need 8 to 256 characters; this one has 5."),
    ("password123", "password123", None, "The new password is the current one"),
    ("password123", "dora-user", None, "The password may not be the username."),
    ("password123", "new-password-1", "new-password-2", "The two new passwords differ."),
]


def test_a_refused_password_change_says_why_and_changes_nothing(signed_in):
    client, csrf = signed_in("viewer", "dora-user")
    for current, new, confirm, message in REFUSED_PASSWORDS:  # one user for all: hashing is slow
        html = _change(client, csrf, current, new, confirm).get_data(as_text=True)
        assert message in html, message
    assert check_password_hash(_user("dora-user").password_hash, "password123")
    assert db.session.query(AuditEntry).filter_by(action="change_password").count() == 0


def test_changing_your_password_keeps_this_session_and_ends_the_others(signed_in, app, bearer):
    client, csrf = signed_in("viewer", "dora")
    other = app.test_client()
    sign_in(other, "dora")
    assert other.get("/account").status_code == 200
    user = _user("dora")
    _, token = service.create_token(user, "script")
    db.session.commit()

    page = client.get("/account").get_data(as_text=True)
    assert "A password has 8 to 256 characters and is not the username." in page
    html = _change(client, csrf, "password123", "a-new-password", form_token=_token(page)).get_data(as_text=True)
    assert "Password changed." in html
    assert client.get("/account").status_code == 200  # this session goes on
    assert other.get("/account").status_code == 302  # the other one is signed out
    assert app.test_client().get("/api/v1/users", headers={"Authorization": f"Bearer {token}"}).status_code == 403
    assert sign_in(app.test_client(), "dora", "password123").status_code == 401
    assert sign_in(app.test_client(), "dora", "a-new-password").status_code == 302
    entry = db.session.query(AuditEntry).filter_by(action="change_password").one()
    assert (entry.actor, entry.entity, entry.entity_id) == ("dora", "user", str(user.id))
    assert "password_hash" not in str(entry.after) and user.password_hash[:20] not in str(entry.after)


def test_the_same_password_form_sent_twice_changes_once(signed_in):
    client, csrf = signed_in("viewer", "dora")
    form_token = _token(client.get("/account").get_data(as_text=True))
    _change(client, csrf, "password123", "a-new-password", form_token=form_token)
    again = _change(client, csrf, "password123", "a-new-password", form_token=form_token).get_data(as_text=True)
    assert "This form was already sent" in again and "not right" not in again
    assert db.session.query(AuditEntry).filter_by(action="change_password").count() == 1


def test_the_users_page_is_for_admins(signed_in):
    client, _ = signed_in("operator")
    assert client.get("/admin/users").status_code == 403
    assert client.post("/admin/users", data={"csrf_token": csrf_from(client)}).status_code == 403


def test_an_admin_creates_a_user_once_changes_the_role_and_deactivates(signed_in, app):
    client, csrf = signed_in("admin", "root")
    page = client.get("/admin/users").get_data(as_text=True)
    assert "Users</a>" in page  # in the navigation
    data = {"username": "newbie", "password": "newbie-pass", "role": "engineer", "csrf_token": csrf}
    data["form_token"] = _token(page)
    first = client.post("/admin/users", data=data, follow_redirects=True).get_data(as_text=True)
    again = client.post("/admin/users", data=data, follow_redirects=True).get_data(as_text=True)
    assert "User newbie created (engineer)." in first and "This form was already sent" in again
    assert db.session.query(User).filter_by(username="newbie").count() == 1
    newbie = _user("newbie")

    other = app.test_client()
    assert sign_in(other, "newbie", "newbie-pass").status_code == 302
    _, token = service.create_token(newbie, "ci")
    db.session.commit()
    bearer = {"Authorization": f"Bearer {token}"}

    client.post(f"/admin/users/{newbie.id}", data={"role": "operator", "csrf_token": csrf})
    assert _user("newbie").role == "operator"
    assert other.get("/audit/").status_code == 200  # the session follows the new role at once

    html = client.post(
        f"/admin/users/{newbie.id}", data={"active": "no", "csrf_token": csrf}, follow_redirects=True
    ).get_data(as_text=True)
    assert "newbie: operator, deactivated." in html and "badge-failed" in html
    assert other.get("/account").status_code == 302  # the open session ended
    assert app.test_client().get("/api/v1/queues", headers=bearer).status_code == 401  # the token too
    assert sign_in(app.test_client(), "newbie", "newbie-pass").status_code == 401
    actions = [
        (e.action, e.before, e.after) for e in db.session.query(AuditEntry).filter_by(entity="user").order_by("id")
    ][-3:]
    assert actions == [
        ("create", None, {"username": "newbie", "role": "engineer", "active": True}),
        (
            "update",
            {"username": "newbie", "role": "engineer", "active": True},
            {"username": "newbie", "role": "operator", "active": True},
        ),
        (
            "update",
            {"username": "newbie", "role": "operator", "active": True},
            {"username": "newbie", "role": "operator", "active": False},
        ),
    ]
    client.post(f"/admin/users/{newbie.id}", data={"active": "yes", "csrf_token": csrf})
    assert sign_in(app.test_client(), "newbie", "newbie-pass").status_code == 302


REFUSED_USERS = [
    ({"username": "has space", "password": "long-enough"}, "A username is 1 to 80 characters, without spaces."),
    ({"username": "x" * 81, "password": "long-enough"}, "A username is 1 to 80 characters"),
    ({"username": "ok", "password": "short"}, "Passwords need 8 to 256 characters"),
    ({"username": "ok", "password": "long-enough", "role": "boss"}, "; one of viewer, engineer, operator, admin."),
    ({"username": "root", "password": "long-enough"}, "already exists."),
]


def test_a_refused_new_user_is_named_and_nothing_is_created(signed_in):
    client, csrf = signed_in("admin", "root")
    for data, message in REFUSED_USERS:
        html = client.post("/admin/users", data={"role": "viewer", **data, "csrf_token": csrf}, follow_redirects=True)
        assert message in html.get_data(as_text=True), message
    assert db.session.query(User).count() == 1


def test_the_last_active_admin_cannot_be_demoted_or_deactivated(signed_in, make_user):
    client, csrf = signed_in("admin", "root")
    root = _user("root")
    for data in ({"role": "operator"}, {"active": "no"}):
        html = client.post(f"/admin/users/{root.id}", data={**data, "csrf_token": csrf}, follow_redirects=True)
        assert "root is the last active admin: make another user admin first." in html.get_data(as_text=True)
        assert (_user("root").role, _user("root").active) == ("admin", True)
    make_user("second", "admin")
    retired = make_user("retired", "admin")
    service.update_user(retired, active=False)
    db.session.commit()
    client.post(f"/admin/users/{root.id}", data={"role": "operator", "csrf_token": csrf})
    assert _user("root").role == "operator"  # "second" is still an active admin


def test_users_api(client, bearer):
    admin = bearer("admin")
    created = client.post("/api/v1/users", json={"username": "api-made", "password": "long-enough"}, headers=admin)
    assert created.status_code == 201 and created.json["role"] == "viewer" and "password" not in str(created.json)
    listed = client.get("/api/v1/users?per_page=1", headers=admin).json
    assert listed["paging"]["total"] == 2 and len(listed["users"]) == 1
    patched = client.patch(f"/api/v1/users/{created.json['id']}", json={"role": "engineer"}, headers=admin)
    assert patched.status_code == 200 and patched.json["role"] == "engineer"

    for response, status in (
        (client.post("/api/v1/users", json={"username": "x", "password": "short"}, headers=admin), 422),
        (client.post("/api/v1/users", json={"username": "api-made", "password": "long-enough"}, headers=admin), 409),
        (client.patch(f"/api/v1/users/{created.json['id']}", json={"role": "boss"}, headers=admin), 422),
        (client.patch("/api/v1/users/999999", json={"active": False}, headers=admin), 404),
        (client.get("/api/v1/users", headers=bearer("operator")), 403),
    ):
        assert response.status_code == status, response.json
        assert_error_shape(response)


def test_the_api_refuses_to_demote_the_last_admin_with_409(client, bearer):
    admin = bearer("admin")
    (me,) = db.session.query(User).filter_by(role="admin").all()
    response = client.patch(f"/api/v1/users/{me.id}", json={"active": False}, headers=admin)
    assert response.status_code == 409
    assert_error_shape(response)
    assert response.json["error"]["details"] == {"user": me.username, "role": "admin"}
    assert _user(me.username).active


def test_password_api(client, bearer, make_user):
    headers = bearer("viewer")
    wrong = client.post(
        "/api/v1/account/password", json={"current_password": "nope", "new_password": "another-one"}, headers=headers
    )
    assert wrong.status_code == 422 and wrong.json["error"]["details"] == {"field": "current_password"}
    ok = client.post(
        "/api/v1/account/password",
        json={"current_password": "password123", "new_password": "another-one"},
        headers=headers,
    )
    assert ok.status_code == 200 and ok.json == {"changed": True, "other_sessions": "signed out"}


def test_a_new_token_has_a_copy_button(signed_in):
    client, csrf = signed_in("viewer")
    html = client.post("/account/tokens", data={"name": "ci", "csrf_token": csrf}).get_data(as_text=True)
    assert '<button type="button" class="small" data-copy="#new-token" id="copy-token">Copy</button>' in html


@pytest.mark.dialects
def test_two_admins_demoting_each_other_at_once_leave_one_admin(app, make_user):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    ann_id, bob = make_user("ann", "admin").id, make_user("bob", "admin")
    service.update_user(bob, role="operator")  # in this transaction, not committed: the admins are locked
    outcome = {}

    def the_other_admin():
        with app.app_context():  # another session, as another request would have
            try:
                service.update_user(db.session.get(User, ann_id), role="operator")
                db.session.commit()
                outcome["ann"] = "demoted"
            except Conflict as exc:
                db.session.rollback()
                outcome["ann"] = exc.message
            finally:
                db.session.remove()

    thread = threading.Thread(target=the_other_admin)
    thread.start()
    thread.join(1.0)
    assert thread.is_alive()  # waits for the first change
    db.session.commit()
    thread.join(10)
    assert outcome == {"ann": "ann is the last active admin: make another user admin first."}
    assert (_user("ann").role, _user("bob").role) == ("admin", "operator")
