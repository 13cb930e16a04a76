"""Rollups: the grouped counts of a table kept per hour (or day) by the database itself, so that
a figure over a long window sums a few thousand rolled-up rows instead of scanning a million.

A `Rollup` names a source table, its time column, a grain (seconds) and the dimensions it groups
by (SQL over the row, never NULL). Triggers on the source (SQLite triggers; a PL/pgSQL function
on PostgreSQL) add a row of +1 under the new key and -1 under the old one whenever a row is
inserted, deleted or changes its key, so every write counts, whatever made it (the ORM, a bulk
insert, an UPDATE statement), in the writer's own transaction. Writers only ever insert: no row
lock is shared between them. `compact` (the sweeper) folds those rows into one per key.

Reading: the units (hours) wholly inside a window, or a time bucket of it, come from the rollup;
the partial units at its edges are counted from the source rows, so a figure is exact at any
edge. docs/ops.md says which figures read which rollup."""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    and_,
    cast,
    func,
    literal_column,
    or_,
    select,
    text,
)

from app.core.buckets import Buckets
from app.extensions import db

HOUR, DAY = 3600, 86400
SETTLED, PENDING, FOLDED = 0, 1, 2  # a row's `pending`: compacted, a change not yet folded, mid-fold
REGISTRY: list["Rollup"] = []  # every rollup declared (each capability's figures module), for compact_all


@dataclass(frozen=True)
class Rollup:
    name: str  # the rollup table
    source: str  # the source table
    at: str  # its time column
    dims: tuple[tuple[str, str, str], ...]  # (column, SQL over the row "{r}", "text" | "int"), never NULL
    grain: int = HOUR
    where: str = "1 = 1"  # SQL over "{r}": the rows counted
    table: Table = field(init=False, compare=False)

    def __post_init__(self) -> None:
        types = {"text": lambda: String(80), "int": BigInteger}
        columns = [Column(name, types[kind](), nullable=False) for name, _, kind in self.dims]
        table = Table(
            self.name,
            db.metadata,
            Column("id", Integer, primary_key=True),
            Column("unit", BigInteger, nullable=False),
            *columns,
            Column("n", Integer, nullable=False),
            Column("pending", SmallInteger, nullable=False),
            Index(f"ix_{self.name}_unit", "unit", *(name for name, _, _ in self.dims), "n"),
            Index(f"ix_{self.name}_pending", "pending"),
        )
        object.__setattr__(self, "table", table)
        REGISTRY.append(self)

    @property
    def dim_names(self) -> list[str]:
        return [name for name, _, _ in self.dims]

    def unit_sql(self, row: str, dialect: str) -> str:
        at = f"{row}.{self.at}"
        if dialect == "postgresql":
            return f"floor(date_part('epoch', {at}) / {self.grain})::bigint"
        return f"CAST(strftime('%s', {at}) AS INTEGER) / {self.grain}"

    def key_sql(self, row: str, dialect: str) -> list[str]:
        return [self.unit_sql(row, dialect), *(sql.format(r=row) for _, sql, _ in self.dims)]

    def counted_sql(self, row: str, dialect: str) -> str:
        return f"COALESCE(({self.where.format(r=row)}), {'false' if dialect == 'postgresql' else '0'})"


# --- the schema: tables, triggers, backfill (used by the migrations) ---------------------------


def _insert(spec: Rollup, row: str, sign: int, dialect: str, select_form: bool = False) -> str:
    columns = ", ".join(["unit", *spec.dim_names, "n", "pending"])
    values = ", ".join([*spec.key_sql(row, dialect), str(sign), str(PENDING)])
    if select_form:
        return f"INSERT INTO {spec.name} ({columns}) SELECT {values} WHERE {spec.counted_sql(row, dialect)}"
    return f"INSERT INTO {spec.name} ({columns}) VALUES ({values})"


def _changed(spec: Rollup, dialect: str) -> str:
    differs = "IS DISTINCT FROM" if dialect == "postgresql" else "IS NOT"
    pairs = zip(
        [spec.counted_sql("OLD", dialect), *spec.key_sql("OLD", dialect)],
        [spec.counted_sql("NEW", dialect), *spec.key_sql("NEW", dialect)],
        strict=True,
    )
    return " OR ".join(f"({old}) {differs} ({new})" for old, new in pairs)


