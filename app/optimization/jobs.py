"""The chunk job: backtests a range of grid points and hands the results to
the service in batches (one set-based write each, at most every FLUSH_SECONDS),
so the summary moves while the chunk runs and a cancel or early stop takes
effect within a moment.

What a chunk needs of its optimization and never changes, the dataset's bars
and indicators and the expanded grid in run order, is cached per process: an
in-process worker (`optimize` is an in-process queue) computes them once for
all the chunks of an optimization."""

import gc
import json
import time
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy.exc import InterfaceError, OperationalError

from app.core.jobs import worker
from app.extensions import db
from app.optimization import chunks, datasets, grid, service
from app.optimization.chunks import Results
from app.optimization.models import Dataset, Optimization
from app.optimization.strategies import STRATEGIES, Indicators, Strategy

FLUSH_SECONDS = 0.5  # how often a chunk saves and merges what it has (a time-sized chunk: about 3 times)
HALT_CHECK_SECONDS = 0.2  # how often it looks for a cancel or early stop
# points per kernel call: about BATCH_SECONDS of backtests (from the last call's rate), so the checks above
# keep their pace on any dataset; the first call takes FIRST_BATCH points
BATCH_SECONDS, FIRST_BATCH = 0.05, 64


def warm() -> None:
    """Load the compiled kernel (from numba's cache, or compile it) before the first chunk: a worker
    on `optimize` calls this when it starts (Capability.warm). Both strategies' batch and single
    backtests share its one compiled signature."""
    bars = datasets.demo_series(60)
    sma = STRATEGIES["sma_cross"]
    sma.metrics(Indicators(bars), sma.columns([{"n1": 2, "n2": 5}]), 1.0)


@lru_cache(maxsize=4)
def _indicators(dataset_id: int, checksum: str) -> Indicators:
    """A dataset's bars and their indicators (each computed on first use); datasets never change,
    the checksum in the key says so."""
    return Indicators(service.bars_of(db.session.get(Dataset, dataset_id)))


@lru_cache(maxsize=2)
def _grid(strategy_name: str, space: str, seed: int | None) -> list[np.ndarray]:
    """The grid in run order, one array per parameter: seq i is row i."""
    strategy = grid.strategy_named(strategy_name)
    return grid.columns_in_run_order(strategy, json.loads(space), seed)


@dataclass
class _Chunk:
    optimization_id: int
    halt_key: str
    strategy: Strategy
    indicators: Indicators
    checksum: str
    cash: float
    commission: float
    seq: np.ndarray  # the points not saved yet: their seqs,
    params: list[np.ndarray]  # and their parameters, one array per parameter
    merged: int = 0  # points already handed to the service
    backtested: int = 0  # points backtested, merged or not (a halt drops what was pending)
    kernel_seconds: float = 0.0  # spent backtesting them, for the rate the next submit sizes its chunks by

    def backtest(self, first: int, last: int) -> Results:
        """Points first..last - 1 of the chunk's own in one kernel call; a point the strategy cannot
        run fails alone."""
        params = [column[first:last] for column in self.params]
        metrics = self.strategy.metrics(self.indicators, params, self.cash, self.commission)
        return Results(self.seq[first:last], params, metrics.table, metrics.errors)

    def artifacts(self, params: dict) -> dict:
        """A result entering the Top-N: its backtest again (deterministic), for its equity and trades."""
        result = self.strategy.backtest(self.indicators, params, self.cash, self.commission)
        return chunks.artifacts_of(result, self.indicators.bars.dates)


def _prepare(optimization_id: int, first: int, last: int) -> _Chunk | None:
    optimization = db.session.get(Optimization, optimization_id)
    if optimization is None or optimization.is_final:
        return None
    halt_key = service.halt_key(optimization)
    if chunks.halted(halt_key):
        return None
    strategy = grid.strategy_named(optimization.strategy)
    space = json.dumps(optimization.param_space, sort_keys=True)
    cached = _grid.cache_info().misses + _indicators.cache_info().misses
    columns = _grid(strategy.name, space, optimization.run_order_seed)
    seq = np.arange(first, last)
    todo = ~np.isin(seq, chunks.saved(optimization_id, first, last))  # a requeued chunk skips what it saved
    dataset = optimization.dataset
    indicators = _indicators(dataset.id, dataset.checksum)
    if _grid.cache_info().misses + _indicators.cache_info().misses > cached:
        # a cache just filled leaves the cyclic GC's view now, not after this job (as an in-process
        # worker does): each full collection of the job scanned it
        gc.freeze()
    chunk = _Chunk(
        optimization_id,
        halt_key,
        strategy,
        indicators,
        dataset.checksum,
        optimization.cash,
        optimization.commission,
        seq[todo],
        [column[first:last][todo] for column in columns],
    )
    db.session.commit()  # no transaction stays open while backtests run
    return chunk


def _work(chunk: _Chunk, flush_every: float) -> None:
    pending: list[Results] = []
    last_flush = last_check = time.monotonic()
    done, size, total = 0, FIRST_BATCH, len(chunk.seq)
    while done < total:
        now = time.monotonic()
        if now - last_check >= HALT_CHECK_SECONDS:
            last_check = now
            if chunks.halted(chunk.halt_key):
                return
        batch = chunk.backtest(done, done + size)
        pending.append(batch)
        took = time.monotonic() - now
        chunk.kernel_seconds += took
        chunk.backtested += len(batch)
        done += len(batch)
        size = max(1, min(2 * len(batch), int(len(batch) * BATCH_SECONDS / took))) if took > 0 else 2 * len(batch)
        if now - last_flush >= flush_every and done < total:
            keep_going = chunks.merge(chunk.optimization_id, Results.joined(pending), artifacts=chunk.artifacts)
            chunk.merged, pending = done, []
            last_flush = time.monotonic()
            worker.beat()
            if not keep_going:
                return
    rest = Results.joined(pending) if pending else chunk.backtest(done, done)  # none left: an empty batch
    chunks.merge(chunk.optimization_id, rest, chunk_finished=True, artifacts=chunk.artifacts)
    chunk.merged = done


def run_chunk(optimization_id: int, first: int, last: int) -> dict:
    """The job. Its result: points merged, seconds of the whole job and of its backtests alone."""
    started = time.monotonic()
    chunk = _prepare(optimization_id, first, last)
    if chunk is None:
        return {"merged": 0}
    try:
        _work(chunk, current_app.config.get("OPTIMIZATION_FLUSH_SECONDS", FLUSH_SECONDS))
    except (RedisError, OperationalError, InterfaceError):
        # Redis or the database went away (a restart, a network cut): not the points' fault, and a
        # chunk_failed() that reached a database back up meanwhile would save the rest as failed
        # tasks for good; the job fails and the sweeper resumes the chunk, skipping saved points
        raise
    except Exception as exc:
        rest = chunk.merged
        chunks.chunk_failed(
            optimization_id,
            Results.failed(
                chunk.seq[rest:], [c[rest:] for c in chunk.params], f"chunk failed: {type(exc).__name__}: {exc}"
            ),
        )
        raise
    service.record_rate(chunk.strategy.name, chunk.checksum, chunk.backtested, chunk.kernel_seconds)
    return {
        "merged": chunk.merged,
        "seconds": round(time.monotonic() - started, 4),
        "backtestSeconds": round(chunk.kernel_seconds, 4),
    }
