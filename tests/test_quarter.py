"""A whole quarter over HTTP: history, plan, draw, sampling, results (some failing), a refusal,
an objection overturned by retest, the jobs, and every enterprise on the right list.

The story happens now; the lists of the quarter in which each verdict became final are
published by the scheduler's job with its clock set after that quarter has ended."""

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from credit_factory import LAST_QUARTER, local_today
from sqlalchemy import select

from extensions import db
from jobs.overdue import finalize_expired
from jobs.publish import publish_due
from models.samples import Sample
from sampling import credit
from services.calendar import local_date
from services.history import HISTORY_HEADER as HISTORY_COLUMNS

HISTORY_HEADER = ",".join(HISTORY_COLUMNS)

# What happens to each enterprise this quarter.
STORIES = ("pass", "red", "fail", "critical", "refusal", "overturned", "retest_fail")


def now() -> str:
    return datetime.now(UTC).isoformat()


def items(verdict="pass", critical=False):
    failing = verdict == "fail"
    return [
        {"name": "甲醛含量", "requirement": "≤0.1 mg/L", "measured": "0.32" if failing else "0.04", "unit": "mg/L",
         "verdict": verdict, "critical": critical},
        {"name": "标识", "requirement": "符合GB 5296", "measured": "符合", "verdict": "pass"},
    ]


class Quarter:
    """Drives the API as the supervisor, the inspectors and the labs would."""

    def __init__(self, client, auth, factory):
        self.client, self.auth, self.factory = client, auth, factory
        self.supervisor = auth.headers("supervisor", name="李科长")
        self.category = factory.category(code="TOY01", name="玩具")
        self.enterprises = {story: factory.enterprise([self.category], region="南城街道",
                                                      name=f"东莞市{story}玩具有限公司") for story in STORIES}
        self.inspectors = [factory.inspector(region="东城街道") for _ in range(6)]
        self.labs = {lab.code: lab for lab in (factory.lab([self.category]) for _ in range(3))}

    def call(self, method, path, headers, **kw):
        response = getattr(self.client, method)(f"/api/v1{path}", headers=headers, **kw)
        assert response.status_code < 300, (path, response.status_code, response.get_json())
        return response.get_json()

    def import_history(self):
        """Two past passes of the 'red' enterprise, from the city's old system."""
        code = self.enterprises["red"].credit_code
        today = local_today()
        rows = [f"{code},TOY01,{credit.period_of(today - timedelta(days=d))},municipal,routine,production,"
                f"{(today - timedelta(days=d)).isoformat()},pass,,false,旧系统质检所,OLD-{d}" for d in (500, 300)]
        data = {"file": (io.BytesIO("\n".join([HISTORY_HEADER, *rows]).encode()), "h.csv")}
        return self.call("post", "/history/import", self.supervisor, data=data, content_type="multipart/form-data")

    def plan_and_draw(self):
        plan = self.call("post", "/plans", self.supervisor, json={
            "name": f"{LAST_QUARTER} 玩具产品市级监督抽查", "level": "municipal", "kind": "routine",
            "period": LAST_QUARTER, "category_codes": ["TOY01"], "sample_size": len(STORIES), "team_size": 2,
        })
        entropy = {"public_entropy": "双色球 2026001"}
        draw = self.call("post", f"/plans/{plan['id']}/draw", self.supervisor, json=entropy)
        by_code = {e.credit_code: story for story, e in self.enterprises.items()}
        return {by_code[s["credit_code"]]: s for s in draw["selections"]}

    def inspector_headers(self, selection):
        inspector = next(i for i in self.inspectors if i.code == selection["inspectors"][0])
        return self.auth.headers("inspector", inspector=inspector)

    def lab_headers(self, code):
        return self.auth.headers("lab", lab=self.labs[code])

    def sample(self, selection, product):
        path, headers = f"/samples/{selection['sample_code']}/sampling", self.inspector_headers(selection)
        return self.call("post", path, headers, json={
            "sampled_at": now(), "stage": "production", "product_name": product, "batch_no": "20260901",
            "quantity": "6件", "reserve_quantity": "3件", "inspector_codes": selection["inspectors"],
        })

    def refuse(self, selection):
        path, headers = f"/samples/{selection['sample_code']}/refusal", self.inspector_headers(selection)
        return self.call("post", path, headers, json={
            "refused_at": now(), "reason": "企业负责人拒绝检查人员进入生产车间",
            "inspector_codes": selection["inspectors"],
        })

    def test(self, selection, verdict, critical=False):
        code, lab = selection["sample_code"], self.lab_headers(selection["lab"])
        self.call("post", f"/samples/{code}/receipt", lab, json={"received_at": now()})
        self.call("post", f"/samples/{code}/result", lab, json={
            "report_no": f"R-{code}", "tested_at": now(), "items": items(verdict, critical)})
        return self.call("post", f"/samples/{code}/notification", self.supervisor, json={"notified_at": now()})

    def object_and_retest(self, selection, verdict):
        code = selection["sample_code"]
        objected = self.call("post", f"/samples/{code}/objection", self.supervisor,
                             json={"filed_at": now(), "reason": "企业对甲醛检测结果有异议"})
        retest_lab = objected["retest_lab"]
        assert retest_lab != selection["lab"]
        return self.call("post", f"/samples/{code}/retest-result", self.lab_headers(retest_lab), json={
            "report_no": f"RT-{code}", "tested_at": now(), "items": items(verdict)})


