"""The partner feed (联合奖惩): credit events written with the change they report, read in
commit order.

``emit`` adds an event to the caller's transaction (no commit here). When that transaction
commits, its events get their feed ``position`` under a lock taken at commit time, so
positions follow commit order even when transactions commit out of id order: a reader's
snapshot always holds a gap-free prefix of positions, and a partner that always passes back
``next`` misses nothing and sees nothing twice. On SQLite writers are serialised by the
database itself; on PostgreSQL a transaction-level advisory lock serialises the (short)
commit step of the writers of this table.
"""

from datetime import datetime

from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from extensions import db
from models.events import PartnerEvent
from sampling.enums import EVENT_TYPES
from services.audit import plain

FEED_LOCK = 7_310_002  # PostgreSQL advisory lock: one writer at a time gives out positions
PENDING = "partner_events_pending"  # Session.info flag: this transaction emitted events
MAX_LIMIT = 1000

ASSIGN_POSITIONS = text("""
    UPDATE partner_events SET position = numbered.base + numbered.n
    FROM (
        SELECT id, row_number() OVER (ORDER BY id) AS n,
               (SELECT coalesce(max(position), 0) FROM partner_events) AS base
        FROM partner_events WHERE position IS NULL
    ) AS numbered
    WHERE partner_events.id = numbered.id
""")


def emit(type: str, credit_code: str, at: datetime, data: dict | None = None) -> PartnerEvent:
    """Add one credit event to the caller's transaction; it reaches the feed when that commits.

    ``type`` is one of ``EVENT_TYPES``; ``at`` is when the reported change happened (aware);
    ``data`` is what a partner needs to act on it (plain JSON values, dates allowed).
    """
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown partner event type {type!r}; one of {', '.join(EVENT_TYPES)}")
    row = PartnerEvent(type=type, credit_code=credit_code, at=at, data=plain(data or {}))
    db.session.add(row)
    db.session.info[PENDING] = True
    return row


@event.listens_for(Session, "before_commit")
def _assign_positions(session: Session) -> None:
    """At the outermost commit of a transaction that emitted events, number them after every
    committed event; the lock is held until the commit ends, so numbering follows commit order."""
    if not session.info.get(PENDING) or session.in_nested_transaction():
        return
    session.info.pop(PENDING)
    session.flush()
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": FEED_LOCK})
    connection.execute(ASSIGN_POSITIONS)


def feed(after: int = 0, limit: int = 100) -> dict:
    """The events after cursor ``after``, at most ``limit`` (1..1000), in commit order, and the
    cursor to pass back next (unchanged when there is nothing new)."""
    limit = max(1, min(limit, MAX_LIMIT))
    rows = db.session.scalars(
        select(PartnerEvent).where(PartnerEvent.position > after).order_by(PartnerEvent.position).limit(limit)
    ).all()
    return {"events": rows, "next": rows[-1].position if rows else after}
