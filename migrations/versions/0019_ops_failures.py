"""ops failures: the failed rows of a window, newest first, read from an index

The overview's failure tables (app/ops/failures.py) page the failed rows of a window newest first
and count them: `status = 'failed' AND <time> >= :start ORDER BY <time> DESC, id DESC`. A (status,
time) index answers both from one range, in that order; it replaces the status-only indexes, its
prefix. A doc-sync
job's "replayed or not" (and the dead letter's NOT EXISTS) looks up `replay_of_id`, which had no
index: a scan of every job per failed job.

Revision ID: 0019_ops_failures
Revises: 0018_ops_indexes
Create Date: 2026-12-06 22:00:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "0019_ops_failures"
down_revision = "0018_ops_indexes"
branch_labels = None
depends_on = None

# (table, the index it replaces and its columns or None, the new index, its columns)
CHANGES = (
    ("doc_sync_jobs", ("ix_doc_sync_jobs_status", ["status"]), "ix_doc_sync_jobs_status_created", ["status", "created_at"]),
    ("doc_sync_jobs", None, "ix_doc_sync_jobs_replay_of_id", ["replay_of_id"]),
    (
        "breakage_incidents",
        ("ix_breakage_incidents_helpdesk", ["helpdesk_status"]),
        "ix_breakage_incidents_helpdesk",
        ["helpdesk_status", "occurred_at"],
    ),
    ("bom_exports", None, "ix_bom_exports_status_created", ["status", "created_at"]),
    (
        "workorder_packs",
        ("ix_workorder_packs_status", ["status"]),
        "ix_workorder_packs_status_created",
        ["status", "created_at"],
    ),
)


def upgrade():
    for table, old, new, columns in CHANGES:
        if old:
            op.drop_index(old[0], table_name=table)
        op.create_index(new, table, columns)


def downgrade():
    for table, old, new, _ in reversed(CHANGES):
        op.drop_index(new, table_name=table)
        if old:
            op.create_index(old[0], table, old[1])
