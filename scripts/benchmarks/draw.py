"""Benchmark: one 5% 双随机 draw end to end vs the bare ticket loop over the same candidates.

Builds ``--size`` candidates (default 1,000,000) in 30 regions × 50 categories with random
credit grades, ``--inspectors`` inspectors (default 2 per region) and 40 labs, then in the
same run times

- the bare ticket loop: for every candidate, ``-ln(u) / weight`` from
  ``sha256(seed:plan_id:credit_code)`` written plainly, as DESIGN.md states it;
- the draw: ``sampling.draw.run_draw`` with risk weighting: the canonical registry snapshot
  and its hash, strata, largest-remainder allocation, tickets, the lowest tickets per
  stratum, inspector teams (avoidance, least loaded first) and labs (accreditation and capacity).
  It runs without a database (what is timed is the draw, not row loading);

and prints both (best of ``--repeat``, wall and CPU time), their ratio, the draw's own ticket pass, and peak
memory: the draw's Python allocations (tracemalloc, in a separate untimed run) and the
process's maximum resident size. Goal: the draw at most 3× the bare loop, at most 1 GiB.

``--db-size N`` also times the database path at a smaller size: N enterprises loaded into a
fresh SQLite file (or ``--database-url``, whose tables are DROPPED), then
``services.draws.draw_plan`` (load the eligible registry, draw, store the draw, selections
and samples in one transaction).

    python scripts/bench.py draw                      # 1,000,000 candidates
    python scripts/bench.py draw --size 20000         # the CI size
    python scripts/bench.py draw --size 20000 --db-size 20000
    python scripts/bench.py draw --e2e --size 1000000 --database-url URL   # over HTTP: draw_e2e.py
"""

import argparse
import gc
import hashlib
import math
import os
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from itertools import chain
from pathlib import Path

from config import Config
from sampling import draw as algorithm
from sampling.credit_code import make_code
from sampling.errors import RuleViolation

GOAL_RATIO = 3.0
GOAL_BYTES = 1 << 30
SMALL_ARGV = ["--size", "20000", "--repeat", "1"]
REGIONS = list((
    "莞城街道", "南城街道", "东城街道", "万江街道", "石碣镇", "石龙镇", "茶山镇", "石排镇", "企石镇", "横沥镇",
    "桥头镇", "谢岗镇", "东坑镇", "常平镇", "寮步镇", "樟木头镇", "大朗镇", "黄江镇", "清溪镇", "塘厦镇",
    "凤岗镇", "大岭山镇", "长安镇", "虎门镇", "厚街镇", "沙田镇", "道滘镇", "洪梅镇", "麻涌镇", "松山湖",
))
CATEGORIES = [f"BC-{i:02d}" for i in range(50)]
PLAN_ID = 1


