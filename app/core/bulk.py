"""Set-based writes and lookups of many rows at once, as fast as each database allows.

Inserts that return nothing go to the driver's own bulk call with the values bound as
SQLAlchemy binds them (SQLAlchemy's per-row parameter handling was a third of a 10,000-event
POST): PostgreSQL gets COPY (psycopg formats its rows in C), through a temporary table, dropped
at once, when conflicts are to be skipped (`INSERT ... SELECT ... ON CONFLICT DO NOTHING`);
SQLite gets sqlite3's executemany. Inserts that return columns go through the same temporary
table on PostgreSQL (COPY, then one `INSERT ... SELECT ... RETURNING`: faster than the rows as
one array per column through `unnest`, and psycopg parses every placeholder of a statement in
Python, so 10,000 rows of ten columns as placeholders cost seconds); on SQLite they are
multi-row VALUES statements with RETURNING, as many rows each as SQLite binds variables, sent
by the driver (SQLAlchemy's executemany with RETURNING processed each row's parameters in
Python: 60 % of saving 13,579 optimization results). A list of ids is `= ANY(array)` on
PostgreSQL and `IN (...)` on SQLite, which its C driver handles in milliseconds."""

import functools
import itertools
import operator
import sqlite3
from typing import Any

import psycopg
from sqlalchemy import ColumnElement, Table, any_, bindparam
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeDecorator

from app.extensions import db


def _postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def among(column: Any, values: list) -> ColumnElement[bool]:
    """`column IN values`, as one array parameter on PostgreSQL."""
    if _postgresql():
        kind = column.type.impl if isinstance(column.type, TypeDecorator) else column.type
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(kind)))
    return column.in_(values)


def _names(columns: str | tuple[str, ...]) -> tuple[str, ...]:
    return (columns,) if isinstance(columns, str) else tuple(columns)


_UNSET = object()


def _bound(table: Table, names: list[str], rows: list) -> list:
    """The rows (sequences of values in `names` order) as SQLAlchemy would bind them (UTCDateTime's
    UTC check and SQLite text, Decimal as SQLite's float, a StrEnum's text, JSON as text), for the
    driver's own bulk call: the rows themselves when no column needs processing."""
    dialect = db.session.get_bind().dialect
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]
    processed = [(i, process) for i, process in enumerate(processors) if process]
    if not processed:
        return rows
    bound = [list(values) for values in rows]
    for i, process in processed:
        last = out = _UNSET  # a column of one value (a batch's timestamp) is processed once
        for values in bound:
            value = values[i]
            if value is not last:
                last, out = value, process(value)
            values[i] = out
    return bound


# PostgreSQL types COPY sends in binary (psycopg's C dumpers, half the time of text per row); a
# table with another type in the rows (JSON, NUMERIC, dates...) is copied as text. In binary the
# values must be of the column's Python type (ints for an integer column, floats or ints for a
# float one, str for text, aware datetimes, bools): the server no longer parses text
_BINARY_COPY = {
    "INTEGER": "int4",
    "BIGINT": "int8",
    "SMALLINT": "int2",
    "FLOAT": "float8",
    "DOUBLE PRECISION": "float8",
    "REAL": "float4",
    "TEXT": "text",
    "BOOLEAN": "bool",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
}


def _binary_types(table: Table, names: list[str]) -> list[str] | None:
    dialect = db.session.get_bind().dialect
    types = []
    for name in names:
        sql = table.c[name].type.compile(dialect=dialect)
        kind = "TEXT" if sql.startswith("VARCHAR") else sql
        if kind not in _BINARY_COPY:
            return None
        types.append(_BINARY_COPY[kind])
    return types


def _copy_rows(table: Table, names: list[str], rows: list, conflict: tuple[str, ...], back: tuple[str, ...] = ()):
    """COPY the rows in (through a temporary table when conflicts are skipped or columns returned);
    returns the `back` columns of the rows inserted, if any were asked for."""
    columns = ", ".join(names)
    staged = bool(conflict or back)
    target = f"_bulk_{table.name}" if staged else table.name
    types = _binary_types(table, names)
    with db.session.connection().connection.driver_connection.cursor() as cursor:
        if staged:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {target} ON COMMIT DROP AS SELECT {columns} FROM {table.name} WITH NO DATA"
            )
        with cursor.copy(f"COPY {target} ({columns}) FROM STDIN{' (FORMAT BINARY)' if types else ''}") as copy:
            if types:
                copy.set_types(types)
            for values in _bound(table, names, rows):
                copy.write_row(values)
        if not staged:
            return []
        sql = f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {target}"
        if conflict:
            sql += f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
        if back:
            sql += f" RETURNING {', '.join(back)}"
        cursor.execute(sql)
        returned = cursor.fetchall() if back else []
        cursor.execute(f"DROP TABLE {target}")
        return returned


