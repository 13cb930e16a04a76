import json

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from app.extensions import db
from app.optimization.models import OptimizationTask

pytestmark = pytest.mark.dialects

BEFORE = "0021_ops_rollups"
TYPED = {"param_1", "param_2", "param_3", "return_pct", "sharpe", "max_drawdown_pct", "trades", "win_rate_pct"}
SMA, RSI = {"n1": 5, "n2": 20}, {"period": 14, "lower": 30.0, "upper": 70.5}
SMA_METRICS = {"return_pct": 1.5, "sharpe": None, "max_drawdown_pct": -3.25, "trades": 4, "win_rate_pct": 50.0}
RSI_METRICS = {"return_pct": -2.0, "sharpe": 0.5, "max_drawdown_pct": -9.0, "trades": 0, "win_rate_pct": None}


def _columns() -> set[str]:
    return {c["name"] for c in inspect(db.engine).get_columns("optimization_task")}


def _json(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def test_the_typed_tasks_migration_carries_the_rows_down_and_up(app, make_user):
    owner_id = make_user("owner", "engineer").id
    db.session.remove()
    try:
        downgrade(revision=BEFORE)
        assert {"params", "metrics"} <= _columns() and not TYPED & _columns()
        with db.engine.begin() as conn:
            dataset = conn.execute(
                text(
                    "INSERT INTO optimization_dataset (name, checksum, rows, first_date, last_date, csv, created_by,"
                    " created_at) VALUES ('d', 'c', 1, 'a', 'b', '', 'me', CURRENT_TIMESTAMP) RETURNING id"
                )
            ).scalar_one()
            ids = {}
            for strategy in ("sma_cross", "rsi_reversion"):
                ids[strategy] = conn.execute(
                    text(
                        "INSERT INTO optimization (owner_id, strategy, dataset_id, param_space, policy, top_n, cash,"
                        " commission, status, created_at, total, skipped, finished, failed, since_best, top,"
                        " best_history, chunks_total, chunks_done, revision, run_token) VALUES (:owner, :strategy,"
                        " :dataset, '{}', '{}', 3, 10000, 0, 'succeeded', CURRENT_TIMESTAMP, 2, 0, 1, 1, 0, '[]',"
                        " '[]', 1, 1, 0, :token) RETURNING id"
                    ),
                    {"owner": owner_id, "strategy": strategy, "dataset": dataset, "token": strategy},
                ).scalar_one()
            rows = [
                (ids["sma_cross"], 0, '{"n1": 5, "n2": 20}', "finished", 1.5,
                 '{"return_pct": 1.5, "sharpe": null, "max_drawdown_pct": -3.25, "trades": 4, "win_rate_pct": 50.0}',
                 None),
                (ids["sma_cross"], 1, '{"n1": 6, "n2": 20}', "failed", None, "null", "boom"),
                (ids["rsi_reversion"], 0, '{"period": 14, "lower": 30.0, "upper": 70.5}', "finished", -2.0,
                 '{"return_pct": -2.0, "sharpe": 0.5, "max_drawdown_pct": -9.0, "trades": 0, "win_rate_pct": null}',
                 None),
            ]  # fmt: skip
            for row in rows:
                conn.execute(
                    text(
                        "INSERT INTO optimization_task (optimization_id, seq, params, status, score, metrics, error,"
                        " finished_at) VALUES (:o, :seq, :params, :status, :score, :metrics, :error, CURRENT_TIMESTAMP)"
                    ),
                    dict(zip(("o", "seq", "params", "status", "score", "metrics", "error"), row, strict=True)),
                )
    finally:
        upgrade()
    assert TYPED <= _columns() and not {"params", "metrics"} & _columns()
    select = (
        "SELECT seq, param_1, param_2, param_3, score, return_pct, sharpe, max_drawdown_pct, trades, win_rate_pct,"
        " error FROM optimization_task WHERE optimization_id = :o ORDER BY seq"
    )
    with db.engine.connect() as conn:
        assert [tuple(r) for r in conn.execute(text(select), {"o": ids["sma_cross"]})] == [
            (0, 5.0, 20.0, None, 1.5, 1.5, None, -3.25, 4, 50.0, None),
            (1, 6.0, 20.0, None, None, None, None, None, None, None, "boom"),
        ]
        assert [tuple(r) for r in conn.execute(text(select), {"o": ids["rsi_reversion"]})] == [
            (0, 14.0, 30.0, 70.5, -2.0, -2.0, 0.5, -9.0, 0, None, None),
        ]
    tasks = db.session.query(OptimizationTask).order_by(OptimizationTask.id).all()
    assert [t.params for t in tasks] == [SMA, {"n1": 6, "n2": 20}, RSI]
    assert tasks[0].metrics == SMA_METRICS
    assert tasks[1].metrics is None
    db.session.remove()

    try:  # and down again: the JSON documents come back
        downgrade(revision=BEFORE)
        with db.engine.connect() as conn:
            back = conn.execute(text("SELECT params, metrics FROM optimization_task ORDER BY id")).all()
    finally:
        upgrade()
    decoded = [(json.loads(_json(p)), json.loads(_json(m)) if m is not None else None) for p, m in back]
    assert decoded == [(SMA, SMA_METRICS), ({"n1": 6, "n2": 20}, None), (RSI, RSI_METRICS)]
