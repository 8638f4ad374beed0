"""Key-product coverage: the report against an independent count, the rule plans use, the page."""

import itertools
import random
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert

from extensions import db
from models.samples import Sample
from services import calendar, coverage

COVERAGE = "/api/v1/reports/coverage"
TODAY = date(2026, 11, 15)
_codes = itertools.count(1)


@pytest.fixture
def clock(monkeypatch):
    instant = datetime(2026, 11, 15, 4, tzinfo=UTC)
    monkeypatch.setattr(calendar, "now", lambda: instant)


def take_sample(unit, category, sampled_at, producer=None, refused=False):
    """A sample taken (or refused) at ``sampled_at``; ``producer``: the named producer, when not the unit."""
    db.session.execute(insert(Sample), [{
        "code": f"C{next(_codes):07d}", "enterprise_id": unit.id, "category_id": category.id,
        "period": "2026Q1", "level": "municipal", "kind": "routine", "source": "draw",
        "status": "refused" if refused else "sampled", "critical_failed": False,
        "sampled_at": None if refused else sampled_at, "refused_at": sampled_at if refused else None,
        "producer_enterprise_id": producer.id if producer else None,
    }])
    db.session.commit()


def independent_count(world, since: datetime, region=None):
    """Rows as DESIGN.md defines them, counted in Python from what the test made."""
    rows = {}
    for key in world["keys"]:
        tree = world["tree"][key.code]
        for e in world["enterprises"]:
            if e["status"] != "active" or "producer" not in e["kinds"] or not (e["categories"] & tree):
                continue
            if region and e["region"] != region:
                continue
            covered = any(s["category"] in tree and s["at"] >= since and not s["refused"]
                          and e["code"] in (s["unit"], s["producer"]) for s in world["samples"])
            row = rows.setdefault((key.code, e["region"]), {"producers": 0, "sampled": 0, "not_sampled": []})
            row["producers"] += 1
            row["sampled"] += covered
            if not covered:
                row["not_sampled"].append(e["code"])
    return {k: {**v, "not_sampled": sorted(v["not_sampled"])} for k, v in rows.items()}


@pytest.fixture
def world(factory):
    rng = random.Random(7)
    appliances = factory.category(code="JD", name="家用电器", key_supervised=True)
    kettles = factory.category(code="JD-01", name="电热水壶", parent=appliances)
    toys = factory.category(code="WJ", name="玩具", key_supervised=True, group="consumer")
    paper = factory.category(code="ZP", name="纸制品")  # not key-supervised: never in the report
    categories = [appliances, kettles, toys, paper]
    tree = {"JD": {appliances.code, kettles.code}, "WJ": {toys.code}}
    made, enterprises = [], []
    for _ in range(40):
        kinds = rng.choice([["producer"], ["producer"], ["seller"], ["producer", "seller"]])
        status = rng.choice(["active"] * 5 + ["closed"])
        chosen = rng.sample(categories, rng.randint(1, 2))
        region = rng.choice(["南城街道", "虎门镇", "长安镇"])
        e = factory.enterprise(chosen, region=region, status=status, kinds=kinds)
        enterprises.append(e)
        made.append({"code": e.credit_code, "region": region, "status": status, "kinds": kinds,
                     "categories": {c.code for c in chosen}})
    samples = []
    now = datetime(2026, 11, 15, tzinfo=UTC)
    for _ in range(60):
        unit = rng.choice(enterprises)
        category = rng.choice(categories)
        at = now - timedelta(days=rng.randint(1, 4 * 365))
        refused = rng.random() < 0.15
        producer = rng.choice(enterprises) if rng.random() < 0.3 else None
        take_sample(unit, category, at, producer, refused)
        samples.append({"unit": unit.credit_code, "producer": producer.credit_code if producer else None,
                        "category": category.code, "at": at, "refused": refused})
    return {"keys": [appliances, toys], "tree": tree, "enterprises": made, "samples": samples}


def rows_of(body):
    return {(r["category_code"], r["region"]): {k: r[k] for k in ("producers", "sampled", "not_sampled")}
            for r in body["rows"]}


