"""The audit trail nobody can trim (issue 13): a chain keyed with AUDIT_KEY, a sealed head, daily
anchors published for outsiders. Verification fails after an edited event, a deleted newest
event, a chain recomputed by someone without the key, and a history rewritten (even with the
key) behind a published anchor; it holds on an untouched trail.
"""

import hashlib
import json
from datetime import date

import pytest
from sqlalchemy import delete, func, select, update

from app import create_app
from extensions import db
from models.audit import AuditAnchor, AuditEvent, AuditHead
from services import audit

GENESIS = "0" * 64


@pytest.fixture
def trail(client, auth):
    """A supervisor and a trail of a dozen events written through the API."""
    sup = auth.headers("supervisor")
    for n in range(12):
        resp = client.post("/api/v1/categories", json={"code": f"C{n:02d}", "name": f"类别{n}", "group": "industrial"},
                           headers=sup)
        assert resp.status_code == 201
    return sup


def verify(client, sup) -> dict:
    db.session.expire_all()
    resp = client.get("/api/v1/audit/verify", headers=sup)
    assert resp.status_code == 200
    return resp.json


def events() -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def unkeyed_hash(prev: str, event: AuditEvent) -> str:
    """What someone without the key computes: the same content, hashed without it."""
    body = {"occurred_at": event.occurred_at.isoformat(), "actor": event.actor, "action": event.action,
            "entity_type": event.entity_type, "entity_id": event.entity_id, "before": event.before,
            "after": event.after}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{prev}:{canonical}".encode()).hexdigest()


def test_an_untouched_trail_verifies(client, trail):
    outcome = verify(client, trail)
    assert outcome == {"verified": True, "events": 12, "mismatches": []}
    head = db.session.get(AuditHead, 1)
    assert (head.events, head.last_id, head.hash) == (12, events()[-1].id, events()[-1].hash)


def test_verify_fails_after_deleting_the_newest_event(client, trail):
    db.session.execute(delete(AuditEvent).where(AuditEvent.id == events()[-1].id))
    db.session.commit()
    outcome = verify(client, trail)
    assert outcome["verified"] is False and outcome["events"] == 11
    assert any("deleted" in m["problem"] for m in outcome["mismatches"])


def test_verify_fails_after_deleting_the_newest_events_and_rewriting_the_head(client, trail):
    keep = events()[:7]
    db.session.execute(delete(AuditEvent).where(AuditEvent.id > keep[-1].id))
    # The intruder sets the head to match what is left; without the key the seal cannot follow.
    db.session.execute(update(AuditHead).values(events=7, last_id=keep[-1].id, hash=keep[-1].hash,
                                                seal=hashlib.sha256(b"guess").hexdigest()))
    db.session.commit()
    outcome = verify(client, trail)
    assert outcome["verified"] is False
    assert any("seal" in m["problem"] for m in outcome["mismatches"])


def test_verify_fails_after_an_edited_event(client, trail):
    target = events()[4]
    db.session.execute(update(AuditEvent).where(AuditEvent.id == target.id).values(actor="supervisor:someone-else"))
    db.session.commit()
    outcome = verify(client, trail)
    assert outcome["verified"] is False
    assert {"event_id": target.id, "problem": "content does not match its hash"} in outcome["mismatches"]


def test_verify_fails_after_a_chain_recomputed_without_the_key(client, trail):
    """Someone with write access edits an event and recomputes every hash after it, and the head."""
    rows = events()
    rows[3].after = {**(rows[3].after or {}), "name": "篡改"}
    prev = GENESIS
    for event in rows:
        event.prev_hash = prev
        event.hash = prev = unkeyed_hash(prev, event)
    head = db.session.get(AuditHead, 1)
    head.hash = prev
    head.seal = hashlib.sha256(f"head:{head.events}:{head.last_id}:{prev}".encode()).hexdigest()
    db.session.commit()
    outcome = verify(client, trail)
    assert outcome["verified"] is False
    assert {m["event_id"] for m in outcome["mismatches"]} >= {e.id for e in rows}


