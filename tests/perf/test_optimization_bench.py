"""Benchmark (not part of `make test`): the SMA-crossover grid of the issue,
n1 in 5..50 step 1, n2 in 10..200 step 5, n1 < n2 (1,605 combinations) on
backtesting.py's GOOG, cash 10,000, no commission.

Three figures in one run, printed as one JSON line:
- backtesting.py's Backtest.optimize(maximize="Return [%]", return_heatmap=True): the peer;
- our kernel alone (signals, simulation and metrics of every point, one process);
- our whole job end to end: POST /api/v1/optimizations -> status succeeded, through two
  forking RQ workers on the optimize queue (database: the run's parametrized backend).
Every return of ours is also checked against the peer's heatmap (within 0.01 pp).

    .venv/bin/pytest -q -s tests/perf/test_optimization_bench.py -k sqlite
"""

import json
import time
import warnings

import pytest
from backtesting import Backtest
from backtesting.test import GOOG

from app.extensions import db
from app.optimization import datasets, grid, service
from app.optimization.models import Optimization, OptimizationTask
from app.optimization.strategies import STRATEGIES, Indicators
from tests.optimization.oracle import SmaCross

SPACE = {"n1": {"start": 5, "stop": 50, "step": 1}, "n2": {"start": 10, "stop": 200, "step": 5}}
WORKERS = 2


def peer() -> tuple[float, dict]:
    backtest = Backtest(GOOG, SmaCross, cash=10_000, commission=0)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, heatmap = backtest.optimize(
            n1=range(5, 51),
            n2=range(10, 201, 5),
            constraint=lambda p: p.n1 < p.n2,
            maximize="Return [%]",
            return_heatmap=True,
        )
    return time.perf_counter() - started, {key: value for key, value in heatmap.items()}


def kernel(bars) -> tuple[float, list[dict]]:
    sma = STRATEGIES["sma_cross"]
    points, _ = grid.expand(sma, SPACE)
    columns = sma.columns(points)  # as a chunk has them: the grid's arrays
    started = time.perf_counter()
    metrics = sma.metrics(Indicators(bars), columns, 10_000)
    seconds = time.perf_counter() - started
    return seconds, [{**p, **m} for p, m in zip(points, metrics.dicts(), strict=True)]


@pytest.mark.timeout(1800)  # the peer alone takes minutes on a busy machine
def test_sma_grid_on_goog_against_backtesting_py(app, client, bearer, start_workers, database_url):
    text = GOOG.to_csv(index_label="Date")
    bars = datasets.parse_csv(text)
    peer_seconds, heatmap = peer()
    kernel_seconds, ours = kernel(bars)
    assert len(heatmap) == len(ours) == 1605
    worst = max(abs(r["return_pct"] - heatmap[(r["n1"], r["n2"])]) for r in ours)
    assert worst < 0.01

    headers = bearer("engineer")
    dataset = service.create_dataset("GOOG", text, "bench")
    db.session.commit()
    start_workers(WORKERS, queues="optimize")
    body = {
        "strategy": "sma_cross",
        "dataset": dataset.id,
        "paramSpace": SPACE,
        "topN": 10,
        "earlyStopPolicy": {"mode": "max", "metric": "return_pct"},
    }
    started = time.perf_counter()
    job_id = client.post("/api/v1/optimizations", json=body, headers=headers).json["id"]
    while True:
        db.session.expire_all()
        status = db.session.get(Optimization, job_id).status
        if status not in ("queued", "running"):
            break
        time.sleep(0.005)
    end_to_end_seconds = time.perf_counter() - started
    assert status == "succeeded"
    stored = {(t.params["n1"], t.params["n2"]): t.score for t in db.session.query(OptimizationTask)}
    assert len(stored) == 1605 and max(abs(s - heatmap[k]) for k, s in stored.items()) < 0.01

    peer_rate = 1605 / peer_seconds
    figures = {
        "benchmark": "optimization_sma_grid_goog",
        "database": database_url.split(":")[0],
        "points": 1605,
        "workers": WORKERS,
        "backtesting_py_per_s": round(peer_rate, 1),
        "kernel_per_s": round(1605 / kernel_seconds, 1),
        "end_to_end_per_s": round(1605 / end_to_end_seconds, 1),
        "kernel_ratio": round(peer_seconds / kernel_seconds, 1),
        "end_to_end_ratio": round(peer_seconds / end_to_end_seconds, 1),
        "end_to_end_seconds": round(end_to_end_seconds, 3),
        "max_return_diff_pp": worst,
    }
    print(json.dumps(figures))
