"""Benchmark: the enterprise CSV import, new and existing rows, against a COPY baseline.

Three imports of the same N credit codes, each timed end to end (open the file, decode, check
every row, merge, audit, commit) in a process of its own whose peak RSS is reported:

- ``new``: into an empty registry (all N created);
- ``existing``: the same file again (all N updated, nothing changed);
- ``changed``: the same codes with every name, region and category changed (all N updated).

The baseline is the bare bulk load of the same rows into empty tables: ``csv.reader`` and COPY
of the enterprises and their category links on PostgreSQL; one ``executemany`` per table on
SQLite, which has no COPY. The goal is a ratio (import rows/s over baseline rows/s) of at least
1/3 for every kind of import. ``--http`` runs the three imports as uploads to a gunicorn worker
(its default settings, 30 s timeout) and reports the worker's peak RSS instead.

    python scripts/bench.py import --rows 200000
    python scripts/bench.py import --rows 200000 --database-url postgresql+psycopg://postgres@127.0.0.1/bench --http
"""

import argparse
import csv
import io
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from sampling.credit_code import ALPHABET, make_code

GOAL = 1 / 3
SMALL_ARGV = ["--rows", "20000"]  # what ``bench.py all`` runs
CATEGORIES = [f"BC{n:02d}" for n in range(1, 21)]
REGIONS = ["莞城街道", "东城街道", "南城街道", "万江街道", "石龙镇", "虎门镇", "长安镇", "常平镇"]
ROOT = Path(__file__).resolve().parents[2]
HTTP_PORT = 8170  # the registry's benchmark port (8100-8199 are the benchmarks')
SCENARIOS = ("new", "existing", "changed")
SECRETS = {"SECRET_KEY": "bench", "AUDIT_KEY": "bench"}  # production settings want both


def make_csv(rows: int, seed: int = 7, variant: int = 0) -> bytes:
    """An enterprise CSV of ``rows`` distinct, valid enterprises (UTF-8).

    The same ``seed`` gives the same credit codes; another ``variant`` changes every other field.
    """
    rng = random.Random(seed)
    fields = random.Random(seed * 1000 + variant)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["credit_code", "name", "region", "address", "scale", "category_codes", "status"])
    seen = set()
    while len(seen) < rows:
        code = make_code("91441900" + "".join(rng.choice(ALPHABET) for _ in range(9)))
        if code in seen:
            continue
        seen.add(code)
        n = len(seen)
        cats = ";".join(fields.sample(CATEGORIES, fields.randint(1, 3)))
        writer.writerow([code, f"东莞市基准{n}制品有限公司" + ("" if not variant else f"（{variant}）"),
                         fields.choice(REGIONS), f"测试路{n}号", fields.choice(("large", "medium", "small", "micro")),
                         cats, "active"])
    return out.getvalue().encode("utf-8")


def _make_app(url: str, fresh: bool = False):
    from app import create_app
    from extensions import db

    app = create_app({"ENV_NAME": "production", **SECRETS, "SQLALCHEMY_DATABASE_URI": url})
    if fresh:
        with app.app_context():
            db.drop_all()
            db.create_all()
            from models.registry import Category

            db.session.add_all(Category(code=c, name=f"基准类别{c}", group="industrial") for c in CATEGORIES)
            db.session.commit()
            db.engine.dispose()
    return app


def child(url: str, path: str) -> None:
    """In a process of its own: import ``path`` and print seconds, summary and peak RSS as JSON."""
    from extensions import db
    from services.enterprise_import import import_enterprises
    from services.uploads import open_csv

    app = _make_app(url)
    with app.app_context():
        before = peak_rss_mib(os.getpid())
        start = time.perf_counter()
        with open(path, "rb") as handle, open_csv(handle) as text:
            summary = import_enterprises(text, actor="bench")
        elapsed = time.perf_counter() - start
        db.engine.dispose()
    print(json.dumps({"seconds": elapsed, "summary": summary, "rss_mib": peak_rss_mib(os.getpid()),
                      "rss_start_mib": before}))


