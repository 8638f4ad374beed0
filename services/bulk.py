"""Reading and writing many rows inside the session's transaction, without the ORM's per-row cost.

``plain_rows`` reads a Core ``select`` through the database driver's own cursor;
``insert_rows`` writes rows with one statement: COPY on PostgreSQL, one executemany elsewhere.
"""

import json
from collections.abc import Iterator

from sqlalchemy import JSON, Select, Table, insert

from extensions import db


def plain_rows(stmt: Select) -> Iterator[tuple]:
    """The rows of ``stmt`` as plain tuples straight from the driver's cursor (no Row objects)."""
    connection = db.session.connection()
    compiled = stmt.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.params
    if compiled.positiontup is not None:
        params = tuple(params[name] for name in compiled.positiontup)
    cursor = connection.connection.cursor()
    try:
        cursor.execute(str(compiled), params)
        while batch := cursor.fetchmany(10_000):
            yield from batch
    finally:
        cursor.close()


def _defaults(table: Table, given) -> dict:
    """The Python-side defaults of ``table``'s columns that the rows do not give."""
    found = {}
    for column in table.columns:
        default = column.default
        if column.name in given or default is None or not (default.is_scalar or default.is_callable):
            continue
        found[column.name] = default.arg if default.is_scalar else default.arg(None)
    return found


def insert_rows(table: Table, rows: list[dict]) -> None:
    """Insert ``rows`` (dicts with the same keys) in the session's transaction with one statement."""
    if not rows:
        return
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    fixed = _defaults(table, rows[0])
    names = [*rows[0], *fixed]
    as_json = {c.name for c in table.columns if isinstance(c.type, JSON)}
    encode = [json.dumps if name in as_json else None for name in names]
    quote = connection.dialect.identifier_preparer.quote
    sql = f"COPY {quote(table.name)} ({', '.join(quote(n) for n in names)}) FROM STDIN"
    with connection.connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            values = [row.get(n, fixed.get(n)) for n in names]
            copy.write_row([f(v) if f and v is not None else v for f, v in zip(encode, values, strict=True)])
