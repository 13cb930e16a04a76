"""Template helpers shared by every page: navigation, time formatting, roles."""

import os
from datetime import datetime
from functools import lru_cache

from flask import Flask
from flask_login import current_user

from app.core import capability, forms
from app.core.timeutil import utcnow


def _ago(value: datetime | None) -> str:
    if value is None:
        return "—"
    seconds = int((utcnow() - value).total_seconds())
    if seconds < 0:
        return "in " + _span(-seconds)
    return _span(seconds) + " ago"


def _span(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


STATIC_MAX_AGE = 365 * 24 * 3600  # static URLs carry their file's version, so browsers may keep them


@lru_cache(maxsize=256)
def _static_version(folder: str, filename: str) -> str:
    """The file's modification time: a changed file gets a new URL (and the browser fetches it)."""
    try:
        return str(int(os.stat(os.path.join(folder, filename)).st_mtime))
    except OSError:
        return "0"


def _words(name: object) -> str:
    """A stored name (a status, a field, a mode) as a reader sees it: not_sent -> not sent."""
    return str(name).replace("_", " ")


def register_templating(app: Flask) -> None:
    app.jinja_env.filters.update(ago=_ago, when=_when, seconds=_seconds, words=_words)
    app.jinja_env.globals["form_token"] = forms.field
    # Every page's scripts and stylesheet are cached, not revalidated on each load: under load,
    # those round trips to a busy server held a page's parsing for most of a second.
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = STATIC_MAX_AGE

    @app.url_defaults
    def versioned_static(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "filename" in values:
            values.setdefault("v", _static_version(app.static_folder, values["filename"]))

    @app.context_processor
    def navigation():
        home = capability.registry().home
        if not current_user.is_authenticated:
            return {"navigation": [], "home_endpoint": home}
        entries = [e for e in capability.registry().nav if not e.roles or current_user.has_role(*e.roles)]
        return {"navigation": capability.menus(entries), "home_endpoint": home}