def trigger_ddl(spec: Rollup, dialect: str) -> list[str]:
    if dialect == "postgresql":
        function = f"""
CREATE FUNCTION {spec.name}_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF {spec.counted_sql("NEW", dialect)} THEN {_insert(spec, "NEW", 1, dialect)}; END IF;
  ELSIF TG_OP = 'DELETE' THEN
    IF {spec.counted_sql("OLD", dialect)} THEN {_insert(spec, "OLD", -1, dialect)}; END IF;
  ELSIF {_changed(spec, dialect)} THEN
    IF {spec.counted_sql("OLD", dialect)} THEN {_insert(spec, "OLD", -1, dialect)}; END IF;
    IF {spec.counted_sql("NEW", dialect)} THEN {_insert(spec, "NEW", 1, dialect)}; END IF;
  END IF;
  RETURN NULL;
END $$"""
        trigger = (
            f"CREATE TRIGGER {spec.name}_track AFTER INSERT OR UPDATE OR DELETE ON {spec.source} "
            f"FOR EACH ROW EXECUTE FUNCTION {spec.name}_track()"
        )
        return [function, trigger]
    on = f"ON {spec.source} FOR EACH ROW"
    return [
        f"CREATE TRIGGER {spec.name}_insert AFTER INSERT {on} WHEN {spec.counted_sql('NEW', dialect)} "
        f"BEGIN {_insert(spec, 'NEW', 1, dialect)}; END",
        f"CREATE TRIGGER {spec.name}_delete AFTER DELETE {on} WHEN {spec.counted_sql('OLD', dialect)} "
        f"BEGIN {_insert(spec, 'OLD', -1, dialect)}; END",
        f"CREATE TRIGGER {spec.name}_update AFTER UPDATE {on} WHEN {_changed(spec, dialect)} "
        f"BEGIN {_insert(spec, 'OLD', -1, dialect, True)}; {_insert(spec, 'NEW', 1, dialect, True)}; END",
    ]


