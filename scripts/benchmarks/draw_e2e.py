"""Benchmark: the draw a supervisor triggers over HTTP, end to end, against the bare work of it.

``python scripts/bench.py draw --e2e --size 1000000 --database-url URL [--inspectors 60,300]``

For each inspector count it builds a fresh registry in the database at ``--database-url`` (its
schema is DROPPED and migrated again: use a database of its own; without it, a SQLite file):
``--size`` enterprises (30 regions × 50 categories, random credit grades, written by COPY), the
inspectors, 40 labs and a 5% risk-weighted plan. Then, in the same run and on the same data:

- the bare baseline, timed in this process: fetch the candidates' codes, regions and grades with
  a plain cursor, run the ticket loop as DESIGN.md writes it, take the lowest 5% of tickets and
  COPY the draw's rows (one selection, one sample and two team rows per drawn enterprise, ids
  reserved from the sequences) into the three tables the draw writes — then roll back;
- the draw itself: ``POST /api/v1/plans/{id}/draw`` against ``gunicorn wsgi:app`` started with
  gunicorn.conf.py (2 sync workers, the default 30 s worker timeout), timed by the client;
  the worker's peak resident memory is read from ``/proc/<pid>/status`` (VmHWM);
- after the draw: ``GET /plans/{id}/draw``, publishing it, ``GET …/draw/verify`` twice (the
  second is served from storage) and the public page ``/draws/{id}``.

It prints the figures and the ratio draw / baseline (goal ≤ 2×, worker peak < 512 MiB, a 201
inside the worker timeout).
"""

import argparse
import hashlib
import heapq
import json
import math
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scripts.benchmarks.draw import CATEGORIES, REGIONS
from scripts.benchmarks.http import Gunicorn

ROOT = Path(__file__).resolve().parents[2]
GOAL_RATIO = 2.0
GOAL_RSS = 512 * 2**20
RATIO = 0.05
CHUNK = 100_000
LOAD = """
import random, sys
from app import create_app
from extensions import db
from models.base import utcnow
from models.registry import Category, Enterprise, Inspector, Lab, enterprise_categories, lab_categories
from sampling.credit_code import make_code
from services import calendar, plans, users
from services.bulk import insert_rows
size, inspectors, regions, categories, ratio = {args!r}
app = create_app()
with app.app_context():
    now = utcnow()
    insert_rows(Category.__table__, [
        {{"id": i + 1, "code": c, "name": f"基准类别{{i}}", "grp": "industrial", "key_supervised": False,
          "risk_level": 1, "created_at": now}} for i, c in enumerate(categories)])
    rng = random.Random(7)
    for start in range(0, size, {chunk}):
        span = range(start + 1, min(size, start + {chunk}) + 1)
        insert_rows(Enterprise.__table__, [
            {{"id": n, "credit_code": make_code(f"9144{{n:013d}}"), "name": f"基准企业{{n}}", "region": regions[n % 30],
              "scale": "small", "status": "active", "credit_grade": "ABCD"[rng.randrange(4)], "is_producer": True,
              "is_seller": False, "is_online_shop": False, "is_importer": False, "created_at": now, "updated_at": now}}
            for n in span])
        insert_rows(enterprise_categories, [
            {{"enterprise_id": n, "category_id": (n // 30) % 50 + 1}} for n in span])
    insert_rows(Inspector.__table__, [
        {{"id": i + 1, "code": f"INS{{i:04d}}", "name": f"检查员{{i}}", "region": regions[i % 30], "active": True,
          "created_at": now}} for i in range(inspectors)])
    insert_rows(Lab.__table__, [
        {{"id": i + 1, "code": f"LAB{{i:02d}}", "name": f"实验室{{i}}", "accreditation": "CNAS", "capacity": size,
          "active": True, "created_at": now}} for i in range(40)])
    insert_rows(lab_categories, [
        {{"lab_id": i + 1, "category_id": j + 1}} for i in range(40) for j in range(50) if j % 10 == i % 10])
    if db.engine.dialect.name == "postgresql":
        for table in ("categories", "enterprises", "inspectors", "labs"):
            db.session.execute(db.text(f"SELECT setval(pg_get_serial_sequence('{{table}}', 'id'), "
                                       f"(SELECT max(id) FROM {{table}}))"))
    db.session.commit()
    plan = plans.create_plan({{"name": "基准计划", "level": "municipal", "kind": "routine", "period": "2026Q4",
                              "category_codes": categories, "sampling_ratio": ratio, "risk_weighting": True}},
                             actor="bench", now=calendar.now())
    _, token = users.create_user("bench", "supervisor", actor="bench", now=calendar.now())
    if db.engine.dialect.name == "postgresql":
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()
    print(plan.id, token)
"""


def reset_schema(env: dict) -> None:
    """An empty database at the migrations' head (PostgreSQL: the public schema dropped first)."""
    url = env["DATABASE_URL"]
    if url.startswith("postgresql"):
        from sqlalchemy import create_engine, text

        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    run_python(env, "-m", "flask", "--app", "wsgi", "db", "upgrade")


