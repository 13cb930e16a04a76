import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from app.extensions import db

pytestmark = pytest.mark.dialects


def _due_columns() -> list[str]:
    indexes = inspect(db.engine).get_indexes("consumption_inbox_events")
    return next(ix["column_names"] for ix in indexes if ix["name"] == "ix_consumption_inbox_events_due")


def _insert_scale_factor() -> str | None:
    if db.engine.dialect.name != "postgresql":
        return None
    with db.engine.connect() as conn:
        options = conn.scalar(text("SELECT reloptions FROM pg_class WHERE relname = 'consumption_records'")) or []
    return next((o.split("=")[1] for o in options if o.startswith("autovacuum_vacuum_insert_scale_factor=")), None)


def test_the_consumption_perf_migration_downgrades_and_upgrades(app):
    db.session.remove()
    try:
        downgrade(revision="0016_overlays")
        assert _due_columns() == ["state", "next_attempt_at"] and _insert_scale_factor() is None
    finally:
        upgrade()
    assert _due_columns() == ["state", "next_attempt_at", "id"]
    assert _insert_scale_factor() == ("0.01" if db.engine.dialect.name == "postgresql" else None)
