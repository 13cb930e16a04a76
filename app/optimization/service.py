"""Grid optimizations: submit, early stop, cancel, re-run, and the reads the
pages and the API share (what only the chunk jobs run is in `chunks`).

The summary (counts, best score, Top-N, best-score history) lives on the
optimization row and is updated by `chunks.merge()` under a row lock as workers hand
in results, so reading it never scans the tasks. Once the status is final the
row is frozen: later results are dropped and queued chunks are canceled.
"""

import csv
import io
import json
import logging
import math
import secrets
import zipfile
from time import perf_counter
from typing import Any

from flask import current_app
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.exceptions import InvalidJobOperation
from rq.job import Job, JobStatus
from sqlalchemy import case, func, literal, select, update

from app.core import audit, jobs, live, rediskeys, txn
from app.core.auth.models import User
from app.core.errors import Conflict, DomainError, InvalidInput, NotFound
from app.core.jobs import history as job_history
from app.core.jobs.models import JobRecord, JobState
from app.core.paging import Page, paginate
from app.core.records import get_or_404, id_from_text
from app.core.timeutil import utcnow
from app.core.validation import invalid
from app.extensions import db, redis_client
from app.optimization import datasets, grid
from app.optimization.backtest import Bars
from app.optimization.metrics import OPTIMIZATION_EXPORT_SECONDS, OPTIMIZATION_TASKS
from app.optimization.models import (
    METRICS,
    Dataset,
    Optimization,
    OptimizationStatus,
    OptimizationTask,
    param_column,
)

METRIC_LABELS = {
    "return_pct": "Return %",
    "sharpe": "Sharpe",
    "max_drawdown_pct": "Max drawdown %",
    "trades": "Trades",
    "win_rate_pct": "Win rate %",
}
MODES = ("max", "min")
MAX_RUN_ORDER_SEED = 2**31 - 1
# chunks are sized by time: about CHUNK_SECONDS of backtests each, from the rate the workers last
# measured on this strategy and dataset (or, before any, a rate measured once per bar of data),
# within [MIN_CHUNK_POINTS, MAX_CHUNK_POINTS]; OPTIMIZATION_CHUNK_POINTS in the config fixes the size
CHUNK_SECONDS = 1.5
MIN_CHUNK_POINTS, MAX_CHUNK_POINTS = 50, 20_000
DEFAULT_SECONDS_PER_POINT = (2e-6, 5e-9)  # a + b * bars: 12.7 µs on GOOG (2,148 bars); measured 10 µs under load
RATE_TTL = 7 * 24 * 3600
HALT_TTL = 3600  # the flag outlives the run's end only as long as a last chunk may still be running
ENTITY = "optimization"
log = logging.getLogger(__name__)


def topic(optimization_id: int) -> str:
    return f"optimization:{optimization_id}"


def halt_key(optimization: Optimization) -> str:
    """Named by the run's random token, not its id: ids start again at 1 in a recreated database,
    while Redis may still hold the flag of the old run."""
    return rediskeys.key("optimization", optimization.run_token, "halt")


# --- datasets --------------------------------------------------------------------------------


def create_dataset(name: str, csv_text: str, actor: str) -> Dataset:
    name = name.strip()
    if not name or len(name) > 120:
        raise InvalidInput("A dataset needs a name of 1 to 120 characters.", {"field": "name"})
    bars = datasets.parse_csv(csv_text)
    canonical = datasets.to_csv(bars)
    dataset = Dataset(
        name=name,
        checksum=datasets.checksum(canonical),
        rows=len(bars),
        first_date=bars.dates[0],
        last_date=bars.dates[-1],
        csv=canonical,
        created_by=actor,
    )
    db.session.add(dataset)
    db.session.flush()
    audit.record(
        "optimization_dataset",
        dataset.id,
        "create",
        after={"name": name, "rows": dataset.rows, "checksum": dataset.checksum},
    )
    return dataset


