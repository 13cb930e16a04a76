"""The schema comes only from migrations: they must match the models exactly."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app.extensions import db

pytestmark = pytest.mark.dialects


def test_models_and_migrations_agree(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models differ from migrations: {diff}"


def test_migrations_create_every_table(app):
    tables = set(inspect(db.engine).get_table_names())
    assert {"users", "api_tokens", "audit_log", "job_history", "alembic_version"} <= tables
