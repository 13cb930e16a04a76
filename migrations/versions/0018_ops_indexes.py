"""ops: the indexes the parallel-ops overview's windows read (summary, trends)

Each area's window is a range of one time column; these indexes start with it and carry the
columns the grouped counts read, so a window (and its buckets) is read from the index alone:
job_history by enqueued_at (queue, status and the percentiles' duration and wait), doc sync jobs
by created_at, workflow runs by
started_at, flow runs, work-order packs and optimizations by created_at, incidents' helpdesk
sends by occurred_at, consumption plans by the end of their period. docs/ops.md has the plans.

Revision ID: 0018_ops_indexes
Revises: 0017_consumption_perf
Create Date: 2026-12-06 22:10:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "0018_ops_indexes"
down_revision = "0017_consumption_perf"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_job_history_window", "job_history", ["enqueued_at", "queue", "status", "duration", "wait"]),
    ("ix_doc_sync_jobs_window", "doc_sync_jobs", ["created_at", "status", "direction", "site_id"]),
    ("ix_workflow_runs_window", "workflow_runs", ["started_at", "status", "result_code"]),
    ("ix_flow_runs_window", "flow_runs", ["created_at", "status"]),
    ("ix_workorder_packs_window", "workorder_packs", ["created_at", "status"]),
    ("ix_optimization_window", "optimization", ["created_at", "status"]),
    ("ix_breakage_incidents_window_helpdesk", "breakage_incidents", ["occurred_at", "status", "helpdesk_status"]),
    ("ix_consumption_plans_ended", "consumption_plans", ["period_end", "state"]),
)


def upgrade():
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade():
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