@pytest.mark.parametrize("years", [1, 2, 3])
def test_coverage_matches_an_independent_count(client, auth, world, clock, years):
    query = {"years": years} if years != 2 else {}  # 2 is the default
    response = client.get(COVERAGE, query_string=query, headers=auth.headers("supervisor"))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    since = coverage.window_start(TODAY, years)
    assert body["years"] == years and body["since"] == since.date().isoformat()
    expected = independent_count(world, since)
    assert rows_of(body) == expected
    assert {key for key, _ in expected} == {"JD", "WJ"}  # every key category, never 纸制品
    assert body["total"]["producers"] == sum(r["producers"] for r in expected.values())
    for row in body["rows"]:
        assert row["sampled"] + len(row["not_sampled"]) == row["producers"]


def test_coverage_filters_by_category_and_region(client, auth, world, clock):
    headers = auth.headers("supervisor")
    body = client.get(COVERAGE, query_string={"category": "WJ", "region": "虎门镇"}, headers=headers).get_json()
    expected = {k: v for k, v in independent_count(world, coverage.window_start(TODAY, 2), "虎门镇").items()
                if k[0] == "WJ"}
    assert rows_of(body) == expected


def test_a_sample_at_a_seller_covers_its_named_producer_and_a_refusal_covers_nobody(client, auth, factory, clock):
    key = factory.category(code="RQ", name="燃气灶", key_supervised=True)
    maker = factory.enterprise([key], region="长安镇")
    refuser = factory.enterprise([key], region="长安镇")
    shop = factory.enterprise([key], region="长安镇", kinds=["seller"])
    take_sample(shop, key, datetime(2026, 6, 1, tzinfo=UTC), producer=maker)
    take_sample(refuser, key, datetime(2026, 6, 1, tzinfo=UTC), refused=True)
    body = client.get(COVERAGE, headers=auth.headers("supervisor")).get_json()
    (row,) = body["rows"]
    assert (row["producers"], row["sampled"], row["not_sampled"]) == (2, 1, [refuser.credit_code])
    assert coverage.uncovered_producers([key.id], TODAY) == {refuser.id: {key.id}}


def test_uncovered_producers_is_the_rule_of_the_report(app_ctx, world):
    from sqlalchemy import select

    from models.registry import Category, Enterprise

    for years in (1, 2):
        expected = independent_count(world, coverage.window_start(TODAY, years))
        keys = {c.code: c.id for c in db.session.scalars(select(Category).where(Category.code.in_(["JD", "WJ"])))}
        due = coverage.uncovered_producers(keys.values(), TODAY, years)
        codes = dict(db.session.execute(select(Enterprise.id, Enterprise.credit_code)).all())
        got = sorted((codes[e], c) for e, categories in due.items() for c in categories)
        want = sorted((code, keys[key]) for (key, _), row in expected.items() for code in row["not_sampled"])
        assert got == want


def test_coverage_is_for_supervisors_and_checks_its_query(client, auth, factory, world, clock):
    assert client.get(COVERAGE).status_code == 401
    assert client.get(COVERAGE, headers=auth.headers("inspector", inspector=factory.inspector())).status_code == 403
    headers = auth.headers("supervisor")
    for query in ({"years": 0}, {"years": "x"}, {"category": "ZP"}, {"category": "NOPE"}):
        response = client.get(COVERAGE, query_string=query, headers=headers)
        assert response.status_code == 422, query
        assert response.get_json()["errors"]


def test_the_supervisors_page(client, auth, factory, world, clock):
    page = client.get("/coverage")
    assert page.status_code == 401 and "仅供监管人员" in page.get_data(as_text=True)
    inspector = auth.headers("inspector", inspector=factory.inspector())
    assert client.get("/coverage", headers=inspector).status_code == 403
    html = client.get("/coverage", headers=auth.headers("supervisor")).get_data(as_text=True)
    expected = independent_count(world, coverage.window_start(TODAY, 2))
    assert "家用电器" in html and "玩具" in html and "纸制品" not in html
    for row in expected.values():
        for code in row["not_sampled"]:
            assert f'<code class="nowrap">{code}</code>' in html
    assert client.get("/coverage", query_string={"years": "abc"}, headers=auth.headers("supervisor")).status_code == 422
