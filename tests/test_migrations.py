"""The migrations build exactly the schema the models describe, on an empty database."""

import os

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine, make_url, text

from app import create_app
from models.base import Base
from models.stamp import WATCHED, trigger_name


def _fresh_url(tmp_path):
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path / 'migrated.db'}"
    # Named after the test database, so runs against different test databases never collide.
    scratch = make_url(url).database + "_migrations"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}"'))
        conn.execute(text(f'CREATE DATABASE "{scratch}"'))
    admin.dispose()
    return make_url(url).set(database=scratch).render_as_string(hide_password=False)


def test_upgrade_matches_models(tmp_path):
    url = _fresh_url(tmp_path)
    app = create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade(directory=os.path.join(os.path.dirname(__file__), "..", "migrations"))
        from extensions import db

        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
            postgres = conn.dialect.name == "postgresql"
            user_triggers = text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
            triggers = set(conn.scalars(user_triggers)) if postgres else set()
        db.engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"
    if postgres:  # the data stamp's notifications, as create_all attaches them (models/stamp.py)
        assert triggers == {trigger_name(table.name) for table in WATCHED}
