"""Document sync figures over a window, one definition each, computed in SQL (the parallel-ops
overview reads them from here; docs/ops.md states each in words).

A job counts in the window when it was created in [start, end). Rates are None when there is
nothing to divide."""

from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import aliased

from app.core import rollup
from app.core.buckets import Buckets
from app.core.rates import ratio
from app.docsync.models import RemoteSite, SyncItem, SyncJob, SyncStatus
from app.extensions import db

ENDED = (SyncStatus.finished, SyncStatus.failed, SyncStatus.interrupted)
DIRECTIONS = ("push", "pull")
# the overview's rollup (app/core/rollup.py): jobs per creation hour, site, status, direction and
# whether a replay was made of them (a failed one without is a dead letter)
JOBS = rollup.Rollup(
    "rollup_doc_sync_jobs",
    "doc_sync_jobs",
    "created_at",
    dims=(
        ("site_id", "{r}.site_id", "int"),
        ("status", "{r}.status", "text"),
        ("direction", "{r}.direction", "text"),
        ("replayed", "CASE WHEN {r}.replayed THEN 1 ELSE 0 END", "int"),
    ),
)
# the trends' hours (their buckets start anywhere): only whether a job failed, and if so whether
# it is a dead letter (0 not failed, 1 failed and replayed, 2 a dead letter)
FAILED, DEAD = 1, 2
JOB_TRENDS = rollup.Rollup(
    "rollup_doc_sync_trends",
    "doc_sync_jobs",
    "created_at",
    dims=(
        ("failure", "CASE WHEN {r}.status = 'failed' THEN CASE WHEN {r}.replayed THEN 1 ELSE 2 END ELSE 0 END", "int"),
    ),
    grains=(rollup.HOUR,),
)


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
    success rate. The rollup's groups of the window (at most a few per site) give all but the
    mean attempts."""
    groups = [
        (site_id, status, direction, n, n if status == SyncStatus.failed and not replayed else 0)
        for site_id, status, direction, replayed, n in rollup.grouped(JOBS, start, end)
    ]
    by_status = dict.fromkeys((s.value for s in SyncStatus), 0)
    by_direction = dict.fromkeys(DIRECTIONS, 0)
    per_site: dict[int, dict[str, int]] = {}
    dead_letters = 0
    for site_id, status, direction, n, d in groups:
        by_status[status] = by_status.get(status, 0) + n
        by_direction[direction] = by_direction.get(direction, 0) + n
        dead_letters += int(d or 0)
        site = per_site.setdefault(site_id, {"total": 0, "finished": 0, "failed": 0, "ended": 0})
        site["total"] += n
        site["finished"] += n if status == SyncStatus.finished else 0
        site["failed"] += n if status == SyncStatus.failed else 0
        site["ended"] += n if status in ENDED else 0
    total = sum(by_status.values())
    ended = sum(by_status[s] for s in ENDED)
    mean_attempts = db.session.scalar(
        select(func.avg(SyncItem.attempts)).join(SyncJob, SyncJob.id == SyncItem.job_id).where(_in(start, end))
    )
    names = dict(db.session.execute(select(RemoteSite.id, RemoteSite.name).where(RemoteSite.id.in_(per_site))).all())
    return {
        "total": total,
        "by_status": by_status,
        "by_direction": by_direction,
        "success_rate": ratio(by_status[SyncStatus.finished], ended),
        "dead_letter": dead_letters,
        "dead_letter_rate": ratio(dead_letters, total),
        "mean_attempts": round(float(mean_attempts), 4) if mean_attempts is not None else None,
        "sites": [
            {
                "site": names[site_id],
                "total": site["total"],
                "failed": site["failed"],
                "success_rate": ratio(site["finished"], site["ended"]),
            }
            for site_id, site in sorted(per_site.items(), key=lambda kv: names[kv[0]])
        ],
    }


def jobs_by_bucket(buckets: Buckets) -> list[dict[str, int]]:
    """Per bucket: jobs created in it (total), how many failed and how many of those are dead
    letters, from the rollup."""

    def add(counts: dict[str, int], failure: int, n: int) -> None:
        counts["total"] += n
        counts["failed"] += n if failure else 0
        counts["dead_letter"] += n if failure == DEAD else 0

    return rollup.per_bucket(JOB_TRENDS, buckets, _zero_bucket, add)


def _zero_bucket() -> dict[str, int]:
    return {"total": 0, "failed": 0, "dead_letter": 0}
