"""Sign in / out, the account page with API tokens, and the gate that keeps
every route behind a signed-in user."""

import hmac
import math
import time
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_limiter import RequestLimit
from flask_login import current_user, login_required, login_user, logout_user
from flask_login.config import COOKIE_NAME

from app.core import capability, forms
from app.core.auth import service
from app.core.auth.models import User
from app.core.auth.roles import ADMIN, ROLES, SIGNED_IN
from app.core.errors import DomainError, NotSignedIn, error_body, wants_json
from app.core.pages import form_action, page_roles
from app.core.records import get_or_404, id_from_text
from app.extensions import csrf, db, limiter, login

bp = Blueprint("auth", __name__)

PUBLIC_ENDPOINTS = {"auth.login_page", "core.health", "metrics.metrics_endpoint", "openapi.openapi_json", "static"}


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.startswith("Bearer ") else None


@login.user_loader
def load_user(session_id: str) -> User | None:
    """The session's user while it is active and its password unchanged since it signed in
    (`User.get_id`); otherwise the session is signed out at this request."""
    user_id, _, fingerprint = session_id.partition(":")
    user = db.session.get(User, ident) if (ident := id_from_text(user_id)) else None
    if user is None or not user.active or not hmac.compare_digest(fingerprint, user.session_fingerprint):
        return None
    return user


@login.request_loader
def load_user_from_token(req) -> User | None:
    """Only called when the request has no session user (Flask-Login tries the session first)."""
    token = _bearer_token()
    user = service.user_for_token(token) if token else None
    g.signed_in_by_token = user is not None
    return user


def _has_session_cookie() -> bool:
    names = (current_app.config["SESSION_COOKIE_NAME"], current_app.config.get("REMEMBER_COOKIE_NAME", COOKIE_NAME))
    return any(name in request.cookies for name in names)


def _token_only() -> bool:
    """A request signed in by a valid API token that carries no session: the only kind that
    skips the CSRF check. A browser sends its cookie to a forged request whatever headers it
    adds, so a junk (or even a valid) `Authorization: Bearer` beside a session cookie does not
    excuse the missing CSRF token."""
    if not _bearer_token() or _has_session_cookie():
        return False
    return bool(current_user.is_authenticated and g.get("signed_in_by_token"))


class _NoCookieForBearer(SecureCookieSessionInterface):
    """A bearer request without a session must not come back with a session cookie that
    outlives its token."""

    def save_session(self, app, session, response):
        if _bearer_token() and not _has_session_cookie():
            return None
        return super().save_session(app, session, response)


def register_gate(app: Flask) -> None:
    app.session_interface = _NoCookieForBearer()

    @app.before_request
    def require_sign_in():
        if request.endpoint is None:
            return None  # 404/405: let the error handlers answer
        if getattr(current_app.view_functions.get(request.endpoint), "signed_request", False):
            return None  # it checks the request's own signature (app.core.api.endpoint(signed=True))
        # Browser sessions must carry the CSRF token; token clients send no cookie to forge.
        check_csrf = not _token_only()
        if request.endpoint in PUBLIC_ENDPOINTS:
            if check_csrf:
                csrf.protect()
            return None
        if not current_user.is_authenticated:
            if wants_json() or request.path == "/ws":
                raise NotSignedIn("Sign in first, or send an API token as 'Authorization: Bearer <token>'.")
            return redirect(url_for("auth.login_page", next=request.full_path.rstrip("?")))
        if check_csrf:
            csrf.protect()
        return None


def _safe_next(target: str | None) -> str:
    if not target:
        return url_for(capability.registry().home)
    parts = urlsplit(target)
    # only paths on this site: no scheme, no host, not protocol-relative
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for(capability.registry().home)
    return target


# ---- sign-in limits ------------------------------------------------------------
# Failed sign-ins only (a 401 answer) are counted, per account tried and per client address
# separately: wrong passwords for one user lock that user out, not everyone behind the same
# address; a password-spraying client hits the address limit. Flask-Limiter checks both before
# the view runs and deducts after it answered (`deduct_when`); a success clears the account's count.

ACCOUNT_KEY = "login-account:"
ADDRESS_KEY = "login-address:"


def _account_key() -> str:
    return ACCOUNT_KEY + request.form.get("username", "").strip().lower()


def _address_key() -> str:
    return ADDRESS_KEY + (request.remote_addr or "unknown")  # the proxy's client address under ProxyFix


def _failed(response: Response) -> bool:
    return response.status_code == 401


