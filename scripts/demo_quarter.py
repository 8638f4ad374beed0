"""The demo city's record: two years of checks, a finished quarter and the current one under way.

Run through the real services with the clock they are given, as a city would have lived it:
- ``load_history``: the seven quarters before the last one, imported from the old system
  (CSV, all or nothing), with failures spread over each standard's real test items;
- ``load_past_quarter``: the quarter just ended, lived on the service: a plan announced before
  the quarter, its 双随机 draw, visits (one refusal), results, an objection overturned by the
  retest, failures made final, rectification and recheck;
- ``publish_past_lists``: every ended quarter's red and black lists, oldest first;
- ``load_current_quarter``: the quarter under way, one sample at every stage of the life
  cycle, and a special plan announced but not drawn yet.
Event times are the client's, as in real use; every step is told at the moment it happened.
"""

import csv
import io
import random
from datetime import datetime, time, timedelta

from sqlalchemy import select

from extensions import db
from models.auth import User
from models.registry import Category, Enterprise, Lab
from models.samples import Sample
from sampling import credit
from scripts.demo import FAILURE_RATES, ITEMS, LABS, PRODUCTS
from services import calendar, draws, history, lists, plans, samples, signals
from services.calendar import timezone

HISTORY_QUARTERS = 7  # imported; with the quarter just ended, eight continuous quarters
LEVELS = ("municipal",) * 8 + ("provincial",) * 2 + ("national",)


def quarters_before(period: str, count: int) -> list[str]:
    """The ``count`` quarters before ``period``, oldest first."""
    found = []
    for _ in range(count):
        period = credit.previous_period(period)
        found.append(period)
    return found[::-1]


def at_nine(day) -> datetime:
    """09:00 on a regulator's calendar day."""
    return datetime.combine(day, time(9, 0), tzinfo=timezone())


def leaf_codes() -> list[str]:
    """Leaf categories some enterprise makes."""
    codes = db.session.scalars(select(Category.code).where(Category.parent_id.is_not(None)).order_by(Category.code))
    return [c for c in codes if db.session.scalar(
        select(Enterprise.id).where(Enterprise.categories.any(Category.code == c)).limit(1))]


def lab_codes_for(category: str) -> list[str]:
    """The demo labs accredited for ``category``."""
    family = category.split("-")[0]
    return [code for code, _, _, scopes, _ in LABS if category in scopes or family in scopes]


def failing_items(rng: random.Random, category: str, critical: bool | None = None) -> list:
    """One or two items of the category that fail, the usual suspects more often."""
    items = [i for i in ITEMS[category] if critical is None or i.critical == critical] or ITEMS[category]
    first = rng.choices(items, weights=[i.weight for i in items])[0]
    failed = {first}
    if rng.random() < 0.2:
        failed.add(rng.choice(ITEMS[category]))
    return [i for i in ITEMS[category] if i in failed]


def item_rows(category: str, failed: list) -> list[dict]:
    """A result's items: every item of the standard, measured."""
    return [{"name": i.name, "requirement": i.requirement, "measured": i.bad if i in failed else i.good,
             "unit": i.unit, "verdict": "fail" if i in failed else "pass", "critical": i.critical}
            for i in ITEMS[category]]


# --- history -----------------------------------------------------------------------------


