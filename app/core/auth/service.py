"""Users, passwords, API tokens and the role check."""

import hashlib
import secrets

from flask import current_app
from flask_login import current_user
from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.security import check_password_hash, generate_password_hash

from app.core import audit, live
from app.core.auth.models import ApiToken, User
from app.core.auth.roles import ROLES, Role
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound, NotSignedIn
from app.core.paging import Page, paginate
from app.core.timeutil import utcnow
from app.extensions import db

TOKEN_PREFIX = "fl_"
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256  # hashing is deliberately slow; a megabyte of password would be slower
MAX_USERNAME_LENGTH = 80  # the column's
PASSWORD_RULES = f"A password has {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters and is not the username."


def _hash(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def require_role(*roles: str) -> None:
    """Raise 401 when nobody is signed in, 403 when the user lacks every role named."""
    if not current_user.is_authenticated:
        raise NotSignedIn("Sign in first.")
    if roles and not current_user.has_role(*roles):
        raise Forbidden(f"This needs the role {' or '.join(roles)}.", {"required": list(roles)})


def _user_snapshot(user: User) -> dict:
    return {"username": user.username, "role": user.role, "active": user.active}


def _check_password(password: str, username: str, field: str = "password") -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"Passwords need {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters; this one has {len(password)}.",
            {"field": field, "min_length": MIN_PASSWORD_LENGTH, "max_length": MAX_PASSWORD_LENGTH},
        )
    if password.strip().lower() == username.strip().lower():
        raise InvalidInput("The password may not be the username.", {"field": field})


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(
            f"Unknown role {role!r}; one of {', '.join(ROLES)}.", {"field": "role", "allowed": list(ROLES)}
        )


def create_user(username: str, password: str, role: str = "viewer") -> User:
    username = username.strip()
    if not username or len(username) > MAX_USERNAME_LENGTH or any(c.isspace() or c == "\x00" for c in username):
        raise InvalidInput(
            f"A username is 1 to {MAX_USERNAME_LENGTH} characters, without spaces.", {"field": "username"}
        )
    _check_role(role)
    _check_password(password, username)
    if db.session.scalar(select(User).where(User.username == username)):
        raise Conflict(f"User {username!r} already exists.", {"field": "username"})
    user = User(username=username, password_hash=_hash(password), role=role)
    db.session.add(user)
    db.session.flush()
    audit.record("user", user.id, "create", after=_user_snapshot(user))
    return user


def authenticate(username: str, password: str) -> User | None:
    user = db.session.scalar(select(User).where(User.username == username.strip()))
    if user is None or not user.active or not check_password_hash(user.password_hash, password):
        return None
    user.last_login_at = utcnow()
    return user


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User, name: str) -> tuple[ApiToken, str]:
    """Returns the row and the token in clear, which is never available again."""
    name = name.strip()
    if not name:
        raise InvalidInput("Give the token a name.", {"field": "name"})
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user=user, name=name, token_hash=_hash_token(token), prefix=token[:10])
    db.session.add(row)
    db.session.flush()
    audit.record("api_token", row.id, "create", after={"name": name, "user": user.username, "prefix": row.prefix})
    return row, token


def revoke_token(user: User, token_id: int) -> ApiToken:
    row = db.session.get(ApiToken, token_id)
    if row is None or (row.user_id != user.id and not user.has_role("admin")):
        raise NotFound("No such token.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record("api_token", row.id, "revoke", before={"revoked": False}, after={"revoked": True})
    return row


def user_for_token(token: str) -> User | None:
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash_token(token)))
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    now = utcnow()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        # at most one write a minute per token, on its own connection: signing in is a read of the
        # request's session, which the view commits or not
        with db.engine.begin() as connection:
            connection.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
        set_committed_value(row, "last_used_at", now)
    return row.user


def update_user(user: User, *, role: str | None = None, active: bool | None = None) -> User:
    """Change a user's role or active flag. Once committed, the user's open sockets re-check
    their topics against the new role (a deactivated user's are closed): `user_changed`; a
    deactivated user's sessions and tokens stop working at their next request.

    The last active admin can be neither demoted nor deactivated (Conflict): nobody could then
    manage users but the CLI."""
    if role is not None:
        _check_role(role)
    before = _user_snapshot(user)
    losing_admin = user.active and user.role == Role.admin and (active is False or role not in (None, Role.admin))
    if losing_admin and not _other_active_admins(user):
        raise Conflict(
            f"{user.username} is the last active admin: make another user admin first.",
            {"user": user.username, "role": user.role},
        )
    user.role = role if role is not None else user.role
    user.active = active if active is not None else user.active
    if _user_snapshot(user) != before:
        audit.record("user", user.id, "update", before=before, after=_user_snapshot(user))
        live.user_changed(user.id)
    return user


def _other_active_admins(user: User) -> list[int]:
    """The active admins other than `user`. Every active admin's row is locked (PostgreSQL, in id
    order), so of two admins demoting each other at once the second waits, then sees the first
    change and is refused; SQLite lets one writer at a time."""
    query = select(User.id).where(User.role == Role.admin, User.active.is_(True)).order_by(User.id)
    return [ident for ident in db.session.scalars(query.with_for_update()) if ident != user.id]


def change_password(user: User, current: str, new: str, confirm: str) -> User:
    """Set `user`'s own password, after checking the current one. The session id of a user
    carries a fingerprint of the password hash (`User.get_id`), so every other browser session
    of the account is signed out; the view signs the current one in again. API tokens stay valid
    (they are revoked one by one on the account page)."""
    if not check_password_hash(user.password_hash, current):
        raise InvalidInput("The current password is not right.", {"field": "current_password"})
    _check_password(new, user.username, "new_password")
    if new == current:
        raise InvalidInput("The new password is the current one; choose another.", {"field": "new_password"})
    if new != confirm:
        raise InvalidInput("The two new passwords differ.", {"field": "confirm_password"})
    user.password_hash = _hash(new)
    audit.record("user", user.id, "change_password", after={"other_sessions": "signed out"})
    return user


def list_users(page: int, per_page: int = 50) -> Page:
    return paginate(select(User).order_by(User.username), page, per_page)


def get_user(username: str) -> User:
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"No user {username!r}.")
    return user
