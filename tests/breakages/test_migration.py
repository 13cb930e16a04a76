import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from app.extensions import db

pytestmark = pytest.mark.dialects

TABLES = {"breakage_incidents", "breakage_counters", "breakage_events", "breakage_documents", "helpdesk_endpoints"}


def test_the_breakages_migration_downgrades_and_upgrades(app):
    db.session.remove()
    try:
        downgrade(revision="0011_consumption")
        assert not TABLES & set(inspect(db.engine).get_table_names())
    finally:
        upgrade()
    assert TABLES <= set(inspect(db.engine).get_table_names())
