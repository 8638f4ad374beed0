"""Benchmark: CSV import of N enterprises through the import service vs a bare ``executemany``.

Both runs start from an empty schema on the same kind of database (two fresh SQLite files, or
the tables of ``--database-url`` dropped and recreated before each run) and write the same rows:
the enterprises and their category links. The service run includes what a real import does
(decode, parse, validate every credit code, upsert, audit); the baseline parses the CSV with
``csv.reader`` and inserts with one ``executemany`` per table in one transaction.

    python scripts/bench.py import --rows 200000
    python scripts/bench.py import --rows 20000 --database-url postgresql+psycopg://postgres@127.0.0.1/bench
"""

import argparse
import csv
import io
import random
import tempfile
import time
from pathlib import Path

from sampling.credit_code import ALPHABET, make_code

GOAL = 1 / 3
SMALL_ARGV = ["--rows", "20000", "--repeat", "1"]  # what ``bench.py all`` runs
CATEGORIES = [f"BC{n:02d}" for n in range(1, 21)]
REGIONS = ["莞城街道", "东城街道", "南城街道", "万江街道", "石龙镇", "虎门镇", "长安镇", "常平镇"]


def make_csv(rows: int, seed: int = 7) -> bytes:
    """An enterprise CSV of ``rows`` distinct, valid enterprises (UTF-8)."""
    rng = random.Random(seed)
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
        cats = ";".join(rng.sample(CATEGORIES, rng.randint(1, 3)))
        writer.writerow([code, f"东莞市基准{n}制品有限公司", rng.choice(REGIONS), f"测试路{n}号",
                         rng.choice(("large", "medium", "small", "micro")), cats, "active"])
    return out.getvalue().encode("utf-8")


def _make_app(url: str):
    from app import create_app
    from extensions import db

    app = create_app({"ENV_NAME": "production", "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        db.drop_all()
        db.create_all()
        from models.registry import Category

        db.session.add_all(Category(code=c, name=f"基准类别{c}", group="industrial") for c in CATEGORIES)
        db.session.commit()
    return app


def run_service(url: str, data: bytes) -> float:
    """Seconds the import service takes for the file (decode to commit)."""
    from extensions import db
    from services import registry

    app = _make_app(url)
    with app.app_context():
        start = time.perf_counter()
        summary = registry.import_enterprises(registry.decode_upload(data), actor="bench")
        elapsed = time.perf_counter() - start
        db.session.remove()
        db.engine.dispose()
    assert summary["created"] == data.count(b"\n") - 1, summary
    return elapsed


def run_bare(url: str, data: bytes) -> float:
    """Seconds for csv.reader + executemany of the same rows into the same empty schema."""
    from sqlalchemy import select

    from extensions import db
    from models.base import utcnow
    from models.registry import Category

    app = _make_app(url)
    with app.app_context():
        category_ids = dict(db.session.execute(select(Category.code, Category.id)).all())
        db.session.remove()
        postgres = db.engine.dialect.name == "postgresql"
        now = utcnow() if postgres else utcnow().replace(tzinfo=None)
        mark = "%s" if postgres else "?"
        raw = db.engine.raw_connection()
        try:
            start = time.perf_counter()
            reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
            next(reader)
            enterprises, links = [], []
            for number, (code, name, region, address, scale, cats, status) in enumerate(reader, start=1):
                enterprises.append((number, code, name, region, address, scale, status, "B", now, now))
                links.extend((number, category_ids[c]) for c in cats.split(";"))
            cursor = raw.cursor()
            cursor.executemany(
                "INSERT INTO enterprises (id, credit_code, name, region, address, scale, status, credit_grade,"
                f" created_at, updated_at) VALUES ({', '.join([mark] * 10)})", enterprises)
            cursor.executemany(
                f"INSERT INTO enterprise_categories (enterprise_id, category_id) VALUES ({mark}, {mark})", links)
            raw.commit()
            elapsed = time.perf_counter() - start
        finally:
            raw.close()
            db.engine.dispose()
    return elapsed


def _seconds(runs: list[float]) -> str:
    return ", ".join(f"{r:.2f}" for r in runs)


def main(argv=None) -> int:
    """Run both imports and print rows/s and the ratio; exit 1 below the goal with --check."""
    parser = argparse.ArgumentParser(prog="bench.py import", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="enterprises in the CSV (default 200000)")
    parser.add_argument("--database-url", help="PostgreSQL URL to use instead of fresh SQLite files "
                                               "(its tables are DROPPED and recreated)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is kept (default 3)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the ratio is below the goal")
    args = parser.parse_args(argv)

    data = make_csv(args.rows)
    kind = "postgresql" if args.database_url else "sqlite"
    print(f"import: {args.rows} enterprises, {len(data) / 1e6:.1f} MB CSV, {kind}, best of {args.repeat}", flush=True)
    services, bares = [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
            services.append(run_service(args.database_url or f"sqlite:///{Path(tmp) / 'service.db'}", data))
            bares.append(run_bare(args.database_url or f"sqlite:///{Path(tmp) / 'bare.db'}", data))
    service, bare = min(services), min(bares)
    service_rate, bare_rate = args.rows / service, args.rows / bare
    ratio = service_rate / bare_rate
    print(f"  import service     {service:8.2f} s  {service_rate:10.0f} rows/s   (runs: {_seconds(services)})")
    print(f"  bare executemany   {bare:8.2f} s  {bare_rate:10.0f} rows/s   (runs: {_seconds(bares)})")
    print(f"  ratio              {ratio:8.2f}  (goal >= {GOAL:.2f}: {'met' if ratio >= GOAL else 'NOT met'})")
    return 1 if args.check and ratio < GOAL else 0


if __name__ == "__main__":
    raise SystemExit(main())
