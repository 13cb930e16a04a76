"""optimization.run_token: the random name of a run's Redis keys

Redis keys of a run (its halt flag) are named by this token, not by the row's id: a
recreated database starts counting ids from 1 again while Redis still holds the old
run's keys.

Revision ID: 0009_optimization_run_token
Revises: 0008_form_tokens
Create Date: 2026-12-02 16:40:00.000000

"""
import secrets

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0009_optimization_run_token"
down_revision = "0008_form_tokens"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("optimization", sa.Column("run_token", sa.String(length=32), nullable=True))
    optimization = sa.table("optimization", sa.column("id", sa.Integer()), sa.column("run_token", sa.String()))
    connection = op.get_bind()
    for (row_id,) in connection.execute(sa.select(optimization.c.id)).all():
        connection.execute(
            optimization.update().where(optimization.c.id == row_id).values(run_token=secrets.token_hex(16))
        )
    with op.batch_alter_table("optimization") as batch_op:
        batch_op.alter_column("run_token", existing_type=sa.String(length=32), nullable=False)


def downgrade():
    with op.batch_alter_table("optimization") as batch_op:
        batch_op.drop_column("run_token")
