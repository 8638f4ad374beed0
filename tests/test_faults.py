"""Faults: a write killed halfway leaves nothing behind; a lost database is a clean 503 and the
service recovers when it returns.

The killed writes run the real CLI (``flask --app wsgi ...``) in a subprocess against the test
database and are killed with SIGKILL while they hold the database's write lock, i.e. inside
their transaction: SQLite's reserved lock (probed with ``BEGIN IMMEDIATE``) or PostgreSQL's
row-exclusive lock on the table being written.
"""

import gc
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import POSTGRES
from sqlalchemy import func, select, text

from app import create_app
from extensions import db
from models.base import Base
from models.registry import Category, Inspector, Lab
from sampling.credit_code import make_code
from scripts.benchmarks.importer import CATEGORIES, REGIONS, make_csv

ROOT = Path(__file__).resolve().parent.parent
ERROR_KEYS = {"code", "status", "message", "errors"}


# --- killing a write halfway -----------------------------------------------------------------

def flask_cli(url: str, *args: str) -> subprocess.Popen:
    """``flask --app wsgi ARGS`` against ``url``, in its own process."""
    env = {**os.environ, "DATABASE_URL": url, "APP_ENV": "development", "LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def holds_write_lock(url: str, table: str) -> bool:
    """Whether another connection is inside a write transaction on ``table``."""
    if url.startswith("sqlite"):
        probe = sqlite3.connect(url.split("///", 1)[1], timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError as error:  # "database is locked": a writer is in its transaction
            return "locked" in str(error)
        finally:
            probe.close()
    with db.engine.connect() as conn:
        return bool(conn.scalar(text(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname = :table AND l.mode = 'RowExclusiveLock' AND l.pid <> pg_backend_pid()"
        ), {"table": table}))


def kill_inside_write(process: subprocess.Popen, url: str, table: str, timeout: float = 120) -> None:
    """SIGKILL ``process`` as soon as it holds the write lock on ``table``; fail if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"the command ended before it was caught writing: {out.decode()} {err.decode()[-2000:]}")
        if holds_write_lock(url, table):
            process.send_signal(signal.SIGKILL)
            process.communicate()
            assert process.returncode == -signal.SIGKILL
            return
        time.sleep(0.002)
    process.kill()
    pytest.fail(f"the command did not start writing {table} within {timeout} s")


def counts() -> dict[str, int]:
    db.session.remove()
    return {t.name: db.session.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


def seed_categories() -> None:
    db.session.add_all(Category(code=c, name=f"类别{c}", group="industrial") for c in CATEGORIES)
    db.session.commit()


def test_an_import_killed_halfway_leaves_no_enterprise_of_its_file(app, db_session, tmp_path, client, auth):
    seed_categories()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    path = tmp_path / "enterprises.csv"
    path.write_bytes(make_csv(60_000, seed=11))
    before = counts()

    kill_inside_write(flask_cli(url, "enterprises", "import", str(path)), url, "enterprises")

    assert counts() == before  # no enterprise, no category link, no audit event
    if url.startswith("sqlite"):
        assert db_session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    # The database is not wedged: the next write goes through.
    resp = client.post("/api/v1/enterprises", headers=auth.headers("supervisor"), json={
        "credit_code": make_code("91441900MA4W00001"), "name": "东莞市恢复测试有限公司", "region": REGIONS[0],
        "category_codes": [CATEGORIES[0]]})
    assert resp.status_code == 201, resp.json


def make_drawable_plan(sample_size: int) -> int:
    """A plan over a registry big enough that storing its draw takes a while; its id."""
    from services import calendar, plans, uploads
    from services.enterprise_import import import_enterprises

    seed_categories()
    import_enterprises(uploads.decode_upload(make_csv(3 * sample_size, seed=5)), actor="test")
    # 199 inspectors, not 200: when 2 x 3000 seats fill every load cap exactly, the draw may dead-end.
    db.session.add_all(Inspector(code=f"I{n:03d}", name=f"检查员{n}", region=REGIONS[n % len(REGIONS)])
                       for n in range(199))
    categories = db.session.scalars(select(Category)).all()
    db.session.add_all(Lab(code=f"L{n}", name=f"检验所{n}", accreditation=f"CNAS L{n}", capacity=sample_size,
                           categories=list(categories)) for n in range(3))
    db.session.commit()
    plan = plans.create_plan({"name": "故障测试计划", "level": "municipal", "kind": "routine", "period": "2026Q4",
                              "category_codes": list(CATEGORIES), "sample_size": sample_size, "team_size": 2,
                              "avoid_same_region": False, "risk_weighting": False}, actor="test", now=calendar.now())
    return plan.id


def test_a_draw_killed_halfway_leaves_no_draw_and_no_samples(app, db_session):
    pytest.importorskip("services.draws", reason="the draw (services/draws.py) is not there yet")
    plan_id = make_drawable_plan(sample_size=3000)
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    before = counts()

    kill_inside_write(flask_cli(url, "plans", "draw", str(plan_id)), url, "draws")

    after = counts()
    assert after == before
    assert after["draws"] == 0 and after["samples"] == 0 and after["selections"] == 0
    # The plan can still be drawn, exactly once.
    from services import calendar, draws

    assert len(draws.draw_plan(plan_id, "", actor="test", now=calendar.now())["selections"]) == 3000


# --- the database going away -----------------------------------------------------------------

def assert_clean_error(resp, status):
    assert resp.status_code == status, (resp.request.path, resp.status_code, resp.get_data(as_text=True)[:300])
    body = resp.get_json()
    assert body is not None and set(body) == ERROR_KEYS and body["code"] == status, body
    assert "Traceback" not in resp.get_data(as_text=True) and 'File "' not in resp.get_data(as_text=True)


NO_DATABASE = {"/api/v1/reports/sample-size"}  # pure arithmetic: answers without the database
REQUIRED_QUERY = {"q": "东莞", "target": "0.94", "expected": "0.90"}  # a valid value per required argument


def api_reads(app) -> dict[str, bool]:
    """Every documented GET under /api/v1 without path parameters, with its required query
    arguments filled in, and whether it needs a token."""
    spec = app.test_client().get("/api/openapi.json").get_json()
    reads = {}
    for path, item in spec["paths"].items():
        if path.startswith("/api/v1/") and "{" not in path and "get" in item:
            parameters = item["get"].get("parameters", [])
            required = [p["name"] for p in parameters if p.get("required") and p["in"] == "query"]
            query = "&".join(f"{name}={REQUIRED_QUERY[name]}" for name in required)
            reads[path + (f"?{query}" if query else "")] = bool(item["get"].get("security"))
    return reads


def assert_down(app, token: str) -> None:
    """/healthz says 503; every other request is a 503 in the error shape, with or without a token."""
    client = app.test_client()
    health = client.get("/healthz")
    assert health.status_code == 503 and health.get_json() == {"status": "error", "database": "unreachable"}
    for path, needs_token in api_reads(app).items():
        if path.split("?")[0] in NO_DATABASE:
            assert client.get(path).status_code == 200
            continue
        # A token is looked up in the database: 503. Without one, a protected read is a 401
        # (no database needed to say so) and a public read is a 503, never a 500.
        resp = client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert_clean_error(resp, 503)
        resp = client.get(path)
        assert_clean_error(resp, 401 if needs_token else 503)
    assert_clean_error(client.post("/api/v1/enterprises", json={}, headers={"Authorization": f"Bearer {token}"}), 503)


def assert_up(app, token: str) -> None:
    client = app.test_client()
    assert client.get("/healthz").get_json() == {"status": "ok", "database": "ok"}
    resp = client.get("/api/v1/enterprises", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.get_data(as_text=True)


def own_app(url: str):
    """A second app on ``url`` (the session app keeps its own database)."""
    return create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": url,
                       "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "connect_args": connect_args(url)}})


def connect_args(url: str) -> dict:
    return {"connect_timeout": 2} if url.startswith("postgresql") else {}


def supervisor_token(app) -> str:
    from models.auth import User
    from services.users import hash_token, new_token

    token = new_token()
    with app.app_context():
        db.session.add(User(name="fault-test", role="supervisor", token_hash=hash_token(token)))
        db.session.commit()
        db.session.remove()
    return token


def test_a_database_on_a_closed_port_is_a_503_everywhere(app):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = own_app(f"postgresql+psycopg://postgres@127.0.0.1:{port}/nowhere")
    assert_down(down, "some-token")


@pytest.mark.skipif(POSTGRES, reason="SQLite variant; the PostgreSQL variant cuts the connection instead")
def test_a_vanished_sqlite_file_is_a_503_and_the_app_recovers(tmp_path):
    home = tmp_path / "data"
    home.mkdir()
    url = f"sqlite:///{home / 'spotcheck.db'}"
    other = own_app(url)
    with other.app_context():
        db.create_all()
    token = supervisor_token(other)
    assert_up(other, token)

    home.rename(tmp_path / "moved")  # the volume goes away
    with other.app_context():
        db.engine.dispose()
    assert_down(other, token)

    (tmp_path / "moved").rename(home)  # and comes back
    assert_up(other, token)
    with other.app_context():
        db.engine.dispose()


class TcpProxy:
    """A TCP forwarder to PostgreSQL that can be cut (every connection dropped) and restored."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.port = None
        self.sockets: list[socket.socket] = []
        self.listener = None

    def start(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port or 0))
        self.port = self.listener.getsockname()[1]
        self.listener.listen()
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def cut(self) -> None:
        for sock in [self.listener, *self.sockets]:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self.sockets.clear()

    def _accept(self, listener) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self.sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client), daemon=True).start()

    @staticmethod
    def _pump(source, target) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


