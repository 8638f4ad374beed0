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


def add_samples(enterprise, category, count, verdict="pass", period="2026Q4", level="municipal",
                kind="routine", status="final", stage="production", source="draw", final=True):
    """Insert ``count`` samples in one statement (final ones with ``final_at`` set)."""
    rows = [
        {
            "code": f"T{next(_codes):07d}", "enterprise_id": enterprise.id, "category_id": category.id,
            "period": period, "level": level, "kind": kind, "status": status, "stage": stage,
            "source": source, "verdict": verdict, "final_at": FINAL_AT if final else None,
            "critical_failed": False,
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
    # not counted: under way, or failed and notified but not yet final
    add_samples(nancheng, wires, 5, verdict=None, status="testing", final=False)
    add_samples(nancheng, toys, 4, verdict="fail", status="notified", final=False)
    add_samples(nancheng, toys, 7, period="2026Q3")  # another period
    return {"wires": wires, "toys": toys, "nancheng": nancheng, "humen": humen}


def rows_by(body, key):
    return {row[key]: row for row in body["rows"]}


def test_report_by_category_counts_final_verdicts_and_sets_refusals_beside(client, city):
    body = client.get(REPORTS, query_string={"period": "2026Q4", "by": "category"}).get_json()
    wires, toys = rows_by(body, "category")["DX-01"], rows_by(body, "category")["WJ-01"]
    assert (wires["tested"], wires["passed"], wires["failed"], wires["refused"]) == (90, 85, 5, 2)
    assert (toys["tested"], toys["passed"], toys["failed"], toys["refused"]) == (20, 18, 2, 0)
    assert wires["category_name"] == "电线电缆"
    assert wires["pass_rate"] == pytest.approx(85 / 90)
    low, high = proportion_confint(85, 90, alpha=0.05, method="wilson")
    assert (wires["ci_low"], wires["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert wires["target"] == 0.94
    assert wires["p_value"] == pytest.approx(binomtest(85, 90, 0.94, alternative="less").pvalue)
    assert wires["status"] == "inconclusive"
    total = body["total"]
    assert (total["tested"], total["passed"], total["failed"], total["refused"]) == (110, 103, 7, 2)
    assert total["pass_rate"] == pytest.approx(103 / 110)
    assert total["target"] == pytest.approx(0.94)


def test_exact_method_gives_clopper_pearson(client, city):
    body = client.get(REPORTS, query_string={"period": "2026Q4", "by": "category", "method": "exact"}).get_json()
    toys = rows_by(body, "category")["WJ-01"]
    low, high = proportion_confint(18, 20, alpha=0.05, method="beta")
    assert (toys["ci_low"], toys["ci_high"]) == (pytest.approx(low), pytest.approx(high))


def test_grouping_by_region_stage_and_scale(client, city):
    body = client.get(REPORTS, query_string={"period": "2026Q4", "by": "region,stage"}).get_json()
    keyed = {(r["region"], r["stage"]): r for r in body["rows"]}
    assert keyed[("虎门镇", "distribution")]["tested"] == 45
    assert keyed[("虎门镇", "online")]["failed"] == 2
    assert keyed[("虎门镇", None)]["refused"] == 2  # a refusal has no sampling stage
    assert keyed[("南城街道", "production")]["tested"] == 63
    scale = rows_by(client.get(REPORTS, query_string={"period": "2026Q4", "by": "scale"}).get_json(), "scale")
    assert scale["large"]["tested"] == 47 and scale["small"]["tested"] == 63
    group = rows_by(client.get(REPORTS, query_string={"period": "2026Q4", "by": "group"}).get_json(), "group")
    assert group["consumer"]["tested"] == 20 and group["industrial"]["tested"] == 90


def test_refusals_only_row_has_no_data_status(client, factory):
    category = factory.category(group="food")
    enterprise = factory.enterprise([category])
    add_refusals(enterprise, category, 3, level="national")
    body = client.get(REPORTS, query_string={"by": "category"}).get_json()
    (row,) = body["rows"]
    assert row["tested"] == 0 and row["refused"] == 3
    assert row["status"] == "no data"
    assert row["pass_rate"] is None and row["ci_low"] is None and row["p_value"] is None
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
    assert [(r["period"], r["tested"]) for r in body["rows"]] == [("2026Q3", 7), ("2026Q4", 20)]


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
    assert total["target"] == 0.90 and total["status"] == "below"
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
        assert response.mimetype == "text/csv"
        frame = pd.read_csv(io.BytesIO(response.data), encoding="utf-8-sig", keep_default_na=False,
                            na_values=[""])
    else:
        frame = pd.read_excel(io.BytesIO(response.data))
    columns = ["category", "category_name", "region", "tested", "passed", "failed", "refused",
               "pass_rate", "ci_low", "ci_high", "target", "status", "p_value"]
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
    assert report["total"]["target"] == pytest.approx((90 * 0.9 + 20 * 0.94) / 110)
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
    assert frame.iloc[-1]["category"] == "total" and frame.iloc[-1]["tested"] == 110
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


def test_trend_chart_spans_every_quarter_and_breaks_at_gaps():
    from blueprints.report_pages import quarters_between, trend_chart

    assert quarters_between(["2025Q4", "2025Q2", "2026Q1"]) == ["2025Q2", "2025Q3", "2025Q4", "2026Q1"]
    axis = quarters_between(["2025Q1", "2025Q4"])
    rows = [stats.estimate_rate(k, n, 0.94).__dict__ | {"period": p}
            for p, k, n in (("2025Q1", 90, 100), ("2025Q2", 95, 100), ("2025Q4", 50, 50))]
    chart = trend_chart(rows, axis)
    assert [label for _, label in chart.x_ticks] == axis
    assert len(chart.points) == 3
    assert len(chart.rate_lines) == 2 and len(chart.bands) == 2  # 2025Q3 has no data: the line breaks
    x_first, x_last = chart.x_ticks[0][0], chart.x_ticks[-1][0]
    assert chart.target_line.split()[0].startswith(f"{x_first},")
    assert chart.target_line.split()[-1].startswith(f"{x_last},")


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


@pytest.mark.parametrize("seed", [1, 2])
def test_every_grouping_matches_a_count_of_the_same_samples(client, factory, seed):
    """Random samples; each report row equals an independent count of the samples it covers."""
    import random

    rng = random.Random(seed)
    categories = [factory.category(group=g) for g in ("industrial", "consumer", "food")]
    enterprises = [factory.enterprise(categories, region=r, scale=s)
                   for r, s in (("南城街道", "small"), ("虎门镇", "large"), ("长安镇", "micro"))]
    made = []
    for _ in range(120):
        e, c = rng.choice(enterprises), rng.choice(categories)
        attrs = {"period": rng.choice(["2026Q2", "2026Q3"]), "level": rng.choice(["national", "municipal"]),
                 "kind": rng.choice(["routine", "risk"]), "stage": rng.choice(["production", "online"])}
        outcome = rng.choice(["pass", "pass", "pass", "fail", "refused", "pending"])
        if outcome == "refused":
            add_refusals(e, c, 1, period=attrs["period"], level=attrs["level"], kind=attrs["kind"])
            attrs["stage"] = None
        elif outcome == "pending":
            add_samples(e, c, 1, verdict=None, status="testing", final=False, **attrs)
        else:
            add_samples(e, c, 1, outcome, **attrs)
        made.append({**attrs, "category": c.code, "group": c.group, "region": e.region, "scale": e.scale,
                     "outcome": outcome})
    for by in (["category", "region"], ["stage", "scale"], ["level", "kind", "group"], ["period"]):
        body = client.get(REPORTS, query_string={"by": ",".join(by)}).get_json()
        expected = {}
        for s in made:
            if s["outcome"] == "pending":
                continue
            row = expected.setdefault(tuple(s[k] for k in by), {"tested": 0, "passed": 0, "refused": 0, "weight": 0.0})
            if s["outcome"] == "refused":
                row["refused"] += 1
            else:
                row["tested"] += 1
                row["passed"] += s["outcome"] == "pass"
                row["weight"] += {"national": 0.90, "municipal": 0.94}[s["level"]]
        got = {tuple(r[k] for k in by): r for r in body["rows"]}
        assert set(got) == set(expected), by
        for key, want in expected.items():
            row = got[key]
            assert (row["tested"], row["passed"], row["refused"]) == (want["tested"], want["passed"], want["refused"])
            if want["tested"]:
                assert row["target"] == pytest.approx(want["weight"] / want["tested"])
        assert body["total"]["tested"] == sum(w["tested"] for w in expected.values())