def list_datasets() -> list[Dataset]:
    return list(db.session.scalars(select(Dataset).order_by(Dataset.name, Dataset.id)))


def get_dataset(dataset_id: int) -> Dataset:
    return get_or_404(Dataset, dataset_id, "dataset", {"field": "dataset"})


def bars_of(dataset: Dataset) -> Bars:
    return datasets.from_canonical(dataset.csv)


# --- submit, re-run --------------------------------------------------------------------------


def _check_policy(policy: dict[str, Any]) -> dict[str, Any]:
    if policy.get("mode") not in MODES:
        raise invalid("earlyStopPolicy.mode", "Mode must be max or min.", allowed=list(MODES))
    if policy.get("metric") not in METRICS:
        raise invalid("earlyStopPolicy.metric", f"Metric must be one of {', '.join(METRICS)}.", allowed=list(METRICS))
    return {
        "mode": policy["mode"],
        "metric": policy["metric"],
        "target": policy.get("target"),
        "patience": policy.get("patience"),
        "maxTasks": policy.get("maxTasks"),
    }


def _run_order_seed(policy: dict[str, Any], asked: int | None) -> int | None:
    """An early stop in grid order would judge one corner of the grid (patience 300 of 14,751 tasks
    tried only n1 = 2-3): with a policy, or when asked, the points run in a seeded shuffled order."""
    if asked is not None:
        return asked
    stops_early = policy["target"] is not None or policy["patience"] or policy["maxTasks"]
    return secrets.randbelow(MAX_RUN_ORDER_SEED + 1) if stops_early else None


def submit(owner: User, spec: dict[str, Any], source: Optimization | None = None) -> Optimization:
    """spec: strategy, dataset, paramSpace, earlyStopPolicy, topN, cash, commission, optional runOrderSeed
    (validated shapes)."""
    strategy = grid.strategy_named(spec["strategy"])
    policy = _check_policy(spec["earlyStopPolicy"])
    dataset = get_dataset(spec["dataset"])
    points, skipped = grid.count(strategy, spec["paramSpace"])
    if not points:
        raise invalid(
            "paramSpace", f"Every grid point breaks the constraint {strategy.constraint_text}.", skipped=skipped
        )
    chunks = chunk_count(points, strategy.name, dataset)
    optimization = Optimization(
        owner=owner,
        strategy=strategy.name,
        dataset=dataset,
        param_space=spec["paramSpace"],
        policy=policy,
        top_n=spec["topN"],
        cash=spec["cash"],
        commission=spec["commission"],
        source_id=source.id if source else None,
        status=OptimizationStatus.queued,
        total=points,
        skipped=skipped,
        run_order_seed=_run_order_seed(policy, spec.get("runOrderSeed")),
        top=[],
        best_history=[],
        chunks_total=chunks,
    )
    db.session.add(optimization)
    db.session.flush()
    for first, last in chunk_ranges(optimization):
        enqueue_chunk(optimization, first, last)
    audit.record(
        ENTITY,
        optimization.id,
        "submit",
        after={
            "strategy": strategy.name,
            "dataset": dataset.id,
            "paramSpace": spec["paramSpace"],
            "policy": policy,
            "topN": spec["topN"],
            "total": points,
            "skipped": skipped,
            "runOrderSeed": optimization.run_order_seed,
            "source": optimization.source_id,
        },
    )
    txn.on_commit(lambda: OPTIMIZATION_TASKS.labels("skipped").inc(skipped))
    return optimization


def spec_of(optimization: Optimization) -> dict[str, Any]:
    return {
        "strategy": optimization.strategy,
        "dataset": optimization.dataset_id,
        "paramSpace": optimization.param_space,
        "earlyStopPolicy": optimization.policy,
        "topN": optimization.top_n,
        "cash": optimization.cash,
        "commission": optimization.commission,
        "runOrderSeed": optimization.run_order_seed,  # a re-run runs in the same order
    }


