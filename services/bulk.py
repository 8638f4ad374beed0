"""Reading and writing many rows inside the session's transaction, without the ORM's per-row cost.

``plain_rows`` reads a Core ``select`` through the database driver's own cursor;
``insert_tuples`` (``insert_rows`` for dicts) writes rows with one statement: COPY on PostgreSQL,
the driver's executemany on SQLite.
"""

import contextlib
import itertools
import json
from collections.abc import Iterator

from sqlalchemy import JSON, Select, Table

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
    if rows:
        columns = list(rows[0])
        insert_tuples(table, columns, [tuple(row[name] for name in columns) for row in rows])


def insert_tuples(table: Table, columns: list[str], rows: list[tuple]) -> None:
    """Insert ``rows``, tuples of the ``columns``' values, with one statement and the columns'
    Python-side defaults filled in: COPY on PostgreSQL, the driver's executemany on SQLite, each
    value bound as its column's type binds it. Tuples, not dicts, and no SQLAlchemy per row: a
    province's draw writes 200,000 rows at once."""
    if not rows:
        return
    connection = db.session.connection()
    dialect = connection.dialect
    fixed = _defaults(table, columns)
    names = [*columns, *fixed]
    extra = tuple(fixed.values())
    quote = dialect.identifier_preparer.quote
    into = f"{quote(table.name)} ({', '.join(quote(n) for n in names)})"
    if dialect.name == "sqlite":
        with contextlib.closing(connection.connection.cursor()) as cursor:
            cursor.executemany(f"INSERT INTO {into} VALUES ({', '.join('?' * len(names))})",
                               _bound(table, names, dialect, rows, extra))
        return
    as_json = [n for n, name in enumerate(columns) if isinstance(table.columns[name].type, JSON)]
    with connection.connection.cursor() as cursor, cursor.copy(f"COPY {into} FROM STDIN") as copy:
        write = copy.write_row
        for row in rows:
            if as_json:
                row = list(row)
                for n in as_json:
                    if row[n] is not None:
                        row[n] = json.dumps(row[n])
            write((*row, *extra))


def _bound(table: Table, names: list[str], dialect, rows: list[tuple], extra: tuple) -> Iterator[tuple]:
    """The rows with the defaults appended, each value as its column's type gives it to the driver
    (a timestamp in UTC, a JSON document as text): what SQLAlchemy's own insert would send."""
    processors = [(n, processor) for n, name in enumerate(names)
                  if (processor := table.columns[name].type.dialect_impl(dialect).bind_processor(dialect))]
    if not processors:
        return (row + extra for row in rows) if extra else iter(rows)

    def bound(row):
        values = [*row, *extra]
        for n, process in processors:
            values[n] = process(values[n])
        return values

    return map(bound, rows)