def peak_rss_mib(pid: int) -> float:
    """A process's peak resident set (VmHWM: unlike ``ru_maxrss``, not inherited across exec)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))) / 1024


def run_service(url: str, path: Path) -> dict:
    """The import of ``path`` in a fresh process (as the CLI runs it)."""
    out = subprocess.run([sys.executable, "-m", "scripts.benchmarks.importer", "--child", url, str(path)],
                         cwd=ROOT, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"the import of {path.name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


class Gunicorn:
    """``gunicorn wsgi:app`` with one sync worker and the project's settings (a 30 s timeout, or
    ``GUNICORN_TIMEOUT`` from the environment)."""

    def __init__(self, url: str):
        self.env = {**os.environ, "DATABASE_URL": url, "APP_ENV": "production", **SECRETS, "WEB_CONCURRENCY": "1",
                    "GUNICORN_BIND": f"127.0.0.1:{HTTP_PORT}", "LOG_LEVEL": "WARNING"}

    def __enter__(self):
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.process = subprocess.Popen([str(gunicorn), "wsgi:app"], cwd=ROOT, env=self.env)
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{HTTP_PORT}/healthz", timeout=2)
                return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(timeout=30)

    def worker_peak_rss_mib(self) -> float:
        """The peak RSS of the worker (the master's one child)."""
        pid = self.process.pid
        return peak_rss_mib(int(Path(f"/proc/{pid}/task/{pid}/children").read_text().split()[0]))


def supervisor_token(url: str) -> str:
    """A supervisor's token made with the CLI, as an operator would."""
    flask = Path(sys.executable).with_name("flask")
    env = {**os.environ, "DATABASE_URL": url, "APP_ENV": "production", **SECRETS}
    out = subprocess.run([str(flask), "--app", "wsgi", "users", "create", "--role", "supervisor",
                          f"bench-{secrets.token_hex(3)}"], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True)
    return out.stdout.strip().splitlines()[-1]


def run_http(server: Gunicorn, token: str, path: Path) -> dict:
    """The import of ``path`` as an upload to ``POST /api/v1/enterprises/import``."""
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"e.csv\"\r\n"
            f"Content-Type: text/csv\r\n\r\n").encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{HTTP_PORT}/api/v1/enterprises/import", data=body, method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={boundary}"})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=900) as response:
            summary = json.loads(response.read())
            if response.status == 202:  # a file over IMPORT_SYNC_MAX_BYTES: a task, followed to its end
                summary = follow_task(response.headers["Location"], token)
    except (OSError, ValueError) as error:  # the worker killed at its timeout: no answer, or a 5xx
        summary = f"FAILED: {error}"
    return {"seconds": time.perf_counter() - start, "summary": summary, "rss_mib": server.worker_peak_rss_mib()}


