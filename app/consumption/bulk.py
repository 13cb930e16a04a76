"""Set-based writes and lookups of many rows at once, as fast as each database allows.

Inserts go to the driver's own bulk call with the values bound as SQLAlchemy binds them
(SQLAlchemy's per-row parameter handling was a third of a 10,000-event POST). PostgreSQL gets COPY
(psycopg formats its rows in C), through a temporary table, dropped at once, when conflicts are
to be skipped (`INSERT ... SELECT ... ON CONFLICT DO NOTHING`), and `= ANY(array)` for a list of
ids (psycopg parses every placeholder of a statement in Python, so 10,000 rows of ten columns as
placeholders cost seconds). SQLite gets sqlite3's executemany and `IN (...)`, which its C driver
handles in milliseconds."""

from typing import Any

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


def _bound(table: Table, names: list[str], rows: list[dict[str, Any]]) -> list[list[Any]]:
    """The rows as SQLAlchemy would bind them (UTCDateTime's UTC check and SQLite text, Decimal
    as SQLite's float, a StrEnum's text), for the driver's own bulk call."""
    dialect = db.session.get_bind().dialect
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]
    return [
        [process(row[name]) if process else row[name] for name, process in zip(names, processors, strict=True)]
        for row in rows
    ]


def _copy_rows(table: Table, rows: list[dict[str, Any]], skip_conflicts_on: str | None) -> None:
    names = list(rows[0])
    columns = ", ".join(names)
    target = f"_bulk_{table.name}" if skip_conflicts_on else table.name
    with db.session.connection().connection.driver_connection.cursor() as cursor:
        if skip_conflicts_on:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {target} ON COMMIT DROP AS SELECT {columns} FROM {table.name} WITH NO DATA"
            )
        with cursor.copy(f"COPY {target} ({columns}) FROM STDIN") as copy:
            for values in _bound(table, names, rows):
                copy.write_row(values)
        if skip_conflicts_on:
            cursor.execute(
                f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {target}"
                f" ON CONFLICT ({skip_conflicts_on}) DO NOTHING"
            )
            cursor.execute(f"DROP TABLE {target}")


def insert_rows(table: Table, rows: list[dict[str, Any]], *, skip_conflicts_on: str | None = None) -> None:
    """Insert `rows` (dicts of the same keys); with `skip_conflicts_on`, rows whose value of that
    unique column is taken are skipped (the caller reads back which went in, if it must know)."""
    if not rows:
        return
    if _postgresql():
        _copy_rows(table, rows, skip_conflicts_on)
        return
    names = list(rows[0])
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    if skip_conflicts_on:
        sql += f" ON CONFLICT ({skip_conflicts_on}) DO NOTHING"
    db.session.connection().connection.driver_connection.executemany(sql, _bound(table, names, rows))
