"""The data stamp: what tells a process whether an answer it kept is still good.

The stamp is the latest audit event and the latest sample (id with its hash or creation time,
unique even when a truncated table starts its ids again). Every service write records an audit
event in its transaction (sample moves, corrections, history imports, targets, registry edits,
plans, tokens), and rows inserted in bulk move the latest sample, so anything a kept answer shows
moves the stamp.

How it is read:

- SQLite: one statement per request, on a connection of its own in autocommit mode, so a
  request whose kept answer is still good never opens the session's transaction.
- PostgreSQL: a connection of the process listens on ``models.stamp.CHANNEL``; triggers on the
  two tables notify it when a change commits. The stamp is read again, on that connection, only
  when a notification has arrived or this process committed something since the last reading;
  otherwise it is the one read last, and a request whose kept answer is still good makes no
  round trip at all. A write in this process shows to its next request at once; a write
  elsewhere (another worker, the scheduler, the CLI) as soon as its notification arrives, which
  PostgreSQL sends at commit (well under a millisecond on one host). A lost connection is opened
  again and the stamp read afresh. Without the triggers (a database not yet migrated), with
  ``DATA_STAMP_LISTEN`` off (a pooler that does not deliver notifications) or on a driver other
  than psycopg, the stamp is read on every request, on a connection of its own in autocommit
  mode.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref

from flask import current_app
from sqlalchemy import Engine, create_engine, event

from extensions import db
from models.audit import AuditEvent
from models.samples import Sample
from models.stamp import CHANNEL, WATCHED, trigger_name

log = logging.getLogger(__name__)

# Four index lookups in one statement; plain SQL, built once.
STAMP_SQL = "SELECT " + ", ".join(
    f"(SELECT {column} FROM {table} ORDER BY id DESC LIMIT 1)"
    for table, column in ((AuditEvent.__tablename__, "id"), (AuditEvent.__tablename__, "hash"),
                          (Sample.__tablename__, "id"), (Sample.__tablename__, "created_at"))
)


def data_stamp() -> tuple:
    """Changes whenever anything a report, list or page shows may have changed; only committed
    writes count, so an answer made after reading it is never older than its stamp."""
    if db.engine.dialect.name == "sqlite" and db.engine.url.database in (None, "", ":memory:"):
        # a database in memory exists only on the session's own connection
        return tuple(db.session.connection().exec_driver_sql(STAMP_SQL).one())
    return stamp_watch().current()


# --- this process's own commits -----------------------------------------------------------------

_commits = 0
_commits_lock = threading.Lock()


def count_commits(engine: Engine) -> None:
    """Count every commit on ``engine`` (each app does this for its own): the next reading of the
    stamp in this process then asks the database, without waiting for the notification."""
    if not event.contains(engine, "commit", _count_commit):
        event.listen(engine, "commit", _count_commit)


def _count_commit(_connection) -> None:
    global _commits
    with _commits_lock:
        _commits += 1


def commits_so_far() -> int:
    return _commits


# --- the watch ----------------------------------------------------------------------------------


def stamp_watch() -> StampWatch:
    """This app's watch in this process (a forked process opens its own)."""
    watch = current_app.extensions.get("stamp_watch")
    if watch is None or watch.pid != os.getpid():
        options = current_app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("connect_args")
        engine = create_engine(db.engine.url, isolation_level="AUTOCOMMIT",
                               **({"connect_args": options} if options else {}),
                               **({} if db.engine.dialect.name == "sqlite" else {"pool_size": 2, "max_overflow": 8}))
        watch = StampWatch(engine, listen=current_app.config["DATA_STAMP_LISTEN"])
        current_app.extensions["stamp_watch"] = watch
        event.listen(db.engine, "engine_disposed", lambda _: watch.close())  # a worker or a test's app closing
    return watch


class StampWatch:
    """The stamp as this process last read it, read again when the database says it changed."""

    def __init__(self, engine: Engine, listen: bool = True):
        self.engine = engine
        self.pid = os.getpid()
        self.listening = listen and engine.dialect.driver == "psycopg"
        self._lock = threading.Lock()
        self._connection = None  # the listening psycopg connection, its pool wrapper kept checked out
        self._closer: weakref.finalize | None = None  # closes it (the finalizer holds the wrapper)
        self._stamp: tuple | None = None
        self._stale = True
        self._commits_seen = -1
        self.readings = 0  # how many times the stamp was read from the database

    def current(self) -> tuple:
        if self.listening:
            with self._lock:
                for attempt in (1, 2):
                    try:
                        if self._connection is None:
                            self._listen()
                        if self.listening:
                            return self._listened()
                    except self.engine.dialect.loaded_dbapi.Error:
                        self._drop()  # a connection the database dropped: one more try on a new one
                        if attempt == 2:
                            raise
        return self._queried()

    def _listened(self) -> tuple:
        pgconn = self._connection.pgconn
        pgconn.consume_input()  # whatever the server has sent; never waits
        while pgconn.notifies() is not None:
            self._stale = True
        commits = commits_so_far()
        if self._stale or commits != self._commits_seen:
            # cleared before reading: a notification that arrives during the read marks it stale again
            self._stale, self._commits_seen = False, commits
            self._stamp = tuple(self._connection.execute(STAMP_SQL).fetchone())
            self.readings += 1
        return self._stamp

    def _listen(self) -> None:
        held = self.engine.raw_connection()
        connection = held.driver_connection
        names = [trigger_name(table.name) for table in WATCHED]
        found = connection.execute("SELECT count(*) FROM pg_trigger WHERE tgname = ANY(%s)", [names]).fetchone()[0]
        if found < len(names):
            log.warning("data stamp triggers %s are missing (database not migrated?): the stamp is read on "
                        "every request", ", ".join(names))
            held.close()
            self.listening = False
            return
        connection.add_notify_handler(self._notified)  # what arrives while a statement runs
        connection.execute(f"LISTEN {CHANNEL}")
        self._connection, self._stale = connection, True
        # closed with the watch if its app is dropped without disposing its engine (a test's app)
        self._closer = weakref.finalize(self, held.invalidate)

    def _notified(self, _notify) -> None:
        self._stale = True

    def _queried(self) -> tuple:
        """One statement on a pooled autocommit connection: no BEGIN, ROLLBACK or ping around it."""
        for attempt in (1, 2):
            raw = self.engine.raw_connection()
            try:
                cursor = raw.cursor()
                cursor.execute(STAMP_SQL)
                self.readings += 1
                return tuple(cursor.fetchone())
            except self.engine.dialect.loaded_dbapi.Error:
                raw.invalidate()
                if attempt == 2:
                    raise
            finally:
                raw.close()
        raise AssertionError("unreachable")

    def _drop(self) -> None:
        if self._closer is not None:
            self._closer()  # the listening connection closed, never back in the pool
        self._connection = self._closer = None
        self._stale = True

    def close(self) -> None:
        if self.pid != os.getpid():  # a forked process's copy: its connection is the parent's to close
            return
        with self._lock:
            self._drop()
        self.engine.dispose()
