"""Set-based writes and lookups of many rows at once, as fast as each database allows.

PostgreSQL gets one statement per call: rows as one array per column through `unnest`, and
`= ANY(array)` for a list of ids (psycopg parses every placeholder of a statement in Python, so
10,000 rows of ten columns as placeholders cost seconds). SQLite gets SQLAlchemy's executemany
and `IN (...)`, which its C driver handles in milliseconds."""

from typing import Any

from sqlalchemy import ColumnElement, Table, any_, bindparam, insert, text
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


def insert_rows(
    table: Table, rows: list[dict[str, Any]], *, skip_conflicts_on: str | None = None, returning: str | None = None
) -> list:
    """Insert `rows` (dicts of the same keys); with `skip_conflicts_on`, rows whose value of that
    unique column is taken are skipped; returns the `returning` column of the rows inserted."""
    if not rows:
        return []
    names = list(rows[0])
    if _postgresql():
        dialect = db.session.get_bind().dialect
        arrays = ", ".join(f"CAST(:{name} AS {table.c[name].type.compile(dialect=dialect)}[])" for name in names)
        sql = f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({arrays})"
        if skip_conflicts_on:
            sql += f" ON CONFLICT ({skip_conflicts_on}) DO NOTHING"
        if returning:
            sql += f" RETURNING {returning}"
        result = db.session.execute(text(sql), {name: [row[name] for row in rows] for name in names})
        return list(result.scalars()) if returning else []
    statement = sqlite.insert(table) if skip_conflicts_on else insert(table)
    if skip_conflicts_on:
        statement = statement.on_conflict_do_nothing(index_elements=[skip_conflicts_on])
    if returning:
        return list(db.session.connection().execute(statement.returning(table.c[returning]), rows).scalars())
    db.session.connection().execute(statement, rows)
    return []