def test_verify_fails_after_an_inserted_event(client, trail):
    rows = events()
    forged = AuditEvent(occurred_at=rows[5].occurred_at, actor="supervisor:x", action="create", entity_type="category",
                        entity_id="FAKE", before=None, after={}, prev_hash=rows[5].hash, hash="f" * 64)
    db.session.add(forged)
    db.session.commit()
    assert verify(client, trail)["verified"] is False


def test_a_published_anchor_catches_a_rewrite_even_by_someone_holding_the_key(app, client, trail):
    anchor = audit.publish_anchor(date(2026, 12, 1))
    assert (anchor.events, anchor.hash) == (12, events()[-1].hash)
    public = client.get("/api/v1/public/audit-anchors")  # no token
    assert public.status_code == 200
    assert public.json == [{"day": "2026-12-01", "events": 12, "hash": anchor.hash,
                            "published_at": public.json[0]["published_at"]}]
    assert audit.publish_anchor(date(2026, 12, 1)).id == anchor.id  # once a day
    assert verify(client, trail)["verified"] is True

    # An insider with the key edits event 3 and recomputes the chain and the head with the key.
    rows = events()
    rows[2].actor = "supervisor:rewritten"
    prev = GENESIS
    for event in rows:
        event.prev_hash = prev
        event.hash = prev = audit.event_hash(prev, event)
    head = db.session.get(AuditHead, 1)
    head.hash, head.seal = prev, audit.head_seal(head.events, head.last_id, prev)
    db.session.commit()
    outcome = verify(client, trail)
    assert outcome["verified"] is False
    assert any("anchor published on 2026-12-01" in m["problem"] for m in outcome["mismatches"])
    # And whoever kept the anchor can see it: the public anchor no longer matches the trail.
    assert events()[11].hash != public.json[0]["hash"]


def test_an_anchor_beyond_a_truncated_trail_is_reported(client, trail):
    audit.publish_anchor(date(2026, 12, 1))
    db.session.execute(delete(AuditEvent).where(AuditEvent.id > events()[5].id))
    db.session.execute(delete(AuditHead))  # even with the head gone
    db.session.commit()
    outcome = verify(client, trail)
    assert outcome["verified"] is False
    assert any("the trail has 6" in m["problem"] for m in outcome["mismatches"])


def test_the_key_is_not_in_the_database_and_changes_every_hash(app, client, trail):
    key = app.config["AUDIT_KEY"]
    dumped = " ".join(str(row) for table in ("audit_events", "audit_head", "audit_anchors")
                      for row in db.session.execute(select(db.metadata.tables[table])).all())
    assert key not in dumped
    first = events()[0]
    assert first.hash != unkeyed_hash(GENESIS, first)
    other = create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                        "AUDIT_KEY": "another key"})
    with other.app_context():
        outcome = audit.verify_chain()
        db.session.remove()
        db.engine.dispose()  # its connections closed now, not whenever the collector finds them
    assert outcome["verified"] is False  # the same rows do not verify under another key


def test_the_daily_job_publishes_the_anchor_once(app, trail):
    from jobs.audit import anchor_audit

    first = anchor_audit(date(2026, 12, 2), app=app)
    again = anchor_audit(date(2026, 12, 2), app=app)
    assert first == again == {"day": "2026-12-02", "events": 12, "hash": events()[-1].hash}
    assert db.session.scalar(select(func.count()).select_from(AuditAnchor)) == 1


def test_the_cli_verifies_and_anchors(app, trail):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and '"verified": true' in result.output
    assert runner.invoke(args=["audit", "anchor"]).exit_code == 0
    db.session.execute(delete(AuditEvent).where(AuditEvent.id == events()[-1].id))
    db.session.commit()
    assert runner.invoke(args=["audit", "verify"]).exit_code == 1


def test_production_requires_an_audit_key(monkeypatch):
    monkeypatch.delenv("AUDIT_KEY", raising=False)
    with pytest.raises(RuntimeError, match="AUDIT_KEY"):
        create_app({"ENV_NAME": "production", "SECRET_KEY": "s", "AUDIT_KEY": None, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
