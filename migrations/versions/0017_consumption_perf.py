"""consumption: the inbox drain claims in index order; actuals vacuumed as they grow

A drain claims the longest-due pending events (`state = 'pending' AND next_attempt_at <= now
ORDER BY next_attempt_at, id LIMIT n`): with 150,000 pending events PostgreSQL read and sorted
all of them for each claim (0.14 s a batch); ending the due index in `id` hands them over in
order. Variance sums read the plan/time index of consumption_records only (an index-only scan)
where PostgreSQL's visibility map says the pages are all-visible; the newest rows, the current
period's, are the ones it does not cover until a vacuum, so autovacuum comes after 1 % of new
rows instead of 20 %.

Revision ID: 0017_consumption_perf
Revises: 0016_overlays
Create Date: 2026-12-04 20:45:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "0017_consumption_perf"
down_revision = "0016_overlays"
branch_labels = None
depends_on = None

TABLE = "consumption_inbox_events"
DUE = "ix_consumption_inbox_events_due"


def upgrade():
    op.drop_index(DUE, table_name=TABLE)
    op.create_index(DUE, TABLE, ["state", "next_attempt_at", "id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE consumption_records SET (autovacuum_vacuum_insert_scale_factor = 0.01)")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE consumption_records RESET (autovacuum_vacuum_insert_scale_factor)")
    op.drop_index(DUE, table_name=TABLE)
    op.create_index(DUE, TABLE, ["state", "next_attempt_at"])
