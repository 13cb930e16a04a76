"""Every HTML view that changes something declares the roles it needs with
`@page_roles(...)` (app.core.pages), as every API endpoint does with
`@endpoint(roles=...)`; this walks the URL map so a new page cannot forget."""

import pytest
from flask import Blueprint

from app import create_app
from app.core.api import API_PREFIX
from app.core.auth.roles import ENGINEER, SIGNED_IN
from app.core.pages import page_roles
from tests.conftest import app_config

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# Open on purpose: signing in needs no session yet, and signing out is flask-login's own check.
PUBLIC = {"auth.login_page", "auth.logout"}


def undeclared(app) -> list[str]:
    """The state-changing page rules whose view declares no roles."""
    return sorted(
        f"{rule.endpoint} {rule.rule}"
        for rule in app.url_map.iter_rules()
        if rule.methods & STATE_CHANGING
        and rule.endpoint != "static"
        and not rule.rule.startswith(API_PREFIX)
        and rule.endpoint not in PUBLIC
        and not hasattr(app.view_functions[rule.endpoint], "page_roles")
    )


def _build(**extra):
    return create_app(app_config("sqlite://", "redis://localhost:1/0", **extra))


def test_every_state_changing_page_declares_its_roles():
    assert undeclared(_build()) == []


def test_a_page_without_declared_roles_is_caught():
    app = _build()
    bp = Blueprint("page_roles_probe", __name__)

    @bp.post("/probe/undeclared")
    def undeclared_post():
        return ""

    @bp.post("/probe/declared")
    @page_roles(ENGINEER)
    def declared_post():
        return ""

    app.register_blueprint(bp)
    assert undeclared(app) == ["page_roles_probe.undeclared_post /probe/undeclared"]


@pytest.mark.parametrize("roles", [SIGNED_IN, ENGINEER])
def test_declared_roles_are_kept_on_the_view(roles):
    @page_roles(roles)
    def view():
        """doc"""

    assert view.page_roles == roles
    assert view.__name__ == "view" and view.__doc__ == "doc"