def grid_text(optimization: Optimization) -> str:
    """The grid's numbers, adding up: '99,900 grid points: 44,850 skipped (n1 ≥ n2), 55,050 to run'."""
    violation = grid.strategy_named(optimization.strategy).violation_text
    text = f"{optimization.grid_size:,} grid points: "
    if optimization.skipped:
        text += f"{optimization.skipped:,} skipped ({violation}), "
    text += f"{optimization.total:,} to run"
    if optimization.run_order_seed is not None:
        text += f", in shuffled order (seed {optimization.run_order_seed})"
    return text


def rerun(optimization: Optimization, user: User, task_id: int | None = None) -> Optimization:
    """The same job again, or only the combination of one of its tasks."""
    spec = spec_of(optimization)
    if task_id is not None:
        task = db.session.get(OptimizationTask, task_id)
        if task is None or task.optimization_id != optimization.id:
            raise NotFound(f"Optimization {optimization.id} has no task {task_id}.", {"field": "taskId"})
        spec["paramSpace"] = {name: [value] for name, value in task.params.items()}
    return submit(user, spec, source=optimization)


# --- reads -----------------------------------------------------------------------------------


def visible_to(optimization: Optimization, user: User) -> bool:
    """Who sees an optimization (its parameters, results, events, audit rows): its owner and admins."""
    return user.role == "admin" or optimization.owner_id == user.id


def get(optimization_id: int, user: User) -> Optimization:
    """The optimization if `user` may see it (`visible_to`); others get 404."""
    optimization = db.session.get(Optimization, optimization_id)
    if optimization is None or not visible_to(optimization, user):
        raise NotFound(f"No optimization {optimization_id}.")
    return optimization


def may_see(user: User, ref: str) -> bool:
    """`get_by_ref()`'s rule as a yes or no: the live channel (`optimization:<id>`) and the audit
    log apply it through the capability's `Access`, so they show what the API shows."""
    try:
        get_by_ref(ref, user)
    except NotFound:
        return False
    return True


def get_by_ref(ref: str, user: User) -> Optimization:
    """`get()` for an id as written in a URL (anything but digits is simply not found)."""
    ident = id_from_text(ref)
    if ident is None:
        raise NotFound(f"No optimization {ref[:40]!r}.")
    return get(ident, user)


def history(user: User, page: int, per_page: int = 25) -> Page:
    query = select(Optimization).order_by(Optimization.created_at.desc(), Optimization.id.desc())
    if user.role != "admin":
        query = query.where(Optimization.owner_id == user.id)
    return paginate(query, page, per_page)


def summary(optimization: Optimization) -> dict[str, Any]:
    """Counts that add up (gridSize = skipped + total; total = to run = finished + failed + not yet run)
    and the Top-N, each entry flagged when its backtest made no trade: its score then only says
    that doing nothing scored so (ranked all the same; entries of older runs have no trade count)."""
    return {
        "gridSize": optimization.grid_size,
        "total": optimization.total,
        "finished": optimization.finished,
        "failed": optimization.failed,
        "skipped": optimization.skipped,
        "topN": [
            {"taskId": t["taskId"], "score": t["score"], "params": t["params"], "zeroTrades": t.get("trades") == 0}
            for t in optimization.top
        ],
    }


def status(optimization: Optimization) -> dict[str, Any]:
    return {
        "id": optimization.id,
        "status": optimization.status,
        "stopReason": optimization.stop_reason,
        "bestScore": optimization.best_score,
        "summary": summary(optimization),
    }


def tasks_of(optimization: Optimization, ids: list[int]) -> dict[int, OptimizationTask]:
    rows = db.session.scalars(
        select(OptimizationTask).where(
            OptimizationTask.optimization_id == optimization.id, OptimizationTask.id.in_(ids)
        )
    )
    return {t.id: t for t in rows}


HEATMAP_COLUMNS, HEATMAP_ROWS = 40, 25  # cells drawn at most, whatever the size of the grid