def follow_task(location: str, token: str) -> dict | str:
    """The result of the background task at ``location`` once it has finished (polled every 0.2 s)."""
    while True:
        request = urllib.request.Request(f"http://127.0.0.1:{HTTP_PORT}{location}",
                                         headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            task = json.loads(response.read())
        if task["status"] == "succeeded":
            return task["result"]
        if task["status"] == "failed":
            return f"FAILED: {task['error']}"
        time.sleep(0.2)


def run_baseline(url: str, data: bytes) -> float:
    """Seconds for csv.reader and the bare bulk load (COPY, or executemany on SQLite) into empty tables."""
    from sqlalchemy import select

    from extensions import db
    from models.base import utcnow
    from models.registry import Category

    app = _make_app(url, fresh=True)
    with app.app_context():
        category_ids = dict(db.session.execute(select(Category.code, Category.id)).all())
        db.session.remove()
        postgres = db.engine.dialect.name == "postgresql"
        now = utcnow() if postgres else utcnow().replace(tzinfo=None)
        raw = db.engine.raw_connection()
        try:
            start = time.perf_counter()
            reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
            next(reader)
            enterprises, links = [], []
            for number, (code, name, region, address, scale, cats, status) in enumerate(reader, start=1):
                enterprises.append((number, code, name, region, address, scale, status, "B", now, now))
                links.extend((number, category_ids[c]) for c in cats.split(";"))
            columns = "id, credit_code, name, region, address, scale, status, credit_grade, created_at, updated_at"
            cursor = raw.cursor()
            if postgres:
                for sql, rows in ((f"COPY enterprises ({columns}) FROM STDIN", enterprises),
                                  ("COPY enterprise_categories (enterprise_id, category_id) FROM STDIN", links)):
                    with cursor.copy(sql) as copy:
                        for row in rows:
                            copy.write_row(row)
            else:
                cursor.executemany(f"INSERT INTO enterprises ({columns}) VALUES ({', '.join('?' * 10)})", enterprises)
                cursor.executemany("INSERT INTO enterprise_categories (enterprise_id, category_id) VALUES (?, ?)",
                                   links)
            raw.commit()
            elapsed = time.perf_counter() - start
        finally:
            raw.close()
            db.engine.dispose()
    return elapsed


def measure(url: str, rows: int, files: dict[str, Path], http: bool) -> dict[str, dict]:
    """Each scenario's figures, in order, on a registry emptied first."""
    _make_app(url, fresh=True)
    results = {}
    if not http:
        for scenario in SCENARIOS:
            results[scenario] = run_service(url, files[scenario])
        return results
    token = supervisor_token(url)
    with Gunicorn(url) as server:
        for scenario in SCENARIOS:
            results[scenario] = run_http(server, token, files[scenario])
    return results


def _started(result: dict) -> str:
    return f" (at start {result['rss_start_mib']:.0f})" if "rss_start_mib" in result else ""


def main(argv=None) -> int:
    """Run the baseline and the three imports; print seconds, rows/s, ratio and peak RSS."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        child(*argv[1:3])
        return 0
    parser = argparse.ArgumentParser(prog="bench.py import", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="enterprises in the CSV (default 200000)")
    parser.add_argument("--database-url", help="PostgreSQL URL to use instead of a fresh SQLite file "
                                               "(its tables are DROPPED and recreated)")
    parser.add_argument("--http", action="store_true", help="upload to a gunicorn worker instead of in-process")
    parser.add_argument("--check", action="store_true", help="exit 1 if a ratio is below the goal")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'import.db'}"
        files = {}
        for scenario, variant in zip(SCENARIOS, (0, 0, 1), strict=True):
            files[scenario] = Path(tmp) / f"{scenario}.csv"
            files[scenario].write_bytes(make_csv(args.rows, variant=variant))
        data = files["new"].read_bytes()
        kind = "postgresql" if args.database_url else "sqlite"
        timeout = os.environ.get("GUNICORN_TIMEOUT", "30")
        via = f"HTTP upload to a gunicorn sync worker ({timeout} s timeout)" if args.http else \
            "in a process of its own (as the CLI)"
        print(f"import: {args.rows} enterprises, {len(data) / 1e6:.1f} MB CSV, {kind}, {via}", flush=True)
        baseline = run_baseline(url, data)
        results = measure(url, args.rows, files, args.http)
    floor = "COPY" if args.database_url else "executemany"
    base_rate = args.rows / baseline
    print(f"  baseline ({floor:<11})   {baseline:8.2f} s  {base_rate:10.0f} rows/s")
    worst = min(args.rows / r["seconds"] / base_rate if isinstance(r["summary"], dict) else 0
                for r in results.values())
    for scenario, r in results.items():
        rate = args.rows / r["seconds"]
        print(f"  import {scenario:<10}  {r['seconds']:8.2f} s  {rate:10.0f} rows/s  ratio {rate / base_rate:5.2f}  "
              f"peak RSS {r['rss_mib']:5.0f} MiB{_started(r)}  {r['summary']}")
    print(f"  worst ratio {worst:.2f} (goal >= {GOAL:.2f}: {'met' if worst >= GOAL else 'NOT met'})")
    return 1 if args.check and worst < GOAL else 0


if __name__ == "__main__":
    raise SystemExit(main())
