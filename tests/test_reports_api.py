"""Pass-rate reports, exports, targets, the planner, the CLI and the public page."""

import io
import itertools
from datetime import UTC, datetime

import pandas as pd
import pytest
from scipy.stats import binomtest
from sqlalchemy import insert, select
from statsmodels.stats.proportion import proportion_confint

from extensions import db
from models.audit import AuditEvent
from models.samples import Sample
from sampling import stats

REPORTS = "/api/v1/reports/pass-rates"
FINAL_AT = datetime(2026, 11, 1, tzinfo=UTC)
_codes = itertools.count(1)


NOTIFIED_STATES = ("notified", "objection", "final", "rectifying", "rechecked")


def add_samples(enterprise, category, count, verdict="pass", period="2026Q4", level="municipal",
                kind="routine", status="final", stage="production", source="draw", final=True, plan=None):
    """Insert ``count`` samples in one statement (final ones with ``final_at`` set).

    A live sample past notification has ``notified_at``; imported history only ``final_at``.
    """
    notified = FINAL_AT if source == "draw" and status in NOTIFIED_STATES else None
    rows = [
        {
            "code": f"T{next(_codes):07d}", "enterprise_id": enterprise.id, "category_id": category.id,
            "period": period, "level": level, "kind": kind, "status": status, "stage": stage,
            "source": source, "verdict": verdict, "final_at": FINAL_AT if final else None,
            "notified_at": notified, "critical_failed": False, "plan_id": plan.id if plan else None,
        }
        for _ in range(count)
    ]
    if rows:
        db.session.execute(insert(Sample), rows)
        db.session.commit()


def add_refusals(enterprise, category, count, **kw):
    add_samples(enterprise, category, count, verdict=None, status="refused", stage=None, final=False, **kw)


@pytest.fixture
def city(factory):
    """Two categories in two groups, two enterprises in two regions, a known record in 2026Q4."""
    wires = factory.category(code="DX-01", name="电线电缆", group="industrial")
    toys = factory.category(code="WJ-01", name="玩具", group="consumer")
    nancheng = factory.enterprise([wires, toys], region="南城街道", scale="small")
    humen = factory.enterprise([wires], region="虎门镇", scale="large")
    add_samples(nancheng, wires, 40)
    add_samples(nancheng, wires, 3, "fail")
    add_samples(humen, wires, 45, source="import", stage="distribution")  # imported history counts too
    add_samples(humen, wires, 2, "fail", stage="online")
    add_refusals(humen, wires, 2)
    add_samples(nancheng, toys, 18)
    add_samples(nancheng, toys, 2, "fail")
    # under way: not counted; failed and notified but open to objection: counted, pending
    add_samples(nancheng, wires, 5, verdict=None, status="testing", final=False)
    add_samples(nancheng, toys, 4, verdict="fail", status="notified", final=False)
    add_samples(nancheng, toys, 7, period="2026Q3")  # another period
    return {"wires": wires, "toys": toys, "nancheng": nancheng, "humen": humen}


def rows_by(body, key):
    return {row[key]: row for row in body["rows"]}


