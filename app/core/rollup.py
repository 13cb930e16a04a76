"""Rollups: the grouped counts of a table kept per hour and per day by the database itself, so
that a figure over a long window sums a few thousand rolled-up rows instead of scanning a million.

A `Rollup` names a source table, its time column, its grains (seconds: a table for each) and the
dimensions it groups by (SQL over the row, never NULL). Triggers on the source (SQLite triggers;
a PL/pgSQL function on PostgreSQL) add a row of +1 under the new key and -1 under the old one
whenever a row is inserted, deleted or changes its key, so every write counts, whatever made it
(the ORM, a bulk insert, an UPDATE statement), in the writer's own transaction. Writers only
ever insert: no row lock is shared between them. `compact` (the sweeper) folds those rows into
one per key.

Reading: the coarse units (days) wholly inside a window, or a time bucket of it, come from the
coarse table, the fine units (hours) left at its edges from the fine one, and what is left of
the edges from the source rows, so a figure is exact at any edge. docs/ops.md, Rollups, says
which figures read which rollup."""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    and_,
    func,
    literal_column,
    or_,
    select,
    text,
)

from app.core.buckets import Buckets, epoch
from app.extensions import db

HOUR, DAY, WEEK = 3600, 86400, 7 * 86400
GRAIN_NAMES = {HOUR: "hourly", DAY: "daily", WEEK: "weekly"}
SETTLED, PENDING, FOLDED = 0, 1, 2  # a row's `pending`: compacted, a change not yet folded, mid-fold
REGISTRY: list["Rollup"] = []  # every rollup declared (each capability's figures module), for compact_all


@dataclass(frozen=True)
class Rollup:
    """One table per grain (finest first): a window reads its whole coarse units (days) from the
    coarse table, the whole fine units (hours) left at its edges from the fine one, and only the
    rest from the source rows."""

    name: str  # the tables' stem: <name>_hourly, <name>_daily, ...
    source: str  # the source table
    at: str  # its time column
    dims: tuple[tuple[str, str, str], ...]  # (column, SQL over the row "{r}", "text" | "int"), never NULL
    grains: tuple[int, ...] = (HOUR, DAY)
    where: str = "1 = 1"  # SQL over "{r}": the rows counted
    sums: tuple[tuple[str, str], ...] = ()  # (column, SQL over "{r}"): summed beside the count
    tables: dict[int, Table] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tables", {grain: self._table(grain) for grain in self.grains})
        REGISTRY.append(self)

    def _table(self, grain: int) -> Table:
        name = f"{self.name}_{GRAIN_NAMES[grain]}"
        types = {"text": lambda: String(80), "int": BigInteger}
        return Table(
            name,
            db.metadata,
            Column("id", Integer, primary_key=True),
            Column("unit", BigInteger, nullable=False),
            *(Column(column, types[kind](), nullable=False) for column, _, kind in self.dims),
            Column("n", Integer, nullable=False),
            *(Column(column, Float, nullable=False) for column, _ in self.sums),
            Column("pending", SmallInteger, nullable=False),
            Index(f"ix_{name}_unit", "unit", *self.dim_names, "n"),
            Index(f"ix_{name}_pending", "pending"),
        )

    @property
    def dim_names(self) -> list[str]:
        return [name for name, _, _ in self.dims]

    @property
    def measures(self) -> list[str]:
        return ["n", *(name for name, _ in self.sums)]

    def unit_sql(self, row: str, dialect: str, grain: int) -> str:
        at = f"{row}.{self.at}"
        if dialect == "postgresql":
            return f"floor(date_part('epoch', {at}) / {grain})::bigint"
        return f"CAST(strftime('%s', {at}) AS INTEGER) / {grain}"

    def dims_sql(self, row: str) -> list[str]:
        return [sql.format(r=row) for _, sql, _ in self.dims]

    def sum_sql(self, row: str) -> list[str]:
        return [f"COALESCE({sql.format(r=row)}, 0)" for _, sql in self.sums]

    def counted_sql(self, row: str, dialect: str) -> str:
        return f"COALESCE(({self.where.format(r=row)}), {'false' if dialect == 'postgresql' else '0'})"


