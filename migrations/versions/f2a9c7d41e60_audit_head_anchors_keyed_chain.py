"""audit: the chain keyed with AUDIT_KEY (HMAC), its sealed head, its published anchors

Revision ID: f2a9c7d41e60
Revises: e7b3c9d1a2f4
Create Date: 2026-12-01 21:45:00

The existing events are checked against their old (unkeyed) hashes first: a trail that does
not verify is not re-keyed (the upgrade stops, so tampering is not laundered). Then every hash
is recomputed with the key and the head is written. The key comes from the app's settings
(``flask db upgrade``) or, without an app, from the environment (``AUDIT_KEY``).
"""
import hashlib
import hmac
import json
import os

from alembic import op
import sqlalchemy as sa

import models.base


# revision identifiers, used by Alembic.
revision = 'f2a9c7d41e60'
down_revision = 'e7b3c9d1a2f4'
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def audit_key() -> bytes:
    try:
        from flask import current_app

        key = current_app.config.get("AUDIT_KEY")
    except RuntimeError:  # no app: plain alembic
        key = None
    key = key or os.environ.get("AUDIT_KEY")
    if not key:
        raise RuntimeError("AUDIT_KEY must be set to key the audit trail")
    return key.encode()


def canonical(row) -> str:
    body = {"occurred_at": row.occurred_at.isoformat(), "actor": row.actor, "action": row.action,
            "entity_type": row.entity_type, "entity_id": row.entity_id, "before": row.before, "after": row.after}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


events = sa.table(
    'audit_events', sa.column('id', sa.Integer()), sa.column('occurred_at', models.base.UTCDateTime()),
    sa.column('actor', sa.String()), sa.column('action', sa.String()), sa.column('entity_type', sa.String()),
    sa.column('entity_id', sa.String()), sa.column('before', sa.JSON()), sa.column('after', sa.JSON()),
    sa.column('prev_hash', sa.String()), sa.column('hash', sa.String()),
)


def upgrade():
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('events', sa.Integer(), nullable=False),
    sa.Column('last_id', sa.Integer(), nullable=True),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('seal', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head'))
    )
    op.create_table('audit_anchors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('events', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('published_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_anchors')),
    sa.UniqueConstraint('day', name=op.f('uq_audit_anchors_day'))
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(events).order_by(events.c.id)).all()
    if not rows:
        return
    key = audit_key()
    old_prev, new_prev = GENESIS, GENESIS
    updates = []
    for row in rows:
        text = canonical(row)
        if row.prev_hash != old_prev or hashlib.sha256(f"{old_prev}:{text}".encode()).hexdigest() != row.hash:
            raise RuntimeError(f"the audit trail does not verify at event {row.id}; it is not re-keyed")
        new_hash = hmac.new(key, f"{new_prev}:{text}".encode(), hashlib.sha256).hexdigest()
        updates.append({"row_id": row.id, "new_prev": new_prev, "new_hash": new_hash})
        old_prev, new_prev = row.hash, new_hash
    # Unique hashes: clear them first so an old value never collides with a new one mid-update.
    connection.execute(events.update().values(hash=sa.literal("old:") + sa.cast(events.c.id, sa.String())))
    connection.execute(events.update().where(events.c.id == sa.bindparam("row_id"))
                       .values(prev_hash=sa.bindparam("new_prev"), hash=sa.bindparam("new_hash")), updates)
    last = rows[-1].id
    seal = hmac.new(key, f"head:{len(rows)}:{last}:{new_prev}".encode(), hashlib.sha256).hexdigest()
    connection.execute(sa.text("INSERT INTO audit_head (id, events, last_id, hash, seal) VALUES (1, :n, :last, :h, :s)"),
                       {"n": len(rows), "last": last, "h": new_prev, "s": seal})


def downgrade():
    connection = op.get_bind()
    rows = connection.execute(sa.select(events).order_by(events.c.id)).all()
    prev, updates = GENESIS, []
    for row in rows:  # back to the unkeyed chain
        new_hash = hashlib.sha256(f"{prev}:{canonical(row)}".encode()).hexdigest()
        updates.append({"row_id": row.id, "new_prev": prev, "new_hash": new_hash})
        prev = new_hash
    if updates:
        connection.execute(events.update().values(hash=sa.literal("old:") + sa.cast(events.c.id, sa.String())))
        connection.execute(events.update().where(events.c.id == sa.bindparam("row_id"))
                           .values(prev_hash=sa.bindparam("new_prev"), hash=sa.bindparam("new_hash")), updates)
    op.drop_table('audit_anchors')
    op.drop_table('audit_head')
