"""The public pass-rate page /reports, read as a citizen would (with a controllable clock)."""

import re
from datetime import UTC, datetime

import pytest
from test_reports_api import add_samples, make_plan

from services import calendar


@pytest.fixture
def clock(monkeypatch):
    """Set the regulator's clock: ``clock("2026-11-15")``."""

    def set_to(day: str):
        instant = datetime.fromisoformat(day).replace(hour=4, tzinfo=UTC)
        monkeypatch.setattr(calendar, "now", lambda: instant)

    return set_to


def visible_text(html: str) -> str:
    """What a reader sees: the page without tags, attributes, scripts and styles."""
    html = re.sub(r"<(style|script)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r"<title>.*?</title>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def city(factory):
    wires = factory.category(code="DX-01", name="电线电缆", group="industrial")
    kettles = factory.category(code="DQ-02", name="电热水壶", group="industrial")
    maker = factory.enterprise([wires, kettles], region="南城街道")
    add_samples(maker, wires, 45, period="2026Q2")
    add_samples(maker, wires, 48, period="2026Q3")
    add_samples(maker, wires, 2, "fail", period="2026Q3")
    add_samples(maker, kettles, 20, period="2026Q3")
    add_samples(maker, wires, 1, "fail", period="2026Q4")  # the quarter in progress
    return {"wires": wires, "kettles": kettles, "maker": maker}


def test_opens_on_the_last_ended_quarter(client, city, clock):
    clock("2026-11-15")
    html = client.get("/reports").get_data(as_text=True)
    assert "2026年第三季度各类别合格率" in html
    assert "96.0%" in html  # 48 of 50 wires in 2026Q3, not the one failure of 2026Q4
    clock("2027-01-02")
    assert "2026年第四季度各类别合格率" in client.get("/reports").get_data(as_text=True)


def test_opens_on_the_latest_ended_quarter_with_data(client, factory, clock):
    category = factory.category(name="玩具")
    add_samples(factory.enterprise([category]), category, 10, period="2026Q1")
    clock("2026-11-15")  # 2026Q3 ended, but has no data
    assert "2026年第一季度各类别合格率" in client.get("/reports").get_data(as_text=True)


@pytest.mark.parametrize("query", [{"period": "garbage"}, {"period": "2026Q5"}, {"level": "county"}])
def test_a_bad_query_is_a_chinese_error_page(client, city, query):
    response = client.get("/reports", query_string=query)
    assert response.status_code == 422
    assert response.mimetype == "text/html"
    text = visible_text(response.get_data(as_text=True))
    assert "查询条件有误" in text and ("期次格式不正确" in text or "抽查层级不正确" in text)


def test_never_a_bare_below_target_when_the_sample_cannot_tell(client, factory, clock):
    clock("2026-11-15")
    few = factory.category(name="打火机", group="industrial")
    many = factory.category(name="插座", group="industrial")
    maker = factory.enterprise([few, many])
    add_samples(maker, few, 1, "fail", period="2026Q3")
    html = client.get("/reports").get_data(as_text=True)
    assert "低于目标，但差异不显著" in html
    assert "未达标" not in html
    add_samples(maker, many, 80, period="2026Q3")
    add_samples(maker, many, 20, "fail", period="2026Q3")
    html = client.get("/reports").get_data(as_text=True)
    assert "未达标（显著低于目标）" in html
    assert html.count("未达标") == html.count("未达标（显著低于目标）")


def test_the_headline_is_routine_unweighted_and_the_others_are_apart(client, factory, clock):
    clock("2026-11-15")
    category = factory.category(name="燃气灶", group="industrial")
    maker = factory.enterprise([category])
    risky = make_plan(factory, category, risk_weighting=True, period="2026Q3")
    special = make_plan(factory, category, kind="special", period="2026Q3")
    add_samples(maker, category, 50, period="2026Q3")
    add_samples(maker, category, 10, "fail", period="2026Q3", plan=risky)
    add_samples(maker, category, 4, "fail", period="2026Q3", kind="special", plan=special)
    text = visible_text(client.get("/reports").get_data(as_text=True))
    assert "合计：检验 50 批次（1 家企业），合格率 100.0%" in text
    apart = text[text.index("其他抽查"):]
    assert "日常监督抽查（加权抽取） 10 0 0 10" in apart
    assert "专项监督抽查 4 0 0 4" in apart
    every = visible_text(client.get("/reports", query_string={"scope": "all"}).get_data(as_text=True))
    assert "合计：检验 64 批次（1 家企业）" in every and "其他抽查" not in every


def test_pending_results_make_the_row_provisional(client, factory, clock):
    clock("2026-11-15")
    category = factory.category(name="童装")
    maker = factory.enterprise([category])
    add_samples(maker, category, 9, period="2026Q3")
    add_samples(maker, category, 1, "fail", period="2026Q3", status="notified", final=False)
    text = visible_text(client.get("/reports").get_data(as_text=True))
    assert "合计：检验 10 批次（1 家企业），合格率 90.0%" in text
    assert "暂定" in text


def test_chinese_names_not_codes_and_one_scale_for_every_chart(client, city, clock):
    clock("2026-11-15")
    html = client.get("/reports").get_data(as_text=True)
    text = visible_text(html)
    assert "电线电缆" in text and "电热水壶" in text
    assert "DX-01" not in text and "DQ-02" not in text
    assert not re.search(r"\d{4}Q[1-4]", text)  # 2026年第三季度, never 2026Q3
    assert "2026年第二季度" in text
    charts = re.findall(r"<svg class=\"trend\".*?</svg>", html, flags=re.S)
    assert len(charts) == 2
    ticks = [re.findall(r">(\d+%)</text>", chart) for chart in charts]
    assert ticks[0] == ticks[1] and ticks[0][-1] == "100%"
    assert all(int(t.rstrip("%")) % 5 == 0 for t in ticks[0])
    # the legend names only what the chart draws: the kettles have one quarter, no line or band
    legends = re.findall(r"<ul class=\"legend\">(.*?)</ul>", html, flags=re.S)
    kettles_legend, wires_legend = sorted(legends, key=lambda legend: "相邻季度连线" in legend)
    assert "相邻季度连线" in wires_legend and "95% 置信区间" in wires_legend
    assert "相邻季度连线" not in kettles_legend and "单个季度" in kettles_legend
    assert "<polygon class=\"band\"" in html


def test_reports_are_computed_once_and_kept_until_the_data_changes(client, city, clock, monkeypatch, auth):
    from services import reports

    clock("2026-11-15")
    scans = []
    real = reports._count_cells
    monkeypatch.setattr(reports, "_count_cells", lambda *a: scans.append(a[0]) or real(*a))
    first = client.get("/reports").get_data(as_text=True)
    # one scan for the table (rows, trend and the period's total together), one for the checks shown apart
    assert scans == [["period", "category"], ["kind", "weighted"]]
    assert client.get("/reports").get_data(as_text=True) == first
    api = client.get("/api/v1/reports/pass-rates", query_string={"period": "2026Q3"}).get_json()
    again = client.get("/api/v1/reports/pass-rates", query_string={"period": "2026Q3"}).get_json()
    assert again == api and len(scans) == 3  # the page twice, the API once: every repeat from the cache
    # a late result in the ended quarter (bulk insert) changes the answer at once
    add_samples(city["maker"], city["wires"], 50, "fail", period="2026Q3")
    changed = client.get("/api/v1/reports/pass-rates", query_string={"period": "2026Q3"}).get_json()
    assert changed["total"]["failed"] == api["total"]["failed"] + 50
    assert "96.0%" not in client.get("/reports").get_data(as_text=True)
    # so does a write through a service (audited): a new target
    cells = {"targets": [{"level": "municipal", "group": "industrial", "rate": 0.5}]}
    assert client.put("/api/v1/targets", json=cells, headers=auth.headers("supervisor")).status_code == 200
    assert client.get("/api/v1/reports/pass-rates", query_string={"period": "2026Q3"}).get_json()[
        "total"]["target"] == 0.5


def test_a_repeated_request_costs_the_stamp_at_most(client, city, clock):
    """A kept report opens no transaction: it costs the stamp's one small statement on SQLite, on
    a connection of its own, and nothing at all on PostgreSQL, where the stamp is read again only
    when a write is notified."""
    import time

    from sqlalchemy import event

    from extensions import db
    from services import stamp

    clock("2026-11-15")
    for _ in range(2):  # made, then kept; a pause for the notifications of the setup's writes
        client.get("/reports")
        client.get("/api/v1/reports/pass-rates", query_string={"by": "category,region"})
        time.sleep(0.2)
    postgres = db.engine.dialect.name == "postgresql"
    readings = stamp.stamp_watch().readings
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for _ in range(3):
            assert client.get("/reports").status_code == 200
            assert client.get("/api/v1/reports/pass-rates", query_string={"by": "category,region"}).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert statements == []  # nothing in the request's session
    assert stamp.stamp_watch().readings == readings + (0 if postgres else 6)  # SQLite: once per request
    assert "audit_events" in stamp.STAMP_SQL and "GROUP BY" not in stamp.STAMP_SQL
