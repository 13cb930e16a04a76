"""audit_log: indexes ending in id for the keyset-paged, filtered audit page

The page reads newest first by id with filters on entity (and entity id), actor and action.
An index on (filter column, id) lets each filtered page walk the index for the rows it shows;
the single-column indexes on actor and entity it replaces made PostgreSQL sort every matching
row first.

Revision ID: 0010_audit_and_accounts
Revises: 0009_optimization_run_token
Create Date: 2026-12-03 10:45:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010_audit_and_accounts"
down_revision = "0009_optimization_run_token"
branch_labels = None
depends_on = None

NEW_INDEXES = {
    "ix_audit_log_entity_id": ["entity", "id"],
    "ix_audit_log_record": ["entity", "entity_id", "id"],
    "ix_audit_log_actor_id": ["actor", "id"],
    "ix_audit_log_action_id": ["action", "id"],
}


def upgrade():
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.drop_index("ix_audit_log_actor")
        batch_op.drop_index("ix_audit_log_entity")
        for name, columns in NEW_INDEXES.items():
            batch_op.create_index(name, columns, unique=False)


def downgrade():
    with op.batch_alter_table("audit_log") as batch_op:
        for name in NEW_INDEXES:
            batch_op.drop_index(name)
        batch_op.create_index("ix_audit_log_entity", ["entity"], unique=False)
        batch_op.create_index("ix_audit_log_actor", ["actor"], unique=False)