HEATMAP_TTL = 600  # seconds a heatmap stays in Redis; a merge (a new revision) makes another key


def heatmap(optimization: Optimization, x: str, y: str) -> dict[str, Any]:
    """`_heatmap()`, read once per revision of the row (every merge bumps it) and kept in Redis:
    viewers of one optimization share one scan of its tasks, and a finished one is scanned once."""
    key = rediskeys.key("optimization", optimization.run_token, "heatmap", optimization.revision, x, y)
    try:
        cached = redis_client().get(key)
    except RedisError:
        cached = None
    if cached is not None:
        data = json.loads(cached)
        data["cells"] = {(c, r): score for c, r, score in data["cells"]}
        return data
    data = _heatmap(optimization, x, y)
    stored = {**data, "cells": [[c, r, score] for (c, r), score in data["cells"].items()]}
    try:
        redis_client().set(key, json.dumps(stored), ex=HEATMAP_TTL)
    except RedisError:  # a heatmap read without the cache is only slower
        pass
    return data


def _heatmap(optimization: Optimization, x: str, y: str) -> dict[str, Any]:
    """The best score per heatmap cell over the other parameters. Each axis is the grid's values
    of its parameter in at most HEATMAP_COLUMNS (HEATMAP_ROWS) runs of neighbours, and the cells
    are grouped in SQL: one row per cell drawn, whatever the number of tasks."""
    strategy = grid.strategy_named(optimization.strategy)
    x_groups = grid.groups(grid.axis(strategy, optimization.param_space, x), HEATMAP_COLUMNS)
    y_groups = grid.groups(grid.axis(strategy, optimization.param_space, y), HEATMAP_ROWS)

    # materialized, so each task is read once, not once per CASE branch below
    scored = (
        select(
            param_column(optimization.strategy, x).label("x"),
            param_column(optimization.strategy, y).label("y"),
            OptimizationTask.score,
        )
        .where(OptimizationTask.optimization_id == optimization.id, OptimizationTask.score.is_not(None))
        .cte("scored")
        .prefix_with("MATERIALIZED")
    )

    def cell_index(value, runs: list[list[Any]]):
        if len(runs) == 1:
            return literal(0)
        return case(*((value < run[0], i) for i, run in enumerate(runs[1:])), else_=len(runs) - 1)

    column, row = cell_index(scored.c.x, x_groups), cell_index(scored.c.y, y_groups)
    best = (func.max if optimization.mode == "max" else func.min)(scored.c.score)
    rows = db.session.execute(select(column, row, best).group_by(column, row))
    return {
        "x": x,
        "y": y,
        "x_groups": x_groups,
        "y_groups": y_groups,
        "cells": {(c, r): score for c, r, score in rows},
    }


def _rate_key(strategy: str, checksum: str) -> str:
    return rediskeys.key("optimization", "seconds-per-point", strategy, checksum)


def seconds_per_point(strategy: str, dataset: Dataset) -> float:
    """What a backtest of this strategy on this dataset took on the workers lately (or the default)."""
    try:
        measured = redis_client().get(_rate_key(strategy, dataset.checksum))
    except RedisError:
        measured = None
    if measured is not None:
        return float(measured)
    fixed, per_bar = DEFAULT_SECONDS_PER_POINT
    return fixed + per_bar * dataset.rows


def chunk_points(strategy: str, dataset: Dataset) -> int:
    """Grid points per chunk job: about CHUNK_SECONDS of backtests."""
    fixed = current_app.config.get("OPTIMIZATION_CHUNK_POINTS")
    if fixed:
        return fixed
    return max(MIN_CHUNK_POINTS, min(MAX_CHUNK_POINTS, int(CHUNK_SECONDS / seconds_per_point(strategy, dataset))))


