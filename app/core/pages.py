"""Helpers for HTML pages: the roles a page needs, a form page (GET shows it, POST
saves it or shows it again with the error), and a form action that flashes
domain errors instead of failing."""

import functools
from collections.abc import Callable
from typing import Any

from flask import flash, redirect, render_template, request

from app.core import forms
from app.core.auth.service import require_role
from app.core.errors import DomainError, settle
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
    on to another page, e.g. the one of what it created), then commit; on a
    domain error roll back and flash the error.

    A form with a one-time token (`{{ form_token() }}`, see app/core/forms.py)
    runs once: a second submit of it goes to where the first one went.

    A plain form post then goes back to `back`. An htmx form that targets the
    flash area (`hx-post=... hx-target="#flashes"`) stays on its page and gets
    the messages in place, so the page's live socket keeps its subscriptions;
    any other htmx caller is told to go to `back`.
    """
    if (earlier := forms.claim(back)) is not None:
        flash(forms.ALREADY_SENT, "info")
        return _go(earlier)
    try:
        result = action()
        message, back = result if isinstance(result, tuple) else (result, back)
        forms.done(back)
        db.session.commit()
        flash(message, "success")
    except DomainError as exc:
        settle(exc)
        flash(exc.message, "error")
    return _go(back)


def _go(back: str):
    if request.headers.get("HX-Request"):
        if request.headers.get("HX-Target") == FLASH_TARGET:
            return render_template("partials/flashes.html") + str(forms.renewed())
        response = redirect(back)
        response.headers["HX-Redirect"] = back
        return response
    return redirect(back)


def form_page(
    template: str,
    save: Callable[[Any], str | tuple[str, str]],
    values: Any = None,
    *,
    posted: Callable[[], Any] = lambda: request.form.to_dict(),
    context: Callable[[DomainError | None], dict] | None = None,
    error_status: int | None = 422,
    flash_error: bool = False,
):
    """A page with a form. GET renders `template` with `values` and `error=None`.
    POST reads what was submitted with `posted()`, runs `save(submitted)` (it
    returns the URL to go on to, or (message, url) to flash a success message
    first), commits and redirects. On a domain error it rolls back and renders
    the form again with `error` and the submitted values (the first ones if
    reading them failed), status `error_status`, or the error's own status when
    that is None; `flash_error` also flashes the error's message. A form with a
    one-time token (`{{ form_token() }}`) saves once: a second submit of it is
    sent to the URL the first one went to.

    `context(error)` gives the template's other variables (the choices of a
    select, the object edited, ...); it is called only when the form is shown.
    """
    error = None
    if request.method == "POST":
        if (earlier := forms.claim(request.path)) is not None:
            flash(forms.ALREADY_SENT, "info")
            return redirect(earlier)
        try:
            values = posted()
            result = save(values)
            message, url = result if isinstance(result, tuple) else (None, result)
            forms.done(url)
            db.session.commit()
            if message:
                flash(message, "success")
            return redirect(url)
        except DomainError as exc:
            db.session.rollback()
            error = exc
            if flash_error:
                flash(exc.message, "error")
    extra = context(error) if context else {}
    status = (error_status or error.status) if error else 200
    return render_template(template, values=values, error=error, **extra), status