def run_python(env: dict, *args: str) -> str:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{args[0]} {args[1][:40]!r} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return done.stdout


def load(env: dict, size: int, inspectors: int) -> tuple[int, str, float]:
    """Fresh schema, registry and plan; (plan id, supervisor token, seconds)."""
    start = time.perf_counter()
    reset_schema(env)
    script = LOAD.format(args=(size, inspectors, list(REGIONS), CATEGORIES, RATIO), chunk=CHUNK)
    plan_id, token = run_python(env, "-c", script).split()[-2:]
    return int(plan_id), token, time.perf_counter() - start


def baseline(env: dict, plan_id: int) -> dict:
    """Fetch + ticket loop + COPY of the same draw's rows, rolled back; seconds of each.

    The rows have the shape the draw writes; they go through ``services.bulk.insert_tuples``,
    which is one COPY per table on PostgreSQL (the statement the issue names as the floor)."""
    from sqlalchemy import text

    from app import create_app
    from config import Config
    from extensions import db
    from models.plans import Draw, Selection
    from models.samples import Sample, sample_team
    from services import calendar
    from services.bulk import insert_tuples
    from services.draws import SAMPLE_COLUMNS, SELECTION_COLUMNS

    app = create_app({"SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"], "SECRET_KEY": "bench"})
    weights = Config.RISK_WEIGHTS
    figures = {}
    with app.app_context():
        connection = db.session.connection()
        start = time.perf_counter()
        cursor = connection.connection.cursor()
        cursor.execute("SELECT e.id, e.credit_code, e.region, e.credit_grade, ec.category_id FROM enterprises e "
                       "JOIN enterprise_categories ec ON ec.enterprise_id = e.id WHERE e.status = 'active'")
        rows = cursor.fetchall()
        cursor.close()
        figures["fetch"] = time.perf_counter() - start
        start = time.perf_counter()
        seed = hashlib.sha256(b"baseline").hexdigest()
        tickets = []
        for row in rows:
            digest = hashlib.sha256(f"{seed}:{plan_id}:{row[1]}".encode()).digest()
            u = (int.from_bytes(digest[:8], "big") + 0.5) / 2**64
            tickets.append(-math.log(u) / weights[row[3]])
        count = round(RATIO * len(rows))
        chosen = heapq.nsmallest(count, range(len(rows)), key=tickets.__getitem__)
        figures["tickets"] = time.perf_counter() - start
        start = time.perf_counter()
        now = calendar.now()
        draw = Draw(plan_id=plan_id, public_entropy="", seed=seed, registry_hash=seed, algorithm="baseline",
                    allocation={}, snapshot=b"", drawn_at=now)
        db.session.add(draw)
        db.session.flush()
        ids = connection.execute(text(
            "SELECT nextval(pg_get_serial_sequence('selections', 'id')), "
            "nextval(pg_get_serial_sequence('samples', 'id')) FROM generate_series(1, :n)"), {"n": count}).all()
        selections, samples, team = [], [], []
        for position, (index, (selection_id, sample_id)) in enumerate(zip(chosen, ids, strict=True), start=1):
            enterprise_id, code, region, grade, category_id = rows[index]
            selections.append((selection_id, draw.id, position, enterprise_id, code, category_id,
                               f"{region}|{category_id}|{grade}", tickets[index], ["INS0001", "INS0002"], 1))
            samples.append((sample_id, f"2026Q4-P{plan_id:04d}-{position:05d}", selection_id, enterprise_id,
                            category_id, 1, plan_id, "2026Q4", "municipal", "routine", "draw", "planned", now))
            team.extend(((sample_id, 1), (sample_id, 2)))
        for table, columns, rows_of in ((Selection.__table__, SELECTION_COLUMNS, selections),
                                        (Sample.__table__, SAMPLE_COLUMNS, samples),
                                        (sample_team, ["sample_id", "inspector_id"], team)):
            lap = time.perf_counter()
            insert_tuples(table, columns, rows_of)
            figures[f"copy_{table.name}"] = time.perf_counter() - lap
        figures["copy"] = time.perf_counter() - start
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()
    figures["rows"] = len(rows)
    figures["drawn"] = count
    figures["total"] = figures["fetch"] + figures["tickets"] + figures["copy"]
    return figures