def _locked_out(whose: str):
    def respond(limit: RequestLimit) -> Response:
        wait = max(1, int(limit.reset_at - time.time()))
        minutes = math.ceil(wait / 60)
        message = f"Too many failed sign-ins {whose}; try again in {minutes} minute{'s' if minutes > 1 else ''}."
        if wants_json():
            response = jsonify(error_body("too_many_requests", message, {"retry_after": wait}))
        else:
            html = render_template("auth/login.html", username=request.form.get("username", ""), locked=message)
            response = current_app.make_response(html)
        response.status_code = 429
        response.headers["Retry-After"] = str(wait)
        return response

    return respond


def _clear_account_count() -> None:
    for current in limiter.current_limits:
        if any(str(arg).startswith(ACCOUNT_KEY) for arg in current.request_args):
            limiter.limiter.clear(current.limit, *current.request_args)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_ACCOUNT_RATE_LIMIT"],
    key_func=_account_key,
    methods=["POST"],
    deduct_when=_failed,
    on_breach=_locked_out("for this account"),
)
@limiter.limit(
    lambda: current_app.config["LOGIN_ADDRESS_RATE_LIMIT"],
    key_func=_address_key,
    methods=["POST"],
    deduct_when=_failed,
    on_breach=_locked_out("from your network address"),
)
def login_page():
    if request.method == "POST":
        user = service.authenticate(request.form.get("username", ""), request.form.get("password", ""))
        if user is None:
            flash("Wrong username or password.", "error")
            return render_template("auth/login.html", username=request.form.get("username", "")), 401
        db.session.commit()
        _clear_account_count()
        login_user(user)
        return redirect(_safe_next(request.args.get("next")))
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", username="")


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash("Signed out.", "info")
    return redirect(url_for("auth.login_page"))


def _account_page(new_token: str | None = None) -> str:
    return render_template(
        "auth/account.html", tokens=current_user.tokens, new_token=new_token, password_rules=service.PASSWORD_RULES
    )


@bp.get("/account")
@page_roles(SIGNED_IN)
def account():
    return _account_page()


@bp.post("/account/password")
@page_roles(SIGNED_IN)
def change_password():
    def change() -> str:
        user = current_user._get_current_object()
        service.change_password(
            user,
            request.form.get("current_password", ""),
            request.form.get("new_password", ""),
            request.form.get("confirm_password", ""),
        )
        login_user(user, fresh=True)  # this session carries the new fingerprint; the others end
        return "Password changed. Your other browser sessions are signed out; API tokens still work."

    return form_action(change, url_for("auth.account"))


@bp.get("/admin/users")
@page_roles(ADMIN)
def users_page():
    page = service.list_users(request.args.get("page", 1, type=int))
    return render_template("auth/users.html", page=page, roles=ROLES, password_rules=service.PASSWORD_RULES)


@bp.post("/admin/users")
@page_roles(ADMIN)
def create_user():
    def create() -> tuple[str, str]:
        form = request.form
        user = service.create_user(form.get("username", ""), form.get("password", ""), form.get("role", ""))
        return f"User {user.username} created ({user.role}).", url_for("auth.users_page", _anchor=f"user-{user.id}")

    return form_action(create, url_for("auth.users_page"))


@bp.post("/admin/users/<int:user_id>")
@page_roles(ADMIN)
def update_user(user_id: int):
    def update() -> str:
        user = get_or_404(User, user_id, "user")
        active = {"yes": True, "no": False}.get(request.form.get("active", ""))
        service.update_user(user, role=request.form.get("role") or None, active=active)
        return f"{user.username}: {user.role}, {'active' if user.active else 'deactivated'}."

    return form_action(update, url_for("auth.users_page"))


@bp.post("/account/tokens")
@page_roles(SIGNED_IN)
def create_token():
    if forms.claim(url_for("auth.account")) is not None:  # the clear token was shown once, to the first submit
        flash("This form was already sent: the token was created once and shown then.", "info")
        return redirect(url_for("auth.account"))
    try:
        _, token = service.create_token(current_user, request.form.get("name", ""))
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("auth.account"))
    forms.done(url_for("auth.account"))
    db.session.commit()
    flash("Token created. Copy it now: it will not be shown again.", "success")
    return _account_page(new_token=token)


@bp.post("/account/tokens/<int:token_id>/revoke")
@page_roles(SIGNED_IN)
def revoke_token(token_id: int):
    row = service.revoke_token(current_user, token_id)
    db.session.commit()
    flash(f"Token {row.name!r} revoked.", "success")
    return redirect(url_for("auth.account"))
