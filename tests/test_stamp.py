"""The data stamp on PostgreSQL (``services.stamp``): read again only when the database notifies a
change, yet a write in another process shows as soon as its notification arrives, a lost
listening connection is opened again, and a database without the triggers is still right."""

import time

import pytest
from sqlalchemy import text

from extensions import db
from models.stamp import create_trigger, trigger_name
from services import stamp, users
from tests.lifecycle_factory import make_world
from tests.test_kept_answers import NOW, SAMPLES, bearer, supervisor_token

pytestmark = pytest.mark.postgres


def first_name(client, headers) -> str:
    return client.get(SAMPLES, headers=headers).json[0]["enterprise_name"]


def watch_of(client) -> stamp.StampWatch:
    with client.application.app_context():
        return stamp.stamp_watch()


def eventually(check, seconds=5.0):
    """True once ``check()`` is, polling; False if it never was within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return False


def test_a_write_elsewhere_shows_once_notified_and_nothing_is_read_before(factory, workers, monkeypatch):
    reader, writer = workers
    world = make_world(factory)
    sup = bearer(supervisor_token())
    assert first_name(reader, sup) == world.enterprise.name
    time.sleep(0.2)  # the setup's notifications arrive
    first_name(reader, sup)
    watch = watch_of(reader)
    readings = watch.readings
    for _ in range(5):
        assert first_name(reader, sup) == world.enterprise.name
    assert watch.readings == readings  # kept answers, and not one reading of the stamp

    # From here this process's own commits count for nothing: only the notification can tell.
    monkeypatch.setattr(stamp, "commits_so_far", lambda: 0)
    first_name(reader, sup)
    url = f"/api/v1/enterprises/{world.enterprise.credit_code}"
    assert writer.patch(url, json={"name": "东莞市新名有限公司"}, headers=sup).status_code == 200
    assert eventually(lambda: first_name(reader, sup) == "东莞市新名有限公司")
    assert watch.readings > readings


def test_a_lost_listening_connection_is_opened_again(factory, workers):
    reader, writer = workers
    world = make_world(factory)
    sup = bearer(supervisor_token())
    assert first_name(reader, sup) == world.enterprise.name
    watch = watch_of(reader)
    backend = watch._connection.info.backend_pid
    with db.engine.begin() as conn:
        assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
    time.sleep(0.1)

    assert first_name(reader, sup) == world.enterprise.name  # answered, on a new connection
    assert watch._connection.info.backend_pid != backend
    url = f"/api/v1/enterprises/{world.enterprise.credit_code}"
    assert writer.patch(url, json={"name": "东莞市重连有限公司"}, headers=sup).status_code == 200
    assert eventually(lambda: first_name(reader, sup) == "东莞市重连有限公司")


def test_not_listening_the_stamp_is_read_on_every_request(app, app_ctx, factory):
    make_world(factory)
    watch = stamp.StampWatch(stamp.stamp_watch().engine, listen=False)  # DATA_STAMP_LISTEN=0
    first = watch.current()
    assert watch.current() == first and watch.readings == 2
    users.create_user("新主管", "supervisor", actor="test", now=NOW)
    assert watch.current() != first


def test_without_the_triggers_the_stamp_is_read_on_every_request(app, app_ctx, factory, caplog):
    make_world(factory)
    watch = stamp.StampWatch(stamp.stamp_watch().engine)
    dropped = trigger_name("samples")
    with db.engine.begin() as conn:
        conn.execute(text(f"DROP TRIGGER {dropped} ON samples"))
    try:
        first = watch.current()
        assert not watch.listening and dropped in caplog.text
        users.create_user("新主管", "supervisor", actor="test", now=NOW)  # an audited write
        assert watch.current() != first and watch.readings == 2
    finally:
        with db.engine.begin() as conn:
            conn.execute(text(create_trigger("samples")))
