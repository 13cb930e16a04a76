"""Read-only analysis of an optimization's results (issue 20, point 3): the trials table of every
task (paged, sorted and filtered in SQL) and the grid size a form's parameter space would have.
It only reads; the pipeline (service writes, jobs, runner) lives elsewhere."""

import math
from typing import Any

from sqlalchemy import func, select

from app.core.paging import Page, paginate
from app.core.validation import invalid
from app.extensions import db
from app.optimization import grid
from app.optimization.models import METRICS, PARAM_COLUMNS, Optimization, OptimizationTask, param_column, params_of
from app.optimization.strategies import STRATEGIES

TRIAL_STATUSES = ("finished", "failed")


def grid_size(strategy_name: str, space: dict[str, Any]) -> dict[str, int]:
    """What submitting this space would queue: the grid's size, the points the strategy's constraint
    skips and those left to run. `grid.count` is what `service.submit` calls, so the numbers are
    the ones the submit flash will say; a bad space raises the same InvalidInput."""
    points, skipped = grid.count(grid.strategy_named(strategy_name), space)
    return {"size": points + skipped, "skipped": skipped, "toRun": points}


def sort_keys(optimization: Optimization) -> list[str]:
    """What the trials table sorts by: the task number, the score, each metric and each parameter."""
    return ["seq", "score", *METRICS, *(p.name for p in STRATEGIES[optimization.strategy].params)]


def parse_ranges(optimization: Optimization, text: str | None) -> dict[str, tuple[float | None, float | None]]:
    """'n1:5:20,n2::100' → {n1: (5, 20), n2: (None, 100)}: each parameter's inclusive range, either end open."""
    names = [p.name for p in STRATEGIES[optimization.strategy].params]
    ranges: dict[str, tuple[float | None, float | None]] = {}
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        pieces = part.split(":")
        if len(pieces) != 3 or pieces[0] not in names:
            raise invalid(
                "ranges",
                f"Each range is name:low:high with name one of {', '.join(names)} (either bound may be empty);"
                f" {part!r} is not.",
                allowed=names,
            )
        bounds = []
        for piece in pieces[1:]:
            try:
                value = float(piece) if piece.strip() else None
            except ValueError:
                value = math.nan
            if value is not None and not math.isfinite(value):
                raise invalid("ranges", f"The bounds of {pieces[0]} must be numbers; {piece!r} is not.")
            bounds.append(value)
        low, high = bounds
        if low is not None and high is not None and low > high:
            raise invalid("ranges", f"The range of {pieces[0]} has its low bound ({low:g}) above its high ({high:g}).")
        ranges[pieces[0]] = (low, high)
    return ranges


def _column(optimization: Optimization, key: str):
    if key == "seq":
        return OptimizationTask.seq
    if key == "score":
        return OptimizationTask.score
    if key in METRICS:
        return getattr(OptimizationTask, key)
    return param_column(optimization.strategy, key)


