"""Reading and writing many rows inside the session's transaction, without the ORM's per-row cost.

``plain_rows`` reads a Core ``select`` through the database driver's own cursor;
``insert_rows`` writes rows with one statement: COPY on PostgreSQL, one executemany elsewhere.
"""

import itertools
import json
from collections.abc import Iterator

from sqlalchemy import JSON, Select, Table, insert

from extensions import db

_cursor_numbers = itertools.count(1)  # server-side cursors need a name unique in their transaction


def plain_rows(stmt: Select) -> Iterator[tuple]:
    """The rows of ``stmt`` as plain tuples straight from the driver's cursor (no Row objects).

    On PostgreSQL the cursor is a server-side one, so a million rows arrive 10,000 at a time
    instead of all at once into the client library's memory (about 150 MiB for a province)."""
    connection = db.session.connection()
    compiled = stmt.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.params
    if compiled.positiontup is not None:
        params = tuple(params[name] for name in compiled.positiontup)
    if connection.dialect.name == "postgresql":
        cursor = connection.connection.cursor(name=f"plain_rows_{next(_cursor_numbers)}")
    else:
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
