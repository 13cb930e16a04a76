"""Helpers for HTML pages: a form action that flashes domain errors instead of failing."""

from collections.abc import Callable

from flask import flash, redirect, request

from app.core.errors import DomainError
from app.extensions import db


def form_action(action: Callable[[], str], back: str):
    """Run `action` (it returns the success message); on a domain error roll
    back, flash the error, and go back either way. htmx callers get a redirect header."""
    try:
        message = action()
        flash(message, "success")
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    if request.headers.get("HX-Request"):
        response = redirect(back)
        response.headers["HX-Redirect"] = back
        return response
    return redirect(back)
