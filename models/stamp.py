"""The tables the data stamp reads tell every process when they change (PostgreSQL).

``services.stamp.data_stamp`` is the latest audit event and the latest sample. On PostgreSQL a
statement trigger on each of the two tables sends ``NOTIFY data_stamp`` in the writing
transaction; PostgreSQL delivers it when that transaction commits, and not at all when it rolls
back. A process listening on the channel reads the stamp again only after a notification, so a
request whose kept answer is still good makes no round trip at all.

The same statements are in the migration that added them (``b3e1c5d7f9a2``); here they are
attached to the tables for ``create_all`` (the tests, the benchmarks' ``--create-all``).
"""

from sqlalchemy import DDL, event

from models.audit import AuditEvent
from models.samples import Sample

CHANNEL = "data_stamp"
FUNCTION = "notify_data_stamp"
WATCHED = (AuditEvent.__table__, Sample.__table__)

CREATE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', '');
    RETURN NULL;
END
$$"""


def trigger_name(table: str) -> str:
    return f"{table}_{CHANNEL}"


def create_trigger(table: str) -> str:
    """Any statement that may change the table's latest row notifies, once per statement (a COPY of
    50,000 samples is one notification; PostgreSQL folds repeats within a transaction into one)."""
    return (f"CREATE TRIGGER {trigger_name(table)} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()")


for _table in WATCHED:
    event.listen(_table, "after_create", DDL(CREATE_FUNCTION).execute_if(dialect="postgresql"))
    event.listen(_table, "after_create", DDL(create_trigger(_table.name)).execute_if(dialect="postgresql"))
