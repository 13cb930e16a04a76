"""flow runs: 'cancelled' becomes 'canceled', the spelling every other status set uses

Revision ID: 0007_canceled
Revises: 0006_eco
Create Date: 2026-12-02 16:30:00.000000

The status column and the status kept in a run's final snapshot (`state`) both
change; the job history and the other sets already said 'canceled'. Audit rows
stay as they were written.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_canceled'
down_revision = '0006_eco'
branch_labels = None
depends_on = None

flow_runs = sa.table(
    'flow_runs',
    sa.column('id', sa.Integer),
    sa.column('status', sa.String),
    sa.column('state', sa.JSON),
)


def _respell(old, new):
    conn = op.get_bind()
    rows = conn.execute(sa.select(flow_runs.c.id, flow_runs.c.state).where(flow_runs.c.status == old)).all()
    for run_id, state in rows:  # only the canceled runs: their snapshot is rewritten in Python, on any dialect
        values = {'status': new}
        if isinstance(state, dict) and state.get('status') == old:
            values['state'] = {**state, 'status': new}
        conn.execute(sa.update(flow_runs).where(flow_runs.c.id == run_id).values(**values))


def upgrade():
    _respell('cancelled', 'canceled')


def downgrade():
    _respell('canceled', 'cancelled')
