"""``services.bulk``: rows written in bulk are stored exactly as the ORM stores them, on both databases."""

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import select, text

from extensions import db
from models.audit import AuditEvent
from services.bulk import insert_tuples, plain_rows

COLUMNS = ["occurred_at", "actor", "action", "entity_type", "entity_id", "before", "after", "prev_hash", "hash"]
BEIJING = timezone(timedelta(hours=8))


def stored(hash_: str) -> tuple:
    """The row as the database holds it, read without the ORM's types."""
    return db.session.execute(text("SELECT occurred_at, before, after FROM audit_events WHERE hash = :h"),
                              {"h": hash_}).one()


def test_bulk_rows_are_stored_as_the_orm_stores_them(app_ctx):
    when = datetime(2026, 12, 4, 9, 30, 15, 123456, tzinfo=BEIJING)
    values = (when, "监督员", "create", "sample", "S1", {"名称": "电线", "n": [1, 2.5, None]}, None, "0" * 64)
    db.session.add(AuditEvent(**dict(zip(COLUMNS, (*values, "a" * 64), strict=True))))
    db.session.flush()
    insert_tuples(AuditEvent.__table__, COLUMNS, [(*values, "b" * 64)])
    insert_tuples(AuditEvent.__table__, COLUMNS[1:], [(*values[1:], "c" * 64)])  # occurred_at from its default
    db.session.commit()

    assert stored("b" * 64) == stored("a" * 64)
    orm, bulk, defaulted = (db.session.scalar(select(AuditEvent).where(AuditEvent.hash == h * 64)) for h in "abc")
    for column in COLUMNS[:-1]:
        assert getattr(bulk, column) == getattr(orm, column), column
    assert bulk.occurred_at == when and bulk.occurred_at.tzinfo is not None
    assert abs(defaulted.occurred_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert defaulted.before == {"名称": "电线", "n": [1, 2.5, None]}


def test_plain_rows_reads_tuples_in_order(app_ctx):
    insert_tuples(AuditEvent.__table__, COLUMNS[1:], [
        ("x", "create", "sample", f"S{n}", None, None, "0" * 64, f"{n:064d}") for n in range(25_000)])
    db.session.commit()
    ids = [row[0] for row in plain_rows(select(AuditEvent.entity_id).order_by(AuditEvent.id))]
    assert ids == [f"S{n}" for n in range(25_000)]
