import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from app.extensions import db

pytestmark = pytest.mark.dialects

TABLES = {
    "workorder_routings",
    "workorder_routing_operations",
    "workorder_doc_links",
    "workorders",
    "workorder_operations",
    "workorder_packs",
}


def test_the_workorders_migration_downgrades_and_upgrades(app):
    db.session.remove()
    try:
        downgrade(revision="0014_job_history_queue_kind")
        assert not TABLES & set(inspect(db.engine).get_table_names())
    finally:
        upgrade()
    assert TABLES <= set(inspect(db.engine).get_table_names())
