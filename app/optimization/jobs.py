"""The chunk job: backtests a range of grid points and hands the results to
the service in small batches, so the summary moves while the chunk runs and
a cancel or early stop takes effect within a moment."""

import time

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy.exc import InterfaceError, OperationalError

from app.extensions import db
from app.optimization import chunks, grid, service
from app.optimization.backtest import simulate
from app.optimization.chunks import Outcome
from app.optimization.models import Optimization
from app.optimization.strategies import Indicators, StrategyError

FLUSH_SECONDS = 0.5  # how often a chunk merges what it has
HALT_CHECK_SECONDS = 0.2  # how often it looks for a cancel or early stop


def _backtest(seq: int, params: dict, strategy, indicators: Indicators, cash: float, commission: float) -> Outcome:
    bars = indicators.bars
    try:
        result = simulate(bars, strategy.signals(indicators, params), cash, commission)
    except (StrategyError, ArithmeticError, ValueError) as exc:
        return Outcome(seq, params, error=f"{type(exc).__name__}: {exc}")
    return Outcome(seq, params, metrics=result.metrics(), result=result, dates=bars.dates)


def run_chunk(optimization_id: int, first: int, last: int) -> dict:
    optimization = db.session.get(Optimization, optimization_id)
    if optimization is None or optimization.is_final:
        return {"merged": 0}
    halt_key = service.halt_key(optimization)
    if chunks.halted(halt_key):
        return {"merged": 0}
    strategy = grid.strategy_named(optimization.strategy)
    points = grid.in_run_order(grid.expand(strategy, optimization.param_space)[0], optimization.run_order_seed)
    points = points[first:last]
    done = set(chunks.saved(optimization_id, list(range(first, last))))  # a requeued chunk skips what it saved
    todo = [(seq, params) for seq, params in enumerate(points, start=first) if seq not in done]
    bars = service.bars_of(optimization.dataset)
    indicators = Indicators(bars)
    cash, commission = optimization.cash, optimization.commission
    flush_every = current_app.config.get("OPTIMIZATION_FLUSH_SECONDS", FLUSH_SECONDS)
    db.session.commit()  # no transaction stays open while backtests run

    pending: list[Outcome] = []
    merged = 0  # points of this chunk already handed to the service
    last_flush = last_check = time.monotonic()
    try:
        for seq, params in todo:
            now = time.monotonic()
            if now - last_check >= HALT_CHECK_SECONDS:
                last_check = now
                if chunks.halted(halt_key):
                    break
            pending.append(_backtest(seq, params, strategy, indicators, cash, commission))
            if now - last_flush >= flush_every:
                last_flush = now
                keep_going = chunks.merge(optimization_id, pending)
                merged, pending = merged + len(pending), []
                if not keep_going:
                    break
        else:
            chunks.merge(optimization_id, pending, chunk_finished=True)
            merged, pending = merged + len(pending), []
    except (RedisError, OperationalError, InterfaceError):
        # Redis or the database went away (a restart, a network cut): not the points' fault, and a
        # chunk_failed() that reached a database back up meanwhile would save the rest as failed
        # tasks for good; the job fails and the sweeper resumes the chunk, skipping saved points
        raise
    except Exception as exc:
        error = f"chunk failed: {type(exc).__name__}: {exc}"
        chunks.chunk_failed(
            optimization_id,
            [Outcome(seq, params, error=error) for seq, params in todo[merged:]],
        )
        raise
    return {"merged": merged}
