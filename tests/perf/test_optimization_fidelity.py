"""Fidelity on full grids (not part of `make test`; the small-grid version is
tests/optimization/test_fidelity.py): the kernel against backtesting.py 0.6.6 on
every point of the issue's SMA grid (n1 5..50, n2 10..200 step 5, n1 < n2, and
n2 shorter than the data) and of an RSI grid, on backtesting.py's GOOG, EURUSD and
BTCUSD and on seeded random walks on cent and pip grids; plus the kernel's speed
on GOOG's 1,605-point SMA grid. One JSON line at the end; one progress line per
dataset on stderr. backtesting.py takes 0.1-1 s a run: this takes long.

    .venv/bin/pytest -q -s tests/perf/test_optimization_fidelity.py
    FIDELITY_DATASETS=GOOG,cents-1 .venv/bin/pytest -q -s tests/perf/test_optimization_fidelity.py
"""

import json
import os
import sys
import time

import pytest
from backtesting.test import GOOG

from app.optimization import datasets, grid
from app.optimization.strategies import STRATEGIES, Indicators
from tests.optimization.oracle import compare, random_walks, shipped_datasets

SMA_SPACE = {"n1": {"start": 5, "stop": 50, "step": 1}, "n2": {"start": 10, "stop": 200, "step": 5}}
RSI_SPACE = {"period": {"start": 2, "stop": 26, "step": 4}, "lower": [20, 30, 40], "upper": [60, 70, 80]}
CASH = 10_000


def kernel_rate() -> dict:
    """Backtests per second (wall clock and CPU time) of the kernel alone, best of three."""
    bars = datasets.parse_csv(GOOG.to_csv(index_label="Date"))
    sma = STRATEGIES["sma_cross"]
    points, _ = grid.expand(sma, SMA_SPACE)
    columns = sma.columns(points)  # as a chunk has them: the grid's arrays
    walls, cpus = [], []
    for _ in range(3):
        wall, cpu = time.perf_counter(), time.process_time()
        sma.metrics(Indicators(bars), columns, CASH)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return {
        "kernel_points": len(points),
        "kernel_per_s": round(len(points) / min(walls)),
        "kernel_per_cpu_s": round(len(points) / min(cpus)),
    }


@pytest.mark.timeout(4 * 3600)
@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")
def test_full_grids_match_backtesting_py():
    frames = {**shipped_datasets(), **random_walks(seeds=(1, 2, 3))}
    chosen = os.environ.get("FIDELITY_DATASETS")
    if chosen:
        frames = {name: frames[name] for name in chosen.split(",")}
    sma_points, _ = grid.expand(STRATEGIES["sma_cross"], SMA_SPACE)
    rsi_points, _ = grid.expand(STRATEGIES["rsi_reversion"], RSI_SPACE)
    per_dataset, started = {}, time.perf_counter()
    for name, frame in frames.items():
        reports = [
            compare(frame, "sma_cross", [p for p in sma_points if p["n2"] < len(frame)], CASH),
            compare(frame, "rsi_reversion", rsi_points, CASH),
        ]
        per_dataset[name] = {
            "points": sum(r["points"] for r in reports),
            "mismatches": sum(r["mismatches"] for r in reports),
            "max_diff_pp": max(r["max_diff_pp"] for r in reports),
            "first_mismatches": [m for r in reports for m in r["first"]][:3],
        }
        print(json.dumps({"dataset": name, **per_dataset[name]}), file=sys.stderr, flush=True)
    figures = {
        "benchmark": "optimization_fidelity",
        "reference": "backtesting.py 0.6.6",
        "datasets": list(per_dataset),
        "points": sum(d["points"] for d in per_dataset.values()),
        "mismatches": sum(d["mismatches"] for d in per_dataset.values()),
        "max_diff_pp": max(d["max_diff_pp"] for d in per_dataset.values()),
        "oracle_seconds": round(time.perf_counter() - started, 1),
        **kernel_rate(),
        "per_dataset": per_dataset,
    }
    print(json.dumps(figures))
    assert figures["mismatches"] == 0