@pytest.fixture
def quarter(client, auth, factory):
    return Quarter(client, auth, factory)


def test_a_whole_quarter_lands_every_enterprise_on_the_right_list(app, client, quarter):
    assert quarter.import_history() == {"imported": 2}
    drawn = quarter.plan_and_draw()
    assert set(drawn) == set(STORIES)

    for story, selection in drawn.items():
        if story == "refusal":
            assert quarter.refuse(selection)["status"] == "refused"
            continue
        quarter.sample(selection, product=f"{story}毛绒玩具")
    assert quarter.test(drawn["pass"], "pass")["status"] == "final"
    assert quarter.test(drawn["red"], "pass")["status"] == "final"
    assert quarter.test(drawn["fail"], "fail")["status"] == "notified"
    assert quarter.test(drawn["critical"], "fail", critical=True)["status"] == "notified"
    quarter.test(drawn["overturned"], "fail")
    overturned = quarter.object_and_retest(drawn["overturned"], "pass")
    assert (overturned["status"], overturned["verdict"]) == ("final", "pass")
    quarter.test(drawn["retest_fail"], "fail")
    assert quarter.object_and_retest(drawn["retest_fail"], "fail")["verdict"] == "fail"

    # The objection window of the two unchallenged failures passes: the job makes them final.
    closed = finalize_expired(today=date.today() + timedelta(days=20), app=app)
    assert sorted(closed) == sorted([drawn["fail"]["sample_code"], drawn["critical"]["sample_code"]])

    # Each verdict belongs to the quarter in which it became final; the job publishes those
    # quarters once they have ended (its clock set to the morning after the last of them).
    final_on = {story: local_date(db.session.scalar(select(Sample.final_at).where(
        Sample.code == selection["sample_code"]))) for story, selection in drawn.items()}
    last = max((credit.period_of(day) for day in final_on.values()), key=credit.period_key)
    morning_after = datetime.combine(credit.period_end(last) + timedelta(days=1), datetime.min.time(),
                                     tzinfo=UTC) + timedelta(hours=1)
    published_periods = publish_due(now=morning_after)
    assert last in published_periods
    assert publish_due(now=morning_after) == []  # the job again: nothing new

    codes = {story: e.credit_code for story, e in quarter.enterprises.items()}
    red, black = {}, {}
    for period in published_periods:
        body = client.get(f"/api/v1/lists/{period}").get_json()
        for row in body["red"]:
            red.setdefault(row["credit_code"], []).append((period, row))
        for row in body["black"]:
            black.setdefault(row["credit_code"], []).append((period, row))
    assert set(red) == {codes["red"]}
    assert set(black) == {codes["fail"], codes["critical"], codes["refusal"], codes["retest_fail"]}
    for story in ("fail", "critical", "refusal", "retest_fail"):
        [(period, row)] = black[codes[story]]  # on exactly one black list: its final quarter's
        assert period == credit.period_of(final_on[story]) and row["final_on"] == final_on[story].isoformat()
    black = {code: rows[0][1] for code, rows in black.items()}
    red = {code: rows[0][1] for code, rows in red.items()}

    assert black[codes["fail"]]["severity"] == "general"
    assert black[codes["fail"]]["failed_items"] == ["甲醛含量"] and "甲醛含量" in black[codes["fail"]]["reason"]
    assert black[codes["fail"]]["report_no"] == f"R-{drawn['fail']['sample_code']}"
    assert black[codes["critical"]]["severity"] == "serious" and "安全" in black[codes["critical"]]["reason"]
    assert black[codes["refusal"]]["severity"] == "serious" and black[codes["refusal"]]["verdict"] == "refused"
    assert "拒绝" in black[codes["refusal"]]["reason"]
    retest = black[codes["retest_fail"]]
    assert retest["severity"] == "general" and retest["report_no"] == f"RT-{drawn['retest_fail']['sample_code']}"
    assert "连续3次" in red[codes["red"]]["reason"]

    # Terms run from the day the verdict became final.
    assert black[codes["fail"]]["expires_at"] == credit.add_months(final_on["fail"], 6).isoformat()
    assert black[codes["refusal"]]["expires_at"] == credit.add_months(final_on["refusal"], 12).isoformat()

    grades = {story: client.get(f"/api/v1/enterprises/{codes[story]}/credit",
                                headers=quarter.supervisor).get_json()["grade"] for story in STORIES}
    assert grades == {"pass": "B", "red": "A", "fail": "C", "critical": "D", "refusal": "D",
                      "overturned": "B", "retest_fail": "C"}
    page = client.get(f"/lists/{credit.period_of(final_on['fail'])}").get_data(as_text=True)
    assert all(codes[s] in page for s in ("fail", "critical"))
    assert codes["overturned"] not in page and codes["pass"] not in page
