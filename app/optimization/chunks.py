"""What only the chunk jobs run (the web never does): save a batch of results in
one set-based INSERT, fold it into the optimization's summary under its row
lock (taken after the insert, so workers write their rows side by side and hold
the lock only for the counting), apply the early-stop policy, finish the
optimization, and look for the halt flag. Chunks are idempotent: a requeued
chunk skips the points already saved, and a merge skips (ON CONFLICT) results
of points saved meanwhile; the sweeper's hook resumes the chunks an
optimization lost (work horse killed, job lost with Redis)."""

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, select, update

from app.core import bulk
from app.core.jobs import sweeper
from app.core.timeutil import utcnow
from app.extensions import db, redis_client
from app.optimization import service
from app.optimization.backtest import Result
from app.optimization.metrics import OPTIMIZATION_TASKS
from app.optimization.models import (
    METRICS,
    PARAM_COLUMNS,
    Optimization,
    OptimizationStatus,
    OptimizationTask,
    TaskStatus,
    params_of,
)


@dataclass(frozen=True)
class Results:
    """Grid points' results as a chunk hands them in, as columns (no object per point): their
    seqs, one array per parameter (the strategy's order), their metrics (`backtest.Metrics`'s
    table) and the error of each point that failed, by its index here."""

    seq: np.ndarray
    params: list[np.ndarray]
    table: np.ndarray
    errors: dict[int, str]

    def __len__(self) -> int:
        return len(self.seq)

    @classmethod
    def failed(cls, seq: np.ndarray, params: list[np.ndarray], error: str) -> "Results":
        """These points, all failed with `error`."""
        return cls(seq, params, np.full((len(seq), len(METRICS)), np.nan), dict.fromkeys(range(len(seq)), error))

    @classmethod
    def joined(cls, parts: list["Results"]) -> "Results":
        if len(parts) == 1:
            return parts[0]
        errors, offset = {}, 0
        for part in parts:
            errors.update((offset + i, why) for i, why in part.errors.items())
            offset += len(part)
        return cls(
            np.concatenate([p.seq for p in parts]),
            [np.concatenate(column) for column in zip(*(p.params for p in parts), strict=True)],
            np.concatenate([p.table for p in parts]),
            errors,
        )


# the artifacts of a grid point (its params) entering the Top-N: the chunk runs its backtest again
# (it is deterministic), so no chunk keeps an equity curve per point in memory
Artifacts = Callable[[dict[str, Any]], dict[str, Any]]


def _reached(mode: str, score: float, target: float) -> bool:
    return score >= target if mode == "max" else score <= target


def artifacts_of(result: Result, dates: list[str]) -> dict[str, Any]:
    """What export reads of a Top-N task: its equity curve and trade list."""
    return {
        "equity": {"dates": dates, "values": [round(v, 4) for v in result.equity.tolist()]},
        "trades": [
            {
                "entryBar": t.entry_bar,
                "exitBar": t.exit_bar,
                "entryDate": dates[t.entry_bar],
                "exitDate": dates[t.exit_bar],
                "size": t.size,
                "entryPrice": t.entry_price,
                "exitPrice": t.exit_price,
                "pnl": round(t.pnl, 4),
                "returnPct": round(t.return_pct, 4),
            }
            for t in result.trades
        ],
    }


def _stop_reason(policy: dict[str, Any], mode: str, score: float | None, since_best: int, done: int) -> str | None:
    if policy["target"] is not None and score is not None and _reached(mode, score, policy["target"]):
        return f"target {policy['target']:g} reached"
    if policy["patience"] and since_best >= policy["patience"]:
        return f"no better score in {policy['patience']} finished tasks"
    if policy["maxTasks"] and done >= policy["maxTasks"]:
        return f"maxTasks {policy['maxTasks']} reached"
    return None


def merge(
    optimization_id: int, results: Results, chunk_finished: bool = False, artifacts: Artifacts | None = None
) -> bool:
    """Save results and fold them into the summary, in order, applying the early-stop policy after
    each; `artifacts` rebuilds those of a result entering the Top-N.

    Returns False once the optimization is final: the caller stops working on it.
    """
    optimization = db.session.get(Optimization, optimization_id)
    if optimization is None or optimization.is_final:  # a look before writing anything; the lock decides
        db.session.rollback()
        return False
    now = utcnow()
    rows = _task_rows(optimization_id, results, optimization.metric, now)
    # one bulk INSERT of them all before the lock (COPY on PostgreSQL); points saved meanwhile (a
    # chunk run twice) are skipped
    saved = bulk.insert_rows(
        OptimizationTask.__table__,
        rows,
        columns=_COLUMNS,
        skip_conflicts_on=("optimization_id", "seq"),
        returning="seq",
    )
    optimization = service.locked(optimization_id)
    if optimization.is_final:
        db.session.rollback()
        return False
    if optimization.status == OptimizationStatus.queued:
        optimization.status, optimization.started_at = OptimizationStatus.running, now
    if len(saved) < len(rows):
        kept = set(saved)
        rows = [row for row in rows if row[_SEQ] in kept]
    counted, reason = _count(optimization, rows, now)
    if counted < len(rows):  # the policy stopped the optimization: what came after its stop is not kept
        past = [row[_SEQ] for row in rows[counted:]]
        db.session.execute(
            delete(OptimizationTask).where(
                OptimizationTask.optimization_id == optimization_id, bulk.among(OptimizationTask.seq, past)
            )
        )
        rows = rows[:counted]
    _update_top(optimization, rows, artifacts)
    if chunk_finished:
        optimization.chunks_done += 1
    finalized = bool(reason) or optimization.chunks_done >= optimization.chunks_total
    if finalized:
        _finish(optimization, reason)
    db.session.commit()
    failed = sum(1 for row in rows if row[_STATUS] == _FAILED)
    OPTIMIZATION_TASKS.labels(TaskStatus.finished).inc(len(rows) - failed)
    OPTIMIZATION_TASKS.labels(TaskStatus.failed).inc(failed)
    service.announce(optimization, finalized)
    db.session.commit()
    return not finalized


