"""Benchmark: the pass-rate report by category × region vs a bare ``SELECT ... GROUP BY`` count.

Builds N samples (default 1,000,000; most final, a few refused or still under way) over a
city of enterprises, categories and regions, in a fresh SQLite file or in the database of
``--database-url`` (its tables are DROPPED and recreated; PostgreSQL is filled with COPY).
Then, on that same database and in the same run, it times

- the report: ``services.reports.pass_rate_table(["category", "region"])`` — the SQL
  aggregation, the targets, intervals, p-values and statuses of every row and the total;
- the baseline: ``SELECT category_id, region, count(*) FROM samples JOIN enterprises
  GROUP BY category_id, region``;

and prints both (best of ``--repeat``) and their ratio. Goal: at most 2×.

    python scripts/bench.py report                      # 1,000,000 samples, SQLite
    python scripts/bench.py report --size 20000         # the CI size
    python scripts/bench.py report --database-url postgresql+psycopg://postgres@127.0.0.1/bench
"""

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sampling.credit_code import make_code
from sampling.enums import STAGES

GOAL = 2.0
SMALL_ARGV = ["--size", "20000", "--repeat", "2"]
REGIONS = [
    "莞城街道", "南城街道", "东城街道", "万江街道", "石碣镇", "石龙镇", "茶山镇", "石排镇", "企石镇", "横沥镇",
    "桥头镇", "谢岗镇", "东坑镇", "常平镇", "寮步镇", "樟木头镇", "大朗镇", "黄江镇", "清溪镇", "塘厦镇",
    "凤岗镇", "大岭山镇", "长安镇", "虎门镇", "厚街镇", "沙田镇", "道滘镇", "洪梅镇", "麻涌镇", "望牛墩镇",
    "中堂镇", "高埗镇", "松山湖",
]
GROUPS = ["industrial", "consumer", "food", "building"]
CATEGORIES = 40
PERIODS = [f"{y}Q{q}" for y in (2025, 2026) for q in (1, 2, 3, 4)]
LEVEL_MIX = ["municipal"] * 6 + ["provincial"] * 2 + ["national"]  # municipal checks are most
BARE_SQL = (
    "SELECT s.category_id, e.region, count(*) FROM samples s JOIN enterprises e ON e.id = s.enterprise_id"
    " GROUP BY s.category_id, e.region"
)
SAMPLE_COLUMNS = (
    "id", "code", "enterprise_id", "category_id", "period", "level", "kind", "source", "status",
    "verdict", "critical_failed", "final_at", "stage", "created_at",
)


def make_app(url: str, fresh: bool = True):
    """The app on ``url``; with ``fresh``, every table dropped and created again."""
    from app import create_app
    from extensions import db

    app = create_app({"ENV_NAME": "production", "SECRET_KEY": "bench", "AUDIT_KEY": "bench",
                      "SQLALCHEMY_DATABASE_URI": url})
    if fresh:
        with app.app_context():
            db.drop_all()
            db.create_all()
    return app


def sample_rows(size: int, enterprises: list[tuple[int, list[int]]], seed: int = 11):
    """``size`` sample tuples in SAMPLE_COLUMNS order: ~2% refused, ~3% under way, ~9% of final failed."""
    rng = random.Random(seed)
    final_at = datetime(2026, 10, 1, tzinfo=UTC)
    for number in range(1, size + 1):
        enterprise_id, category_ids = enterprises[rng.randrange(len(enterprises))]
        draw = rng.random()
        if draw < 0.02:
            status, verdict, at, stage = "refused", None, None, None
        elif draw < 0.05:
            status, verdict, at, stage = "testing", None, None, rng.choice(STAGES)
        else:
            status, at, stage = "final", final_at, rng.choice(STAGES)
            verdict = "fail" if rng.random() < 0.09 else "pass"
        yield (
            number, f"B{number:09d}", enterprise_id, rng.choice(category_ids), rng.choice(PERIODS),
            rng.choice(LEVEL_MIX), "routine", "import", status, verdict, False, at, stage, final_at,
        )


