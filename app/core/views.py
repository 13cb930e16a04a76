"""Dashboard and health."""

from flask import Blueprint, current_app, jsonify, render_template
from redis import RedisError
from sqlalchemy import text

from app.config import VERSION
from app.core.jobs import history
from app.extensions import db

bp = Blueprint("core", __name__)


@bp.get("/")
def dashboard():
    from app.queues import service as queues

    try:
        queue_summary, redis_error = queues.queue_counts(), None
    except RedisError as exc:  # the dashboard still opens when Redis is down
        queue_summary, redis_error = [], str(exc)
    return render_template("dashboard.html", queues=queue_summary, redis_error=redis_error, recent=history.recent(10))


def _check(probe) -> str:
    try:
        probe()
        return "ok"
    except Exception as exc:  # noqa: BLE001 (whatever fails, /health answers and names it)
        return f"down: {exc.__class__.__name__}"


@bp.get("/health")
def health():
    checks = {
        "database": _check(lambda: db.session.execute(text("SELECT 1"))),
        "redis": _check(lambda: current_app.extensions["redis"].ping()),
    }
    healthy = all(v == "ok" for v in checks.values())
    body = {"status": "ok" if healthy else "degraded", **checks, "version": VERSION}
    return jsonify(body), 200 if healthy else 503
