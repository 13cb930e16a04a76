"""Set-based writes and lookups of many rows at once, as fast as each database allows.

Inserts that return nothing go to the driver's own bulk call with the values bound as
SQLAlchemy binds them (SQLAlchemy's per-row parameter handling was a third of a 10,000-event
POST): PostgreSQL gets COPY (psycopg formats its rows in C), through a temporary table, dropped
at once, when conflicts are to be skipped (`INSERT ... SELECT ... ON CONFLICT DO NOTHING`);
SQLite gets sqlite3's executemany. Inserts that return columns (COPY cannot) are one statement:
on PostgreSQL the rows as one array per column through `unnest` (psycopg parses every
placeholder of a statement in Python, so 10,000 rows of ten columns as placeholders cost
seconds), on SQLite SQLAlchemy's executemany with RETURNING. A list of ids is `= ANY(array)` on
PostgreSQL and `IN (...)` on SQLite, which its C driver handles in milliseconds."""

import json
from typing import Any

from sqlalchemy import JSON, ColumnElement, Table, any_, bindparam, insert, text
from sqlalchemy.dialects import postgresql, sqlite
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


def _bound(table: Table, names: list[str], rows: list[dict[str, Any]]) -> list[list[Any]]:
    """The rows as SQLAlchemy would bind them (UTCDateTime's UTC check and SQLite text, Decimal
    as SQLite's float, a StrEnum's text, JSON as text), for the driver's own bulk call."""
    dialect = db.session.get_bind().dialect
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]
    return [
        [process(row[name]) if process else row[name] for name, process in zip(names, processors, strict=True)]
        for row in rows
    ]


def _copy_rows(table: Table, rows: list[dict[str, Any]], conflict: tuple[str, ...]) -> None:
    names = list(rows[0])
    columns = ", ".join(names)
    target = f"_bulk_{table.name}" if conflict else table.name
    with db.session.connection().connection.driver_connection.cursor() as cursor:
        if conflict:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {target} ON COMMIT DROP AS SELECT {columns} FROM {table.name} WITH NO DATA"
            )
        with cursor.copy(f"COPY {target} ({columns}) FROM STDIN") as copy:
            for values in _bound(table, names, rows):
                copy.write_row(values)
        if conflict:
            cursor.execute(
                f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {target}"
                f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
            )
            cursor.execute(f"DROP TABLE {target}")


def _json_text(value: Any, column) -> str | None:
    """A JSON column's value as the text SQLAlchemy's JSON type would bind (None is JSON null)."""
    if value is None and column.type.none_as_null:
        return None
    return json.dumps(value)


def _insert_returning(table: Table, rows: list[dict[str, Any]], conflict: tuple[str, ...], back: tuple[str, ...]):
    names = list(rows[0])
    if _postgresql():
        dialect = db.session.get_bind().dialect
        arrays = ", ".join(f"CAST(:{name} AS {table.c[name].type.compile(dialect=dialect)}[])" for name in names)
        sql = f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({arrays})"
        if conflict:
            sql += f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
        sql += f" RETURNING {', '.join(back)}"
        values = {}
        for name in names:
            column = table.c[name]
            if isinstance(column.type, JSON):  # text() binds no JSON type: serialize as it would
                values[name] = [_json_text(row[name], column) for row in rows]
            else:
                values[name] = [row[name] for row in rows]
        return db.session.execute(text(sql), values)
    statement = sqlite.insert(table) if conflict else insert(table)
    if conflict:
        statement = statement.on_conflict_do_nothing(index_elements=list(conflict))
    return db.session.connection().execute(statement.returning(*(table.c[name] for name in back)), rows)


def insert_rows(
    table: Table,
    rows: list[dict[str, Any]],
    *,
    skip_conflicts_on: str | tuple[str, ...] | None = None,
    returning: str | tuple[str, ...] | None = None,
) -> list:
    """Insert `rows` (dicts of the same keys); with `skip_conflicts_on` (a unique column, or the
    columns of a unique constraint), rows whose value there is taken are skipped; returns the
    `returning` column of the rows inserted (a tuple of columns: a row of them each), else []."""
    if not rows:
        return []
    conflict = _names(skip_conflicts_on) if skip_conflicts_on else ()
    if returning:
        result = _insert_returning(table, rows, conflict, _names(returning))
        return list(result.scalars()) if isinstance(returning, str) else [tuple(row) for row in result]
    if _postgresql():
        _copy_rows(table, rows, conflict)
        return []
    names = list(rows[0])
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    if conflict:
        sql += f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
    db.session.connection().connection.driver_connection.executemany(sql, _bound(table, names, rows))
    return []
