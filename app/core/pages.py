"""Helpers for HTML pages: the roles a page needs, and a form action that flashes
domain errors instead of failing."""

import functools
from collections.abc import Callable

from flask import flash, redirect, render_template, request

from app.core.auth.service import require_role
from app.core.errors import DomainError
from app.extensions import db

FLASH_TARGET = "flashes"  # id of the flash area in templates/base.html


def page_roles(roles: tuple[str, ...]):
    """Declare the roles a page needs, as `@endpoint(roles=...)` does for the API:
    401 when nobody is signed in, 403 when the user has none of `roles` (an admin
    always passes); `SIGNED_IN` (the empty tuple) lets any signed-in user in.
    The roles are kept on the view as `view.page_roles`, so a test can check that
    every page that changes something declares them."""

    def decorate(view):
        @functools.wraps(view)
        def checked(*args, **kwargs):
            require_role(*roles)
            return view(*args, **kwargs)

        checked.page_roles = tuple(roles)
        return checked

    return decorate


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
