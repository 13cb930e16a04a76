"""Migration 0021_ops_rollups: its downgrade takes the rollups, their triggers and
doc_sync_jobs.replayed away; its upgrade puts them back with the counts of the rows already
there (the backfill) and the replayed flags of the jobs already replayed."""

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select

from app.core import rollup
from app.docsync import figures as docsync_figures
from app.docsync.models import SyncJob
from app.extensions import db
from tests.ops import scene

pytestmark = pytest.mark.dialects


def test_the_rollups_migration_downgrades_and_upgrades_with_the_rows_counted(app):
    scene.doc_sync()
    scene.job_history()
    db.session.commit()
    end = db.session.scalar(select(SyncJob.created_at).order_by(SyncJob.created_at.desc())).replace(microsecond=0)
    window = (end.replace(year=end.year - 1), end.replace(year=end.year + 1))
    before = docsync_figures.jobs(*window)
    tables = {table.name for spec in rollup.REGISTRY for table in spec.tables.values()}
    db.session.remove()
    try:
        downgrade(revision="0020_ops_switches")
        assert not tables & set(inspect(db.engine).get_table_names())
        assert "replayed" not in {c["name"] for c in inspect(db.engine).get_columns("doc_sync_jobs")}
    finally:
        upgrade()
    assert tables <= set(inspect(db.engine).get_table_names())
    assert docsync_figures.jobs(*window) == before
    assert before["dead_letter"] == 2 and before["by_status"]["failed"] == 3  # one failed job was replayed
