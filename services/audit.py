"""The audit trail: append an event per write, keep the chain's head, publish anchors, verify.

Each event's hash is an HMAC (key ``AUDIT_KEY``, never stored in the database) over the
previous event's hash and the event's content, so someone who can write to the database but
does not hold the key cannot edit an event and recompute the hashes after it. The head
(``audit_head``: count, newest id and hash, sealed with the same key) is updated in the same
transaction as each event, so deleting the newest events is caught too. Once a day the head's
hash is published as an anchor (``GET /api/v1/public/audit-anchors``): whoever keeps one can
later prove that the trail up to it is unchanged, even against someone holding the key.
"""

import hashlib
import hmac
import json
from datetime import date, datetime

from flask import current_app
from sqlalchemy import Select, select, text

from extensions import db
from models.audit import AuditAnchor, AuditEvent, AuditHead
from models.base import utcnow

GENESIS = "0" * 64
HEAD_ID = 1
LOCK_ID = 7_310_001  # PostgreSQL advisory lock serialising appends to the chain


def plain(value):
    """JSON-normalise ``value`` so what is hashed is exactly what is stored."""
    if value is None:
        return None
    return json.loads(json.dumps(value, default=json_default, ensure_ascii=False))


def json_default(value):
    """How values JSON has no type for are written into an event."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (set, tuple)):
        return sorted(value)
    return str(value)


def keyed_hash(message: str) -> str:
    """HMAC-SHA256 of ``message`` with the audit key (setting ``AUDIT_KEY``)."""
    key = current_app.config["AUDIT_KEY"].encode()
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def event_hash(prev_hash: str, event: AuditEvent) -> str:
    """The keyed hash of one event, over the previous hash and the event's content."""
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
    return keyed_hash(f"{prev_hash}:{canonical}")


def head_seal(events: int, last_id: int | None, last_hash: str) -> str:
    """The keyed seal of the head: the count, the newest event's id and its hash."""
    return keyed_hash(f"head:{events}:{last_id}:{last_hash}")


def record_event(action: str, entity_type: str, entity_id, before=None, after=None, *, actor: str):
    """Append one event to the chain in the caller's transaction (no commit here); ``actor``
    names who acted (``role:name``, ``cli``, ``scheduler``...)."""
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_ID})
    head = session.get(AuditHead, HEAD_ID, populate_existing=True, with_for_update=True)
    if head is None:
        head = AuditHead(id=HEAD_ID, events=0, last_id=None, hash=GENESIS, seal=head_seal(0, None, GENESIS))
        session.add(head)
    event = AuditEvent(
        occurred_at=utcnow(),
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=plain(before),
        after=plain(after),
        prev_hash=head.hash,
    )
    event.hash = event_hash(head.hash, event)
    session.add(event)
    session.flush()
    head.events, head.last_id, head.hash = head.events + 1, event.id, event.hash
    head.seal = head_seal(head.events, head.last_id, head.hash)
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
    """Recompute every event's keyed hash in order, then hold the chain against its head and
    the published anchors; ``{"verified", "events", "mismatches": [{event_id, problem}]}``."""
    anchors = {a.events: a for a in db.session.scalars(select(AuditAnchor))}
    prev, count, last_id = GENESIS, 0, None
    mismatches = []
    rows = db.session.execute(select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=1000))
    for event in rows.scalars():
        count += 1
        if event.prev_hash != prev:
            mismatches.append({"event_id": event.id, "problem": "previous hash does not match the chain"})
        if event_hash(event.prev_hash, event) != event.hash:
            mismatches.append({"event_id": event.id, "problem": "content does not match its hash"})
        if count in anchors and anchors[count].hash != event.hash:
            mismatches.append({"event_id": event.id,
                               "problem": f"differs from the anchor published on {anchors[count].day}"})
        prev, last_id = event.hash, event.id
    mismatches += head_problems(count, last_id, prev)
    mismatches += [{"event_id": None, "problem": f"the anchor of {a.day} names event {n}; the trail has {count}"}
                   for n, a in sorted(anchors.items()) if n > count]
    return {"verified": not mismatches, "events": count, "mismatches": mismatches}


def head_problems(count: int, last_id: int | None, last_hash: str) -> list[dict]:
    """What is wrong with the head given the chain as read: a missing, stale or forged head."""
    head = db.session.get(AuditHead, HEAD_ID, populate_existing=True)
    if head is None:
        return [] if count == 0 else [{"event_id": last_id, "problem": "the chain's head record is missing"}]
    problems = []
    if head.seal != head_seal(head.events, head.last_id, head.hash):
        problems.append({"event_id": head.last_id, "problem": "the head's seal does not match (edited head)"})
    if (head.events, head.last_id, head.hash) != (count, last_id, last_hash):
        problems.append({"event_id": head.last_id,
                         "problem": f"the head records {head.events} events ending at event {head.last_id}; "
                                    f"the trail has {count} ending at {last_id} (newest events deleted?)"})
    return problems


def publish_anchor(day: date) -> AuditAnchor:
    """The anchor of ``day``: the head's count and hash, recorded once (again: the same anchor)."""
    anchor = db.session.scalar(select(AuditAnchor).where(AuditAnchor.day == day))
    if anchor is None:
        head = db.session.get(AuditHead, HEAD_ID)
        anchor = AuditAnchor(day=day, events=head.events if head else 0, hash=head.hash if head else GENESIS,
                             published_at=utcnow())
        db.session.add(anchor)
        db.session.commit()
    return anchor


def published_anchors(limit: int | None = None) -> list[dict]:
    """The published anchors, newest first: ``{day, events, hash, published_at}`` (for the public
    API and the Atom feed)."""
    stmt = select(AuditAnchor).order_by(AuditAnchor.day.desc())
    if limit:
        stmt = stmt.limit(limit)
    return [{"day": a.day, "events": a.events, "hash": a.hash, "published_at": a.published_at}
            for a in db.session.scalars(stmt)]