_FINISHED, _FAILED = TaskStatus.finished.value, TaskStatus.failed.value  # an enum member's .value per row is slow
# a task row as the bulk insert takes it: a tuple of these columns (no dict per row)
_COLUMNS = ("optimization_id", "seq", "status", "score", *PARAM_COLUMNS, *METRICS, "error", "finished_at")
_SEQ, _STATUS, _SCORE, _TRADES = 1, 2, 3, _COLUMNS.index("trades")
_PARAMS = slice(_COLUMNS.index(PARAM_COLUMNS[0]), _COLUMNS.index(PARAM_COLUMNS[-1]) + 1)


def _nullable(values: np.ndarray, defined: np.ndarray) -> list:
    """The values as Python numbers, None where not defined."""
    if defined.all():
        return values.tolist()
    out = values.astype(object)
    out[~defined] = None
    return out.tolist()


def _task_rows(optimization_id: int, results: Results, metric: str, now: datetime) -> list[tuple]:
    """The rows of the results (`_COLUMNS`), a column at a time: numbers in typed columns, nothing
    to encode, no Python object per point but its row."""
    n = len(results)
    ran = np.ones(n, bool)
    ran[list(results.errors)] = False
    metrics = {}
    for at, name in enumerate(METRICS):  # undefined (NULL): not finite (a Sharpe ratio, a win rate without trades)
        values = results.table[:, at]
        defined = ran & np.isfinite(values)
        if name == "trades":
            values = np.where(defined, values, 0).astype(np.int64)
        metrics[name] = _nullable(values, defined)
    status = [_FINISHED] * n
    errors: list[str | None] = [None] * n
    for i, why in results.errors.items():
        status[i], errors[i] = _FAILED, why
    params = [column.astype(float).tolist() for column in results.params]
    params += [itertools.repeat(None)] * (len(PARAM_COLUMNS) - len(params))
    return list(
        zip(
            itertools.repeat(optimization_id),
            results.seq.tolist(),
            status,
            metrics[metric],
            *params,
            *(metrics[name] for name in METRICS),
            errors,
            itertools.repeat(now),
            strict=False,  # as long as the lists: the repeats are endless
        )
    )


def _count(optimization: Optimization, rows: list[tuple], now: datetime) -> tuple[int, str | None]:
    """Counts, best score and its history, result by result until the policy stops the optimization:
    how many results count and the stop reason (None while it goes on). Counted in locals and set
    on the row once: an ORM attribute set per result cost more than the backtest."""
    elapsed = (now - optimization.started_at).total_seconds()
    policy, mode = optimization.policy, optimization.mode
    finished, failed, best, since_best = (
        optimization.finished,
        optimization.failed,
        optimization.best_score,
        optimization.since_best,
    )
    best_history, reason, counted = list(optimization.best_history), None, 0
    stops = policy["target"] is not None or policy["patience"] or policy["maxTasks"]
    sign = 1 if mode == "max" else -1  # compared as sign * score: larger is better
    signed_best = None if best is None else sign * best
    for row in rows:
        counted += 1
        score = row[_SCORE]
        if row[_STATUS] == _FAILED:
            failed += 1
        else:
            finished += 1
            if score is not None and (signed_best is None or sign * score > signed_best):
                best, signed_best, since_best = score, sign * score, 0
                best_history.append([finished + failed, round(elapsed, 3), score])
            else:
                since_best += 1
        if stops:
            reason = _stop_reason(policy, mode, score, since_best, finished + failed)
            if reason:
                break
    optimization.finished, optimization.failed, optimization.since_best = finished, failed, since_best
    optimization.best_score, optimization.best_history = best, best_history
    return counted, reason