def trials(
    optimization: Optimization,
    *,
    sort: str = "seq",
    order: str = "asc",
    ranges: str | None = None,
    status: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page:
    """One page of the optimization's tasks, sorted by `sort` (tasks without that value last, then by
    task number so pages never overlap), filtered by parameter ranges and status, all in SQL: the
    rows of a 100,000-task optimization are never read into Python beyond the page shown."""
    keys = sort_keys(optimization)
    if sort not in keys:
        raise invalid("sort", f"Sort by one of {', '.join(keys)}; {sort!r} is not one.", allowed=keys)
    if order not in ("asc", "desc"):
        raise invalid("order", f"Order is asc or desc; {order!r} is neither.", allowed=["asc", "desc"])
    if status not in (None, "", *TRIAL_STATUSES):
        raise invalid("status", f"Status is finished or failed; {status!r} is neither.", allowed=list(TRIAL_STATUSES))
    query = select(OptimizationTask).where(OptimizationTask.optimization_id == optimization.id)
    for name, (low, high) in parse_ranges(optimization, ranges).items():
        column = param_column(optimization.strategy, name)
        if low is not None:
            query = query.where(column >= low)
        if high is not None:
            query = query.where(column <= high)
    if status:
        query = query.where(OptimizationTask.status == status)
    column = _column(optimization, sort)
    direction = column.asc() if order == "asc" else column.desc()
    query = query.order_by(direction.nulls_last(), OptimizationTask.seq)
    return paginate(query, page, per_page)


def trial_out(task: OptimizationTask) -> dict[str, Any]:
    return {
        "taskId": task.id,
        "seq": task.seq,
        "status": task.status,
        "score": task.score,
        "params": task.params,
        "metrics": task.metrics,
        "error": task.error,
    }


def slices(optimization: Optimization) -> dict[str, Any]:
    """Per parameter, the scored tasks grouped by its value in SQL (count, mean and best score per value:
    the slice plot), and its importance: the share of the scores' variance that its value explains
    (between-group sum of squares over the total, a one-way ANOVA's eta squared). Rows read: one per
    distinct value of each parameter, whatever the number of tasks."""
    names = [p.name for p in STRATEGIES[optimization.strategy].params]
    scored = (OptimizationTask.optimization_id == optimization.id, OptimizationTask.score.is_not(None))
    best = func.max if optimization.mode == "max" else func.min
    out: dict[str, Any] = {"params": {}, "mode": optimization.mode}
    for name in names:
        value = param_column(optimization.strategy, name)
        rows = db.session.execute(
            select(value, func.count(), func.avg(OptimizationTask.score), best(OptimizationTask.score))
            .where(*scored)
            .group_by(value)
            .order_by(value)
        ).all()
        out["params"][name] = [
            {"value": v, "count": n, "mean": float(mean), "best": float(top)} for v, n, mean, top in rows
        ]
    groups = next(iter(out["params"].values()), [])
    total_n = sum(g["count"] for g in groups)
    mean = sum(g["mean"] * g["count"] for g in groups) / total_n if total_n else 0.0
    squares = db.session.scalar(
        select(func.sum((OptimizationTask.score - mean) * (OptimizationTask.score - mean))).where(*scored)
    )
    total_ss = float(squares or 0.0)
    out["count"] = total_n
    out["importance"] = {
        name: (sum(g["count"] * (g["mean"] - mean) ** 2 for g in rows) / total_ss if total_ss > 0 else 0.0)
        for name, rows in out["params"].items()
    }
    return out


PARALLEL_BEST, PARALLEL_SAMPLE = 50, 250  # lines of a parallel-coordinates plot, whatever the number of tasks


def parallel(optimization: Optimization) -> dict[str, Any]:
    """The tasks a parallel-coordinates plot draws: the PARALLEL_BEST best scored ones and about
    PARALLEL_SAMPLE more spread evenly over the run order (so every region of the grid shows),
    each with its parameters and score; and each axis's range: the grid's values for the
    parameters, the scores of every scored task. Two indexed reads of at most 300 rows."""
    names = [p.name for p in STRATEGIES[optimization.strategy].params]
    strategy = STRATEGIES[optimization.strategy]
    mine = (OptimizationTask.optimization_id == optimization.id, OptimizationTask.score.is_not(None))
    low, high, scored = db.session.execute(
        select(func.min(OptimizationTask.score), func.max(OptimizationTask.score), func.count()).where(*mine)
    ).one()
    if not scored:
        return {"names": names, "lines": [], "count": 0}
    best_first = OptimizationTask.score.desc() if optimization.mode == "max" else OptimizationTask.score.asc()
    columns = [getattr(OptimizationTask, c) for c in PARAM_COLUMNS[: len(names)]]
    best = db.session.execute(
        select(OptimizationTask.seq, OptimizationTask.score, *columns)
        .where(*mine)
        .order_by(best_first, OptimizationTask.seq)
        .limit(PARALLEL_BEST)
    ).all()
    last_seq = db.session.scalar(select(func.max(OptimizationTask.seq)).where(*mine))
    stride = max(1, -(-(last_seq + 1) // PARALLEL_SAMPLE))
    taken = {seq for seq, *_ in best}
    sample = db.session.execute(
        select(OptimizationTask.seq, OptimizationTask.score, *columns)
        .where(*mine, OptimizationTask.seq.in_([s for s in range(0, last_seq + 1, stride) if s not in taken]))
        .order_by(OptimizationTask.seq)
    ).all()
    axes = {name: grid.axis(strategy, optimization.param_space, name) for name in names}
    return {
        "names": names,
        "mode": optimization.mode,
        "axes": {name: (values[0], values[-1]) for name, values in axes.items()},
        "score": (float(low), float(high)),
        "count": scored,
        "lines": [
            {"seq": seq, "params": params_of(strategy.name, values), "score": score, "best": rank < len(best)}
            for rank, (seq, score, *values) in enumerate([*best, *sample])
        ],
    }


def compare(first: Optimization, second: Optimization) -> dict[str, Any]:
    """Two optimizations of one strategy on one dataset (the same bars: the same checksum), side by
    side: their Top-N and best-by-task histories. A different strategy or dataset is refused."""
    if first.id == second.id:
        raise invalid("b", f"Choose two different optimizations; both are {first.id}.")
    if first.strategy != second.strategy:
        raise invalid(
            "b",
            f"Optimizations {first.id} and {second.id} cannot be compared: they run different strategies"
            f" ({first.strategy} and {second.strategy}).",
        )
    if first.dataset.checksum != second.dataset.checksum:
        raise invalid(
            "b",
            f"Optimizations {first.id} and {second.id} cannot be compared: they run on different datasets"
            f" ({first.dataset.name} and {second.dataset.name}).",
        )
    return {
        "strategy": first.strategy,
        "dataset": first.dataset.name,
        "optimizations": [
            {
                "id": o.id,
                "status": o.status,
                "metric": o.metric,
                "mode": o.mode,
                "done": o.done,
                "bestScore": o.best_score,
                "topN": o.top,
                "bestByTask": [[n, best] for n, _, best in o.best_history],
            }
            for o in (first, second)
        ],
    }
