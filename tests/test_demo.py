"""The demo city reads as a regulator's record would: believable names, labs, quarters and stages."""

from collections import Counter

from sqlalchemy import func, select

from extensions import db
from models.plans import Draw, Plan
from models.registry import Enterprise, Lab
from models.samples import Result, ResultItem, Sample
from sampling import credit
from scripts.demo import ITEMS, TRADES, load_demo, make_users
from scripts.demo_quarter import (
    demo_team,
    load_current_quarter,
    load_history,
    load_market_checks,
    load_past_quarter,
    quarters_before,
)
from services import calendar


def test_the_demo_city_is_believable(app_ctx):
    """One city, loaded once (it takes seconds), checked from every side."""
    load_demo(seed=11, enterprises=250)
    load_history(seed=11)
    past = load_past_quarter(seed=11, sample_size=30)
    current = load_current_quarter(seed=11)
    market = load_market_checks(seed=11)
    city = (past, current)
    products_are_checked_where_they_are_sold(market)
    enterprise_names_are_unique_and_fit_what_they_make()
    each_lab_tests_only_what_it_is_accredited_for_and_fits()
    eight_continuous_quarters_with_failures_spread_over_items_and_labs()
    plans_are_announced_before_they_are_drawn()
    the_current_quarter_is_under_way_at_every_stage(city)
    the_demo_users_are_one_drawn_team_and_its_lab(current["plan_id"])


def enterprise_names_are_unique_and_fit_what_they_make():
    enterprises = db.session.scalars(select(Enterprise)).all()
    names = Counter(e.name for e in enterprises)
    assert names.most_common(1)[0][1] == 1
    for enterprise in (e for e in enterprises if e.kinds == ["producer"]):
        first = enterprise.categories[0].code
        trades = [t for c in enterprise.category_codes for t in TRADES[c]]
        assert any(t in enterprise.name for t in trades), (enterprise.name, first)


def each_lab_tests_only_what_it_is_accredited_for_and_fits():
    for lab in db.session.scalars(select(Lab)):
        codes = set(lab.category_codes)
        if "纺织" in lab.name:
            assert codes <= {"FZ-01", "FZ-02", "XL-01"}, lab.name
        if "玩具" in lab.name:
            assert "WJ-01" not in codes and "DZ-02" not in codes
    tested = db.session.execute(
        select(Result.lab_id, Sample.category_id).join(Sample, Sample.id == Result.sample_id)
        .where(Result.lab_id.is_not(None))).all()
    accredited = {(lab.id, c.id) for lab in db.session.scalars(select(Lab)) for c in lab.categories}
    assert tested and all(pair in accredited for pair in tested)


def eight_continuous_quarters_with_failures_spread_over_items_and_labs():
    current = credit.period_of(calendar.today())
    periods = quarters_before(current, 8)
    counts = dict(db.session.execute(select(Sample.period, func.count()).group_by(Sample.period)).all())
    assert all(counts.get(p, 0) >= 25 for p in periods), counts
    failed = db.session.execute(
        select(Sample.period, ResultItem.name, Result.lab_id, Result.lab_name)
        .join(Result, Result.sample_id == Sample.id).join(ResultItem, ResultItem.result_id == Result.id)
        .where(ResultItem.verdict == "fail", Sample.verdict == "fail")).all()
    known_items = {i.name for items in ITEMS.values() for i in items}
    assert {name for _, name, _, _ in failed} <= known_items
    assert len({name for _, name, _, _ in failed}) >= 10  # not one item everywhere
    by_quarter = Counter(period for period, *_ in failed)
    assert len(by_quarter) >= 6
    for period in by_quarter:
        in_quarter = [(name, lab) for p, name, lab, _ in failed if p == period]
        assert len({lab for _, lab in in_quarter}) >= 2 or len(in_quarter) < 3
    tested = db.session.scalar(select(func.count()).select_from(Sample).where(Sample.verdict.is_not(None)))
    failures = db.session.scalar(select(func.count()).select_from(Sample).where(Sample.verdict == "fail"))
    assert 0.04 < failures / tested < 0.2  # national rates run about 10-12%


def plans_are_announced_before_they_are_drawn():
    for plan, draw in db.session.execute(select(Plan, Draw).join(Draw, Draw.plan_id == Plan.id)):
        assert plan.created_at < draw.drawn_at


def the_current_quarter_is_under_way_at_every_stage(city):
    _, current = city
    statuses = set(db.session.scalars(select(Sample.status).where(Sample.plan_id == current["plan_id"])))
    assert statuses >= {"planned", "sampled", "refused", "testing", "tested", "notified", "objection", "final",
                        "rectifying", "rechecked"}
    announced = db.session.get(Plan, current["announced_plan_id"])
    assert announced.draw is None


def the_demo_users_are_one_drawn_team_and_its_lab(current_plan_id):
    team, lab, code = demo_team(current_plan_id)
    sample = db.session.scalar(select(Sample).where(Sample.code == code))
    assert sample.status == "planned" and sample.lab_id == lab.id
    assert {i.id for i in sample.team} == {i.id for i in team}
    users = make_users(team, lab)
    assert [(u["key"], u["role"]) for u in users] == [
        ("supervisor", "supervisor"), ("inspector", "inspector"), ("inspector2", "inspector"), ("lab", "lab")]
    assert [u["bound"] for u in users][1:] == [team[0].code, team[1].code, lab.code]


def products_are_checked_where_they_are_sold(market):
    kinds = Counter(k for e in db.session.scalars(select(Enterprise)) for k in e.kinds)
    assert kinds["seller"] >= 4 and kinds["online_shop"] >= 3 and kinds["importer"] >= 1
    drawn = db.session.scalars(select(Sample).where(Sample.plan_id == market["distribution"])).all()
    assert drawn and all(s.enterprise.kinds == ["seller"] for s in drawn)
    assert any(s.producer_name and s.producer is None for s in drawn if s.status != "planned") or any(
        s.producer is not None for s in drawn)
    online = db.session.scalars(select(Sample).where(Sample.plan_id == market["online"],
                                                     Sample.status != "planned")).all()
    assert online and all(s.enterprise.kinds == ["online_shop"] and s.purchase_platform for s in online)
    seasonal = db.session.get(Plan, market["seasonal"])
    assert seasonal.window_start <= calendar.today() <= seasonal.window_end
    assert market["complaints"] == 300
