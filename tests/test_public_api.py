"""Open data (一公开): what is public, and when — on SQLite and PostgreSQL.

A result is public once its verdict is final (a refusal once recorded); a plan is announced at
once but never with the enterprises drawn before the draw is public; no inspector's name or
code, and no internal note, is ever in a public answer.
"""

import csv
import io
import json
import socket
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta

import pytest
from credit_factory import LAST_QUARTER, counted_sample, day_in
from lifecycle_factory import make_world
from test_samples_api import Api

from app import create_app
from extensions import db
from services import calendar
from services.audit import publish_anchor, record_event
from services.lists import publish_lists

PUBLIC = "/api/v1/public"
ATOM = "{http://www.w3.org/2005/Atom}"
INSPECTOR_NAMES = ("欧阳明远", "司马清风", "诸葛青云", "上官红叶")


@pytest.fixture
def api(client, auth, factory):
    world = make_world(factory)
    for inspector, name in zip([*world.team, world.outsider], INSPECTOR_NAMES, strict=True):
        inspector.name = name
    world.enterprise.name = "东莞市安泰电器有限公司"
    from extensions import db
    db.session.commit()
    return Api(client, auth, world, base=datetime.now(UTC) - timedelta(days=50))


def public_codes(client, **query) -> list[str]:
    resp = client.get(f"{PUBLIC}/results", query_string=query)
    assert resp.status_code == 200, resp.get_json()
    return [row["sample_code"] for row in resp.get_json()]


def everything_public(client, credit_code: str, plan_id: int) -> str:
    """Every public page and open-data answer a citizen can reach, as one text."""
    paths = ["/", "/plans", f"/plans/{plan_id}", "/results", f"/enterprises/{credit_code}", "/enterprises?q=东莞",
             "/catalogue", "/feeds/publications.atom", f"{PUBLIC}/catalogue", f"{PUBLIC}/plans",
             f"{PUBLIC}/plans/{plan_id}", f"{PUBLIC}/results", f"{PUBLIC}/results.csv",
             f"{PUBLIC}/enterprises?q=东莞", f"{PUBLIC}/enterprises/{credit_code}"]
    texts = []
    for path in paths:
        resp = client.get(path)
        assert resp.status_code == 200, (path, resp.status_code)
        texts.append(resp.get_data(as_text=True))
    return "\n".join(texts)


def test_a_result_is_public_only_once_its_verdict_is_final(client, api):
    code = api.world.samples[0].code
    plan_id = api.world.plan.id
    assert client.get(f"{PUBLIC}/plans/{plan_id}").get_json()["results"] == {"final": 0, "pending": 1}
    api.walk(code, ["sampling", "receipt", "result", "notification"], "fail")
    assert public_codes(client) == []  # notified, still open to objection
    assert code not in client.get("/results").get_data(as_text=True)
    assert code not in client.get(f"/enterprises/{api.world.enterprise.credit_code}").get_data(as_text=True)
    assert client.get(f"{PUBLIC}/plans/{plan_id}").get_json()["results"] == {"final": 0, "pending": 1}

    api.move(code, "finalize")
    assert public_codes(client) == [code]
    [row] = client.get(f"{PUBLIC}/results").get_json()
    assert row["verdict"] == "fail"
    assert row["sampled_unit"] == {"credit_code": api.world.enterprise.credit_code, "name": "东莞市安泰电器有限公司",
                                   "region": api.world.enterprise.region}
    assert row["product_name"] == "电热水壶" and row["brand"] == "美好" and row["model"] == "MH-17"
    assert row["batch_no"] == "20260801" and row["stage"] == "production"
    assert row["failed_items"] == [{"name": "泄漏电流", "requirement": "≤ 0.75", "measured": "0.92", "unit": "mA",
                                    "critical": True}]
    assert row["lab"] == api.world.lab.name and row["report_no"] == "R-001"
    assert row["plan_id"] == plan_id and row["plan_name"] == api.world.plan.name
    assert client.get(f"{PUBLIC}/plans/{plan_id}").get_json()["results"] == {"final": 1, "pending": 0}
    page = client.get(f"/plans/{plan_id}").get_data(as_text=True)
    assert "泄漏电流" in page and "0.92" in page and "≤ 0.75" in page


