"""/healthz (issue 15): cheap enough to poll. It asks the database at most once per
HEALTH_CHECK_SECONDS per process, and still reports a database that went away."""

from sqlalchemy import event

from app import create_app
from extensions import db


def counted_statements(app) -> list[str]:
    statements = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    return statements


def test_healthz_asks_the_database_at_most_once_per_interval(app, tmp_path):
    url = f"sqlite:///{tmp_path / 'health.db'}"
    cached = create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": url, "HEALTH_CHECK_SECONDS": 3600})
    statements = counted_statements(cached)
    client = cached.test_client()
    for _ in range(20):
        resp = client.get("/healthz")
        assert resp.status_code == 200 and resp.json == {"status": "ok", "database": "ok"}
    assert len(statements) == 1  # one SELECT 1 for twenty polls: the database is not asked again
    with cached.app_context():
        db.engine.dispose()


def test_without_an_interval_every_poll_asks_and_a_lost_database_is_a_503(tmp_path):
    home = tmp_path / "data"
    home.mkdir()
    url = f"sqlite:///{home / 'health.db'}"
    every = create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": url})
    statements = counted_statements(every)
    client = every.test_client()
    assert client.get("/healthz").status_code == 200 and client.get("/healthz").status_code == 200
    assert len(statements) >= 2
    home.rename(tmp_path / "gone")
    with every.app_context():
        db.engine.dispose()
    resp = client.get("/healthz")
    assert resp.status_code == 503 and resp.json == {"status": "error", "database": "unreachable"}
    (tmp_path / "gone").rename(home)
    assert client.get("/healthz").status_code == 200
    with every.app_context():
        db.engine.dispose()
