"""Benchmark (not part of `make test`): issue 20 point 2, the 81,472-point SMA grid (n1 2..201 ×
n2 10..509, n1 < n2) on backtesting.py's GOOG, end to end through the API and two workers.

Figures of one run, printed as one JSON line:
- the kernel alone, warm: indicators, signals, simulation and the five metrics of every point, in
  calls of 2,000 points, in this process; two workers' kernel capacity is twice that;
- vectorbt's warm `Portfolio.from_signals` on the same grid (when vectorbt, the `perf` extra, is
  installed: `make install-perf`): the same crossovers as entries and short entries, after calls
  that compile it; only from_signals and total_return are timed, not the signals. Twice: one call
  per grid point (every 40th point, scaled to the grid), and the whole grid as columns, 2,000 a call;
- end to end: POST /api/v1/optimizations -> status final, through two `flask worker --queues
  optimize` (in-process workers) on the run's database, the status endpoint polled all along
  (its latencies: p50, p95, max), and the workers' RSS when they started, after the first
  results, at half the grid and at the end.

    flock /tmp/bench.lock .venv/bin/pytest -q -s tests/perf/test_optimization_scale.py -k sqlite

The goals (issue 20): end to end ≥ 10,000 backtests/s and ≥ 50 % of the workers' kernel capacity,
status p95 < 100 ms, RSS flat, kernel ≥ 5 × vectorbt. On a loaded machine every rate is lower:
compare the ratios, which are taken within one run.
"""

import importlib.util
import json
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from backtesting.test import GOOG
from rq.job import Job

from app.extensions import db
from app.optimization import datasets, grid, service
from app.optimization.backtest import RETURN_PCT
from app.optimization.models import Optimization, OptimizationTask
from app.optimization.strategies import STRATEGIES, Indicators

SPACE = {"n1": {"start": 2, "stop": 201, "step": 1}, "n2": {"start": 10, "stop": 509, "step": 1}}
POINTS = 81_472
WORKERS = 2
VBT_COLUMNS = 2_000  # columns per from_signals call: 2,148 bars × 2,000 stay small in memory
SINGLE_STEP = 40  # one from_signals call per point over every 40th point (2,037 calls)


def kernel(bars, points) -> tuple[float, float, dict]:
    """Seconds (wall clock, CPU) of the warm kernel over the grid's arrays (as a chunk has them) in
    calls of VBT_COLUMNS points (as vectorbt gets its columns; a chunk's calls are of about the same
    size), indicators included; every point's return."""
    sma = STRATEGIES["sma_cross"]
    columns = sma.columns(points)
    sma.metrics(
        Indicators(bars), [c[:10] for c in columns], 10_000
    )  # loads (or compiles) the kernel: what follows is warm
    started, cpu = time.perf_counter(), time.process_time()
    indicators, tables = Indicators(bars), []
    for first in range(0, len(points), VBT_COLUMNS):
        tables.append(sma.metrics(indicators, [c[first : first + VBT_COLUMNS] for c in columns], 10_000).table)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    returns = np.concatenate(tables)[:, RETURN_PCT].tolist()
    return seconds, cpu, {(p["n1"], p["n2"]): r for p, r in zip(points, returns, strict=True)}