# --- the schema: tables, triggers, backfill (used by the migrations) ---------------------------


def _inserts(spec: Rollup, row: str, sign: int, dialect: str, select_form: bool = False) -> str:
    """The statements (`;`-separated) adding a row's +1 (or -1) to every grain's table."""
    columns = ", ".join(["unit", *spec.dim_names, *spec.measures, "pending"])
    sums = [f"{'-' if sign < 0 else ''}{sql}" for sql in spec.sum_sql(row)]
    statements = []
    for grain, table in spec.tables.items():
        values = ", ".join([spec.unit_sql(row, dialect, grain), *spec.dims_sql(row), str(sign), *sums, str(PENDING)])
        if select_form:
            statements.append(
                f"INSERT INTO {table.name} ({columns}) SELECT {values} WHERE {spec.counted_sql(row, dialect)}"
            )
        else:
            statements.append(f"INSERT INTO {table.name} ({columns}) VALUES ({values})")
    return "; ".join(statements)


def _changed(spec: Rollup, dialect: str) -> str:
    """Whether an UPDATE moved the row: counted or not, its finest unit, a dimension, a sum."""
    differs = "IS DISTINCT FROM" if dialect == "postgresql" else "IS NOT"
    fine = spec.grains[0]

    def parts(row: str) -> list[str]:
        return [
            spec.counted_sql(row, dialect),
            spec.unit_sql(row, dialect, fine),
            *spec.dims_sql(row),
            *spec.sum_sql(row),
        ]

    return " OR ".join(f"({old}) {differs} ({new})" for old, new in zip(parts("OLD"), parts("NEW"), strict=True))