def registry(size: int, inspectors: int, seed: int = 7):
    """``size`` single-category candidates, shuffled; inspectors over the regions; 40 labs."""
    rng = random.Random(seed)
    candidates = [
        algorithm.Candidate(make_code(f"9144{n:013d}"), REGIONS[n % 30], (CATEGORIES[(n // 30) % 50],),
                            "ABCD"[rng.randrange(4)])
        for n in range(size)
    ]
    rng.shuffle(candidates)
    pool = [algorithm.InspectorInfo(f"INS{i:04d}", REGIONS[i % 30]) for i in range(inspectors)]
    labs = [algorithm.LabInfo(f"LAB{i:02d}", tuple(c for j, c in enumerate(CATEGORIES) if j % 10 == i % 10))
            for i in range(40)]
    return candidates, pool, labs


def bare_ticket_loop(seed: str, plan_id: int, candidates, weights) -> list[float]:
    """The tickets of every candidate, as DESIGN.md writes them, and nothing else."""
    tickets = []
    for candidate in candidates:
        digest = hashlib.sha256(f"{seed}:{plan_id}:{candidate.credit_code}".encode()).digest()
        u = (int.from_bytes(digest[:8], "big") + 0.5) / 2**64
        tickets.append(-math.log(u) / weights[candidate.grade])
    return tickets


def timed(function) -> tuple[float, float, object]:
    """Wall and CPU seconds of one call, and its result."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def measure(size: int, inspectors: int, repeat: int, ratio: float, trace: bool) -> dict:
    """Time the bare loop and the draw on the same candidates; optionally trace peak memory."""
    candidates, pool, labs = registry(size, inspectors)
    rules = algorithm.DrawRules(sampling_ratio=ratio, risk_weighting=True, risk_weights=Config.RISK_WEIGHTS,
                                team_size=Config.PLAN_DEFAULTS["team_size"],
                                avoid_same_region=Config.PLAN_DEFAULTS["avoid_same_region"])
    seed = algorithm.effective_seed(hashlib.sha256(b"bench").hexdigest(), "bench")
    codes = [c.credit_code for c in candidates]
    figures = {"size": size, "inspectors": inspectors}
    runs = {
        "bare": lambda: bare_ticket_loop(seed, PLAN_ID, candidates, rules.risk_weights),
        "own_tickets": lambda: algorithm.unweighted_tickets(seed, PLAN_ID, codes),
        "draw": lambda: algorithm.run_draw(seed, PLAN_ID, candidates, pool, labs, rules),
    }
    for _ in range(repeat):  # interleaved, so all see the same machine load; best of each
        for name, function in runs.items():
            wall, cpu, result = timed(function)
            figures[name] = min(figures.get(name, math.inf), wall)
            figures[name + "_cpu"] = min(figures.get(name + "_cpu", math.inf), cpu)
    loads = Counter(chain.from_iterable(s.inspectors for s in result.selections))
    figures.update(selected=len(result.selections), strata=len(result.allocation), algorithm=result.algorithm,
                   load_spread=(min(loads[i.code] for i in pool), max(loads.values())))
    figures["phase_snapshot"], _, snapshot = timed(lambda: algorithm.build_snapshot(candidates, pool, labs))
    figures["phase_rest"], _, _ = timed(lambda: algorithm.draw_from_snapshot(seed, PLAN_ID, snapshot, rules))
    if trace:
        gc.collect()
        tracemalloc.start()
        algorithm.run_draw(seed, PLAN_ID, candidates, pool, labs, rules)
        figures["traced_peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    figures["max_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    return figures


def measure_db(size: int, inspectors: int, url: str | None, ratio: float) -> dict:
    """Time ``services.draws.draw_plan`` on ``size`` enterprises loaded into a fresh database."""
    from sqlalchemy import func, insert, select

    from app import create_app
    from extensions import db
    from models.base import utcnow
    from models.registry import Category, Enterprise, Inspector, Lab, enterprise_categories, lab_categories
    from models.samples import Sample
    from services import calendar, draws, plans

    url = url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench-draw.db'}"
    app = create_app({"ENV_NAME": "production", "SECRET_KEY": "bench", "AUDIT_KEY": "bench",
                      "SQLALCHEMY_DATABASE_URI": url})
    candidates, pool, labs = registry(size, inspectors)
    with app.app_context():
        db.drop_all()
        db.create_all()
        now = utcnow()
        db.session.execute(insert(Category), [
            {"id": i + 1, "code": c, "name": f"基准类别{i}", "group": "industrial", "key_supervised": False,
             "risk_level": 1, "created_at": now} for i, c in enumerate(CATEGORIES)])
        category_id = {c: i + 1 for i, c in enumerate(CATEGORIES)}
        db.session.execute(insert(Enterprise), [
            {"id": n, "credit_code": c.credit_code, "name": f"基准企业{n}", "region": c.region, "scale": "small",
             "status": "active", "credit_grade": c.grade, "created_at": now, "updated_at": now}
            for n, c in enumerate(candidates, start=1)])
        db.session.execute(insert(enterprise_categories), [
            {"enterprise_id": n, "category_id": category_id[c.categories[0]]}
            for n, c in enumerate(candidates, start=1)])
        db.session.execute(insert(Inspector), [
            {"code": i.code, "name": i.code, "region": i.region, "active": True, "created_at": now} for i in pool])
        db.session.execute(insert(Lab), [
            {"id": n, "code": lab.code, "name": lab.code, "accreditation": "CNAS", "capacity": size, "active": True,
             "created_at": now} for n, lab in enumerate(labs, start=1)])
        db.session.execute(insert(lab_categories), [
            {"lab_id": n, "category_id": category_id[c]}
            for n, lab in enumerate(labs, start=1) for c in lab.categories])
        db.session.commit()
        plan = plans.create_plan({"name": "基准计划", "level": "municipal", "kind": "routine", "period": "2026Q4",
                                  "category_codes": CATEGORIES, "sampling_ratio": ratio, "risk_weighting": True},
                                 actor="bench", now=calendar.now())
        start = time.perf_counter()
        draws.draw_plan(plan.id, "bench", actor="bench", now=calendar.now())
        elapsed = time.perf_counter() - start
        stored = db.session.scalar(select(func.count()).select_from(Sample))
        start = time.perf_counter()
        verdict = draws.verify_stored_draw(plan.id)
        verify = time.perf_counter() - start
        db.session.remove()
        db.engine.dispose()
    return {"db_size": size, "db_draw": elapsed, "db_samples": stored, "db_verify": verify,
            "db_verified": verdict["verified"], "db_url": url.split("://")[0]}


def report(figures: dict) -> bool:
    """Print the figures; True when both goals are met."""
    ratio = figures["draw"] / figures["bare"]
    cpu_ratio = figures["draw_cpu"] / figures["bare_cpu"]
    print(f"candidates            {figures['size']:,} in {len(REGIONS)} regions × {len(CATEGORIES)} categories; "
          f"{figures['inspectors']} inspectors, 40 labs")
    low, high = figures["load_spread"]
    print(f"drawn                 {figures['selected']:,} in {figures['strata']} strata "
          f"({figures['algorithm']}; inspector loads {low}–{high})")
    print(f"bare ticket loop      {figures['bare']:.3f} s wall, {figures['bare_cpu']:.3f} s CPU")
    print(f"draw, end to end      {figures['draw']:.3f} s wall, {figures['draw_cpu']:.3f} s CPU")
    print(f"ratio                 {ratio:.2f}× wall, {cpu_ratio:.2f}× CPU (goal ≤ {GOAL_RATIO:g}×, judged on CPU "
          "time, which other processes on the machine do not inflate)")
    print(f"  its own ticket pass {figures['own_tickets']:.3f} s wall "
          f"(draw / that pass: {figures['draw'] / figures['own_tickets']:.2f}×)")
    print(f"  one more run, split  snapshot {figures['phase_snapshot']:.3f} s; allocation, tickets, selection, "
          f"teams, labs and the registry hash {figures['phase_rest']:.3f} s (wall)")
    print(f"load average          {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    ok = cpu_ratio <= GOAL_RATIO
    if "traced_peak" in figures:
        print(f"peak memory, draw     {figures['traced_peak'] / 2**20:.0f} MiB traced (goal ≤ 1024 MiB)")
        ok = ok and figures["traced_peak"] <= GOAL_BYTES
    print(f"max RSS, process      {figures['max_rss'] / 2**20:.0f} MiB (registry, bare loop and draw together)")
    if "db_draw" in figures:
        print(f"database path         {figures['db_size']:,} enterprises on {figures['db_url']}: draw_plan "
              f"{figures['db_draw']:.3f} s ({figures['db_samples']:,} samples stored), verify "
              f"{figures['db_verify']:.3f} s, verified={figures['db_verified']}")
    return ok


def run(args) -> int:
    """Run with parsed arguments; 0 when the goals are met, 1 otherwise."""
    inspectors = args.inspectors or 2 * len(REGIONS)
    try:
        figures = measure(args.size, inspectors, args.repeat, args.ratio, not args.no_trace)
    except RuleViolation as exc:  # e.g. too few inspectors outside a region for a team
        print(f"the draw could not be made: {exc.message} {exc.errors}", file=sys.stderr)
        return 1
    if args.db_size:
        figures.update(measure_db(args.db_size, inspectors, args.database_url, args.ratio))
    return 0 if report(figures) else 1


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench.py draw", description=__doc__.splitlines()[0])
    p.add_argument("--size", "--enterprises", type=int, default=1_000_000, help="candidates (default 1,000,000)")
    p.add_argument("--ratio", type=float, default=0.05, help="sampling ratio (default 0.05)")
    p.add_argument("--inspectors", type=int, default=0, help="inspectors (default 2 per region)")
    p.add_argument("--repeat", type=int, default=2, help="best of N runs (default 2)")
    p.add_argument("--no-trace", action="store_true", help="skip the tracemalloc run")
    p.add_argument("--db-size", type=int, default=0, help="also time the database path at this size")
    p.add_argument("--database-url", help="database for --db-size (its tables are DROPPED); default SQLite")
    return p


def main(argv=None) -> int:
    return run(parser().parse_args(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
