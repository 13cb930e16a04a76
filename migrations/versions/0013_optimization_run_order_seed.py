"""optimization.run_order_seed: the seed of a shuffled run order

An optimization with an early-stop policy runs its grid points in a seeded shuffled
order (a task's seq is its position in that order), so a stop has sampled the whole
grid; NULL means grid order, as every optimization before this ran.

Revision ID: 0013_optimization_run_order_seed
Revises: 0012_breakages
Create Date: 2026-12-03 11:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0013_optimization_run_order_seed"
down_revision = "0012_breakages"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("optimization", sa.Column("run_order_seed", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("optimization") as batch_op:
        batch_op.drop_column("run_order_seed")