def build(app, size: int) -> None:
    """Fill the registry and ``size`` samples with bulk inserts (COPY on PostgreSQL)."""
    from sqlalchemy import insert

    from extensions import db
    from models.base import utcnow
    from models.registry import Category, Enterprise, enterprise_categories

    rng = random.Random(5)
    with app.app_context():
        now = utcnow()
        categories = [
            {"id": i, "code": f"BC-{i:02d}", "name": f"基准类别{i}", "group": GROUPS[i % len(GROUPS)],
             "key_supervised": False, "risk_level": 1, "created_at": now}
            for i in range(1, CATEGORIES + 1)
        ]
        db.session.execute(insert(Category), categories)
        count = max(size // 20, 100)
        enterprises, links, registry = [], [], []
        for i in range(1, count + 1):
            cats = rng.sample(range(1, CATEGORIES + 1), rng.randint(1, 3))
            enterprises.append({
                "id": i, "credit_code": make_code(f"91441900{i:09d}"), "name": f"东莞市基准{i}有限公司",
                "region": rng.choice(REGIONS), "scale": rng.choice(("large", "medium", "small", "micro")),
                "status": "active", "credit_grade": "B", "created_at": now, "updated_at": now,
            })
            links.extend({"enterprise_id": i, "category_id": c} for c in cats)
            registry.append((i, cats))
        db.session.execute(insert(Enterprise), enterprises)
        db.session.execute(insert(enterprise_categories), links)
        db.session.commit()
        rows = sample_rows(size, registry)
        if db.engine.dialect.name == "postgresql":
            _copy_samples(db, rows)
        else:
            _executemany_samples(db, rows)
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        db.session.remove()


def _executemany_samples(db, rows) -> None:
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        marks = ", ".join("?" * len(SAMPLE_COLUMNS))
        sql = f"INSERT INTO samples ({', '.join(SAMPLE_COLUMNS)}) VALUES ({marks})"
        batch = []
        for row in rows:
            # SQLite keeps UTC timestamps without an offset (models.base.UTCDateTime)
            batch.append(row[:11] + (_naive(row[11]), row[12], _naive(row[13])))
            if len(batch) == 50_000:
                cursor.executemany(sql, batch)
                batch = []
        cursor.executemany(sql, batch)
        raw.commit()
    finally:
        raw.close()


def _naive(value):
    return None if value is None else value.replace(tzinfo=None).isoformat(sep=" ")


def _copy_samples(db, rows) -> None:
    raw = db.engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            with cursor.copy(f"COPY samples ({', '.join(SAMPLE_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        raw.commit()
    finally:
        raw.close()


def time_best(function, repeat: int) -> tuple[float, list[float], object]:
    """Best wall time of ``repeat`` calls (after one warm-up call), the runs, and the last result."""
    result = function()
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        runs.append(time.perf_counter() - start)
    return min(runs), runs, result


def measure(app, repeat: int) -> dict:
    """Time the report and the bare count on the same database."""
    from sqlalchemy import text

    from extensions import db
    from services import reports

    with app.app_context():
        def bare():
            return db.session.execute(text(BARE_SQL)).all()

        def report():
            return reports.pass_rate_table(["category", "region"])

        bare_best, bare_runs, groups = time_best(bare, repeat)
        report_best, report_runs, table = time_best(report, repeat)
        db.session.remove()
        db.engine.dispose()
    return {
        "bare": bare_best, "bare_runs": bare_runs, "groups": len(groups),
        "report": report_best, "report_runs": report_runs, "rows": len(table.rows), "total": table.total,
    }


def _seconds(runs: list[float]) -> str:
    return ", ".join(f"{r:.3f}" for r in runs)


def main(argv=None) -> int:
    """Build the samples, time both queries, print the figures and the ratio."""
    parser = argparse.ArgumentParser(prog="bench.py report", description=__doc__.splitlines()[0])
    parser.add_argument("--size", "--samples", dest="size", type=int, default=1_000_000,
                        help="samples to build (default 1000000)")
    parser.add_argument("--database-url", help="database to use instead of a fresh SQLite file "
                                               "(its tables are DROPPED and recreated)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each; the best is kept (default 3)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the ratio is above the goal")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'report.db'}"
        kind = url.split(":", 1)[0]
        app = make_app(url)
        start = time.perf_counter()
        build(app, args.size)
        print(f"report: {args.size} samples built in {time.perf_counter() - start:.1f} s ({kind}), "
              f"best of {args.repeat}", flush=True)
        figures = measure(app, args.repeat)
    ratio = figures["report"] / figures["bare"]
    total = figures["total"]
    print(f"  pass-rate report    {figures['report']:8.3f} s  {figures['rows']:6d} rows   "
          f"(runs: {_seconds(figures['report_runs'])})")
    print(f"  bare GROUP BY count {figures['bare']:8.3f} s  {figures['groups']:6d} groups "
          f"(runs: {_seconds(figures['bare_runs'])})")
    print(f"  total: tested {total['tested']}, passed {total['passed']}, refused {total['refused']}, "
          f"pass rate {total['pass_rate']:.4f}")
    print(f"  ratio               {ratio:8.2f}  (goal <= {GOAL:.0f}: {'met' if ratio <= GOAL else 'NOT met'})")
    return 1 if args.check and ratio > GOAL else 0


if __name__ == "__main__":
    raise SystemExit(main())