# A connection the cut killed may be dropped by the pool without psycopg closing it; it is
# collected here (a ResourceWarning of this test), not in whichever test the collector next runs in.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.skipif(not POSTGRES, reason="needs PostgreSQL (TEST_DATABASE_URL)")
def test_a_lost_postgresql_connection_is_a_503_and_the_app_recovers(app):
    from sqlalchemy.engine import make_url

    real = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    proxy = TcpProxy((real.host or "127.0.0.1", real.port or 5432))
    proxy.start()
    other = own_app(real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False))
    token = supervisor_token(other)
    try:
        assert_up(other, token)
        proxy.cut()  # the server goes away; pooled connections die
        assert_down(other, token)
        proxy.start()  # and comes back on the same address
        assert_up(other, token)
    finally:
        proxy.cut()
        with other.app_context():
            db.engine.dispose()
        gc.collect()


# --- PostgreSQL itself stopped in the middle of a write ---------------------------------------
#
# A private PostgreSQL cluster (initdb into a temporary directory, on a free port) is started for
# these tests and stopped with ``pg_ctl stop -m immediate`` while an import or a draw is inside its
# transaction; the shared server is never touched. Each write is caught at two moments: while it
# works on its own (the import staging its rows, the draw computing over the frozen registry) and
# halfway through its writes, held there by a lock the test takes on a table it writes later
# (the merge into ``enterprises``, the ``samples`` after ``draws`` and ``selections``).

