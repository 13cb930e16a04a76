"""ops switches: job kinds whose intake is paused; breakers held open by hand

`ops_intake_pauses` has one row per paused job kind (who, when, why); remote sites and the
helpdesk endpoint get the three columns of a breaker opened by hand (app/core/breaker.py).

Revision ID: 0020_ops_switches
Revises: 0019_ops_failures
Create Date: 2026-12-06 22:10:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = "0020_ops_switches"
down_revision = "0019_ops_failures"
branch_labels = None
depends_on = None

BREAKER_TABLES = ("remote_sites", "helpdesk_endpoints")


def upgrade():
    op.create_table(
        "ops_intake_pauses",
        sa.Column("kind", sa.String(length=80), nullable=False),
        sa.Column("paused_by", sa.String(length=80), nullable=False),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_ops_intake_pauses")),
    )
    for table in BREAKER_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("breaker_held_by", sa.String(length=80), nullable=True))
            batch.add_column(sa.Column("breaker_held_at", sa.DateTime(timezone=True), nullable=True))
            batch.add_column(sa.Column("breaker_held_reason", sa.String(length=300), nullable=True))


def downgrade():
    for table in BREAKER_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("breaker_held_reason")
            batch.drop_column("breaker_held_at")
            batch.drop_column("breaker_held_by")
    op.drop_table("ops_intake_pauses")