def test_report_by_category_counts_notified_verdicts_and_sets_refusals_beside(client, city):
    body = client.get(REPORTS, query_string={"period": "2026Q4", "by": "category"}).get_json()
    wires, toys = rows_by(body, "category")["DX-01"], rows_by(body, "category")["WJ-01"]
    assert (wires["tested"], wires["passed"], wires["failed"], wires["refused"]) == (90, 85, 5, 2)
    assert (wires["pending"], wires["provisional"], wires["enterprises"]) == (0, False, 2)
    # the four failures still open to objection count, as pending: the row is provisional
    assert (toys["tested"], toys["passed"], toys["failed"], toys["refused"]) == (24, 18, 6, 0)
    assert (toys["pending"], toys["provisional"], toys["enterprises"]) == (4, True, 1)
    assert wires["category_name"] == "电线电缆"
    assert wires["pass_rate"] == pytest.approx(85 / 90)
    low, high = proportion_confint(85, 90, alpha=0.05, method="wilson")
    assert (wires["ci_low"], wires["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert wires["target"] == 0.94
    assert wires["p_below"] == pytest.approx(binomtest(85, 90, 0.94, alternative="less").pvalue, rel=1e-5)
    assert wires["p_above"] == pytest.approx(binomtest(85, 90, 0.94, alternative="greater").pvalue, rel=1e-5)
    assert (wires["status"], wires["significance"]) == ("met", "not_significant")  # 94.4% >= 94%
    assert (toys["status"], toys["significance"]) == ("below", "significantly_below")  # 18 of 24: 75%
    total = body["total"]
    assert (total["tested"], total["passed"], total["failed"], total["refused"]) == (114, 103, 11, 2)
    assert (total["pending"], total["provisional"], total["enterprises"]) == (4, True, 2)
    assert total["pass_rate"] == pytest.approx(103 / 114)
    assert total["target"] == pytest.approx(0.94)


def test_exact_method_gives_clopper_pearson(client, city):
    body = client.get(REPORTS, query_string={"period": "2026Q4", "by": "category", "method": "exact"}).get_json()
    toys = rows_by(body, "category")["WJ-01"]
    low, high = proportion_confint(18, 24, alpha=0.05, method="beta")
    assert (toys["ci_low"], toys["ci_high"]) == (pytest.approx(low), pytest.approx(high))


def test_grouping_by_region_stage_and_scale(client, city):
    body = client.get(REPORTS, query_string={"period": "2026Q4", "by": "region,stage"}).get_json()
    keyed = {(r["region"], r["stage"]): r for r in body["rows"]}
    assert keyed[("虎门镇", "distribution")]["tested"] == 45
    assert keyed[("虎门镇", "online")]["failed"] == 2
    assert keyed[("虎门镇", None)]["refused"] == 2  # a refusal has no sampling stage
    assert keyed[("南城街道", "production")]["tested"] == 67
    scale = rows_by(client.get(REPORTS, query_string={"period": "2026Q4", "by": "scale"}).get_json(), "scale")
    assert scale["large"]["tested"] == 47 and scale["small"]["tested"] == 67
    group = rows_by(client.get(REPORTS, query_string={"period": "2026Q4", "by": "group"}).get_json(), "group")
    assert group["consumer"]["tested"] == 24 and group["industrial"]["tested"] == 90


def test_refusals_only_row_has_no_data_status(client, factory):
    category = factory.category(group="food")
    enterprise = factory.enterprise([category])
    add_refusals(enterprise, category, 3, level="national")
    body = client.get(REPORTS, query_string={"by": "category"}).get_json()
    (row,) = body["rows"]
    assert row["tested"] == 0 and row["refused"] == 3
    assert row["status"] == "no data"
    assert row["pass_rate"] is None and row["ci_low"] is None and row["p_below"] is None and row["p_above"] is None
    assert row["significance"] is None and row["enterprises"] == 0
    assert row["target"] == 0.90
    assert body["total"]["status"] == "no data"


def test_empty_database_gives_an_empty_report(client, app_ctx):
    body = client.get(REPORTS, query_string={"by": "category,region"}).get_json()
    assert body["rows"] == []
    assert body["total"]["tested"] == 0 and body["total"]["status"] == "no data"


def test_mixed_row_takes_the_target_weighted_by_tested(client, factory):
    category = factory.category(group="industrial")
    enterprise = factory.enterprise([category])
    add_samples(enterprise, category, 30, level="national")
    add_samples(enterprise, category, 10, level="provincial")
    add_refusals(enterprise, category, 50, level="municipal")  # refusals carry no weight
    body = client.get(REPORTS, query_string={"by": "category"}).get_json()
    assert body["rows"][0]["target"] == pytest.approx((30 * 0.90 + 10 * 0.95) / 40)
    levels = rows_by(client.get(REPORTS, query_string={"by": "level"}).get_json(), "level")
    assert levels["national"]["target"] == 0.90 and levels["provincial"]["target"] == 0.95
    assert levels["municipal"]["target"] == 0.94 and levels["municipal"]["status"] == "no data"


def test_filters_by_level_kind_and_period_range(client, factory):
    category = factory.category()
    enterprise = factory.enterprise([category])
    add_samples(enterprise, category, 5, level="national", kind="special", period="2026Q1")
    add_samples(enterprise, category, 7, level="municipal", kind="routine", period="2026Q2")
    add_samples(enterprise, category, 9, level="municipal", kind="risk", period="2026Q3")
    total = lambda **q: client.get(REPORTS, query_string=q).get_json()["total"]["tested"]  # noqa: E731
    assert total(level="municipal") == 16
    assert total(kind="special,risk") == 14
    assert total(period="2026Q1,2026Q3") == 14
    assert total(period_from="2026Q2", period_to="2026Q3") == 16


def test_trend_over_periods(client, city):
    body = client.get(REPORTS, query_string={"by": "period,category", "category": "WJ-01"}).get_json()
    assert [(r["period"], r["tested"]) for r in body["rows"]] == [("2026Q3", 7), ("2026Q4", 24)]


def test_national_scale_figures(client, factory):
    """28,265 batches with 3,476 failed: a failure rate of 12.3%, below the 90% national target."""
    category = factory.category(group="industrial")
    enterprise = factory.enterprise([category])
    for stage, tested, failed in (("production", 15_000, 1_900), ("distribution", 10_265, 1_276),
                                  ("online", 3_000, 300)):
        add_samples(enterprise, category, tested - failed, level="national", stage=stage, period="2023Q4")
        add_samples(enterprise, category, failed, "fail", level="national", stage=stage, period="2023Q4")
    body = client.get(REPORTS, query_string={"by": "stage"}).get_json()
    total = body["total"]
    assert (total["tested"], total["failed"]) == (28_265, 3_476)
    assert round(total["failed"] / total["tested"], 3) == 0.123
    assert round(total["pass_rate"], 3) == 0.877
    assert total["target"] == 0.90 and total["status"] == "below" and total["significance"] == "significantly_below"
    assert total["enterprises"] == 1
    assert sum(row["tested"] for row in body["rows"]) == 28_265


def test_unknown_grouping_key_is_422(client, app_ctx):
    response = client.get(REPORTS, query_string={"by": "category,colour"})
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == 422 and "colour" in " ".join(body["errors"]["query.by"])


@pytest.mark.parametrize("query", [{"method": "bayes"}, {"format": "pdf"}, {"period": "2026Q5"},
                                   {"level": "county"}, {"confidence": "2"}])
def test_bad_report_options_are_422(client, app_ctx, query):
    assert client.get(REPORTS, query_string=query).status_code == 422


def test_report_by_enterprise_needs_a_staff_token(client, city, auth):
    assert client.get(REPORTS, query_string={"by": "enterprise"}).status_code == 401
    response = client.get(REPORTS, query_string={"by": "enterprise"}, headers=auth.headers("supervisor"))
    assert response.status_code == 200
    row = rows_by(response.get_json(), "enterprise")[city["humen"].credit_code]
    assert row["enterprise_name"] == city["humen"].name and row["tested"] == 47


def _json_rows(client, query):
    body = client.get(REPORTS, query_string=query).get_json()
    return body["rows"], body["total"]


def _assert_same(frame_row, json_row, columns):
    for column in columns:
        expected, got = json_row.get(column), frame_row[column]
        if expected is None:
            assert pd.isna(got), column
        elif isinstance(expected, bool):
            assert str(got).lower() == str(expected).lower(), column
        elif isinstance(expected, float):
            assert got == pytest.approx(expected, rel=1e-9), column
        else:
            assert str(got) == str(expected), column


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_downloads_parse_back_to_the_same_rows(client, city, fmt):
    query = {"period": "2026Q4", "by": "category,region"}
    rows, total = _json_rows(client, query)
    response = client.get(REPORTS, query_string={**query, "format": fmt})
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    if fmt == "csv":
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8"  # the charset once
        frame = pd.read_csv(io.BytesIO(response.data), encoding="utf-8-sig", keep_default_na=False,
                            na_values=[""])
    else:
        frame = pd.read_excel(io.BytesIO(response.data))
    columns = ["category", "category_name", "region", "tested", "pending", "passed", "failed", "refused",
               "enterprises", "pass_rate", "ci_low", "ci_high", "target", "status", "significance", "p_below",
               "p_above", "provisional"]
    assert list(frame.columns) == columns
    assert len(frame) == len(rows) + 1
    for (_, frame_row), json_row in zip(frame.iterrows(), rows, strict=False):  # the total comes last
        _assert_same(frame_row, json_row, columns)
    assert frame.iloc[-1]["category"] == "total"
    _assert_same(frame.iloc[-1], total, columns[3:])


def test_targets_default_table_is_public(client, app_ctx):
    cells = client.get("/api/v1/targets").get_json()["targets"]
    table = {(c["level"], c["group"]): c for c in cells}
    assert table[("municipal", "industrial")] == {"level": "municipal", "group": "industrial", "rate": 0.94,
                                                  "default": True}
    assert table[("national", "food")]["rate"] == 0.90
    assert table[("provincial", "consumer")]["rate"] == 0.95


def test_targets_edit_changes_the_report_and_is_audited(client, city, auth, factory):
    body = {"targets": [{"level": "municipal", "group": "industrial", "rate": 0.9}]}
    assert client.put("/api/v1/targets", json=body).status_code == 401
    inspector = auth.headers("inspector", inspector=factory.inspector())
    assert client.put("/api/v1/targets", json=body, headers=inspector).status_code == 403
    response = client.put("/api/v1/targets", json=body, headers=auth.headers("supervisor"))
    assert response.status_code == 200
    cell = next(c for c in response.get_json()["targets"] if (c["level"], c["group"]) == ("municipal", "industrial"))
    assert cell["rate"] == 0.9 and cell["default"] is False
    report = client.get(REPORTS, query_string={"period": "2026Q4", "by": "category"}).get_json()
    assert rows_by(report, "category")["DX-01"]["target"] == 0.9
    assert rows_by(report, "category")["WJ-01"]["target"] == 0.94  # other cells untouched
    assert report["total"]["target"] == pytest.approx((90 * 0.9 + 24 * 0.94) / 114)
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "target_rate")).all()
    assert [(e.entity_id, e.after["rate"]) for e in events] == [("municipal/industrial", 0.9)]
    reset = {"targets": [{"level": "municipal", "group": "industrial", "rate": None}]}
    client.put("/api/v1/targets", json=reset, headers=auth.headers("supervisor"))
    report = client.get(REPORTS, query_string={"period": "2026Q4", "by": "category"}).get_json()
    assert rows_by(report, "category")["DX-01"]["target"] == 0.94


