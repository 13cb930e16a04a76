"""One-time form tokens: a create form submitted twice (a double click, a reload of the POST, a
second tab) creates one row.

Every create form renders `{{ form_token() }}`, a hidden field with a fresh random token. The
view's form helper (`app.core.pages.form_page` / `form_action`, or `claim()` and `done()` for a
view of its own) claims the token in the request's transaction: the token is the primary key of
`form_tokens`, so of two submits of one form only one can commit its row. The second submit
finds the row and is sent to what the first one created instead of creating again; a refused
submit rolls back with its row, so the form can be corrected and sent again.

A POST without the field (a script, a test, the API, which has idempotency keys of its own) is
not deduplicated. Rows older than `FORM_TOKEN_TTL_HOURS` are deleted when a new one is claimed.
"""

import secrets
from datetime import datetime, timedelta

from flask import current_app, request
from markupsafe import Markup, escape
from sqlalchemy import String, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from app.core.timeutil import UTCDateTime, utcnow
from app.extensions import db

FIELD = "form_token"
ALREADY_SENT = "This form was already sent; nothing was created twice. Here is what the first submit made."


class FormToken(db.Model):
    """A form token that has been used, and where its submit went."""

    __tablename__ = "form_tokens"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    result_url: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


def field(form: str | None = None, *, oob: bool = False) -> Markup:
    """The hidden input of a create form (a Jinja global: `{{ form_token() }}`). A form htmx
    submits in place (`hx-target="#flashes"`) stays on the page, so it names its own id,
    `{{ form_token("activity-form") }}`: `form_action` answers with a fresh token swapped in
    out of band (`oob`), and the next activity added is a new submit, not a repeat."""
    attrs = f' id="{escape(form)}-token"' if form else ""
    attrs += ' hx-swap-oob="true"' if oob else ""
    return Markup(f'<input type="hidden" name="{FIELD}" value="{secrets.token_urlsafe(24)}"{attrs}>')


def renewed() -> Markup:
    """A fresh token for the form htmx just submitted in place (its id is in `HX-Trigger`)."""
    form = request.headers.get("HX-Trigger")
    return field(form, oob=True) if form and posted_token() else Markup("")


def posted_token() -> str | None:
    token = request.form.get(FIELD, "").strip()
    return token[:64] or None


def claim(fallback: str) -> str | None:
    """Claim this POST's form token in the current transaction, before anything else is written
    (no savepoint: pysqlite would commit on releasing one that opened the transaction). None: go on (no token was sent,
    or it is fresh and now taken). Otherwise the form was sent before: the URL its first submit
    went to (`fallback` while that submit has not finished)."""
    token = posted_token()
    if token is None:
        return None
    row = db.session.get(FormToken, token)
    if row is None:
        try:
            db.session.add(FormToken(token=token))
            db.session.flush()
        except IntegrityError:  # a concurrent submit of the same form committed it first
            db.session.rollback()  # the claim is the request's first write: nothing else is lost
            row = db.session.get(FormToken, token)
        else:
            _prune()
            return None
    return (row.result_url if row is not None else None) or fallback


def done(url: str) -> None:
    """Note where this submit went, for a second submit of the same form (same transaction)."""
    token = posted_token()
    row = db.session.get(FormToken, token) if token else None
    if row is not None:
        row.result_url = url


def _prune() -> None:
    cutoff = utcnow() - timedelta(hours=current_app.config["FORM_TOKEN_TTL_HOURS"])
    db.session.execute(delete(FormToken).where(FormToken.created_at < cutoff))