def trigger_ddl(spec: Rollup, dialect: str) -> list[str]:
    if dialect == "postgresql":
        function = f"""
CREATE FUNCTION {spec.name}_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF {spec.counted_sql("NEW", dialect)} THEN {_inserts(spec, "NEW", 1, dialect)}; END IF;
  ELSIF TG_OP = 'DELETE' THEN
    IF {spec.counted_sql("OLD", dialect)} THEN {_inserts(spec, "OLD", -1, dialect)}; END IF;
  ELSIF {_changed(spec, dialect)} THEN
    IF {spec.counted_sql("OLD", dialect)} THEN {_inserts(spec, "OLD", -1, dialect)}; END IF;
    IF {spec.counted_sql("NEW", dialect)} THEN {_inserts(spec, "NEW", 1, dialect)}; END IF;
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
        f"BEGIN {_inserts(spec, 'NEW', 1, dialect)}; END",
        f"CREATE TRIGGER {spec.name}_delete AFTER DELETE {on} WHEN {spec.counted_sql('OLD', dialect)} "
        f"BEGIN {_inserts(spec, 'OLD', -1, dialect)}; END",
        f"CREATE TRIGGER {spec.name}_update AFTER UPDATE {on} WHEN {_changed(spec, dialect)} "
        f"BEGIN {_inserts(spec, 'OLD', -1, dialect, True)}; {_inserts(spec, 'NEW', 1, dialect, True)}; END",
    ]


def drop_ddl(spec: Rollup, dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [f"DROP TRIGGER {spec.name}_track ON {spec.source}", f"DROP FUNCTION {spec.name}_track()"]
    return [f"DROP TRIGGER {spec.name}_{op}" for op in ("insert", "delete", "update")]


def backfill_sql(spec: Rollup, dialect: str) -> list[str]:
    """The rolled-up counts of the rows already there (a migration installing the rollup)."""
    columns = ", ".join(["unit", *spec.dim_names, *spec.measures, "pending"])
    positions = ", ".join(str(i + 1) for i in range(1 + len(spec.dims)))
    sums = "".join(f", sum({sql})" for sql in spec.sum_sql("t"))
    return [
        f"INSERT INTO {table.name} ({columns}) "
        f"SELECT {', '.join([spec.unit_sql('t', dialect, grain), *spec.dims_sql('t')])}, count(*){sums}, {SETTLED} "
        f"FROM {spec.source} t WHERE {spec.counted_sql('t', dialect)} GROUP BY {positions}"
        for grain, table in spec.tables.items()
    ]


# --- upkeep ---------------------------------------------------------------------------------------


def compact(spec: Rollup, table: Table) -> None:
    """Fold the pending rows of one of the rollup's tables into one settled row per key (a key
    whose count came to 0 goes); the caller commits. On PostgreSQL one statement: the rows it
    deletes are exactly those it sums, so a change committed meanwhile stays pending for the
    next run. SQLite has one writer at a time: the first statement takes the lock for the rest."""
    name, key = table.name, ", ".join(["unit", *spec.dim_names])
    measures = ", ".join(spec.measures)
    summed = ", ".join(f"sum({m})" for m in spec.measures)
    if db.engine.dialect.name == "postgresql":
        match = " AND ".join(f"t.{c} = p.{c}" for c in ["unit", *spec.dim_names])
        db.session.execute(
            text(
                f"WITH p AS (SELECT DISTINCT {key} FROM {name} WHERE pending = {PENDING}), "
                f"gone AS (DELETE FROM {name} t USING p WHERE {match} "
                f"RETURNING {', '.join(f't.{c}' for c in ['unit', *spec.dim_names, *spec.measures])}) "
                f"INSERT INTO {name} ({key}, {measures}, pending) SELECT {key}, {summed}, {SETTLED} "
                f"FROM gone GROUP BY {key} HAVING sum(n) <> 0"
            )
        )
        return
    touched = f"({key}) IN (SELECT {key} FROM {name} WHERE pending = {{state}})"
    db.session.execute(
        text(
            f"INSERT INTO {name} ({key}, {measures}, pending) SELECT {key}, {summed}, {FOLDED} "
            f"FROM {name} WHERE {touched.format(state=PENDING)} GROUP BY {key}"
        )
    )
    db.session.execute(text(f"DELETE FROM {name} WHERE pending <> {FOLDED} AND {touched.format(state=FOLDED)}"))
    db.session.execute(text(f"DELETE FROM {name} WHERE pending = {FOLDED} AND n = 0"))
    db.session.execute(text(f"UPDATE {name} SET pending = {SETTLED} WHERE pending = {FOLDED}"))


def compact_all() -> dict[str, int]:
    """The sweeper's step: every rollup table compacted, each in its own transaction; the
    pending rows folded, by table."""
    folded = {}
    for spec in REGISTRY:
        for table in spec.tables.values():
            pending = db.session.scalar(select(func.count()).select_from(table).where(table.c.pending == PENDING))
            if pending:
                compact(spec, table)
            db.session.commit()
            folded[table.name] = pending or 0
    return folded


# --- reading --------------------------------------------------------------------------------------


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _plan(spec: Rollup, buckets: Buckets) -> tuple[dict[int, list[tuple[int, int]]], list[tuple[datetime, datetime]]]:
    """Each bucket of the window cut into the whole units of the coarsest grain inside it, then
    of the finer grains in what is left, and the rest (read from the source rows): per grain the
    [first, last) unit ranges, and the time ranges left over."""
    units: dict[int, list[tuple[int, int]]] = {grain: [] for grain in spec.grains}
    left = list(buckets.bounds())
    for grain in reversed(spec.grains):
        rest = []
        for a, b in left:
            first, last = math.ceil(a.timestamp() / grain), math.floor(b.timestamp() / grain)
            if first >= last:
                rest.append((a, b))
                continue
            units[grain].append((first, last))
            rest += [(a, _at(first * grain)), (_at(last * grain), b)]
        left = [(a, b) for a, b in rest if a < b]
    return units, left


def grouped_by_bucket(spec: Rollup, buckets: Buckets, dims: Sequence[str] | None = None) -> list[tuple]:
    """(bucket, *dims, n, *sums) rows, as a `GROUP BY bucket, dims` over the source rows in the
    window would give them (keys whose count is 0 left out), from the rollups and the rows left."""
    dims = list(dims or spec.dim_names)
    units, left = _plan(spec, buckets)
    totals: dict[tuple, list] = {}
    width = len(spec.measures)
    for grain, ranges in units.items():
        if not ranges:
            continue
        t = spec.tables[grain]
        keys = [*_bucket(buckets, t.c.unit * grain), *(t.c[d] for d in dims)]
        rows = db.session.execute(
            select(*keys, *(func.sum(t.c[m]) for m in spec.measures))
            .where(or_(*(and_(t.c.unit >= first, t.c.unit < last) for first, last in ranges)))
            .group_by(*keys)
        )
        _fold(totals, _numbered(rows, buckets), width)
    if left:
        source = db.metadata.tables[spec.source].alias("t")
        at = source.c[spec.at]
        sql = {name: sql for name, sql, _ in spec.dims}
        keys = [
            *_bucket(buckets, epoch(at)),
            *(literal_column(sql[d].format(r="t")).label(f"d_{d}") for d in dims),
        ]
        sums = (func.sum(literal_column(sql)) for sql in spec.sum_sql("t"))
        rows = db.session.execute(
            select(*keys, func.count(), *sums)
            .where(
                literal_column(spec.counted_sql("t", db.engine.dialect.name)),
                or_(*(and_(at >= a, at < b) for a, b in left)),
            )
            .group_by(*keys)
        )
        _fold(totals, _numbered(rows, buckets), width)
    return [(int(key[0]), *key[1:], int(m[0]), *m[1:]) for key, m in totals.items() if m[0]]


def _bucket(buckets: Buckets, seconds) -> list:  # seconds since 1970, an SQL expression
    """The bucket column of a grouped read; none when there is one bucket (a window's figures)."""
    return [buckets.index_of(seconds).label("bucket")] if buckets.count > 1 else []


def _numbered(rows, buckets: Buckets):
    return rows if buckets.count > 1 else ((0, *row) for row in rows)


def _fold(totals: dict[tuple, list], rows, width: int) -> None:
    """Adds grouped rows (key..., measures...) into `totals`, by key."""
    for row in rows:
        found = totals.setdefault(tuple(row[:-width]), [0] * width)
        for k, value in enumerate(row[-width:]):
            found[k] += value or 0


def per_bucket(spec: Rollup, buckets: Buckets, zero, add, dims: Sequence[str] | None = None) -> list:
    """One value per bucket of the window: `zero()`, into which `add(value, *dims, n)` folds each
    grouped row of that bucket (the trends' counts)."""
    found: dict[int, Any] = {}
    for i, *row in grouped_by_bucket(spec, buckets, dims):
        add(found.setdefault(i, zero()), *row)
    return buckets.spread(found.items(), zero)


def grouped(spec: Rollup, start: datetime, end: datetime, dims: Sequence[str] | None = None) -> list[tuple]:
    """(*dims, n, *sums) rows of the window [start, end)."""
    days = max(1, math.ceil((end - start).total_seconds() / DAY))
    return [row[1:] for row in grouped_by_bucket(spec, Buckets(start, end, days), dims)]


def all_time(spec: Rollup, dims: Sequence[str] | None = None) -> list[tuple]:
    """(*dims, n, *sums) rows of every source row, from the coarsest table alone."""
    t = spec.tables[spec.grains[-1]]
    keys = [t.c[d] for d in dims or spec.dim_names]
    rows = db.session.execute(select(*keys, *(func.sum(t.c[m]) for m in spec.measures)).group_by(*keys))
    return [(*row[: len(keys)], int(row[len(keys)]), *row[len(keys) + 1 :]) for row in rows if row[len(keys)]]


def quoted(values) -> str:
    """An SQL list of string literals (enum values, never user input) for a dimension's CASE."""
    return ", ".join(f"'{value}'" for value in values)


def of_status(name: str, source: str, at: str) -> Rollup:
    """The rollup most figures need: rows per hour of `at` and status."""
    return Rollup(name, source, at, dims=(("status", "{r}.status", "text"),))