def chunk_count(points: int, strategy: str, dataset: Dataset) -> int:
    """Chunks of `chunk_points()`; sized by time, their number is rounded up to a multiple of the
    workers on `optimize` now, so that none idles while another runs a last chunk alone (RQ's
    worker registry says how many)."""
    chunks = math.ceil(points / chunk_points(strategy, dataset))
    if current_app.config.get("OPTIMIZATION_CHUNK_POINTS"):
        return chunks
    try:
        workers = Worker.count(queue=Queue("optimize", connection=redis_client()))
    except RedisError:
        workers = 0
    if workers > 1 and chunks < points:
        chunks = min(points, math.ceil(chunks / workers) * workers)
    return chunks


def record_rate(strategy: str, checksum: str, points: int, seconds: float) -> None:
    """A chunk's measured backtest time (workers only): the next submit's chunks are sized by it."""
    if points < MIN_CHUNK_POINTS or seconds <= 0:
        return  # too few to say
    try:
        redis_client().set(_rate_key(strategy, checksum), repr(seconds / points), ex=RATE_TTL)
    except RedisError:  # the next submit sizes by the default
        pass


def chunk_ranges(optimization: Optimization) -> list[tuple[int, int]]:
    """The [first, last) grid ranges of its chunks."""
    size = math.ceil(optimization.total / optimization.chunks_total) if optimization.total else 1
    return [(first, min(first + size, optimization.total)) for first in range(0, optimization.total, size)]


def enqueue_chunk(optimization: Optimization, first: int, last: int) -> None:
    jobs.enqueue(
        "optimization_chunk",
        "app.optimization.jobs.run_chunk",
        optimization.id,
        first,
        last,
        queue="optimize",
        link=(ENTITY, optimization.id),
        description=f"optimization {optimization.id} points {first}-{last - 1}",
    )


def chunk_jobs(optimization: Optimization) -> list[JobRecord]:
    return list(
        db.session.scalars(
            select(JobRecord)
            .where(JobRecord.entity == ENTITY, JobRecord.entity_id == str(optimization.id))
            .order_by(JobRecord.enqueued_at)
        )
    )


# --- the row lock and the halt (chunk jobs and cancel) -------------------------------------


def locked(optimization_id: int) -> Optimization:
    """The row, locked for this transaction: the UPDATE takes PostgreSQL's row lock and SQLite's write lock."""
    db.session.execute(
        update(Optimization).where(Optimization.id == optimization_id).values(revision=Optimization.revision + 1)
    )
    optimization = db.session.get(Optimization, optimization_id, populate_existing=True)
    if optimization is None:
        raise NotFound(f"No optimization {optimization_id}.")
    return optimization


def announce(optimization: Optimization, finalized: bool) -> None:
    """After the commit: tell the page; whoever made the status final also halts the work
    (its queued chunks are canceled in RQ and in the job history: the caller commits that)."""
    # no scores or parameters on the bus (any signed-in socket may subscribe): pages re-fetch what they may see
    live.publish(
        topic(optimization.id),
        "optimization_final" if optimization.is_final else "optimization_progress",
        {"id": optimization.id, "status": optimization.status},
    )
    if finalized:
        _halt(optimization)


def _halt(optimization: Optimization) -> None:
    """No new task starts: running chunks see the flag within a moment, queued ones are canceled in RQ."""
    connection = redis_client()
    connection.set(halt_key(optimization), 1, ex=HALT_TTL)
    OPTIMIZATION_TASKS.labels("stopped").inc(optimization.total - optimization.done)
    queued = [r.id for r in chunk_jobs(optimization) if r.status == JobState.queued]
    canceled = []
    for job in Job.fetch_many(queued, connection=connection):
        try:
            if job is not None and job.get_status() == JobStatus.QUEUED:
                job.cancel()
                canceled.append(job.id)
        except InvalidJobOperation:  # a worker took it meanwhile: it sees the flag and does nothing
            continue
    job_history.set_canceled(canceled)


# --- cancel ----------------------------------------------------------------------------------