def test_a_passing_result_is_public_when_notified_and_a_retest_shows_the_retest(client, api):
    passing = api.world.samples[0].code
    retested = api.world.sample().code
    api.walk(passing, ["sampling", "receipt", "result"], "pass")
    assert public_codes(client) == []  # tested, not yet notified
    api.move(passing, "notification", "pass")
    assert public_codes(client) == [passing]
    api.walk(retested, ["sampling", "receipt", "result", "notification", "objection"], "fail")
    assert public_codes(client) == [passing]  # under retest
    api.move(retested, "retest-result", "pass")
    rows = {r["sample_code"]: r for r in client.get(f"{PUBLIC}/results").get_json()}
    assert rows[retested]["verdict"] == "pass" and rows[retested]["retested"] is True
    assert rows[retested]["report_no"] == "RT-001" and rows[retested]["failed_items"] == []


def test_a_refusal_is_public_without_the_inspectors_statement(client, api):
    code = api.world.samples[0].code
    api.move(code, "refusal")
    [row] = client.get(f"{PUBLIC}/results", query_string={"verdict": "refused"}).get_json()
    assert row["sample_code"] == code and row["verdict"] == "refused"
    assert row["lab"] is None and row["report_no"] is None and row["failed_items"] == []
    text = everything_public(client, api.world.enterprise.credit_code, api.world.plan.id)
    assert "拒绝在抽样单上签字" not in text  # the inspectors' statement is an internal record
    assert "拒绝抽样" in client.get("/results").get_data(as_text=True)


def test_no_inspector_name_code_or_internal_note_appears_anywhere_public(client, api):
    failing, passing, refusing = api.world.samples[0].code, api.world.sample().code, api.world.sample().code
    api.walk(failing, ["sampling", "receipt", "result", "notification"], "fail")
    api.move(failing, "finalize")
    api.move(failing, "rectification")
    api.move(failing, "recheck", "pass")
    api.walk(passing, ["sampling", "receipt", "result", "notification"], "pass")
    api.move(refusing, "refusal")
    text = everything_public(client, api.world.enterprise.credit_code, api.world.plan.id)
    assert failing in text and passing in text and refusing in text
    for inspector in [*api.world.team, api.world.outsider]:
        assert inspector.name not in text
        assert f'"{inspector.code}"' not in text and f">{inspector.code}<" not in text
    for note in ("限期整改", "supervisor-user", "inspector-user", "lab-user"):
        assert note not in text
    record = client.get(f"{PUBLIC}/enterprises/{api.world.enterprise.credit_code}").get_json()
    assert {"sample_code": failing, "follow_up": "已整改、复查合格"} in record["follow_up"]
    rows = {r["sample_code"]: r for r in client.get(f"{PUBLIC}/results").get_json()}
    assert rows[failing]["follow_up"] == "已整改、复查合格" and rows[passing]["follow_up"] is None
    assert rows[refusing]["follow_up"] == "待处理"  # a refusal calls for follow-up too