APP_NAME = "spotcheck-under-fault"  # the app's connections, told apart in pg_stat_activity


def postgres_bindir() -> Path | None:
    """The newest PostgreSQL server binaries on this machine (initdb, pg_ctl), or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name)
                   if p.parent.parent.name.isdigit() else 0)
    return found[-1].parent if found and (found[-1].parent / "initdb").exists() else None


class PrivateCluster:
    """A throw-away PostgreSQL server in its own directory, on its own port, trust authentication."""

    def __init__(self, bindir: Path):
        import tempfile

        self.bindir = bindir
        self.home = Path(tempfile.mkdtemp(prefix="pgfault", dir="/tmp"))  # short: it holds the socket
        self.data = self.home / "data"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.as_postgres = os.geteuid() == 0  # initdb refuses to run as root
        if self.as_postgres:
            import shutil

            shutil.chown(self.home, "postgres")
        self.run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8",
                 "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def conninfo(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres connect_timeout=2"

    def run(self, tool: str, *args: str) -> None:
        command = [str(self.bindir / tool), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{tool} failed: {done.stdout} {done.stderr} {self.log()}"

    def log(self) -> str:
        log = self.home / "log"
        return log.read_text()[-3000:] if log.exists() else ""

    def start(self) -> None:
        options = f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.home / "log"), "-w", "-t", "30", "start")

    def stop(self) -> None:
        """Stop at once: every backend is cut off, nothing of an open transaction is kept."""
        self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def remove(self) -> None:
        import shutil

        if self.running():
            self.stop()
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster():
    bindir = postgres_bindir()
    if bindir is None:
        message = "the PostgreSQL server binaries (initdb, pg_ctl under /usr/lib/postgresql) are not installed"
        if os.environ.get("CI") or os.environ.get("REQUIRE_POSTGRES"):
            pytest.fail(message)
        pytest.skip(message)
    private = PrivateCluster(bindir)
    try:
        private.start()
        yield private
    finally:
        private.remove()


@pytest.fixture
def stoppable(cluster):
    """An app on the private cluster, with fresh tables and a supervisor's token: ``(app, token)``."""
    if not cluster.running():
        cluster.start()
    other = create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": cluster.url, "SQLALCHEMY_ENGINE_OPTIONS": {
        "pool_pre_ping": True, "connect_args": {"connect_timeout": 2, "application_name": APP_NAME}}})
    with other.app_context():
        db.drop_all()
        db.create_all()
    token = supervisor_token(other)
    try:
        yield other, token
    finally:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()
        gc.collect()  # the connections the stop killed are collected here, in this test