@pytest.mark.parametrize("cell", [
    {"level": "municipal", "group": "industrial", "rate": 1.2},
    {"level": "municipal", "group": "industrial", "rate": 0},
    {"level": "county", "group": "industrial", "rate": 0.9},
    {"level": "municipal", "group": "weapons", "rate": 0.9},
    {"level": "municipal", "group": "industrial"},
])
def test_bad_target_cells_are_422_and_change_nothing(client, app_ctx, auth, cell):
    response = client.put("/api/v1/targets", json={"targets": [cell]}, headers=auth.headers("supervisor"))
    assert response.status_code == 422
    assert all(c["default"] for c in client.get("/api/v1/targets").get_json()["targets"])


def test_sample_size_planner(client, app_ctx):
    query = {"target": 0.94, "expected": 0.90, "confidence": 0.95, "power": 0.8}
    body = client.get("/api/v1/reports/sample-size", query_string=query).get_json()
    plan = stats.plan_sample_size(0.94, 0.90, 0.95, 0.8)
    assert body["n"] == plan.n and body["critical_passed"] == plan.critical_passed
    assert body["achieved_power"] >= 0.8 and body["actual_alpha"] <= 0.05
    assert binomtest(body["critical_passed"], body["n"], 0.94, alternative="less").pvalue <= 0.05
    defaults = client.get("/api/v1/reports/sample-size", query_string={"target": 0.94, "expected": 0.9})
    assert defaults.get_json()["n"] == plan.n