def test_a_plan_announcement_never_names_the_drawn_enterprises_before_the_draw_is_public(client, auth, factory):
    category = factory.category(name="电热水壶", standard="GB 4706.19", key_supervised=True)
    enterprises = [factory.enterprise([category], region="虎门镇", name=f"东莞市第{n}电器有限公司") for n in range(6)]
    for n, region in enumerate(("东城街道", "南城街道", "莞城街道") * 3):
        factory.inspector(region=region, name=f"{region}检查员{n}")
    factory.lab([category], name="东莞市质量监督检测中心")
    sup = auth.headers("supervisor")
    body = {"name": "2026年电热水壶专项监督抽查", "level": "municipal", "kind": "special", "period": "2026Q3",
            "category_codes": [category.code], "sample_size": 3}
    created = client.post("/api/v1/plans", json=body, headers=sup)
    assert created.status_code == 201, created.get_json()
    plan_id = created.get_json()["id"]

    announced = client.get(f"{PUBLIC}/plans/{plan_id}").get_json()
    assert announced["seed_commitment"] == created.get_json()["seed_commitment"]
    assert announced["drawn"] is False and announced["results"] == {"final": 0, "pending": 0}
    assert announced["categories"] == [{"code": category.code, "name": "电热水壶"}]

    drawn = client.post(f"/api/v1/plans/{plan_id}/draw", json={"public_entropy": "42"}, headers=sup)
    assert drawn.status_code == 201, drawn.get_json()
    chosen = {s["credit_code"] for s in drawn.get_json()["selections"]}
    assert len(chosen) == 3
    plan_surfaces = ["/", "/plans", f"/plans/{plan_id}", "/results", "/feeds/publications.atom",
                     f"{PUBLIC}/plans", f"{PUBLIC}/plans/{plan_id}", f"{PUBLIC}/results", f"{PUBLIC}/results.csv"]
    text = "\n".join(client.get(path).get_data(as_text=True) for path in plan_surfaces)
    by_code = {e.credit_code: e.name for e in enterprises}
    for code in chosen:
        assert code not in text and by_code[code] not in text
    # The lookup of a drawn enterprise reads exactly like that of one not drawn.
    undrawn = next(e for e in enterprises if e.credit_code not in chosen)
    records = [client.get(f"{PUBLIC}/enterprises/{code}").get_json() for code in (min(chosen), undrawn.credit_code)]
    for record in records:
        del record["credit_code"], record["name"]
    assert records[0] == records[1]
    assert f"/draws/{plan_id}" not in text
    announced = client.get(f"{PUBLIC}/plans/{plan_id}").get_json()
    assert announced["drawn"] is True and announced["draw_public"] is False
    assert announced["results"] == {"final": 0, "pending": 3}
    assert "selections" not in announced and "server_seed" not in announced

    assert client.post(f"/api/v1/plans/{plan_id}/draw/publish", headers=sup).status_code == 200
    assert client.get(f"{PUBLIC}/plans/{plan_id}").get_json()["draw_public"] is True
    assert f"/draws/{plan_id}" in client.get(f"/plans/{plan_id}").get_data(as_text=True)


def test_results_filter_by_period_dates_category_region_stage_verdict_and_text(client, factory):
    parent = factory.category(code="DQ", name="家用电器")
    kettle = factory.category(code="DQ-01", name="电热水壶", parent=parent)
    toy = factory.category(code="WJ-02", name="儿童玩具")
    humen = factory.enterprise([kettle], region="虎门镇", name="东莞市虎门电器有限公司")
    changan = factory.enterprise([toy], region="长安镇", name="东莞市长安玩具有限公司")
    a = counted_sample(humen, kettle, "fail", days_ago=40)
    b = counted_sample(changan, toy, "pass", days_ago=10, period="2025Q4")
    c = counted_sample(changan, toy, refused=True, days_ago=5)
    assert public_codes(client) == [c.code, b.code, a.code]  # newest decision first
    assert public_codes(client, category="DQ") == [a.code]  # a parent includes its children
    assert public_codes(client, region="长安镇") == [c.code, b.code]
    assert public_codes(client, verdict="fail") == [a.code]
    assert public_codes(client, verdict="pass") == [b.code]
    assert public_codes(client, verdict="refused") == [c.code]
    assert public_codes(client, period="2025Q4") == [b.code]
    assert public_codes(client, q="虎门电器") == [a.code]
    assert public_codes(client, q=humen.credit_code) == [a.code]
    assert public_codes(client, q=a.code) == [a.code]
    assert public_codes(client, q="100%") == []  # LIKE wildcards are literal
    day = calendar.local_date(b.final_at)  # the regulator's calendar day, not UTC's
    assert b.code in public_codes(client, **{"from": day.isoformat(), "to": day.isoformat()})
    assert public_codes(client, **{"from": (day + timedelta(days=2)).isoformat()}) == [c.code]
    a.stage = "distribution"
    from extensions import db
    db.session.commit()
    assert public_codes(client, stage="distribution") == [a.code]
    resp = client.get(f"{PUBLIC}/results", query_string={"page_size": 2, "page": 2})
    assert json.loads(resp.headers["X-Pagination"])["total"] == 3
    assert [r["sample_code"] for r in resp.get_json()] == [a.code]