def cancel(optimization: Optimization, user: User) -> Optimization:
    """Freeze the row; once the caller has committed it calls `announce(optimization, finalized=True)`,
    which tells the page and halts the chunks (it reads and writes the job history, so it cannot be an
    after-commit hook)."""
    optimization = locked(optimization.id)
    if optimization.is_final:
        status_now = optimization.status
        db.session.rollback()
        raise Conflict(f"Optimization {optimization.id} is already {status_now}.", {"status": status_now})
    before = optimization.status
    optimization.status, optimization.stop_reason, optimization.ended_at = (
        OptimizationStatus.canceled,
        f"canceled by {user.username}",
        utcnow(),
    )
    audit.record(
        ENTITY, optimization.id, "cancel", before={"status": before}, after={"status": OptimizationStatus.canceled}
    )
    return optimization


# --- export ----------------------------------------------------------------------------------


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def export_zip(optimization: Optimization) -> bytes:
    """The Top-N as a zip (manifest, results.csv, each task's equity curve and trades), built
    from the stored results only; a failure is logged as one structured line."""
    started = perf_counter()
    try:
        return _build_export(optimization)
    except DomainError as exc:
        log.warning(
            json.dumps(
                {
                    "event": "optimization_export_failed",
                    "optimization": optimization.id,
                    "code": exc.code,
                    "message": exc.message,
                }
            )
        )
        raise
    finally:
        OPTIMIZATION_EXPORT_SECONDS.observe(perf_counter() - started)


def _build_export(optimization: Optimization) -> bytes:
    if not optimization.top:
        raise Conflict(
            f"Optimization {optimization.id} has no scored task to export yet.", {"status": optimization.status}
        )
    ranked = [t["taskId"] for t in optimization.top]
    tasks = tasks_of(optimization, ranked)
    missing = [i for i in ranked if i not in tasks or tasks[i].artifacts is None]
    if missing:  # the Top-N moved while we read it: the caller may simply try again
        raise Conflict("The Top-N changed while the export was read; try again.", {"tasks": missing})
    names = list(optimization.top[0]["params"])
    rows = [
        [rank, i, tasks[i].score, *(tasks[i].params[n] for n in names), *(tasks[i].metrics[m] for m in METRICS)]
        for rank, i in enumerate(ranked, start=1)
    ]
    manifest = {
        "optimization": {
            "id": optimization.id,
            "status": optimization.status,
            "strategy": optimization.strategy,
            "paramSpace": optimization.param_space,
            "topN": optimization.top_n,
            "cash": optimization.cash,
            "commission": optimization.commission,
            "runOrderSeed": optimization.run_order_seed,
            "sourceJobId": optimization.source_id,
            "stopReason": optimization.stop_reason,
        },
        "policy": optimization.policy,
        "dataset": {
            "id": optimization.dataset.id,
            "name": optimization.dataset.name,
            "checksum": optimization.dataset.checksum,
            "rows": optimization.dataset.rows,
        },
        "summary": summary(optimization),
        "exportedAt": utcnow().isoformat(),
        "files": ["results.csv"] + [f"tasks/{i}/{f}" for i in ranked for f in ("equity.csv", "trades.csv")],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, indent=2))
        archive.writestr("results.csv", _csv(["rank", "taskId", "score", *names, *METRICS], rows))
        for i in ranked:
            artifacts = tasks[i].artifacts
            equity = artifacts["equity"]
            archive.writestr(
                f"tasks/{i}/equity.csv",
                _csv(["Date", "Equity"], list(zip(equity["dates"], equity["values"], strict=True))),
            )
            fields = [
                "entryDate",
                "exitDate",
                "entryBar",
                "exitBar",
                "size",
                "entryPrice",
                "exitPrice",
                "pnl",
                "returnPct",
            ]
            archive.writestr(
                f"tasks/{i}/trades.csv", _csv(fields, [[t[f] for f in fields] for t in artifacts["trades"]])
            )
    return buffer.getvalue()
