"""The hash-chained audit trail: append an event per write; verify the chain."""

import hashlib
import json
from datetime import date, datetime

from sqlalchemy import Select, select, text

from extensions import db
from models.audit import AuditEvent
from models.base import utcnow

GENESIS = "0" * 64
_LOCK_ID = 7_310_001  # PostgreSQL advisory lock serialising appends to the chain


def _plain(value):
    """JSON-normalise ``value`` so what is hashed is exactly what is stored."""
    if value is None:
        return None
    return json.loads(json.dumps(value, default=_default, ensure_ascii=False))


def _default(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (set, tuple)):
        return sorted(value)
    return str(value)


def event_hash(prev_hash: str, event: AuditEvent) -> str:
    """The hash of one event, over the previous hash and the event's content."""
    body = {
        "occurred_at": event.occurred_at.isoformat(),
        "actor": event.actor,
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
        "before": event.before,
        "after": event.after,
    }
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}:{canonical}".encode()).hexdigest()


def record_event(action: str, entity_type: str, entity_id, before=None, after=None, *, actor: str):
    """Append one event to the chain in the caller's transaction (no commit here); ``actor``
    names who acted (``role:name``, ``cli``, ``scheduler``...)."""
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_ID})
    prev = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)) or GENESIS
    event = AuditEvent(
        occurred_at=utcnow(),
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=_plain(before),
        after=_plain(after),
        prev_hash=prev,
    )
    event.hash = event_hash(prev, event)
    session.add(event)
    session.flush()
    return event


def events_query(since: datetime | None = None, **equal) -> Select:
    """The events written from ``since`` on and matching ``equal`` (entity_type, entity_id,
    action), in the order they were written."""
    stmt = select(AuditEvent).order_by(AuditEvent.id)
    if since is not None:
        stmt = stmt.where(AuditEvent.occurred_at >= since)
    for name, value in equal.items():
        stmt = stmt.where(getattr(AuditEvent, name) == value)
    return stmt


def verify_chain() -> dict:
    """Recompute every event's hash in order; report the events that do not match."""
    prev = GENESIS
    count = 0
    mismatches = []
    rows = db.session.execute(select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=1000))
    for event in rows.scalars():
        count += 1
        if event.prev_hash != prev:
            mismatches.append({"event_id": event.id, "problem": "previous hash does not match the chain"})
        if event_hash(event.prev_hash, event) != event.hash:
            mismatches.append({"event_id": event.id, "problem": "content does not match its hash"})
        prev = event.hash
    return {"verified": not mismatches, "events": count, "mismatches": mismatches}
