"""Time buckets of a window, counted in SQL: the trends of the overview (and any figure by
period) group rows by `Buckets.index(column)`, a portable expression of the bucket a timestamp
falls in, and `Buckets.spread` lays the grouped counts over every bucket, empty ones as zeros.

Buckets start at the window's start and are `days` long; the last one ends at the window's end
(shorter when the window is not a multiple of the bucket, e.g. 90 days by 7)."""

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Integer, cast, func

from app.extensions import db

DAY = 86400
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
    def count(self) -> int:
        return max(1, math.ceil((self.end - self.start).total_seconds() / self.seconds))

    def bounds(self) -> list[tuple[datetime, datetime]]:
        step = timedelta(days=self.days)
        return [(self.start + i * step, min(self.start + (i + 1) * step, self.end)) for i in range(self.count)]

    def index(self, column):
        """The 0-based bucket of `column` (a row inside the window): floor of the seconds since
        the window's start over the bucket's seconds. PostgreSQL's cast rounds, so it floors;
        SQLite's cast truncates, the same for these non-negative values."""
        since = (epoch(column) - self.start.timestamp()) / self.seconds
        return func.floor(since) if db.engine.dialect.name == "postgresql" else cast(since, Integer)

    def spread(self, rows: Iterable[tuple[Any, T]], empty: Callable[[], T]) -> list[T]:
        """(bucket index, value) rows as one value per bucket, `empty()` where no row is."""
        found = {int(i): value for i, value in rows}
        return [found[i] if i in found else empty() for i in range(self.count)]