def app_backend_holds(probe, table: str, granted: bool) -> bool:
    """Whether the app's connection holds (``granted``) or waits for a lock on ``table``."""
    return bool(probe.execute(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "JOIN pg_stat_activity a ON a.pid = l.pid WHERE a.application_name = %s AND c.relname = %s "
        "AND l.granted = %s", (APP_NAME, table, granted)).fetchone()[0])


def stop_mid_request(cluster: PrivateCluster, send, caught, timeout: float = 40):
    """Send a request in a thread; stop the server as soon as ``caught(probe)`` (a connection of
    the test's own says so); the request's answer."""
    import psycopg

    answers, failures = [], []

    def request():
        try:
            answers.append(send())
        except BaseException as error:  # noqa: BLE001 - reported below, in the test's thread
            failures.append(error)

    worker = threading.Thread(target=request, daemon=True)
    with psycopg.connect(cluster.conninfo, autocommit=True) as probe:
        worker.start()
        deadline = time.monotonic() + timeout
        while not caught(probe):
            assert worker.is_alive(), f"the request ended before it was caught: {answers or failures}"
            assert time.monotonic() < deadline, f"the request was not caught within {timeout} s"
            time.sleep(0.002)
        cluster.stop()
    worker.join(timeout)
    assert not worker.is_alive(), "the request still hangs after the server stopped"
    assert not failures, failures
    return answers[0]


def holding(cluster: PrivateCluster, lock: str | None):
    """A connection of the test's own holding ``LOCK TABLE lock`` (None: no lock), or None."""
    if lock is None:
        return None
    import psycopg

    holder = psycopg.connect(cluster.conninfo)
    holder.execute(f"LOCK TABLE {lock} IN SHARE MODE")  # writers of the table wait for it
    return holder


