"""optimization tasks: parameters and metrics in typed columns instead of JSON

A chunk saved each result's parameters and metrics as two JSON documents: encoding them was a
third of a merge. Every strategy's parameters are numbers (int or float, at most three) and the
metrics are a fixed set of five, so they become columns: `param_1`..`param_3` (the strategy's
parameters in their order: sma_cross n1, n2; rsi_reversion period, lower, upper) and
`return_pct`, `sharpe`, `max_drawdown_pct`, `trades`, `win_rate_pct`. Existing rows are carried
over both ways.

Revision ID: 0022_optimization_typed_tasks
Revises: 0021_ops_rollups
Create Date: 2026-12-07 15:10:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0022_optimization_typed_tasks"
down_revision = "0021_ops_rollups"
branch_labels = None
depends_on = None

TABLE = "optimization_task"
# the strategies' parameters as they were when this ran: (name, whole number)
STRATEGY_PARAMS = {
    "sma_cross": (("n1", True), ("n2", True)),
    "rsi_reversion": (("period", True), ("lower", False), ("upper", False)),
}
PARAMS = ("param_1", "param_2", "param_3")
METRICS = (("return_pct", False), ("sharpe", False), ("max_drawdown_pct", False), ("trades", True), ("win_rate_pct", False))


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _extract(column: str, key: str, whole: bool) -> str:
    if _postgresql():
        value = f"CAST({column} ->> '{key}' AS DOUBLE PRECISION)"
        return f"CAST(ROUND({value}) AS INTEGER)" if whole else value
    value = f"json_extract({column}, '$.{key}')"
    return f"CAST({value} AS INTEGER)" if whole else value


def _object(pairs: list[tuple[str, str, bool]]) -> str:
    """A JSON object of (key, column, whole number) from typed columns."""
    cast = "CAST({} AS INTEGER)" if not _postgresql() else "CAST(ROUND({}) AS INTEGER)"
    items = ", ".join(f"'{key}', {cast.format(column) if whole else column}" for key, column, whole in pairs)
    return f"json_build_object({items})" if _postgresql() else f"json_object({items})"


def _of_strategy(strategy: str) -> str:
    return f"optimization_id IN (SELECT id FROM optimization WHERE strategy = '{strategy}')"


def upgrade():
    with op.batch_alter_table(TABLE) as batch_op:
        for name in PARAMS:
            batch_op.add_column(sa.Column(name, sa.Float(), nullable=True))
        for name, whole in METRICS:
            batch_op.add_column(sa.Column(name, sa.Integer() if whole else sa.Float(), nullable=True))
    for strategy, params in STRATEGY_PARAMS.items():
        sets = ", ".join(
            f"{column} = {_extract('params', key, whole)}" for column, (key, whole) in zip(PARAMS, params, strict=False)
        )
        op.execute(f"UPDATE {TABLE} SET {sets} WHERE {_of_strategy(strategy)}")
    sets = ", ".join(f"{name} = {_extract('metrics', name, whole)}" for name, whole in METRICS)
    op.execute(f"UPDATE {TABLE} SET {sets} WHERE metrics IS NOT NULL")
    with op.batch_alter_table(TABLE) as batch_op:
        batch_op.drop_column("params")
        batch_op.drop_column("metrics")


def downgrade():
    with op.batch_alter_table(TABLE) as batch_op:
        batch_op.add_column(sa.Column("params", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("metrics", sa.JSON(), nullable=True))
    for strategy, params in STRATEGY_PARAMS.items():
        pairs = [(key, column, whole) for column, (key, whole) in zip(PARAMS, params, strict=False)]
        op.execute(f"UPDATE {TABLE} SET params = {_object(pairs)} WHERE {_of_strategy(strategy)}")
    op.execute(f"UPDATE {TABLE} SET params = {_object([])} WHERE params IS NULL")
    metrics = _object([(name, name, whole) for name, whole in METRICS])
    op.execute(f"UPDATE {TABLE} SET metrics = {metrics} WHERE status = 'finished'")
    with op.batch_alter_table(TABLE) as batch_op:
        batch_op.alter_column("params", existing_type=sa.JSON(), nullable=False)
        for name in (*PARAMS, *(name for name, _ in METRICS)):
            batch_op.drop_column(name)