def vectorbt(bars, points) -> tuple[float, float, float] | None:
    """Seconds of warm from_signals (+ total_return): one call per grid point, over every SINGLE_STEP-th
    point and scaled to the grid; and over the whole grid in batches of columns (wall clock, and CPU:
    the steadier figure when the machine's load changes between the kernel's run and this one). None
    without vectorbt."""
    if importlib.util.find_spec("vectorbt") is None:
        return None
    import vectorbt as vbt

    indicators = Indicators(bars)
    n1 = np.array([p["n1"] for p in points])
    n2 = np.array([p["n2"] for p in points])
    windows = np.unique(np.concatenate([n1, n2]))
    column = {w: i for i, w in enumerate(windows)}
    means = np.column_stack([indicators.sma(int(w)) for w in windows])  # bars × windows
    close = bars.close[:, None]

    def crossings(first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
        fast = means[:, [column[w] for w in n1[first:last]]]
        slow = means[:, [column[w] for w in n2[first:last]]]
        up, down = np.zeros(fast.shape, bool), np.zeros(fast.shape, bool)
        up[1:] = (fast[:-1] < slow[:-1]) & (fast[1:] > slow[1:])
        down[1:] = (slow[:-1] < fast[:-1]) & (slow[1:] > fast[1:])
        return up, down

    def run(up, down):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            portfolio = vbt.Portfolio.from_signals(
                np.broadcast_to(close, up.shape), entries=up, short_entries=down, init_cash=10_000, freq="1D"
            )
            return portfolio.total_return()

    run(*crossings(0, 10))  # compiles the numba functions: what follows is warm
    run(*crossings(0, 1))
    single = 0.0
    sample = range(0, len(points), SINGLE_STEP)
    for first in sample:
        up, down = crossings(first, first + 1)
        started = time.perf_counter()
        run(up, down)
        single += time.perf_counter() - started
    batched = batched_cpu = 0.0
    for first in range(0, len(points), VBT_COLUMNS):
        up, down = crossings(first, min(first + VBT_COLUMNS, len(points)))
        started, cpu = time.perf_counter(), time.process_time()
        run(up, down)
        batched += time.perf_counter() - started
        batched_cpu += time.process_time() - cpu
    return single * len(points) / len(sample), batched, batched_cpu


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise AssertionError(f"no RSS for {pid}")


@pytest.mark.timeout(1800)
def test_81472_point_grid_end_to_end(app, client, bearer, start_workers, database_url):
    text = GOOG.to_csv(index_label="Date")
    bars = datasets.parse_csv(text)
    points, skipped = grid.expand(STRATEGIES["sma_cross"], SPACE)
    assert (len(points), skipped) == (POINTS, 100_000 - POINTS)

    kernel_seconds, kernel_cpu, returns = kernel(bars, points)
    peer = vectorbt(bars, points)
    vbt_single, vbt_batched, vbt_batched_cpu = peer if peer else (None, None, None)

    headers = bearer("engineer")
    dataset = service.create_dataset("GOOG", text, "bench")
    db.session.commit()
    workers = start_workers(WORKERS, queues="optimize")
    rss_start = [rss_mb(w.pid) for w in workers]
    body = {
        "strategy": "sma_cross",
        "dataset": dataset.id,
        "paramSpace": SPACE,
        "topN": 10,
        "earlyStopPolicy": {"mode": "max", "metric": "return_pct"},
    }
    started, started_at = time.perf_counter(), time.time()
    answer = client.post("/api/v1/optimizations", json=body, headers=headers)
    submit_seconds = time.perf_counter() - started
    assert answer.status_code == 202, answer.json
    job_id = answer.json["id"]
    latencies, rss_first, rss_half, status = [], None, None, "queued"
    while status in ("queued", "running"):
        asked = time.perf_counter()
        reply = client.get(f"/api/v1/optimizations/{job_id}/status", headers=headers)
        latencies.append(time.perf_counter() - asked)
        status = reply.json["status"]
        finished = reply.json["summary"]["finished"]
        if rss_first is None and finished:
            rss_first = [rss_mb(w.pid) for w in workers]
        if rss_half is None and finished >= POINTS // 2:
            rss_half = [rss_mb(w.pid) for w in workers]
        time.sleep(0.1)  # a page polls every second or so; a busy loop here would take a core from the workers
    end_to_end_seconds = time.perf_counter() - started
    rss_end = [rss_mb(w.pid) for w in workers]
    assert status == "succeeded", reply.json

    db.session.expire_all()
    row = db.session.get(Optimization, job_id)
    assert (row.finished, row.failed, row.total) == (POINTS, 0, POINTS)
    stored = db.session.query(OptimizationTask).filter_by(optimization_id=job_id).count()
    assert stored == POINTS
    best = max(returns.values())
    assert abs(row.best_score - best) < 1e-9
    assert {tuple(t["params"].values()) for t in row.top} <= set(returns)
    ranked = sorted(latencies)
    # what the chunk jobs say they spent: whole jobs, and backtests alone (the workers' own kernel
    # rate under the load of this very run)
    chunk_jobs = Job.fetch_many([r.id for r in service.chunk_jobs(row)], connection=app.extensions["redis"])
    results = [job.return_value() for job in chunk_jobs]
    # when the chunk jobs started and ended, from the POST on (RQ's own timestamps, UTC)
    spans = sorted(
        (round(job.started_at.timestamp() - started_at, 2), round(job.ended_at.timestamp() - started_at, 2))
        for job in chunk_jobs
    )
    job_seconds = sum(r["seconds"] for r in results)
    backtest_seconds = sum(r["backtestSeconds"] for r in results)

    row_seconds = row.ended_at.timestamp() - started_at
    kernel_rate = POINTS / kernel_seconds
    end_to_end_rate = POINTS / end_to_end_seconds
    figures = {
        "benchmark": "optimization_sma_grid_goog_81472",
        "database": database_url.split(":")[0].split("+")[0],
        "points": POINTS,
        "workers": WORKERS,
        "chunks": row.chunks_total,
        "kernel_per_s": round(kernel_rate, 1),
        # one from_signals call per grid point (as the issue measured vectorbt), and the grid as
        # columns of 2,000-column calls (vectorbt's own way of running many backtests)
        "vectorbt_per_point_calls_per_s": round(POINTS / vbt_single, 1) if peer else None,
        "kernel_to_vectorbt_per_point_calls": round(vbt_single / kernel_seconds, 2) if peer else None,
        "vectorbt_batched_columns_per_s": round(POINTS / vbt_batched, 1) if peer else None,
        "kernel_to_vectorbt_batched": round(vbt_batched / kernel_seconds, 2) if peer else None,
        "kernel_per_cpu_s": round(POINTS / kernel_cpu, 1),
        "vectorbt_batched_columns_per_cpu_s": round(POINTS / vbt_batched_cpu, 1) if peer else None,
        "kernel_to_vectorbt_batched_cpu": round(vbt_batched_cpu / kernel_cpu, 2) if peer else None,
        "end_to_end_per_s": round(end_to_end_rate, 1),
        "end_to_end_seconds": round(end_to_end_seconds, 2),
        "submit_seconds": round(submit_seconds, 3),
        # the run as the database saw it end (the row's ended_at, set by the last merge): the poll
        # above sleeps 0.1 s between looks, a tenth of a one-second run
        "end_to_end_row_seconds": round(row_seconds, 2),
        "end_to_end_row_to_workers_kernel": round(POINTS / row_seconds / (POINTS / backtest_seconds * WORKERS), 3),
        "chunk_spans_s": spans,
        "end_to_end_to_capacity": round(end_to_end_rate / (WORKERS * kernel_rate), 3),
        # the same against the kernel rate the workers had during the run, and the share of the
        # chunk jobs' time that went to backtests (the rest: grid, caches, writes, merges)
        "workers_kernel_per_s": round(POINTS / backtest_seconds * WORKERS, 1),
        "end_to_end_to_workers_kernel": round(end_to_end_rate / (POINTS / backtest_seconds * WORKERS), 3),
        "chunk_time_in_backtests": round(backtest_seconds / job_seconds, 3),
        "status_polls": len(latencies),
        "status_p50_ms": round(statistics.median(ranked) * 1000, 1),
        "status_p95_ms": round(ranked[int(0.95 * (len(ranked) - 1))] * 1000, 1),
        "status_max_ms": round(ranked[-1] * 1000, 1),
        "rss_mb_start": rss_start,
        "rss_mb_first_results": rss_first,
        "rss_mb_half": rss_half,
        "rss_mb_end": rss_end,
    }
    print(json.dumps(figures))
