"""The one rule for a rate in a figure (part / whole to 4 places, None when there is nothing to
divide) and the windowed count by status most capabilities' figures are made of (also per time
bucket, for the trends), read from a rollup with a `status` dimension (app/core/rollup.py)."""

from app.core import rollup
from app.core.buckets import Buckets


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def by_status(spec: rollup.Rollup, start, end, statuses, failed) -> dict:
    """Rows whose time falls in [start, end), counted by status: total, every status of
    `statuses` (0 when none), how many are in `failed` and their share of the total (None when
    there is none)."""
    counted = dict(rollup.grouped(spec, start, end, ("status",)))
    out = {str(s): counted.get(s, 0) for s in statuses}
    total = sum(counted.values())
    bad = sum(counted.get(s, 0) for s in failed)
    return {"total": total, "by_status": out, "failed": bad, "failed_rate": ratio(bad, total)}


def zero_counts() -> dict[str, int]:
    return {"total": 0, "failed": 0}


def by_status_per_bucket(spec: rollup.Rollup, buckets: Buckets, failed) -> list[dict[str, int]]:
    """The bucketed twin of by_status: per bucket of the window, the rows whose time falls in it
    (total) and how many of them have a status in `failed`."""

    def add(counts: dict[str, int], status: str, n: int) -> None:
        counts["total"] += n
        counts["failed"] += n if status in failed else 0

    return rollup.per_bucket(spec, buckets, zero_counts, add, ("status",))
