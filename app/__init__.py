"""Forgeline: create_app() is the one place that wires extensions and blueprints."""

import logging
from typing import Any

import redis
from flask import Flask

from app.config import ROOT, Config
from app.extensions import csrf, db, htmx, limiter, login, migrate, sock

# Each capability package has views.py and api.py (a blueprint `bp` each) and
# may have demo.py with an idempotent seed() that `flask seed-demo` calls.
CAPABILITIES = ("queues", "items", "eco", "docsync", "optimization", "flows")


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

    from app.core import metrics
    from app.core.auth.views import register_gate
    from app.core.errors import register_error_handlers
    from app.templating import register_templating

    register_gate(app)
    register_error_handlers(app)
    register_templating(app)
    metrics.init_app(app)  # last: it wraps every view registered above

    from app import cli

    cli.register(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from importlib import import_module

    from app.core import api, metrics, views
    from app.core.audit import views as audit_views
    from app.core.auth import views as auth_views
    from app.core.live import views as live_views

    for bp in (views.bp, auth_views.bp, audit_views.bp, metrics.bp, api.openapi_bp, live_views.bp):
        app.register_blueprint(bp)
    for capability in CAPABILITIES:
        for module in ("views", "api"):
            app.register_blueprint(import_module(f"app.{capability}.{module}").bp)