def _update_top(optimization: Optimization, rows: list[tuple], artifacts: Artifacts | None) -> None:
    sign = -1 if optimization.mode == "max" else 1
    # only the best top_n of the batch can enter the Top-N: entries (and their task ids) for them alone;
    # with a full Top-N, only a score at least as good as its last one can
    scored = [i for i, row in enumerate(rows) if row[_SCORE] is not None]
    if len(optimization.top) >= optimization.top_n and optimization.top:
        bar = sign * optimization.top[-1]["score"]
        scored = [i for i in scored if sign * rows[i][_SCORE] <= bar]
    best = heapq.nsmallest(optimization.top_n, scored, key=lambda i: (sign * rows[i][_SCORE], rows[i][_SEQ]))
    ids = _task_ids(optimization.id, [rows[i][_SEQ] for i in best])
    params = {i: params_of(optimization.strategy, rows[i][_PARAMS]) for i in best}
    candidates = optimization.top + [
        {
            "taskId": ids[rows[i][_SEQ]],
            "seq": rows[i][_SEQ],
            "score": rows[i][_SCORE],
            "params": params[i],
            "trades": rows[i][_TRADES],
        }
        for i in best
    ]
    top = sorted(candidates, key=lambda t: (sign * t["score"], t["seq"]))[: optimization.top_n]
    kept = {t["taskId"] for t in top}
    if artifacts is not None:
        for i in best:
            task_id = ids[rows[i][_SEQ]]
            if task_id in kept:
                db.session.execute(
                    update(OptimizationTask)
                    .where(OptimizationTask.id == task_id)
                    .values(artifacts=artifacts(params[i]))
                )
    dropped = [t["taskId"] for t in optimization.top if t["taskId"] not in kept]
    if dropped:  # only the Top-N keep their artifacts
        db.session.execute(update(OptimizationTask).where(OptimizationTask.id.in_(dropped)).values(artifacts=None))
    optimization.top = top


def _task_ids(optimization_id: int, seqs: list[int]) -> dict[int, int]:
    """seq -> task id of these saved points (the bulk insert returns none: COPY cannot)."""
    if not seqs:
        return {}
    rows = db.session.execute(
        select(OptimizationTask.seq, OptimizationTask.id).where(
            OptimizationTask.optimization_id == optimization_id, OptimizationTask.seq.in_(seqs)
        )
    )
    return {seq: task_id for seq, task_id in rows}


def _finish(optimization: Optimization, reason: str | None) -> None:
    if optimization.done >= optimization.total:
        optimization.status = OptimizationStatus.failed if optimization.finished == 0 else OptimizationStatus.succeeded
    else:
        optimization.status = OptimizationStatus.early_stopped
    optimization.stop_reason = reason
    optimization.ended_at = utcnow()


def halted(halt_key: str) -> bool:
    """`halt_key`: `service.halt_key(optimization)`, read once by the chunk (the row's token never changes)."""
    return bool(redis_client().exists(halt_key))


def chunk_failed(optimization_id: int, results: Results) -> None:
    """A chunk job broke outside any single backtest: its remaining points count as failed (`results`)."""
    db.session.rollback()
    merge(optimization_id, results, chunk_finished=True)


def saved(optimization_id: int, first: int, last: int) -> list[int]:
    """Which of grid points first..last - 1 already have their task row."""
    return list(
        db.session.scalars(
            select(OptimizationTask.seq).where(
                OptimizationTask.optimization_id == optimization_id,
                OptimizationTask.seq >= first,
                OptimizationTask.seq < last,
            )
        )
    )


MAX_ROUNDS = 3  # resumes of one optimization before it is failed: a chunk that kills its work horse every time


def sweep() -> int:
    """The sweeper's hook: an optimization not final whose chunk jobs have all ended lost a
    chunk. Resume the chunks with points left, or finish it when none has."""
    active = (OptimizationStatus.queued, OptimizationStatus.running)
    rows = db.session.scalars(select(Optimization.id).where(Optimization.status.in_(active)).limit(sweeper.BATCH))
    return sum(_resume(optimization_id) for optimization_id in list(rows))


def _resume(optimization_id: int) -> bool:
    optimization = db.session.get(Optimization, optimization_id)
    records = service.chunk_jobs(optimization)
    if not records or not all(record.is_final for record in records):
        return False
    optimization = service.locked(optimization_id)
    done = saved(optimization_id, 0, optimization.total)
    left = [(first, last) for first, last in service.chunk_ranges(optimization) if _missing(done, first, last)]
    optimization.chunks_done = optimization.chunks_total - len(left)
    if left and len(records) < optimization.chunks_total * (1 + MAX_ROUNDS):
        for first, last in left:
            service.enqueue_chunk(optimization, first, last)
        db.session.commit()
        return True
    _finish(optimization, f"chunks kept failing: {sweeper.why(records[-1])}" if left else None)
    db.session.commit()
    service.announce(optimization, finalized=True)
    return True


def _missing(done: list[int], first: int, last: int) -> bool:
    return sum(1 for seq in done if first <= seq < last) < last - first