def load_history(seed: int = 2026, current: str | None = None, per_quarter: int = 55) -> int:
    """Import the seven quarters before the last one, and the province's checks of the last one;
    regular makers of key products are checked every half-year."""
    rng = random.Random(seed + 1)
    current = current or credit.period_of(calendar.today())
    quarters = quarters_before(current, HISTORY_QUARTERS + 1)
    enterprises = [e for e in db.session.scalars(select(Enterprise).order_by(Enterprise.credit_code))
                   if e.categories and e.status == "active" and e.kinds == ["producer"]]
    regulars = enterprises[::9]  # large makers of key products: sampled every other quarter
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(history.HISTORY_HEADER)
    rows = 0
    for q, period in enumerate(quarters):
        chosen = [e for i, e in enumerate(regulars) if (i + q) % 2 == 0]
        last = q == len(quarters) - 1  # the quarter just ended: only the province's checks, from its system
        if not last:
            others = [e for e in enterprises if e not in chosen]
            chosen += rng.sample(others, max(per_quarter - len(chosen), 0))
        start = credit.period_start(period)
        for n, enterprise in enumerate(chosen):
            category = rng.choice(enterprise.categories).code
            day = start + timedelta(days=rng.randrange(80))
            level = "provincial" if last else rng.choice(LEVELS)
            refused = not last and rng.random() < 0.01
            failed = [] if refused or rng.random() >= FAILURE_RATES[category] else failing_items(rng, category)
            verdict = "refused" if refused else "fail" if failed else "pass"
            writer.writerow([
                enterprise.credit_code, category, period, level, "routine", "production", day.isoformat(), verdict,
                ";".join(i.name for i in failed), "true" if any(i.critical for i in failed) else "false",
                "" if refused else rng.choice(lab_codes_for(category)),
                "" if refused else f"{'GD' if last else 'DG'}{day:%Y%m%d}{n:03d}",
            ])
            rows += 1
    out.seek(0)
    history.import_history(out, "demo", calendar.today())
    return rows


# --- lived quarters ----------------------------------------------------------------------


def _acting(role: str, **bound) -> User:
    """The user a step is recorded as (not stored: the services only check what it is bound to)."""
    return User(name=f"demo-{role}", role=role, **bound)


class Story:
    """Moves one sample along its life cycle, each step at its own moment."""

    def __init__(self, rng: random.Random, code: str, n: int):
        self.rng, self.code, self.n = rng, code, n
        sample = samples.get_sample(code)
        self.category = sample.category.code
        self.team = [i.code for i in sample.team]
        self.inspector = _acting("inspector", inspector_id=sample.team[0].id)
        self.lab = _acting("lab", lab_id=sample.lab_id)

    def move(self, action: str, body: dict, user, at: datetime) -> None:
        samples.move(self.code, action, body, user, at + timedelta(minutes=5))

    def refuse(self, at: datetime) -> None:
        self.move("refusal", {"refused_at": at, "reason": "企业负责人拒绝在抽样单上签字并拒绝抽样",
                              "inspector_codes": self.team}, self.inspector, at)

    def sample(self, at: datetime, stage: str = "production", **extra) -> None:
        brand = self.rng.choice(("美的思", "华力", "星辰", "宏达", "利源", "恒盛", "创美", "嘉宝"))
        self.move("sampling", {**extra,
            "sampled_at": at, "stage": stage, "product_name": self.rng.choice(PRODUCTS[self.category]), "brand": brand,
            "model": f"{brand[:1]}{self.rng.choice('ABCDHKMSTX')}-{self.rng.randint(100, 999)}",
            "batch_no": f"{at:%Y%m}{self.rng.randint(10, 99)}", "production_date": (at - timedelta(days=30)).date(),
            "quantity": "6件", "reserve_quantity": "3件", "inspector_codes": self.team,
        }, self.inspector, at)

    def receive(self, at: datetime) -> None:
        self.move("receipt", {"received_at": at}, self.lab, at)

    def test(self, at: datetime, failed: list) -> None:
        self.move("result", {"report_no": f"JY{at:%Y%m%d}{self.n:03d}", "tested_at": at,
                             "items": item_rows(self.category, failed)}, self.lab, at)

    def notify(self, at: datetime) -> None:
        self.move("notification", {"notified_at": at}, None, at)

    def object(self, at: datetime) -> None:
        self.move("objection", {"filed_at": at, "reason": "企业对检验结论有异议，申请复检"}, None, at)

    def retest(self, at: datetime, failed: list) -> None:
        retest_lab = _acting("lab", lab_id=samples.get_sample(self.code).retest_lab_id)
        self.move("retest-result", {"report_no": f"FJ{at:%Y%m%d}{self.n:03d}", "tested_at": at,
                                    "items": item_rows(self.category, failed)}, retest_lab, at)

    def finalize(self, at: datetime) -> None:
        self.move("finalize", {}, None, at)

    def rectify(self, at: datetime) -> None:
        self.move("rectification", {"due_date": (at + timedelta(days=50)).date(), "notes": "责令限期整改"}, None, at)

    def recheck(self, at: datetime, verdict: str = "pass") -> None:
        self.move("recheck", {"rechecked_at": at, "verdict": verdict, "report_no": f"FC{at:%Y%m%d}{self.n:03d}"},
                  None, at)


