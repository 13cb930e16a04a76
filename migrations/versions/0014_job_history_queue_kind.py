"""job_history (queue, kind) index: the queue pages' kind drop-down, one index seek per kind

Revision ID: 0014_job_history_queue_kind
Revises: 0013_optimization_run_order_seed
Create Date: 2026-12-04 20:30:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "0014_job_history_queue_kind"
down_revision = "0013_optimization_run_order_seed"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_job_history_queue_kind", "job_history", ["queue", "kind"])


def downgrade():
    op.drop_index("ix_job_history_queue_kind", table_name="job_history")
