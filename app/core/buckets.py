"""Time buckets of a window, counted in SQL: the trends of the overview (and any figure by
period) group rows by `Buckets.index(column)`, a portable expression of the bucket a timestamp
falls in, and `Buckets.spread` lays the grouped counts over every bucket, empty ones as zeros.

The first bucket starts at the window's start; the edges between buckets fall on whole hours
(UTC), `days` apart from the first whole hour after the start: the first bucket is longer than
`days` by the part-hour it starts in, the last one ends at the window's end (shorter when the
window is not a multiple of the bucket, e.g. 90 days by 7). Whole hours are what the rollups
hold (app/core/rollup.py), so a bucket is read from them and never from the rows of its edges."""

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Integer, case, cast, func

from app.extensions import db

HOUR, DAY = 3600, 86400
T = TypeVar("T")


def epoch(column):
    """Seconds since 1970 of a timestamp column, on SQLite (text) and PostgreSQL (timestamptz).
    PostgreSQL's date_part is double precision; extract() is numeric since 14, several times
    slower over a million rows."""
    if db.engine.dialect.name == "postgresql":
        return func.date_part("epoch", column)
    return (func.julianday(column) - 2440587.5) * 86400.0


@dataclass(frozen=True)
class Buckets:
    start: datetime
    end: datetime
    days: int

    @property
    def seconds(self) -> int:
        return self.days * DAY

    @property
    def anchor(self) -> float:
        """The first whole hour at or after the start (seconds since 1970): edge i is anchor + i buckets."""
        return math.ceil(self.start.timestamp() / HOUR) * HOUR

    @property
    def count(self) -> int:
        return max(1, math.ceil((self.end.timestamp() - self.anchor) / self.seconds))

    def bounds(self) -> list[tuple[datetime, datetime]]:
        edges = [self.start] + [
            datetime.fromtimestamp(self.anchor + i * self.seconds, UTC) for i in range(1, self.count)
        ]
        return list(zip(edges, [*edges[1:], self.end], strict=True))

    def index_of(self, seconds):
        """The 0-based bucket of a time in seconds since 1970 (an SQL expression of a moment
        inside the window): floor of the seconds since the anchor over the bucket's seconds, 0
        for the part-hour before the anchor. PostgreSQL's cast rounds, so it floors; SQLite's
        cast truncates, the same for these non-negative values."""
        since = (seconds - self.anchor) / self.seconds
        floored = func.floor(since) if db.engine.dialect.name == "postgresql" else cast(since, Integer)
        return case((seconds < self.anchor, 0), else_=floored)

    def index(self, column):
        """The bucket of a timestamp column's rows."""
        return self.index_of(epoch(column))

    def spread(self, rows: Iterable[tuple[Any, T]], empty: Callable[[], T]) -> list[T]:
        """(bucket index, value) rows as one value per bucket, `empty()` where no row is."""
        found = {int(i): value for i, value in rows}
        return [found[i] if i in found else empty() for i in range(self.count)]
