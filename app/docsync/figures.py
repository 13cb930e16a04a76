"""Document sync figures over a window, one definition each, computed in SQL (the parallel-ops
overview reads them from here; docs/ops.md states each in words).

A job counts in the window when it was created in [start, end). Rates are None when there is
nothing to divide."""

from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, select
from sqlalchemy.orm import aliased

from app.core.buckets import Buckets
from app.core.rates import ratio
from app.docsync.models import RemoteSite, SyncItem, SyncJob, SyncStatus
from app.extensions import db

ENDED = (SyncStatus.finished, SyncStatus.failed, SyncStatus.interrupted)
DIRECTIONS = ("push", "pull")


def _in(start: datetime, end: datetime):
    return and_(SyncJob.created_at >= start, SyncJob.created_at < end)


def dead_letter():
    """A dead letter: a failed job no replay has been made of yet (it waits for an operator)."""
    replay = aliased(SyncJob)
    return and_(SyncJob.status == SyncStatus.failed, ~exists().where(replay.replay_of_id == SyncJob.id))


def jobs(start: datetime, end: datetime) -> dict[str, Any]:
    """Jobs in the window: total, by status, by direction; success rate = finished / ended
    (finished, failed, interrupted); dead letters and their rate over the total; mean attempts
    per document over the documents of those jobs; and per site the same total, failed and
    success rate."""
    groups = db.session.execute(
        select(SyncJob.status, SyncJob.direction, func.count())
        .where(_in(start, end))
        .group_by(SyncJob.status, SyncJob.direction)
    ).all()
    by_status = dict.fromkeys((s.value for s in SyncStatus), 0)
    by_direction = dict.fromkeys(DIRECTIONS, 0)
    for status, direction, n in groups:
        by_status[status] = by_status.get(status, 0) + n
        by_direction[direction] = by_direction.get(direction, 0) + n
    total = sum(by_status.values())
    ended = sum(by_status[s] for s in ENDED)
    dead = db.session.scalar(select(func.count()).where(_in(start, end), dead_letter()))
    mean_attempts = db.session.scalar(
        select(func.avg(SyncItem.attempts)).join(SyncJob, SyncJob.id == SyncItem.job_id).where(_in(start, end))
    )
    finished = func.sum(case((SyncJob.status == SyncStatus.finished, 1), else_=0))
    failed = func.sum(case((SyncJob.status == SyncStatus.failed, 1), else_=0))
    ended_n = func.sum(case((SyncJob.status.in_(ENDED), 1), else_=0))
    sites = db.session.execute(
        select(RemoteSite.name, func.count(), finished, failed, ended_n)
        .join(RemoteSite, RemoteSite.id == SyncJob.site_id)
        .where(_in(start, end))
        .group_by(RemoteSite.name)
        .order_by(RemoteSite.name)
    ).all()
    return {
        "total": total,
        "by_status": by_status,
        "by_direction": by_direction,
        "success_rate": ratio(by_status[SyncStatus.finished], ended),
        "dead_letter": dead,
        "dead_letter_rate": ratio(dead, total),
        "mean_attempts": round(float(mean_attempts), 4) if mean_attempts is not None else None,
        "sites": [
            {"site": name, "total": n, "failed": int(f), "success_rate": ratio(int(ok), int(e))}
            for name, n, ok, f, e in sites
        ],
    }


def jobs_by_bucket(buckets: Buckets) -> list[dict[str, int]]:
    """Per bucket: jobs created in it (total), how many failed and how many of those are dead
    letters, in one grouped query."""
    failed = func.sum(case((SyncJob.status == SyncStatus.failed, 1), else_=0))
    dead = func.sum(case((dead_letter(), 1), else_=0))
    rows = db.session.execute(
        select(buckets.index(SyncJob.created_at).label("bucket"), func.count(), failed, dead)
        .where(_in(buckets.start, buckets.end))
        .group_by("bucket")
    ).all()
    return buckets.spread(
        ((i, {"total": n, "failed": int(f or 0), "dead_letter": int(d or 0)}) for i, n, f, d in rows),
        lambda: {"total": 0, "failed": 0, "dead_letter": 0},
    )