def peak_rss(pid: int) -> int:
    """The peak resident set (VmHWM) of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def workers(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def timed_request(url: str, method: str = "GET", token: str | None = None, body: dict | None = None):
    """(seconds, status, body bytes) of one request; a dropped connection is status 0."""
    import urllib.error
    import urllib.request

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=300) as resp:
            status, payload = resp.status, resp.read()
    except urllib.error.HTTPError as error:
        status, payload = error.code, error.read()
    except (ConnectionError, urllib.error.URLError) as error:
        status, payload = 0, str(error).encode()
    return time.perf_counter() - start, status, payload


def http_draw(env: dict, plan_id: int, token: str) -> dict:
    """The draw over HTTP and what a user does right after it."""
    figures = {}
    with Gunicorn("wsgi:app", env, workers=2) as server:
        api = f"{server.base}/api/v1/plans/{plan_id}"
        for _ in range(4):  # both workers up and warm
            timed_request(server.base + "/healthz")
        pids = workers(server.process.pid)
        figures["rss_before"] = max(peak_rss(pid) for pid in pids)
        seconds, status, payload = timed_request(api + "/draw", "POST", token, {"public_entropy": "bench"})
        figures.update(draw=seconds, status=status, body_bytes=len(payload))
        figures["rss_peak"] = max(peak_rss(pid) for pid in pids if Path(f"/proc/{pid}").exists())
        if status != 201:
            figures["error"] = payload[:500].decode(errors="replace")
            return figures
        figures["selections"] = len(json.loads(payload)["selections"])
        figures["get_draw"], status, _ = timed_request(api + "/draw", token=token)
        timed_request(api + "/draw/publish", "POST", token)
        figures["verify_first"], status, payload = timed_request(api + "/draw/verify")
        figures["verified"] = status == 200 and json.loads(payload).get("verified") is True
        figures["verify_again"], _, _ = timed_request(api + "/draw/verify")
        figures["page"], status, payload = timed_request(f"{server.base}/draws/{plan_id}")
        figures["page_bytes"] = len(payload)
    return figures


def report(size: int, inspectors: int, base: dict, draw: dict, loaded: float, url: str) -> bool:
    ok = draw["status"] == 201
    print(f"\n{size:,} enterprises, {inspectors} inspectors, 40 labs, 5% risk-weighted "
          f"({url.split('://')[0]}; registry loaded in {loaded:.1f} s)")
    print(f"  baseline              {base['total']:.2f} s = fetch {base['fetch']:.2f} + ticket loop "
          f"{base['tickets']:.2f} + COPY of the {base['drawn']:,} drawn rows {base['copy']:.2f}")
    print(f"    COPY by table       selections {base['copy_selections']:.2f}, samples {base['copy_samples']:.2f}, "
          f"sample_team {base['copy_sample_team']:.2f}")
    if not ok:
        print(f"  POST /plans/{{id}}/draw  {draw['draw']:.2f} s, status {draw['status']}: {draw.get('error', '')}")
        return False
    ratio = draw["draw"] / base["total"]
    print(f"  POST /plans/{{id}}/draw  {draw['draw']:.2f} s, 201, {draw['selections']:,} selections, "
          f"{draw['body_bytes'] / 2**20:.1f} MiB answer")
    print(f"  ratio                 {ratio:.2f}× (goal ≤ {GOAL_RATIO:g}×)")
    print(f"  worker peak RSS       {draw['rss_peak'] / 2**20:.0f} MiB (idle worker {draw['rss_before'] / 2**20:.0f} "
          f"MiB; goal < {GOAL_RSS // 2**20} MiB)")
    print(f"  GET /plans/{{id}}/draw   {draw['get_draw']:.2f} s")
    print(f"  GET …/draw/verify     {draw['verify_first']:.2f} s, then {draw['verify_again']:.3f} s "
          f"(verified={draw['verified']})")
    print(f"  public /draws/{{id}}    {draw['page']:.3f} s, {draw['page_bytes'] / 1024:.0f} KiB (first page)")
    print(f"  load average          {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    return ratio <= GOAL_RATIO and draw["rss_peak"] < GOAL_RSS


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bench.py draw --e2e", description=__doc__.splitlines()[0])
    parser.add_argument("--e2e", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=1_000_000, help="enterprises (default 1,000,000)")
    parser.add_argument("--inspectors", default="60,300", help="inspector counts, comma-separated (default 60,300)")
    parser.add_argument("--database-url", help="PostgreSQL database of its own (its schema is DROPPED)")
    args = parser.parse_args(argv)
    url = args.database_url
    with tempfile.TemporaryDirectory(prefix="bench-draw-") as tmp:
        url = url or f"sqlite:///{Path(tmp) / 'draw.db'}"
        if not url.startswith("postgresql"):
            print("the baseline COPY needs PostgreSQL: pass --database-url postgresql+psycopg://…", file=sys.stderr)
            return 2
        env = {**os.environ, "APP_ENV": "production", "SECRET_KEY": secrets.token_hex(32),
               "AUDIT_KEY": secrets.token_hex(32), "LOG_LEVEL": "WARNING", "DATABASE_URL": url}
        ok = True
        for inspectors in (int(n) for n in args.inspectors.split(",")):
            plan_id, token, loaded = load(env, args.size, inspectors)
            base = baseline(env, plan_id)
            draw = http_draw(env, plan_id, token)
            ok = report(args.size, inspectors, base, draw, loaded, url) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