def plan_codes(plan_id: int) -> list[str]:
    """The plan's sample codes in draw order."""
    return list(db.session.scalars(select(Sample.code).where(Sample.plan_id == plan_id).order_by(Sample.code)))


def announce_and_draw(name: str, period: str, announced: datetime, drawn: datetime, **rules) -> int:
    """A plan announced at ``announced`` and drawn at ``drawn``; its id."""
    plan = plans.create_plan({"name": name, "level": "municipal", "kind": "routine", "period": period,
                              "category_codes": leaf_codes(), "team_size": 2, **rules}, actor="demo", now=announced)
    issue = f"{drawn:%Y}{drawn.timetuple().tm_yday:03d}"
    lottery = f"福彩3D {issue}期开奖号码 {drawn.day % 10} {drawn.month % 10} {plan.id % 10}"
    draws.draw_plan(plan.id, public_entropy=lottery, actor="demo", now=drawn)
    return plan.id


def load_past_quarter(seed: int = 2026, sample_size: int = 40, period: str | None = None) -> dict:
    """Live the quarter just ended on the service and publish its lists; a summary."""
    rng = random.Random(seed)
    period = period or credit.quarter_just_ended(calendar.today())
    start = at_nine(credit.period_start(period))
    plan_id = announce_and_draw(f"{period[:4]}年第{'一二三四'[int(period[-1]) - 1]}季度东莞市产品质量市级监督抽查",
                                period, start - timedelta(days=12), start + timedelta(days=2),
                                sample_size=sample_size, risk_weighting=True)
    codes = plan_codes(plan_id)
    stories = ["refusal", "overturned", "critical"] + ["fail"] * max(len(codes) // 9, 1)
    stories += ["pass"] * (len(codes) - len(stories))
    rng.shuffle(stories)
    counts = {"samples": len(codes), "passed": 0, "failed": 0, "refused": 0}
    for n, (code, story) in enumerate(zip(codes, stories, strict=True)):
        live = Story(rng, code, n)
        at = start + timedelta(days=5 + n % 25, hours=n % 7)
        if story == "refusal":
            live.refuse(at)
            counts["refused"] += 1
            continue
        live.sample(at)
        live.receive(at + timedelta(days=1))
        failed = [] if story == "pass" else failing_items(rng, live.category, critical=True if story == "critical"
                                                          else None)
        live.test(at + timedelta(days=12), failed)
        live.notify(at + timedelta(days=15))
        if story == "overturned":
            live.object(at + timedelta(days=20))
            live.retest(at + timedelta(days=35), [])
        elif failed:
            live.finalize(at + timedelta(days=31))
            if n % 2 == 0:
                live.rectify(at + timedelta(days=33))
                live.recheck(at + timedelta(days=55))
        counts["passed" if not failed or story == "overturned" else "failed"] += 1
    publish_past_lists(period)  # the quarters before it were published in their time
    publication = publish_in_time(period)
    red = sum(e.list == "red" for e in publication.entries)
    return {"period": period, "plan_id": plan_id, **counts, "red": red, "black": len(publication.entries) - red}


def publish_past_lists(current: str | None = None) -> list[str]:
    """Publish the lists of every quarter from the first with a final verdict up to ``current``
    (excluded), oldest first, as the scheduler would have."""
    current = current or credit.period_of(calendar.today())
    periods, period = [], lists.first_period_with_data()
    while period and credit.period_key(period) < credit.period_key(current):
        publish_in_time(period)
        periods.append(period)
        period = credit.next_period(period)
    return periods


def publish_in_time(period: str):
    """Publish a period's lists when the scheduler would have: 00:30 on the next quarter's first day."""
    due = datetime.combine(credit.period_start(credit.next_period(period)), time(0, 30), tzinfo=timezone())
    publication, _, _ = lists.publish_lists(period, "scheduler", due)
    return publication


# The current quarter: which stage each sample is left at, and the days ago of its steps.
CURRENT = (
    ["planned"] * 5 + ["refused", "sampled", "sampled", "testing", "testing", "testing", "tested", "tested",
                       "notified", "notified", "objection", "final_fail", "final_fail", "rectifying", "rechecked"]
    + ["final_pass"] * 10
)


def load_current_quarter(seed: int = 2026) -> dict:
    """The quarter under way: a plan with a sample at every stage, and one announced, not drawn."""
    rng = random.Random(seed + 2)
    now = calendar.now()
    period = credit.period_of(calendar.today())
    ago = lambda days: now - timedelta(days=days, hours=rng.randint(1, 5))  # noqa: E731
    plan_id = announce_and_draw(f"{period[:4]}年第{'一二三四'[int(period[-1]) - 1]}季度东莞市重点工业产品质量监督抽查",
                                period, ago(52), ago(46), sample_size=len(CURRENT))
    codes = plan_codes(plan_id)
    stages = CURRENT[: len(codes)]
    for n, (code, stage) in enumerate(zip(codes, stages, strict=True)):
        live_through(Story(rng, code, 500 + n), stage, ago)
    special = plans.create_plan({
        "name": f"{period[:4]}年儿童用品质量安全专项监督抽查", "level": "municipal", "kind": "special",
        "period": period, "category_codes": ["WJ-02", "TC-01", "JJ-01", "XL-01"], "sample_size": 12,
        "team_size": 2}, actor="demo", now=ago(3))
    return {"period": period, "plan_id": plan_id, "announced_plan_id": special.id, "samples": len(codes)}


def live_through(story: Story, stage: str, ago) -> None:
    """Take one sample of the current quarter as far as ``stage``, at moments counted back from now."""
    if stage == "planned":
        return
    if stage == "refused":
        story.refuse(ago(40))
        return
    failing = stage in ("notified", "objection", "final_fail", "rectifying", "rechecked")
    failed = failing_items(story.rng, story.category) if failing else []
    steps = {  # days ago of: sampling, receipt, result, notification
        "sampled": (3, None, None, None), "testing": (12, 11, None, None), "tested": (16, 15, 2, None),
        "notified": (20, 19, 8, 5), "objection": (30, 29, 16, 12), "final_fail": (40, 39, 33, 30),
        "rectifying": (42, 41, 36, 34), "rechecked": (44, 43, 38, 37), "final_pass": (35, 34, 20, 18),
    }[stage]
    sampled, received, tested, notified = steps
    story.sample(ago(sampled))
    if received is None:
        return
    story.receive(ago(received))
    if tested is None:
        return
    story.test(ago(tested), failed)
    if notified is None:
        return
    story.notify(ago(notified))
    if stage == "objection":
        story.object(ago(6))
    elif stage in ("final_fail", "rectifying", "rechecked"):
        story.finalize(ago(notified - 16))
        if stage in ("rectifying", "rechecked"):
            story.rectify(ago(notified - 17))
        if stage == "rechecked":
            story.recheck(ago(2))


def demo_team(plan_id: int) -> tuple[list, Lab, str | None]:
    """The team, lab and code of a plan's last sample still planned (for the demo's tokens)."""
    sample = db.session.scalar(select(Sample).where(Sample.plan_id == plan_id, Sample.status == "planned")
                               .order_by(Sample.id.desc()))
    if sample is None:
        return [], db.session.scalar(select(Lab).order_by(Lab.code)), None
    return list(sample.team), sample.lab, sample.code


# --- where products are sold: distribution, online, seasonal; complaints ---------------


OUT_OF_TOWN = ({"name": "宁波市慈溪众诚电器有限公司", "address": "浙江省宁波市慈溪市观海卫镇工业区"},
               {"name": "汕头市澄海区乐童玩具厂", "address": "广东省汕头市澄海区莲下镇"},
               {"name": "温州市瓯海宏宇鞋业有限公司", "address": "浙江省温州市瓯海区娄桥街道"})
PLATFORMS = ("天猫", "京东", "拼多多")


def producer_of(rng: random.Random, category: str) -> dict:
    """The producer on the label of a product bought from a seller: one of ours, or from elsewhere."""
    if rng.random() < 0.35:
        return dict(rng.choice(OUT_OF_TOWN))
    makers = db.session.scalars(select(Enterprise).where(
        Enterprise.of_kind("producer"), Enterprise.categories.any(Category.code == category)).limit(20)).all()
    maker = rng.choice(makers)
    return {"credit_code": maker.credit_code, "name": maker.name, "address": maker.address}


def load_market_checks(seed: int = 2026) -> dict:
    """The current quarter's checks where products are sold, a seasonal check, and the complaints."""
    rng = random.Random(seed + 3)
    now = calendar.now()
    today = calendar.today()
    period = credit.period_of(today)
    ago = lambda days: now - timedelta(days=days, hours=rng.randint(1, 5))  # noqa: E731
    year = period[:4]
    complaints = load_complaints(rng, today)
    ids = {}
    ids["distribution"] = announce_and_draw(f"{year}年流通领域电器和儿童用品质量监督抽查", period, ago(40), ago(32),
                                            stage="distribution", category_codes=["DQ-01", "DQ-02", "WJ-02", "XL-01"],
                                            sample_size=6)
    for n, code in enumerate(plan_codes(ids["distribution"])[:4]):
        story = Story(rng, code, 700 + n)
        story.sample(ago(25 - n), stage="distribution", producer=producer_of(rng, story.category))
        if n < 2:
            story.receive(ago(24 - n))
            story.test(ago(12), failing_items(rng, story.category) if n == 0 else [])
            story.notify(ago(8))
    ids["online"] = announce_and_draw(f"{year}年电子商务平台销售产品质量监督抽查", period, ago(38), ago(30),
                                      stage="online", category_codes=["DQ-01", "DZ-01", "WJ-02", "FZ-02"],
                                      sample_size=4)
    for n, code in enumerate(plan_codes(ids["online"])[:3]):
        story = Story(rng, code, 800 + n)
        bought = ago(22 - n)
        story.sample(ago(18 - n), stage="online", producer=producer_of(rng, story.category), purchase={
            "platform": rng.choice(PLATFORMS), "order_no": f"{rng.randint(10**15, 10**16 - 1)}",
            "price": round(rng.uniform(39, 299), 2), "received_on": bought.astimezone(timezone()).date()})
        if n == 0:
            story.receive(ago(16))
            story.test(ago(6), [])
            story.notify(ago(4))
    window = {"window_start": today - timedelta(days=45), "window_end": today + timedelta(days=60)}
    ids["seasonal"] = announce_and_draw(f"{year}年秋冬季毛针织品质量专项监督抽查", period, ago(50), ago(44),
                                        kind="special", category_codes=["FZ-02"], sample_size=6, **window)
    for n, code in enumerate(plan_codes(ids["seasonal"])[:3]):
        Story(rng, code, 900 + n).sample(ago(30 - 5 * n))
    return {**ids, "complaints": complaints}


def load_complaints(rng: random.Random, today, count: int = 300) -> int:
    """Complaints (12315), injury reports and outside failing results of the last year, by CSV."""
    enterprises = [e for e in db.session.scalars(select(Enterprise).where(Enterprise.status == "active"))
                   if e.categories]
    risky = rng.sample(enterprises, max(len(enterprises) // 6, 1))  # complaints gather on a few
    sources = ("complaint",) * 16 + ("injury",) + ("outside_check",) * 3
    summaries = {"complaint": ("12315投诉：使用中发热严重", "12345热线：产品与宣传不符",
                               "12315投诉：儿童使用后皮肤过敏", "12315投诉：插头松动打火", "12315投诉：洗后严重缩水"),
                 "injury": ("产品伤害监测：儿童误吞小零件送医", "产品伤害监测：使用时烫伤"),
                 "outside_check": ("外省监督抽查不合格", "电商平台抽检不合格")}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(signals.SIGNAL_HEADER)
    for _ in range(count):
        enterprise = rng.choice(risky) if rng.random() < 0.7 else rng.choice(enterprises)
        source = rng.choice(sources)
        writer.writerow([(today - timedelta(days=rng.randrange(365))).isoformat(), enterprise.credit_code, "",
                         rng.choice(enterprise.categories).code, source, rng.choice(summaries[source])])
    out.seek(0)
    return signals.import_signals(out, "demo", today)["imported"]