def drop_ddl(spec: Rollup, dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [f"DROP TRIGGER {spec.name}_track ON {spec.source}", f"DROP FUNCTION {spec.name}_track()"]
    return [f"DROP TRIGGER {spec.name}_{op}" for op in ("insert", "delete", "update")]


def backfill_sql(spec: Rollup, dialect: str) -> str:
    """The rolled-up counts of the rows already there (a migration installing the rollup)."""
    key = spec.key_sql("t", dialect)
    columns = ", ".join(["unit", *spec.dim_names, "n", "pending"])
    positions = ", ".join(str(i + 1) for i in range(len(key)))
    return (
        f"INSERT INTO {spec.name} ({columns}) SELECT {', '.join(key)}, count(*), {SETTLED} "
        f"FROM {spec.source} t WHERE {spec.counted_sql('t', dialect)} GROUP BY {positions}"
    )


# --- upkeep ---------------------------------------------------------------------------------------


def compact(spec: Rollup) -> None:
    """Fold the pending rows into one settled row per key (a key whose count came to 0 goes);
    the caller commits. On PostgreSQL one statement: the rows it deletes are exactly those it
    sums, so a change committed meanwhile stays pending for the next run. SQLite has one writer
    at a time: the first statement takes the lock for the rest."""
    key = ", ".join(["unit", *spec.dim_names])
    if db.engine.dialect.name == "postgresql":
        match = " AND ".join(f"t.{c} = p.{c}" for c in ["unit", *spec.dim_names])
        db.session.execute(
            text(
                f"WITH p AS (SELECT DISTINCT {key} FROM {spec.name} WHERE pending = {PENDING}), "
                f"gone AS (DELETE FROM {spec.name} t USING p WHERE {match} "
                f"RETURNING {', '.join(f't.{c}' for c in ['unit', *spec.dim_names])}, t.n) "
                f"INSERT INTO {spec.name} ({key}, n, pending) SELECT {key}, sum(n), {SETTLED} FROM gone "
                f"GROUP BY {key} HAVING sum(n) <> 0"
            )
        )
        return
    touched = f"({key}) IN (SELECT {key} FROM {spec.name} WHERE pending = {{state}})"
    db.session.execute(
        text(
            f"INSERT INTO {spec.name} ({key}, n, pending) SELECT {key}, sum(n), {FOLDED} FROM {spec.name} "
            f"WHERE {touched.format(state=PENDING)} GROUP BY {key}"
        )
    )
    db.session.execute(text(f"DELETE FROM {spec.name} WHERE pending <> {FOLDED} AND {touched.format(state=FOLDED)}"))
    db.session.execute(text(f"DELETE FROM {spec.name} WHERE pending = {FOLDED} AND n = 0"))
    db.session.execute(text(f"UPDATE {spec.name} SET pending = {SETTLED} WHERE pending = {FOLDED}"))


def compact_all() -> dict[str, int]:
    """The sweeper's step: every rollup compacted, each in its own transaction; the rows folded."""
    folded = {}
    for spec in REGISTRY:
        before = db.session.scalar(select(func.count()).select_from(spec.table).where(spec.table.c.pending == PENDING))
        if before:
            compact(spec)
        db.session.commit()
        folded[spec.name] = before or 0
    return folded


# --- reading --------------------------------------------------------------------------------------


def _floor(expr):
    return func.floor(expr) if db.engine.dialect.name == "postgresql" else cast(expr, Integer)


def _pieces(spec: Rollup, buckets: Buckets) -> tuple[int, int, list[int], list[tuple[datetime, datetime]]]:
    """The whole units of the window, the partial ones inside it (straddling a bucket's edge,
    left to the source rows) and the time ranges to count from the source rows."""
    g, start, end = spec.grain, buckets.start.timestamp(), buckets.end.timestamp()
    first, last = math.ceil(start / g), math.floor(end / g)
    if first >= last:
        return first, first, [], [(buckets.start, buckets.end)]
    cut = sorted({math.floor(edge.timestamp() / g) for edge, _ in buckets.bounds()[1:] if edge.timestamp() % g})
    ranges = [(buckets.start, _at(first * g)), *((_at(u * g), _at((u + 1) * g)) for u in cut)]
    ranges.append((_at(last * g), buckets.end))
    return first, last, cut, [(a, b) for a, b in ranges if a < b]


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def grouped_by_bucket(spec: Rollup, buckets: Buckets, dims: Sequence[str] | None = None) -> list[tuple]:
    """(bucket, *dims, n) rows, as a `GROUP BY bucket, dims` over the source rows in the window
    would give them (keys whose count is 0 left out), from the rollup and the edges' rows."""
    dims = list(dims or spec.dim_names)
    first, last, cut, ranges = _pieces(spec, buckets)
    t = spec.table
    totals: dict[tuple, int] = {}
    if first < last:
        since = (t.c.unit * spec.grain - buckets.start.timestamp()) / buckets.seconds
        bucket = _floor(since).label("bucket")
        whole = [t.c.unit >= first, t.c.unit < last]
        if cut:
            whole.append(t.c.unit.not_in(cut))
        rows = db.session.execute(
            select(bucket, *(t.c[d] for d in dims), func.sum(t.c.n))
            .where(*whole)
            .group_by(bucket, *(t.c[d] for d in dims))
        )
        for *key, n in rows:
            totals[tuple(key)] = totals.get(tuple(key), 0) + int(n)
    if ranges:
        source = db.metadata.tables[spec.source].alias("t")
        at = source.c[spec.at]
        sql = {name: sql for name, sql, _ in spec.dims}
        columns = [literal_column(sql[d].format(r="t")).label(f"d_{d}") for d in dims]
        bucket = buckets.index(at).label("bucket")
        rows = db.session.execute(
            select(bucket, *columns, func.count())
            .where(
                literal_column(spec.counted_sql("t", db.engine.dialect.name)),
                or_(*(and_(at >= a, at < b) for a, b in ranges)),
            )
            .group_by(bucket, *columns)
        )
        for *key, n in rows:
            totals[tuple(key)] = totals.get(tuple(key), 0) + int(n)
    return [(int(key[0]), *key[1:], n) for key, n in totals.items() if n]


def grouped(spec: Rollup, start: datetime, end: datetime, dims: Sequence[str] | None = None) -> list[tuple]:
    """(*dims, n) rows of the window [start, end)."""
    seconds = max(1, math.ceil((end - start).total_seconds() / DAY)) * DAY
    window = Buckets(start, end, seconds // DAY)
    return [row[1:] for row in grouped_by_bucket(spec, window, dims)]


def of_status(name: str, source: str, at: str) -> Rollup:
    """The rollup most figures need: rows per hour of `at` and status."""
    return Rollup(name, source, at, dims=(("status", "{r}.status", "text"),))
