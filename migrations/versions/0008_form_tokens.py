"""one-time form tokens (app/core/forms.py)

Revision ID: 0008_form_tokens
Revises: 0007_canceled
Create Date: 2026-12-02 16:50:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0008_form_tokens'
down_revision = '0007_canceled'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('form_tokens',
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('result_url', sa.String(length=2000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('token', name=op.f('pk_form_tokens'))
    )
    with op.batch_alter_table('form_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_form_tokens_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('form_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_form_tokens_created_at'))
    op.drop_table('form_tokens')