@pytest.mark.parametrize("query", [
    {"target": 1.5, "expected": 0.9},
    {"target": 0.94, "expected": 0.95},
    {"target": 0.94, "expected": 0.94},
    {"target": 0.94},
    {"target": 0.94, "expected": 0.9, "power": 1},
    {"target": 0.94, "expected": 0.9, "confidence": 0},
    {"target": 0.94, "expected": 0.939999},
])
def test_sample_size_rejects_out_of_range_inputs(client, app_ctx, query):
    response = client.get("/api/v1/reports/sample-size", query_string=query)
    assert response.status_code == 422
    assert response.get_json()["errors"]


def test_cli_writes_xlsx_and_edits_targets(app, city, tmp_path):
    runner = app.test_cli_runner()
    out = tmp_path / "report.xlsx"
    result = runner.invoke(args=["reports", "pass-rates", "--period", "2026Q4", "--by", "category,region",
                                 "--format", "xlsx", "-o", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_excel(out)
    assert frame.iloc[-1]["category"] == "total" and frame.iloc[-1]["tested"] == 114
    result = runner.invoke(args=["targets", "set", "--level", "municipal", "--group", "industrial", "0.96"])
    assert result.exit_code == 0, result.output
    listing = runner.invoke(args=["targets", "list"]).output
    assert "municipal   industrial  0.9600  set" in listing
    assert runner.invoke(args=["targets", "set", "--level", "municipal", "--group", "industrial", "7"]).exit_code != 0


def test_public_page_shows_categories_targets_and_a_chart_and_escapes_names(client, factory):
    category = factory.category(code="X-1", name='<script>alert("x")</script>玩具', group="consumer")
    enterprise = factory.enterprise([category], name="<b>企业</b>")
    add_samples(enterprise, category, 19, period="2026Q3")
    add_samples(enterprise, category, 1, "fail", period="2026Q3")
    add_samples(enterprise, category, 30, period="2026Q4")
    response = client.get("/reports")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;玩具" in html
    assert "目标合格率 94.0%" in html
    assert "<svg" in html and "<polygon" in html and "stroke-dasharray" in html
    assert "2026Q3" in html and "2026Q4" in html
    older = client.get("/reports", query_string={"period": "2026Q3"}).get_data(as_text=True)
    assert "95.0%" in older  # 19 of 20 in 2026Q3


def test_public_page_without_data(client, app_ctx):
    response = client.get("/reports")
    assert response.status_code == 200
    assert "尚无" in response.get_data(as_text=True)


def test_trend_chart_spans_every_quarter_and_marks_gaps():
    from blueprints.report_pages import quarters_between, trend_chart

    assert quarters_between(["2025Q4", "2025Q2", "2026Q1"]) == ["2025Q2", "2025Q3", "2025Q4", "2026Q1"]
    axis = quarters_between(["2025Q1", "2025Q4"])
    rows = [stats.estimate_rate(k, n, 0.94).__dict__ | {"period": p}
            for p, k, n in (("2025Q1", 90, 100), ("2025Q2", 95, 100), ("2025Q4", 50, 50))]
    chart = trend_chart(rows, axis)
    assert [(year, quarter) for _, year, quarter in chart.x_ticks] == [
        ("2025年", "第一季度"), ("2025年", "第二季度"), ("2025年", "第三季度"), ("2025年", "第四季度")]
    assert len(chart.points) == 3
    # 2025Q3 has no data: a solid line joins Q1 and Q2, a dashed one crosses the gap to Q4
    assert len(chart.rate_lines) == 1 and len(chart.rate_lines[0].split()) == 2
    assert len(chart.gap_lines) == 1
    # the band is one polygon over the three quarters with data (not a bar per quarter)
    assert len(chart.band.split()) == 6 and not chart.whiskers
    assert [mark for mark, _ in chart.legend] == ["point", "line", "band", "target"]
    x_first, x_last = chart.x_ticks[0][0], chart.x_ticks[-1][0]
    assert chart.target_line.split()[0].startswith(f"{x_first},")
    assert chart.target_line.split()[-1].startswith(f"{x_last},")


def test_trend_chart_ticks_are_round_and_100_percent_is_inside():
    from blueprints.report_pages import HEADROOM, shared_scale, trend_chart

    rows = [stats.estimate_rate(k, n, 0.94).__dict__ | {"period": p}
            for p, k, n in (("2025Q1", 37, 50), ("2025Q2", 20, 20))]
    scale = shared_scale(rows)
    chart = trend_chart(rows, ["2025Q1", "2025Q2"], scale)
    labels = [label for _, label in chart.y_ticks]
    assert labels[-1] == "100%" and all(int(label.rstrip("%")) % 5 == 0 for label in labels)
    steps = [b[0] - a[0] for a, b in zip(chart.y_ticks[1:], chart.y_ticks, strict=False)]
    assert max(steps) - min(steps) < 0.5  # evenly spaced
    top = chart.plot[1]
    full = next(y for _, y, tip in chart.points if "100.0%" in tip)
    assert full >= top + HEADROOM - 0.1  # the point at 100% is drawn whole, below the frame's top
    # no band possible with one quarter: its interval is a whisker, and the legend says so
    lone = trend_chart(rows[:1], ["2025Q1"], scale)
    assert not lone.band and len(lone.whiskers) == 1 and not lone.rate_lines and not lone.gap_lines
    assert [mark for mark, _ in lone.legend] == ["point", "whisker", "target"]


def test_imported_history_counts_like_live_results(client, factory, auth):
    category = factory.category(code="HX-01", group="consumer")
    enterprise = factory.enterprise([category], region="石龙镇")
    lines = ["credit_code,category_code,period,level,kind,stage,sampled_on,verdict,failed_items,critical,lab,report_no"]
    for n, verdict in enumerate(["pass", "pass", "pass", "fail", "refused"]):
        failed = "标志" if verdict == "fail" else ""
        lab, report = ("", "") if verdict == "refused" else ("旧检验所", f"R2024-{n}")
        stage = "" if verdict == "refused" else "distribution"
        lines.append(f"{enterprise.credit_code},HX-01,2024Q2,provincial,routine,{stage},2024-05-0{n + 1},"
                     f"{verdict},{failed},false,{lab},{report}")
    data = {"file": (io.BytesIO("\n".join(lines).encode()), "history.csv")}
    response = client.post("/api/v1/history/import", data=data, content_type="multipart/form-data",
                           headers=auth.headers("supervisor"))
    assert response.status_code == 200, response.get_json()
    row = client.get(REPORTS, query_string={"period": "2024Q2", "by": "category,region"}).get_json()["rows"][0]
    assert (row["category"], row["region"]) == ("HX-01", "石龙镇")
    assert (row["tested"], row["passed"], row["failed"], row["refused"]) == (4, 3, 1, 1)
    assert row["target"] == 0.95


def random_sample(rng, enterprises, categories) -> dict:
    """Insert one sample with random keys and outcome; what an independent count needs to know of it."""
    e, c = rng.choice(enterprises), rng.choice(categories)
    attrs = {"period": rng.choice(["2026Q2", "2026Q3"]), "level": rng.choice(["national", "municipal"]),
             "kind": rng.choice(["routine", "risk"]), "stage": rng.choice(["production", "online"])}
    outcome = rng.choice(["pass", "pass", "pass", "fail", "refused", "testing", "notified", "objection"])
    if outcome == "refused":
        add_refusals(e, c, 1, period=attrs["period"], level=attrs["level"], kind=attrs["kind"])
        attrs["stage"] = None
    elif outcome == "testing":
        add_samples(e, c, 1, verdict=None, status="testing", final=False, **attrs)
    elif outcome in ("notified", "objection"):  # a failure open to objection, or under retest
        add_samples(e, c, 1, "fail", status=outcome, final=False, **attrs)
    else:
        add_samples(e, c, 1, outcome, **attrs)
    return {**attrs, "category": c.code, "group": c.group, "region": e.region, "scale": e.scale,
            "enterprise": e.credit_code, "outcome": outcome}


@pytest.mark.parametrize("seed", [1, 2])
def test_every_grouping_matches_a_count_of_the_same_samples(client, factory, seed):
    """Random samples; each report row equals an independent count of the samples it covers."""
    import random

    rng = random.Random(seed)
    categories = [factory.category(group=g) for g in ("industrial", "consumer", "food")]
    enterprises = [factory.enterprise(categories, region=r, scale=s)
                   for r, s in (("南城街道", "small"), ("虎门镇", "large"), ("长安镇", "micro"), ("虎门镇", "small"))]
    made = [random_sample(rng, enterprises, categories) for _ in range(120)]
    for by in (["category", "region"], ["stage", "scale"], ["level", "kind", "group"], ["period"]):
        body = client.get(REPORTS, query_string={"by": ",".join(by)}).get_json()
        expected = {}
        for s in made:
            if s["outcome"] == "testing":
                continue
            row = expected.setdefault(tuple(s[k] for k in by), {
                "tested": 0, "passed": 0, "pending": 0, "refused": 0, "weight": 0.0, "enterprises": set()})
            if s["outcome"] == "refused":
                row["refused"] += 1
            else:
                row["tested"] += 1
                row["passed"] += s["outcome"] == "pass"
                row["pending"] += s["outcome"] in ("notified", "objection")
                row["weight"] += {"national": 0.90, "municipal": 0.94}[s["level"]]
                row["enterprises"].add(s["enterprise"])
        got = {tuple(r[k] for k in by): r for r in body["rows"]}
        assert set(got) == set(expected), by
        for key, want in expected.items():
            row = got[key]
            assert (row["tested"], row["passed"], row["pending"], row["refused"], row["enterprises"]) == (
                want["tested"], want["passed"], want["pending"], want["refused"], len(want["enterprises"]))
            assert row["provisional"] is (want["pending"] > 0)
            if want["tested"]:
                assert row["target"] == pytest.approx(want["weight"] / want["tested"])
        assert body["total"]["tested"] == sum(w["tested"] for w in expected.values())
        assert body["total"]["enterprises"] == len(set().union(*(w["enterprises"] for w in expected.values())))


@pytest.mark.parametrize(("passed", "status", "significance"), [
    (97, "met", "not_significant"),  # above the target, but 100 samples cannot tell
    (80, "below", "significantly_below"),
    (100, "met", "significantly_above"),
])
def test_status_is_the_rate_against_the_target_and_significance_the_test(client, factory, passed, status,
                                                                        significance):
    category = factory.category(group="industrial")
    enterprise = factory.enterprise([category])
    add_samples(enterprise, category, passed)
    add_samples(enterprise, category, 100 - passed, "fail")
    row = client.get(REPORTS, query_string={"by": "category"}).get_json()["rows"][0]
    assert (row["tested"], row["target"]) == (100, 0.94)
    assert (row["status"], row["significance"]) == (status, significance)
    assert row["p_below"] == pytest.approx(binomtest(passed, 100, 0.94, alternative="less").pvalue, rel=1e-5)
    assert row["p_above"] == pytest.approx(binomtest(passed, 100, 0.94, alternative="greater").pvalue, rel=1e-5)


def test_p_values_are_readable_numbers(client, factory):
    category = factory.category(group="industrial")
    enterprise = factory.enterprise([category])
    add_samples(enterprise, category, 1, "fail")
    response = client.get(REPORTS, query_string={"by": "category"})
    row = response.get_json()["rows"][0]
    assert (row["status"], row["significance"], row["p_below"], row["p_above"]) == ("below", "not_significant",
                                                                                    0.06, 1.0)
    assert '"p_below":0.06,' in response.get_data(as_text=True)  # not 0.06000000000000005


def test_weighted_plans_are_shown_apart(client, factory):
    category = factory.category(group="industrial")
    enterprise = factory.enterprise([category])
    risky = make_plan(factory, category, risk_weighting=True)
    by_grade = make_plan(factory, category, grade_ratios={"A": 0.01, "B": 0.05, "C": 0.2, "D": 1.0})
    routine = make_plan(factory, category)
    add_samples(enterprise, category, 10, "fail", plan=risky)
    add_samples(enterprise, category, 5, "fail", plan=by_grade)
    add_samples(enterprise, category, 20, plan=routine)
    add_samples(enterprise, category, 30, source="import")  # history: no plan, not weighted
    body = client.get(REPORTS, query_string={"by": "weighted"}).get_json()
    rows = {row["weighted"]: row for row in body["rows"]}
    assert (rows[True]["tested"], rows[True]["passed"]) == (15, 0)
    assert (rows[False]["tested"], rows[False]["passed"]) == (50, 50)
    assert body["total"]["tested"] == 65
    unweighted = client.get(REPORTS, query_string={"weighted": "false"}).get_json()["total"]
    assert (unweighted["tested"], unweighted["pass_rate"]) == (50, 1.0)
    weighted = client.get(REPORTS, query_string={"weighted": "true"}).get_json()["total"]
    assert weighted["tested"] == 15


def make_plan(factory, category, **fields):
    from models.plans import Plan

    fields = {"name": "计划", "level": "municipal", "kind": "routine", "period": "2026Q4", **fields}
    plan = Plan(sample_size=1, team_size=2, server_seed="0" * 64, seed_commitment="1" * 64, categories=[category],
                **fields)
    db.session.add(plan)
    db.session.commit()
    return plan


@pytest.mark.parametrize("period", ["garbage", "2026Q5", "2026q3", "2026Q3,x"])
def test_a_bad_period_is_422(client, app_ctx, period):
    response = client.get(REPORTS, query_string={"period": period})
    assert response.status_code == 422
    assert response.get_json()["errors"]["query.period"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_downloads_never_write_a_formula(client, factory, fmt):
    bad_names = ['=HYPERLINK("http://x","点我")', "+1+1", "-2+3", "@SUM(A1)"]
    for n, name in enumerate(bad_names):
        category = factory.category(code=f"F-{n}", name=name, group="industrial")
        add_samples(factory.enterprise([category], region=f"=cmd|'/c calc'!A{n}"), category, 3)
    response = client.get(REPORTS, query_string={"by": "category,region", "format": fmt})
    assert response.status_code == 200
    if fmt == "csv":
        frame = pd.read_csv(io.BytesIO(response.data), encoding="utf-8-sig")
        cells = [str(v) for v in frame[["category_name", "region"]].to_numpy().ravel()]
    else:
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(response.data)).active
        cells = [cell for row in sheet.iter_rows() for cell in row]
        assert all(cell.data_type != "f" for cell in cells)  # no live formula anywhere
        cells = [str(cell.value) for cell in cells if cell.value is not None]
    neutralised = [c for c in cells if c.startswith("'")]
    assert sorted(neutralised) == sorted("'" + v for v in bad_names + [f"=cmd|'/c calc'!A{n}" for n in range(4)])
    assert not any(c[:1] in ("=", "+", "-", "@") for c in cells)
    numbers = pd.read_csv(io.BytesIO(response.data), encoding="utf-8-sig") if fmt == "csv" else None
    if numbers is not None:
        assert numbers["tested"].tolist()[:-1] == [3, 3, 3, 3]  # numbers stay numbers


def test_reports_by_stage_include_cross_border_and_by_the_sampled_units_kind(client, factory):
    category = factory.category(group="consumer")
    maker = factory.enterprise([category], kinds=["producer"])
    shop = factory.enterprise([category], kinds=["seller"])
    online = factory.enterprise([category], kinds=["online_shop"])
    importer = factory.enterprise([category], kinds=["importer", "seller"])
    both = factory.enterprise([category], kinds=["producer", "seller"])
    add_samples(maker, category, 10, stage="production")
    add_samples(shop, category, 8, stage="distribution")
    add_samples(shop, category, 2, "fail", stage="distribution")
    add_samples(online, category, 5, stage="online")
    add_samples(importer, category, 3, stage="cross_border")
    add_samples(importer, category, 1, "fail", stage="cross_border")
    add_samples(both, category, 4, stage="distribution")  # a producer that also sells, sampled at its shop
    add_samples(both, category, 6, stage="production")
    add_refusals(online, category, 1)  # no stage: the unit's own kind
    stages = rows_by(client.get(REPORTS, query_string={"by": "stage"}).get_json(), "stage")
    assert (stages["cross_border"]["tested"], stages["cross_border"]["failed"]) == (4, 1)
    assert (stages["distribution"]["tested"], stages["distribution"]["enterprises"]) == (14, 2)
    kinds = rows_by(client.get(REPORTS, query_string={"by": "unit_kind"}).get_json(), "unit_kind")
    assert {k: (r["tested"], r["passed"], r["refused"], r["enterprises"]) for k, r in kinds.items()} == {
        "producer": (16, 16, 0, 2), "seller": (14, 12, 0, 2), "online_shop": (5, 5, 1, 1), "importer": (4, 3, 0, 1)}
    mixed = client.get(REPORTS, query_string={"by": "unit_kind,stage", "stage": "distribution"}).get_json()
    assert {(r["unit_kind"], r["stage"]): r["tested"] for r in mixed["rows"]} == {("seller", "distribution"): 14}
