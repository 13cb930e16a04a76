"""Helpers for HTML pages: a form action that flashes domain errors instead of failing."""

from collections.abc import Callable

from flask import flash, redirect, render_template, request

from app.core.errors import DomainError
from app.extensions import db

FLASH_TARGET = "flashes"  # id of the flash area in templates/base.html


def form_action(action: Callable[[], str | tuple[str, str]], back: str):
    """Run `action` (it returns the success message, or (message, url) to go
    on to another page, e.g. the one of what it created); on a domain error
    roll back and flash the error.

    A plain form post then goes back to `back`. An htmx form that targets the
    flash area (`hx-post=... hx-target="#flashes"`) stays on its page and gets
    the messages in place, so the page's live socket keeps its subscriptions;
    any other htmx caller is told to go to `back`.
    """
    try:
        result = action()
        message, back = result if isinstance(result, tuple) else (result, back)
        flash(message, "success")
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    if request.headers.get("HX-Request"):
        if request.headers.get("HX-Target") == FLASH_TARGET:
            return render_template("partials/flashes.html")
        response = redirect(back)
        response.headers["HX-Redirect"] = back
        return response
    return redirect(back)