def _insert_returning(table: Table, names: list[str], rows: list, conflict: tuple[str, ...], back: tuple[str, ...]):
    """PostgreSQL: COPY through a temporary table, then one INSERT ... SELECT ... RETURNING; SQLite:
    multi-row VALUES statements with RETURNING, the values bound as SQLAlchemy binds them."""
    if _postgresql():
        return _copy_rows(table, names, rows, conflict, back)
    bound = _bound(table, names, rows)
    per = max(1, _sqlite_variables() // len(names))
    head = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES "
    tail = f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING" if conflict else ""
    tail += f" RETURNING {', '.join(back)}"
    placeholder = f"({', '.join('?' * len(names))})"
    cursor = db.session.connection().connection.driver_connection.cursor()
    returned = []
    try:
        for start in range(0, len(bound), per):
            part = bound[start : start + per]
            values = list(itertools.chain.from_iterable(part))
            cursor.execute(head + ", ".join([placeholder] * len(part)) + tail, values)
            returned += cursor.fetchall()
    finally:
        cursor.close()
    return returned


@functools.cache
def _sqlite_variables() -> int:
    """How many ? one SQLite statement may bind (32,766 since SQLite 3.32; 999 before)."""
    connection = db.session.connection().connection.driver_connection
    try:
        return connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    except AttributeError:  # Python < 3.11
        return 999


def _insert(table: Table, names: list[str], rows: list, conflict: tuple[str, ...]) -> None:
    if _postgresql():
        _copy_rows(table, names, rows, conflict)
        return
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    if conflict:
        sql += f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
    db.session.connection().connection.driver_connection.executemany(sql, _bound(table, names, rows))


def insert_rows(
    table: Table,
    rows: list[dict[str, Any]] | list[tuple],
    *,
    columns: tuple[str, ...] | None = None,
    skip_conflicts_on: str | tuple[str, ...] | None = None,
    returning: str | tuple[str, ...] | None = None,
) -> list:
    """Insert `rows`: dicts of the same keys, or with `columns` tuples of values in that order (no
    dict per row to build); with `skip_conflicts_on` (a unique column, or the columns of a unique
    constraint), rows whose value there is taken are skipped; returns the `returning` column of
    the rows inserted (a tuple of columns: a row of them each), else [].

    When conflicts are skipped and every returned column is one of the rows' own (the key, say),
    the rows go first to the fast bulk call (COPY, executemany) with no conflict clause, in a
    savepoint: as a rule none is taken, and the answer is the rows' own values; only when a key
    is taken is that undone and the rows inserted again, skipping conflicts, with RETURNING."""
    if not rows:
        return []
    if columns is None:
        names = list(rows[0])
        take = operator.itemgetter(*names)
        rows = [take(row) for row in rows] if len(names) > 1 else [(take(row),) for row in rows]
    else:
        names = list(columns)
    conflict = _names(skip_conflicts_on) if skip_conflicts_on else ()
    if not returning:
        _insert(table, names, rows, conflict)
        return []
    back = _names(returning)
    if conflict and set(back) <= set(names):
        try:
            with db.session.begin_nested():
                _insert(table, names, rows, ())
        except (sqlite3.IntegrityError, psycopg.errors.UniqueViolation):
            pass  # a key was taken: the savepoint is rolled back, and the rows go in below
        else:
            if isinstance(returning, str):
                at = names.index(returning)
                return [row[at] for row in rows]
            take = operator.itemgetter(*(names.index(name) for name in back))
            return [take(row) if len(back) > 1 else (take(row),) for row in rows]
    result = _insert_returning(table, names, rows, conflict, back)
    return [row[0] for row in result] if isinstance(returning, str) else [tuple(row) for row in result]
