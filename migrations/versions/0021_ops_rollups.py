"""ops rollups: grouped counts per hour kept by triggers, for the overview's long windows

The rollups (app/core/rollup.py: a table per grain) with their triggers and the counts of the rows already
there; doc_sync_jobs.replayed, kept by a trigger when a replay is inserted or deleted, so that a
dead letter is a column the rollup can group by.

Revision ID: 0021_ops_rollups
Revises: 0020_ops_switches
Create Date: 2026-12-07 15:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

from app.breakages.figures import INCIDENT_TRENDS, INCIDENTS
from app.core import rollup
from app.core.jobs.history import ROLLUPS as JOB_ROLLUPS
from app.docsync.figures import JOB_TRENDS as SYNC_TRENDS
from app.docsync.figures import JOBS as SYNC_JOBS
from app.eco.figures import RUNS as WORKFLOW_RUNS
from app.flows.figures import ROLLUP as FLOW_RUNS
from app.items.figures import ROLLUP as BOM_EXPORTS
from app.optimization.figures import ROLLUP as OPTIMIZATIONS
from app.workorders.figures import ROLLUP as WORKORDER_PACKS

# revision identifiers, used by Alembic.
revision = "0021_ops_rollups"
down_revision = "0020_ops_switches"
branch_labels = None
depends_on = None

SPECS = (
    *JOB_ROLLUPS,
    SYNC_JOBS,
    SYNC_TRENDS,
    WORKFLOW_RUNS,
    INCIDENTS,
    INCIDENT_TRENDS, FLOW_RUNS, BOM_EXPORTS, WORKORDER_PACKS, OPTIMIZATIONS)

REPLAYED_SQLITE = (
    "CREATE TRIGGER doc_sync_jobs_replayed AFTER INSERT ON doc_sync_jobs FOR EACH ROW "
    "WHEN NEW.replay_of_id IS NOT NULL "
    "BEGIN UPDATE doc_sync_jobs SET replayed = 1 WHERE id = NEW.replay_of_id AND NOT replayed; END",
    "CREATE TRIGGER doc_sync_jobs_unreplayed AFTER DELETE ON doc_sync_jobs FOR EACH ROW "
    "WHEN OLD.replay_of_id IS NOT NULL "
    "BEGIN UPDATE doc_sync_jobs SET replayed = EXISTS "
    "(SELECT 1 FROM doc_sync_jobs r WHERE r.replay_of_id = OLD.replay_of_id) WHERE id = OLD.replay_of_id; END",
)
REPLAYED_POSTGRESQL = (
    """CREATE FUNCTION doc_sync_jobs_replayed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE doc_sync_jobs SET replayed = true WHERE id = NEW.replay_of_id AND NOT replayed;
  ELSE
    UPDATE doc_sync_jobs SET replayed = EXISTS
      (SELECT 1 FROM doc_sync_jobs r WHERE r.replay_of_id = OLD.replay_of_id) WHERE id = OLD.replay_of_id;
  END IF;
  RETURN NULL;
END $$""",
    "CREATE TRIGGER doc_sync_jobs_replayed AFTER INSERT OR DELETE ON doc_sync_jobs FOR EACH ROW "
    "EXECUTE FUNCTION doc_sync_jobs_replayed()",
)


def upgrade():
    bind = op.get_bind()
    dialect = bind.dialect.name
    with op.batch_alter_table("doc_sync_jobs") as batch:
        batch.add_column(sa.Column("replayed", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.execute(
        "UPDATE doc_sync_jobs SET replayed = true WHERE id IN "
        "(SELECT replay_of_id FROM doc_sync_jobs WHERE replay_of_id IS NOT NULL)"
    )
    for statement in REPLAYED_POSTGRESQL if dialect == "postgresql" else REPLAYED_SQLITE:
        op.execute(statement)
    for spec in SPECS:
        for table in spec.tables.values():
            table.create(bind)
        for statement in (*rollup.backfill_sql(spec, dialect), *rollup.trigger_ddl(spec, dialect)):
            op.execute(statement)


def downgrade():
    bind = op.get_bind()
    dialect = bind.dialect.name
    for spec in SPECS:
        for statement in rollup.drop_ddl(spec, dialect):
            op.execute(statement)
        for table in spec.tables.values():
            table.drop(bind)
    if dialect == "postgresql":
        op.execute("DROP TRIGGER doc_sync_jobs_replayed ON doc_sync_jobs")
        op.execute("DROP FUNCTION doc_sync_jobs_replayed()")
    else:
        op.execute("DROP TRIGGER doc_sync_jobs_replayed")
        op.execute("DROP TRIGGER doc_sync_jobs_unreplayed")
    with op.batch_alter_table("doc_sync_jobs") as batch:
        batch.drop_column("replayed")
