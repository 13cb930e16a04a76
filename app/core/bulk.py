"""Set-based writes and lookups of many rows at once, as fast as each database allows.

PostgreSQL gets one statement per call: rows as one array per column through `unnest`, and
`= ANY(array)` for a list of ids (psycopg parses every placeholder of a statement in Python, so
10,000 rows of ten columns as placeholders cost seconds). SQLite gets SQLAlchemy's executemany
and `IN (...)`, which its C driver handles in milliseconds."""

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


def _json_text(value: Any, column) -> str | None:
    """A JSON column's value as the text SQLAlchemy's JSON type would bind (None is JSON null)."""
    if value is None and column.type.none_as_null:
        return None
    return json.dumps(value)


def insert_rows(
    table: Table,
    rows: list[dict[str, Any]],
    *,
    skip_conflicts_on: str | tuple[str, ...] | None = None,
    returning: str | tuple[str, ...] | None = None,
) -> list:
    """Insert `rows` (dicts of the same keys); with `skip_conflicts_on` (a unique column, or the
    columns of a unique constraint), rows whose value there is taken are skipped; returns the
    `returning` column of the rows inserted (a tuple of columns: a row of them each)."""
    if not rows:
        return []
    names = list(rows[0])
    conflict = _names(skip_conflicts_on) if skip_conflicts_on else ()
    back = _names(returning) if returning else ()
    if _postgresql():
        dialect = db.session.get_bind().dialect
        arrays = ", ".join(f"CAST(:{name} AS {table.c[name].type.compile(dialect=dialect)}[])" for name in names)
        sql = f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({arrays})"
        if conflict:
            sql += f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
        if back:
            sql += f" RETURNING {', '.join(back)}"
        values = {}
        for name in names:
            column = table.c[name]
            if isinstance(column.type, JSON):  # text() binds no JSON type: serialize as it would
                values[name] = [_json_text(row[name], column) for row in rows]
            else:
                values[name] = [row[name] for row in rows]
        result = db.session.execute(text(sql), values)
        if not back:
            return []
        return list(result.scalars()) if isinstance(returning, str) else [tuple(row) for row in result]
    statement = sqlite.insert(table) if conflict else insert(table)
    if conflict:
        statement = statement.on_conflict_do_nothing(index_elements=list(conflict))
    if back:
        result = db.session.connection().execute(statement.returning(*(table.c[name] for name in back)), rows)
        return list(result.scalars()) if isinstance(returning, str) else [tuple(row) for row in result]
    db.session.connection().execute(statement, rows)
    return []
