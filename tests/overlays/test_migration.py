import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from app.extensions import db

pytestmark = pytest.mark.dialects

TABLES = {"overlay_models", "overlay_model_parts", "overlays", "overlay_entries", "overlay_fields"}


def test_the_overlays_migration_downgrades_and_upgrades(app):
    db.session.remove()
    try:
        downgrade(revision="0015_workorders")
        assert not TABLES & set(inspect(db.engine).get_table_names())
    finally:
        upgrade()
    assert TABLES <= set(inspect(db.engine).get_table_names())
