"""The schema comes only from migrations: they must match the models exactly."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select

from app.engine import RunStatus
from app.extensions import db
from app.flows.models import FlowDefinition, FlowRun

pytestmark = pytest.mark.dialects


def test_models_and_migrations_agree(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models differ from migrations: {diff}"


def test_migrations_create_every_table(app):
    tables = set(inspect(db.engine).get_table_names())
    assert {"users", "api_tokens", "audit_log", "job_history", "alembic_version"} <= tables


def _flow_run_statuses() -> dict[int, tuple[str, str | None]]:
    with db.engine.connect() as conn:
        rows = conn.execute(select(FlowRun.id, FlowRun.status, FlowRun.state))
        return {run_id: (status, state and state.get("status")) for run_id, status, state in rows}


def test_the_canceled_migration_respells_flow_runs_both_ways(app):
    flow = FlowDefinition(name="f", document="{}", created_by="t")
    canceled = FlowRun(flow=flow, status=RunStatus.CANCELED, actor="t", state={"status": "canceled", "trace": []})
    completed = FlowRun(flow=flow, status=RunStatus.COMPLETED, actor="t", state={"status": "completed"})
    pending = FlowRun(flow=flow, status=RunStatus.PENDING, actor="t")
    db.session.add_all([flow, canceled, completed, pending])
    db.session.commit()
    ids = canceled.id, completed.id, pending.id
    db.session.remove()  # no open transaction while Alembic writes (SQLite would wait on it)
    try:
        downgrade(revision="0006_eco")
        before = _flow_run_statuses()
    finally:
        upgrade()
    assert [before[i] for i in ids] == [("cancelled", "cancelled"), ("completed", "completed"), ("pending", None)]
    after = _flow_run_statuses()
    assert [after[i] for i in ids] == [("canceled", "canceled"), ("completed", "completed"), ("pending", None)]