def row_counts(app) -> dict[str, int]:
    with app.app_context():
        found = counts()
        db.session.remove()
        return found


def upload(csv: bytes) -> dict:
    import io

    return {"file": (io.BytesIO(csv), "enterprises.csv")}


@pytest.mark.postgres
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("moment", ["staging its rows", "merging, blocked on enterprises"])
def test_postgresql_stopped_mid_import_is_a_503_nothing_written_and_the_next_import_succeeds(
        cluster, stoppable, moment):
    from services.enterprise_import import STAGED

    other, token = stoppable
    headers = {"Authorization": f"Bearer {token}"}
    with other.app_context():
        seed_categories()
    before = row_counts(other)
    csv = make_csv(30_000 if moment.startswith("staging") else 3_000, seed=23)
    blocker = holding(cluster, None if moment.startswith("staging") else "enterprises")
    if blocker is None:  # the import's transaction is open and has staged (COPY) a first chunk of rows
        def caught(probe):
            return bool(probe.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND xact_start IS NOT NULL "
                "AND query LIKE %s", (APP_NAME, f"COPY {STAGED.name} %")).fetchone()[0])
    else:  # every row staged, the merge waits for the test's lock
        def caught(probe):
            return app_backend_holds(probe, "enterprises", granted=False)
    try:
        resp = stop_mid_request(cluster, lambda: other.test_client().post(
            "/api/v1/enterprises/import", headers=headers, data=upload(csv), content_type="multipart/form-data"),
            caught)
    finally:
        if blocker is not None:
            blocker.close()
    assert_clean_error(resp, 503)
    assert "nothing was written" in resp.get_json()["message"]

    cluster.start()
    after = row_counts(other)
    assert after == before, "the stopped import left rows behind"
    client = other.test_client()
    listed = client.get("/api/v1/enterprises", headers=headers)
    assert listed.status_code == 200 and listed.get_json() == [], listed.get_data(as_text=True)[:300]
    again = client.post("/api/v1/enterprises/import", headers=headers, data=upload(make_csv(200, seed=23)),
                        content_type="multipart/form-data")
    assert again.status_code == 200 and again.get_json() == {"created": 200, "updated": 0}, again.get_json()


@pytest.mark.postgres
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("moment", ["computing over the frozen registry", "writing, blocked on samples"])
def test_postgresql_stopped_mid_draw_is_a_503_nothing_written_and_the_next_draw_succeeds(
        cluster, stoppable, moment):
    other, token = stoppable
    headers = {"Authorization": f"Bearer {token}"}
    with other.app_context():
        plan_id = make_drawable_plan(sample_size=3000)
        db.session.remove()
    before = row_counts(other)
    blocker = holding(cluster, None if moment.startswith("computing") else "samples")
    if blocker is None:  # the registry is read (and locked against schema changes) inside the draw's transaction
        def caught(probe):
            return app_backend_holds(probe, "enterprises", granted=True)
    else:  # the draw and its selections are written, the samples wait for the test's lock
        def caught(probe):
            return app_backend_holds(probe, "samples", granted=False)
    try:
        resp = stop_mid_request(cluster, lambda: other.test_client().post(
            f"/api/v1/plans/{plan_id}/draw", headers=headers, json={}), caught)
    finally:
        if blocker is not None:
            blocker.close()
    assert_clean_error(resp, 503)

    cluster.start()
    after = row_counts(other)
    assert after == before, "the stopped draw left rows behind"
    assert after["draws"] == 0 and after["selections"] == 0 and after["samples"] == 0
    client = other.test_client()
    assert client.get(f"/api/v1/plans/{plan_id}/draw", headers=headers).status_code == 404
    drawn = client.post(f"/api/v1/plans/{plan_id}/draw", headers=headers, json={})
    assert drawn.status_code == 201, drawn.get_data(as_text=True)[:300]
    assert len(drawn.get_json()["selections"]) == 3000
    assert row_counts(other)["samples"] == 3000
