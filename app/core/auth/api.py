"""Users (admins) and one's own password, over the API; the pages are in views.py."""

from flask import Blueprint
from flask_login import current_user

from app.core.api import API_PREFIX, endpoint, page_out
from app.core.auth import service
from app.core.auth.models import User
from app.core.auth.roles import ADMIN, SIGNED_IN
from app.core.auth.schemas import PasswordIn, PasswordOut, UserIn, UserList, UserOut, UserPatch, UserQuery
from app.core.records import get_or_404
from app.extensions import db

bp = Blueprint("auth_api", __name__, url_prefix=API_PREFIX)


@endpoint(bp, "/users", summary="Every user, by username", roles=ADMIN, query=UserQuery, response=UserList)
def list_users(query: UserQuery):
    return page_out(UserList, service.list_users(query.page, query.per_page), UserOut.model_validate)


@endpoint(bp, "/users", "POST", summary="Create a user", roles=ADMIN, body=UserIn, response=UserOut, status=201)
def create_user(body: UserIn):
    user = service.create_user(body.username, body.password, body.role)
    db.session.commit()
    return UserOut.model_validate(user)


@endpoint(
    bp,
    "/users/<int:user_id>",
    "PATCH",
    summary="Change a user's role or deactivate them (409 for the last active admin)",
    roles=ADMIN,
    body=UserPatch,
    response=UserOut,
)
def update_user(user_id: int, body: UserPatch):
    user = service.update_user(get_or_404(User, user_id, "user"), role=body.role, active=body.active)
    db.session.commit()
    return UserOut.model_validate(user)


@endpoint(
    bp,
    "/account/password",
    "POST",
    summary="Change your own password (the current one is required); your browser sessions are signed out",
    roles=SIGNED_IN,
    body=PasswordIn,
    response=PasswordOut,
)
def change_password(body: PasswordIn):
    confirm = body.new_password if body.confirm_password is None else body.confirm_password
    service.change_password(current_user, body.current_password, body.new_password, confirm)
    db.session.commit()
    return PasswordOut(changed=True, other_sessions="signed out")
