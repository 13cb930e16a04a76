"""Health."""

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from app.config import VERSION
from app.extensions import db

bp = Blueprint("core", __name__)


def _check(probe) -> str:
    try:
        probe()
        return "ok"
    except Exception as exc:  # noqa: BLE001 (whatever fails, /health answers and names it)
        return f"down: {exc.__class__.__name__}: {str(getattr(exc, 'orig', None) or exc).strip()[:200]}"


@bp.get("/health")
def health():
    checks = {
        "database": _check(lambda: db.session.execute(text("SELECT 1"))),
        "redis": _check(lambda: current_app.extensions["redis"].ping()),
    }
    healthy = all(v == "ok" for v in checks.values())
    body = {"status": "ok" if healthy else "degraded", **checks, "version": VERSION}
    return jsonify(body), 200 if healthy else 503
