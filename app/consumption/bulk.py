"""Set-based writes and lookups of many rows at once, as fast as each database allows.

PostgreSQL gets COPY for inserts (psycopg formats COPY rows in C), through a temporary table,
dropped at once, when conflicts are to be skipped or rows returned, so that `INSERT ... SELECT ...
ON CONFLICT DO NOTHING RETURNING` still says which rows went in; and `= ANY(array)` for a list
of ids (psycopg parses every placeholder of a statement in Python, so 10,000 rows of ten columns
as placeholders cost seconds). SQLite gets SQLAlchemy's executemany and `IN (...)`, which its C
driver handles in milliseconds."""

from typing import Any

from sqlalchemy import ColumnElement, Table, any_, bindparam, insert
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


def _bound(table: Table, names: list[str], rows: list[dict[str, Any]]) -> list[list[Any]]:
    """The rows as the columns' types bind them (UTCDateTime's UTC check, a StrEnum's text)."""
    dialect = db.session.get_bind().dialect
    processors = [table.c[name].type.bind_processor(dialect) for name in names]
    return [
        [process(row[name]) if process else row[name] for name, process in zip(names, processors, strict=True)]
        for row in rows
    ]


def _copy_rows(table: Table, rows: list[dict[str, Any]], skip_conflicts_on: str | None, returning: str | None):
    names = list(rows[0])
    columns = ", ".join(names)
    staged = skip_conflicts_on or returning
    target = f"_bulk_{table.name}" if staged else table.name
    with db.session.connection().connection.driver_connection.cursor() as cursor:
        if staged:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {target} ON COMMIT DROP AS SELECT {columns} FROM {table.name} WITH NO DATA"
            )
        with cursor.copy(f"COPY {target} ({columns}) FROM STDIN") as copy:
            for values in _bound(table, names, rows):
                copy.write_row(values)
        if not staged:
            return []
        sql = f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {target}"
        if skip_conflicts_on:
            sql += f" ON CONFLICT ({skip_conflicts_on}) DO NOTHING"
        if returning:
            sql += f" RETURNING {returning}"
        cursor.execute(sql)
        inserted = [row[0] for row in cursor.fetchall()] if returning else []
        cursor.execute(f"DROP TABLE {target}")
        return inserted


def insert_rows(
    table: Table, rows: list[dict[str, Any]], *, skip_conflicts_on: str | None = None, returning: str | None = None
) -> list:
    """Insert `rows` (dicts of the same keys); with `skip_conflicts_on`, rows whose value of that
    unique column is taken are skipped; returns the `returning` column of the rows inserted."""
    if not rows:
        return []
    if _postgresql():
        return _copy_rows(table, rows, skip_conflicts_on, returning)
    statement = sqlite.insert(table) if skip_conflicts_on else insert(table)
    if skip_conflicts_on:
        statement = statement.on_conflict_do_nothing(index_elements=[skip_conflicts_on])
    if returning:
        return list(db.session.connection().execute(statement.returning(table.c[returning]), rows).scalars())
    db.session.connection().execute(statement, rows)
    return []
