"""A finished past quarter for the demo city, run through the real services.

``load_past_quarter()`` gives the demo what a city has after its first quarter on the
service: a record imported from the old system (two earlier checks per enterprise), a plan
for the quarter just ended, its 双随机 draw, the sampling visits (one refusal), results with
some failures (one on a safety item), an objection overturned by the retest, the unchallenged
failures made final, and the published red and black lists.

Event times are the client's, as in real use: the story is told at dates inside the quarter.
The draw is stamped at the quarter's start, since the demo records it after the fact; nothing
else is back-dated.
"""

import csv
import io
import random
from datetime import datetime, time, timedelta

from sqlalchemy import select

from extensions import db
from models.auth import User
from models.registry import Category, Enterprise
from models.samples import Sample
from sampling import credit
from services import calendar, draws, history, lists, plans, samples
from services.calendar import timezone

HISTORY_HEADER = history.HISTORY_HEADER
ITEMS = {  # a few test items per product family: (name, requirement, passing value, failing value, critical)
    "default": [("标识标志", "符合GB 5296", "符合", "缺少中文标识", False),
                ("外观质量", "无破损、无毛刺", "符合", "有毛刺", False),
                ("有害物质限量", "≤0.1%", "0.02%", "0.35%", True)],
}


def load_past_quarter(seed: int = 2026, sample_size: int = 30, period: str | None = None) -> dict:
    """Run a whole past quarter with the real services and publish its lists; a summary."""
    rng = random.Random(seed)
    tz = timezone()
    period = period or credit.quarter_just_ended(timezone=str(tz))
    start = datetime.combine(credit.period_start(period), time(9, 0), tzinfo=tz)
    _import_old_record(rng, start)
    drawn_at = start + timedelta(days=2)  # the demo records the quarter after the fact
    plan = plans.create_plan({
        "name": f"{period} 东莞市产品质量市级监督抽查", "level": "municipal", "kind": "routine",
        "period": period, "category_codes": _categories_with_enterprises(), "sample_size": sample_size,
        "risk_weighting": True, "team_size": 2,
    }, actor="demo", now=start)
    draws.draw_plan(plan.id, public_entropy=f"demo:{seed}", actor="demo", now=drawn_at)
    counts = _run_samples(rng, plan.id, start + timedelta(days=2))
    publication, _ = lists.publish_lists(period, "demo")
    red = sum(e.list == "red" for e in publication.entries)
    return {"period": period, "plan_id": plan.id, **counts, "red": red, "black": len(publication.entries) - red}


def _categories_with_enterprises() -> list[str]:
    codes = db.session.scalars(select(Category.code).where(Category.parent_id.is_not(None)).order_by(Category.code))
    return [c for c in codes if db.session.scalar(
        select(Enterprise.id).where(Enterprise.categories.any(Category.code == c)).limit(1))]


def _import_old_record(rng: random.Random, start: datetime) -> None:
    """Two earlier checks per enterprise from the old system: mostly passes, a few failures."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HISTORY_HEADER)
    enterprises = db.session.scalars(select(Enterprise).order_by(Enterprise.credit_code)).all()
    for n, enterprise in enumerate(enterprises):
        if not enterprise.categories:
            continue
        category = enterprise.categories[0].code
        for months in (15, 9):  # outside the draw's six-month exclusion window
            day = credit.add_months(start.date(), -months) + timedelta(days=rng.randrange(20))
            failed = rng.random() < 0.08
            writer.writerow([
                enterprise.credit_code, category, credit.period_of(day), "municipal", "routine", "production",
                day.isoformat(), "fail" if failed else "pass", "外观质量" if failed else "", "false",
                "东莞市质量监督检测中心", f"DG{day:%Y%m}{n:04d}",
            ])
    out.seek(0)
    history.import_history(out)


def _acting(role: str, **bound) -> User:
    """The user a step is recorded as (not stored: the services only check what it is bound to)."""
    return User(name=f"demo-{role}", role=role, **bound)


def _items(verdict: str, critical: bool = False) -> list[dict]:
    rows = []
    for name, requirement, good, bad, is_critical in ITEMS["default"]:
        failing = verdict == "fail" and is_critical == critical
        rows.append({"name": name, "requirement": requirement, "measured": bad if failing else good,
                     "verdict": "fail" if failing else "pass", "critical": is_critical})
    return rows


def _run_samples(rng: random.Random, plan_id: int, drawn_at: datetime) -> dict:
    """Sampling, tests, notification, one objection and retest, one refusal; finalize the rest."""
    codes = list(db.session.scalars(select(Sample.code).where(Sample.plan_id == plan_id).order_by(Sample.code)))
    stories = ["refusal", "overturned", "critical"] + ["fail"] * max(len(codes) // 8, 1)
    stories += ["pass"] * (len(codes) - len(stories))
    rng.shuffle(stories)
    counts = {"samples": len(codes), "passed": 0, "failed": 0, "refused": 0}
    now = calendar.now()
    for n, (code, story) in enumerate(zip(codes, stories, strict=True)):
        at = drawn_at + timedelta(days=5 + n % 20, hours=n % 7)
        sample = samples.get_sample(code)
        team = [i.code for i in sample.team]
        inspector = _acting("inspector", inspector_id=sample.team[0].id)
        if story == "refusal":
            samples.move(code, "refusal", {"refused_at": at, "reason": "企业拒绝检查人员进入仓库抽样",
                                            "inspector_codes": team}, inspector, now)
            counts["refused"] += 1
            continue
        samples.move(code, "sampling", {
            "sampled_at": at, "stage": rng.choice(("production", "production", "distribution", "online")),
            "product_name": f"{sample.category.name}（型号 {n + 1:03d}）", "batch_no": f"{at:%Y%m%d}{n:02d}",
            "quantity": "6件", "reserve_quantity": "3件", "inspector_codes": team,
        }, inspector, now)
        lab = _acting("lab", lab_id=sample.lab_id)
        samples.move(code, "receipt", {"received_at": at + timedelta(days=1)}, lab, now)
        verdict = "pass" if story == "pass" else "fail"
        samples.move(code, "result", {"report_no": f"JY{at:%Y%m%d}{n:03d}", "tested_at": at + timedelta(days=12),
                                      "items": _items(verdict, critical=story == "critical")}, lab, now)
        samples.move(code, "notification", {"notified_at": at + timedelta(days=15)}, None, now)
        if story == "overturned":
            samples.move(code, "objection", {"filed_at": at + timedelta(days=20),
                                             "reason": "企业对检验结果提出异议，申请复检"}, None, now)
            retest_lab = _acting("lab", lab_id=samples.get_sample(code).retest_lab_id)
            samples.move(code, "retest-result", {"report_no": f"FJ{at:%Y%m%d}{n:03d}",
                                                 "tested_at": at + timedelta(days=35), "items": _items("pass")},
                         retest_lab, now)
        elif verdict == "fail":
            samples.move(code, "finalize", {}, None, now)
        counts["passed" if story in ("pass", "overturned") else "failed"] += 1
    return counts
