"""audit_log: indexes ending in (at, id) for the keyset-paged, filtered audit page

The page reads newest first by (at, id), filtered on entity (and entity id), actor, action
and a date range. An index on (filter column, at, id) lets each filtered page walk the index
over the rows it shows; the single-column indexes it replaces made PostgreSQL sort every
matching row first.

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

OLD_INDEXES = {"ix_audit_log_at": ["at"], "ix_audit_log_actor": ["actor"], "ix_audit_log_entity": ["entity"]}
NEW_INDEXES = {
    "ix_audit_log_at_id": ["at", "id"],
    "ix_audit_log_entity_at": ["entity", "at", "id"],
    "ix_audit_log_record": ["entity", "entity_id", "at", "id"],
    "ix_audit_log_actor_at": ["actor", "at", "id"],
    "ix_audit_log_action_at": ["action", "at", "id"],
}


def upgrade():
    with op.batch_alter_table("audit_log") as batch_op:
        for name in OLD_INDEXES:
            batch_op.drop_index(name)
        for name, columns in NEW_INDEXES.items():
            batch_op.create_index(name, columns, unique=False)


def downgrade():
    with op.batch_alter_table("audit_log") as batch_op:
        for name in NEW_INDEXES:
            batch_op.drop_index(name)
        for name, columns in OLD_INDEXES.items():
            batch_op.create_index(name, columns, unique=False)
