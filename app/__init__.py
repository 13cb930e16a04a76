"""Forgeline: create_app() is the one place that wires extensions and blueprints."""

import logging
from typing import Any

import redis
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import PROXY_FIX_HEADERS, ROOT, Config
from app.core import capability
from app.core.auth.roles import ADMIN, OPERATOR
from app.core.capability import OPERATIONS, Access, Capability, NavEntry
from app.extensions import csrf, db, htmx, limiter, login, migrate, sock

# The capability packages, in dependency order (demo seeds run in it; workers take their queues
# in it). Each declares CAPABILITY in its __init__.py (navigation, queues, home page), has
# views.py and api.py with a blueprint `bp` each, and may have demo.py with an idempotent seed()
# that `flask seed-demo` calls. Adding a capability means adding its name here, nothing else.
CAPABILITIES = (
    "dashboard",
    "queues",
    "items",
    "docsync",
    "eco",
    "breakages",
    "overlays",
    "optimization",
    "flows",
    "consumption",
    "workorders",
    "ops",
)

# core's own entries: the audit log, the users' page, the queue every job may use, and the
# `job:<id>` topics (operators see every job; others a job of a record they may see, or one they started)
CORE = Capability(
    "core",
    nav=(
        NavEntry("Audit log", "audit.index", OPERATOR, order=90, group=OPERATIONS),
        NavEntry("Users", "auth.users_page", ADMIN, order=95, group=OPERATIONS),
    ),
    access=(Access("job", OPERATOR, may_see="app.core.jobs.history.may_see"),),
)


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    app.config.from_object(Config())
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # checked in the auth gate, which knows bearer clients
    app.config.update(overrides or {})
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    sock.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    login.init_app(app)
    login.login_view = "auth.login_page"
    limiter.init_app(app)
    app.extensions["redis"] = redis.Redis.from_url(app.config["REDIS_URL"], health_check_interval=30)

    _register_blueprints(app)

    from app.core import metrics, slots
    from app.core.auth.views import register_gate
    from app.core.errors import register_error_handlers
    from app.templating import register_templating

    slots.init_app(app)  # first: a request waits for its slot before it does anything
    register_gate(app)
    register_error_handlers(app)
    register_templating(app)
    metrics.init_app(app)  # last: it wraps every view registered above

    from app import cli

    cli.register(app)
    _proxy_fix(app)
    return app


def _proxy_fix(app: Flask) -> None:
    """Behind a reverse proxy, take the client address (and scheme, host, ...) from the
    X-Forwarded-* headers it sets, trusting as many hops as PROXY_FIX_X_* says; off by default,
    since without a proxy those headers are whatever the client sent."""
    hops = {f"x_{h}": app.config[f"PROXY_FIX_X_{h.upper()}"] for h in PROXY_FIX_HEADERS}
    hops = {name: count for name, count in hops.items() if count}
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, **hops)


def _register_blueprints(app: Flask) -> None:
    from app.core import api, metrics, views
    from app.core.audit import api as audit_api
    from app.core.audit import views as audit_views
    from app.core.auth import api as auth_api
    from app.core.auth import views as auth_views
    from app.core.live import views as live_views

    app.url_map.converters["int"] = api.IdConverter  # before any rule is added
    for bp in (
        views.bp,
        auth_views.bp,
        auth_api.bp,
        audit_views.bp,
        audit_api.bp,
        metrics.bp,
        api.openapi_bp,
        live_views.bp,
    ):
        app.register_blueprint(bp)
    capability.init_app(app, capability.load(CAPABILITIES, CORE))