@pytest.mark.parametrize(("query", "field"), [
    ({"period": "2026Q9"}, "period"), ({"verdict": "maybe"}, "verdict"), ({"from": "2026-13-01"}, "from"),
    ({"from": "2026-09-01", "to": "2026-08-01"}, "to"), ({"plan_id": "x"}, "plan_id"), ({"stage": "moon"}, "stage"),
])
def test_a_bad_filter_is_a_422_naming_it(client, query, field):
    resp = client.get(f"{PUBLIC}/results", query_string=query)
    assert resp.status_code == 422
    body = resp.get_json()
    assert set(body) == {"code", "status", "message", "errors"} and body["code"] == 422
    assert any(key.endswith(field) for key in body["errors"]), body["errors"]


def test_the_results_csv_has_every_row_and_neutralises_formulas(client, factory):
    category = factory.category(name="儿童玩具")
    evil = factory.enterprise([category], name="=HYPERLINK(\"http://x\")玩具厂")
    counted_sample(evil, category, "fail", items=("+小零件",))
    for _ in range(3):
        counted_sample(factory.enterprise([category]), category, "pass")
    resp = client.get(f"{PUBLIC}/results.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 4
    bad = next(r for r in rows if "HYPERLINK" in r["enterprise_name"])
    assert bad["enterprise_name"].startswith("'=") and bad["failed_items"].startswith("'+小零件")
    assert all(not v.startswith(("=", "+", "-", "@")) for r in rows for v in r.values() if v)
    only_failed = client.get(f"{PUBLIC}/results.csv", query_string={"verdict": "fail"}).get_data(as_text=True)
    assert len(list(csv.DictReader(io.StringIO(only_failed.lstrip("\ufeff"))))) == 1


def test_the_catalogue_lists_standards_key_products_and_the_tree(client, factory):
    parent = factory.category(code="WJ", name="五金和玩具")
    factory.category(code="WJ-02", name="儿童玩具", parent=parent, standard="GB 6675", key_supervised=True,
                     risk_level=3)
    rows = client.get(f"{PUBLIC}/catalogue").get_json()
    assert [r["code"] for r in rows] == ["WJ", "WJ-02"]
    assert rows[1] | {"season_months": []} == {
        "code": "WJ-02", "name": "儿童玩具", "parent_code": "WJ", "parent_name": "五金和玩具", "group": "industrial",
        "key_supervised": True, "risk_level": 3, "standard": "GB 6675", "season_months": rows[1]["season_months"]}
    page = client.get("/catalogue").get_data(as_text=True)
    assert "儿童玩具" in page and "GB 6675" in page and "重点监管" in page


def test_the_enterprise_lookup_finds_by_name_or_code_and_gives_the_whole_record(client, factory):
    category = factory.category(name="儿童推车")
    wanted = factory.enterprise([category], name="东莞市好孩子童车有限公司", region="石排镇")
    factory.enterprise([category], name="东莞市远方五金有限公司")
    failed = counted_sample(wanted, category, "fail", on=day_in(LAST_QUARTER), items=("稳定性",))
    publish_lists(LAST_QUARTER, "test", calendar.now())
    found = client.get(f"{PUBLIC}/enterprises", query_string={"q": "好孩子"})
    assert [e["credit_code"] for e in found.get_json()] == [wanted.credit_code]
    assert json.loads(found.headers["X-Pagination"])["total"] == 1
    by_code = client.get(f"{PUBLIC}/enterprises", query_string={"q": wanted.credit_code[:12]}).get_json()
    assert wanted.credit_code in [e["credit_code"] for e in by_code]
    assert client.get(f"{PUBLIC}/enterprises").status_code == 422  # q is required

    record = client.get(f"{PUBLIC}/enterprises/{wanted.credit_code}").get_json()
    assert record["name"] == "东莞市好孩子童车有限公司" and record["region"] == "石排镇"
    assert record["grade"] in ("C", "D")
    [entry] = record["list_entries"]
    assert entry["list"] == "black" and entry["period"] == LAST_QUARTER and entry["state"] == "active"
    assert entry["expires_at"] > entry["listed_at"]
    assert [r["sample_code"] for r in record["results"]] == [failed.code]
    page = client.get(f"/enterprises/{wanted.credit_code}").get_data(as_text=True)
    assert "黑榜" in page and "稳定性" in page and wanted.credit_code in page

    missing = client.get(f"{PUBLIC}/enterprises/91441900MA00000000")
    assert missing.status_code == 404 and missing.get_json()["code"] == 404
    page = client.get("/enterprises/91441900MA00000000")
    assert page.status_code == 404 and page.mimetype == "text/html" and "页面不存在" in page.get_data(as_text=True)


def test_the_atom_feed_announces_publications_and_results(client, factory):
    category = factory.category(name="毛针织品")
    enterprise = factory.enterprise([category])
    counted_sample(enterprise, category, "fail", on=day_in(LAST_QUARTER))
    publish_lists(LAST_QUARTER, "test", calendar.now())
    resp = client.get("/feeds/publications.atom")
    assert resp.status_code == 200 and resp.mimetype == "application/atom+xml"
    feed = ET.fromstring(resp.data)
    assert feed.find(f"{ATOM}updated").text
    titles = [e.find(f"{ATOM}title").text for e in feed.findall(f"{ATOM}entry")]
    year, quarter = LAST_QUARTER.split("Q")
    assert any(t.startswith(f"{year}年第") and "红黑榜" in t for t in titles), titles
    for entry in feed.findall(f"{ATOM}entry"):
        assert entry.find(f"{ATOM}id").text and entry.find(f"{ATOM}updated").text
        assert entry.find(f"{ATOM}link").get("href").startswith("http")


def test_the_feed_publishes_the_audit_trails_daily_anchor(client):
    """An outsider who keeps the feed holds the trail's head hash of each day (issue 13)."""
    record_event("create", "category", "X", after={"n": 1}, actor="test")
    db.session.commit()
    anchor = publish_anchor(date(2026, 11, 30))
    feed = ET.fromstring(client.get("/feeds/publications.atom").data)
    summaries = [e.find(f"{ATOM}summary").text for e in feed.findall(f"{ATOM}entry")
                 if e.find(f"{ATOM}id").text.endswith("audit-anchors#2026-11-30")]
    assert len(summaries) == 1 and anchor.hash in summaries[0] and f"共 {anchor.events} 条" in summaries[0]


def test_the_plans_list_is_paginated_and_filtered(client, api, factory):
    resp = client.get(f"{PUBLIC}/plans", query_string={"period": api.world.plan.period})
    assert [p["id"] for p in resp.get_json()] == [api.world.plan.id]
    assert json.loads(resp.headers["X-Pagination"])["total"] == 1
    assert client.get(f"{PUBLIC}/plans", query_string={"period": "2024Q1"}).get_json() == []
    assert client.get(f"{PUBLIC}/plans/999999").status_code == 404
    assert client.get("/plans/999999").status_code == 404


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_with_the_database_down_public_pages_answer_a_chinese_page_and_the_api_json():
    down = create_app({"ENV_NAME": "testing",
                       "SQLALCHEMY_DATABASE_URI": f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/none",
                       "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}}})
    client = down.test_client()
    for path in ("/", "/plans", "/results", "/enterprises?q=x", "/catalogue", "/plans/1"):
        resp = client.get(path)
        assert resp.status_code == 503, path
        assert resp.mimetype == "text/html" and "服务暂时不可用" in resp.get_data(as_text=True), path
    resp = client.get(f"{PUBLIC}/results")
    assert resp.status_code == 503 and resp.get_json()["code"] == 503


def test_a_result_names_the_sampled_unit_and_the_named_producer(client, factory):
    from extensions import db

    category = factory.category(name="电热水壶")
    seller = factory.enterprise([category], name="东莞市万家福百货有限公司", region="南城街道")
    maker = factory.enterprise([category], name="东莞市宏达电器有限公司", region="长安镇")
    here = counted_sample(seller, category, "fail", days_ago=20)
    elsewhere = counted_sample(seller, category, "pass", days_ago=10)
    here.producer_enterprise_id, here.stage = maker.id, "distribution"
    elsewhere.producer_name, elsewhere.producer_address = "宁波市慈溪某电器有限公司", "浙江省宁波市慈溪市"
    db.session.commit()
    rows = {r["sample_code"]: r for r in client.get(f"{PUBLIC}/results").get_json()}
    assert rows[here.code]["sampled_unit"]["name"] == "东莞市万家福百货有限公司"
    assert rows[here.code]["producer"] == {"credit_code": maker.credit_code, "name": "东莞市宏达电器有限公司",
                                           "address": maker.address}
    assert rows[elsewhere.code]["producer"] == {"credit_code": None, "name": "宁波市慈溪某电器有限公司",
                                                "address": "浙江省宁波市慈溪市"}
    page = client.get("/results").get_data(as_text=True)
    assert "标称生产者" in page and "宁波市慈溪某电器有限公司" in page and "流通领域" in page


@pytest.fixture
def kept(app):
    """Answers kept for a minute, as in production (the suite keeps none)."""
    from services.public import public_cache

    app.config["LISTS_CACHE_SECONDS"] = 60
    public_cache.clear()
    yield public_cache
    app.config["LISTS_CACHE_SECONDS"] = 0
    public_cache.clear()


def test_public_answers_are_kept_a_few_seconds_with_their_pagination(client, factory, kept):
    category = factory.category(name="儿童玩具")
    first = counted_sample(factory.enterprise([category]), category, "pass")
    answer = client.get(f"{PUBLIC}/results")
    assert [r["sample_code"] for r in answer.get_json()] == [first.code]
    counted_sample(factory.enterprise([category]), category, "fail")
    again = client.get(f"{PUBLIC}/results")
    assert again.get_data() == answer.get_data()  # kept: a new result shows within the TTL
    assert json.loads(again.headers["X-Pagination"])["total"] == 1
    assert again.mimetype == "application/json"
    assert client.get(f"{PUBLIC}/results", query_string={"verdict": "fail"}).get_json()[0]["verdict"] == "fail"
    assert client.get(f"{PUBLIC}/results", query_string={"period": "bad"}).status_code == 422
    assert client.get(f"{PUBLIC}/results", query_string={"period": "bad"}).status_code == 422  # errors never kept
    kept.clear()
    assert json.loads(client.get(f"{PUBLIC}/results").headers["X-Pagination"])["total"] == 2
    page = client.get("/results")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert client.get("/results").get_data() == page.get_data()


def test_the_feed_announces_a_supplement_of_a_published_period(client, auth, factory):
    sup = auth.headers("supervisor")
    category = factory.category(name="儿童推车")
    counted_sample(factory.enterprise([category]), category, "fail", days_ago=80)
    assert client.post(f"/api/v1/lists/{LAST_QUARTER}/publish", json={}, headers=sup).status_code == 201
    counted_sample(factory.enterprise([category]), category, "fail", days_ago=85)  # reaches the period late
    again = client.post(f"/api/v1/lists/{LAST_QUARTER}/publish", json={"reason": "补录历史抽查结果"}, headers=sup)
    assert again.status_code == 201, again.get_json()
    feed = ET.fromstring(client.get("/feeds/publications.atom").data)
    titles = [e.find(f"{ATOM}title").text for e in feed.findall(f"{ATOM}entry")]
    assert any("补充公告（第1号）" in t for t in titles), titles
    ids = [e.find(f"{ATOM}id").text for e in feed.findall(f"{ATOM}entry")]
    assert len(ids) == len(set(ids))
