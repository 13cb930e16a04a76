"""The one rule for a rate in a figure (part / whole to 4 places, None when there is nothing to
divide) and the windowed count by status most capabilities' figures are made of (also per time
bucket, for the trends)."""

from sqlalchemy import case, func, select

from app.core.buckets import Buckets
from app.extensions import db


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def by_status(status, at, start, end, statuses, failed) -> dict:
    """Rows whose `at` column falls in [start, end), counted by their `status` column in one
    grouped query: total, every status of `statuses` (0 when none), how many are in `failed`
    and their share of the total (None when there is none)."""
    counted = dict(db.session.execute(select(status, func.count()).where(at >= start, at < end).group_by(status)).all())
    out = {str(s): counted.get(s, 0) for s in statuses}
    total = sum(counted.values())
    bad = sum(counted.get(s, 0) for s in failed)
    return {"total": total, "by_status": out, "failed": bad, "failed_rate": ratio(bad, total)}


def zero_counts() -> dict[str, int]:
    return {"total": 0, "failed": 0}


def by_status_per_bucket(status, at, buckets: Buckets, failed) -> list[dict[str, int]]:
    """The bucketed twin of by_status: per bucket of the window, the rows whose `at` falls in it
    (total) and how many of them have a status in `failed`, in one grouped query."""
    bad = func.sum(case((status.in_(failed), 1), else_=0))
    rows = db.session.execute(
        select(buckets.index(at).label("bucket"), func.count(), bad)
        .where(at >= buckets.start, at < buckets.end)
        .group_by("bucket")
    ).all()
    return buckets.spread(((i, {"total": n, "failed": int(f or 0)}) for i, n, f in rows), zero_counts)
