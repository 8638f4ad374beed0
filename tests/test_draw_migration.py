"""The migration that gives draws their allocation column fills it in for draws made before it."""

import json
import os
import zlib

from flask_migrate import upgrade
from sqlalchemy import text

from app import create_app
from tests.test_migrations import _fresh_url

MIGRATIONS = os.path.join(os.path.dirname(__file__), "..", "migrations")


def test_existing_draws_get_their_allocation_and_plans_their_defaults(tmp_path):
    url = _fresh_url(tmp_path)
    app = create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": url})
    allocation = {"虎门镇|FZ-01": 3, "长安镇|FZ-01": 2}
    record = zlib.compress(json.dumps({"allocation": allocation, "registry": {}, "rules": {}}).encode())
    with app.app_context():
        from extensions import db

        upgrade(directory=MIGRATIONS, revision="c3a5e7f9b2d4")
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO plans (id, name, level, kind, period, regions, risk_weighting, team_size, "
                "avoid_same_region, exclusion_days, server_seed, seed_commitment, created_at) VALUES "
                "(1, '旧计划', 'municipal', 'routine', '2026Q3', '[]', false, 2, true, 180, :s, :c, :t)"),
                {"s": "0" * 64, "c": "1" * 64, "t": "2026-08-01 00:00:00+00:00"})
            conn.execute(text(
                "INSERT INTO draws (id, plan_id, public_entropy, seed, registry_hash, algorithm, snapshot, drawn_at) "
                "VALUES (1, 1, '', :h, :h, 'sha256-exp-tickets/1', :snapshot, :t)"),
                {"h": "2" * 64, "snapshot": record, "t": "2026-08-02 00:00:00+00:00"})
        upgrade(directory=MIGRATIONS)
        with db.engine.connect() as conn:
            stored = conn.execute(text("SELECT allocation FROM draws WHERE id = 1")).scalar_one()
            plan = conn.execute(text("SELECT stage, uncovered_only, window_start FROM plans WHERE id = 1")).one()
        db.engine.dispose()
    assert (json.loads(stored) if isinstance(stored, str) else stored) == allocation
    assert plan.stage == "production" and not plan.uncovered_only and plan.window_start is None
