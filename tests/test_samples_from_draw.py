"""A sample made by a real draw, taken through its life cycle by the team and lab drawn for it."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from extensions import db
from models.registry import Inspector, Lab
from sampling.credit_code import make_code
from sampling.draw import rank_key

API = "/api/v1"


def _now():
    """Event times follow the draw, which was just made: each step is entered as it happens."""
    return datetime.now(UTC).isoformat()


def _result(tested_at, verdict, report_no):
    return {"report_no": report_no, "tested_at": tested_at, "items": [
        {"name": "纤维含量", "requirement": "符合标注", "measured": "棉 62%", "verdict": verdict, "critical": False},
    ]}


def test_a_drawn_sample_goes_from_visit_to_retest_with_the_drawn_team_and_labs(client, auth, factory):
    category = factory.category(code="FZ-09", name="服装")
    for i in range(4):
        factory.enterprise([category], region="虎门镇", credit_code=make_code(f"91441900{i + 700:09d}"))
    for i in range(6):
        factory.inspector(region="长安镇", code=f"DI{i:02d}")
    for code in ("LAB-1", "LAB-2", "LAB-3"):
        factory.lab([category], code=code)
    sup = auth.headers("supervisor")
    plan = client.post(f"{API}/plans", headers=sup, json={
        "name": "服装专项", "level": "municipal", "kind": "special", "period": "2026Q3",
        "category_codes": ["FZ-09"], "sample_size": 2,
    }).get_json()
    drawn = client.post(f"{API}/plans/{plan['id']}/draw", json={}, headers=sup)
    assert drawn.status_code == 201, drawn.get_json()
    draw = drawn.get_json()
    selection, other = draw["selections"]
    code = selection["sample_code"]

    def inspector(c):
        return auth.headers("inspector", inspector=db.session.scalar(select(Inspector).where(Inspector.code == c)))

    def lab(c):
        return auth.headers("lab", lab=db.session.scalar(select(Lab).where(Lab.code == c)))

    team = selection["inspectors"]
    visit = {"sampled_at": _now(), "stage": "production", "product_name": "男式衬衫", "quantity": "4件",
             "inspector_codes": team}
    before_draw = {**visit, "sampled_at": (datetime.fromisoformat(draw["drawn_at"]) - timedelta(minutes=5)).isoformat()}
    early = client.post(f"{API}/samples/{code}/sampling", json=before_draw, headers=inspector(team[0]))
    assert early.status_code == 422 and "sampled_at" in early.get_json()["errors"]  # the draw is the first event
    assert client.post(f"{API}/samples/{code}/sampling", json=visit, headers=inspector(team[0])).status_code == 200
    first_lab = lab(selection["lab"])
    assert client.post(f"{API}/samples/{code}/receipt", json={"received_at": _now()},
                       headers=first_lab).status_code == 200
    assert client.post(f"{API}/samples/{code}/result", json=_result(_now(), "fail", "FZ-R1"),
                       headers=first_lab).get_json()["verdict"] == "fail"
    assert client.post(f"{API}/samples/{code}/notification", json={"notified_at": _now()},
                       headers=sup).get_json()["status"] == "notified"
    objected = client.post(f"{API}/samples/{code}/objection", json={"filed_at": _now(), "reason": "申请复检"},
                           headers=sup).get_json()
    others = sorted({"LAB-1", "LAB-2", "LAB-3"} - {selection["lab"]},
                    key=lambda c: rank_key(draw["seed"], plan["id"], selection["credit_code"], c))
    assert objected["retest_lab"] == others[0]
    final = client.post(f"{API}/samples/{code}/retest-result", json=_result(_now(), "pass", "FZ-RT1"),
                        headers=lab(others[0])).get_json()
    assert (final["status"], final["verdict"], final["plan_id"]) == ("final", "pass", plan["id"])

    # Once no sample of the plan is planned any more, the draw is public.
    assert client.get(f"{API}/plans/{plan['id']}/draw").status_code == 401
    refusal = {"refused_at": _now(), "reason": "拒绝抽样", "inspector_codes": other["inspectors"]}
    assert client.post(f"{API}/samples/{other['sample_code']}/refusal", json=refusal,
                       headers=inspector(other["inspectors"][1])).status_code == 200
    assert client.get(f"{API}/plans/{plan['id']}/draw").status_code == 200
