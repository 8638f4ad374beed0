"""Risk signals: posted one by one or imported by CSV (all or nothing), matched by code or exact name."""

import io
from datetime import date, timedelta

from sqlalchemy import func, select

from models.audit import AuditEvent
from models.signals import RiskSignal
from sampling.credit_code import make_code
from services.calendar import today
from services.signals import signal_counts

HEADER = "date,credit_code,name,category_code,source,summary\n"


def _count(client, model):
    session = client.application.extensions["sqlalchemy"].session
    return session.scalar(select(func.count()).select_from(model))


def _upload(client, headers, text: str):
    return client.post("/api/v1/signals/import", data={"file": (io.BytesIO(text.encode()), "s.csv")},
                       headers=headers, content_type="multipart/form-data")


def test_a_signal_is_matched_by_code_or_exact_name(client, auth, factory):
    cat = factory.category(code="DQ-01")
    kettle = factory.enterprise([cat], name="东莞市甲电器有限公司")
    sup = auth.headers("supervisor")
    by_code = client.post("/api/v1/signals", json={
        "date": "2026-09-01", "credit_code": kettle.credit_code.lower(), "category_code": "DQ-01",
        "source": "complaint", "summary": "12315 投诉：水壶漏电"}, headers=sup)
    assert by_code.status_code == 201, by_code.json
    assert by_code.json["enterprise"] == {"credit_code": kettle.credit_code, "name": "东莞市甲电器有限公司"}
    assert by_code.json["date"] == "2026-09-01" and by_code.json["source"] == "complaint"
    by_name = client.post("/api/v1/signals", json={
        "date": "2026-09-02", "name": "东莞市甲电器有限公司", "category_code": "DQ-01", "source": "injury"},
        headers=sup)
    assert by_name.status_code == 201 and by_name.json["enterprise"]["credit_code"] == kettle.credit_code
    assert by_name.json["credit_code"] is None and by_name.json["name"] == "东莞市甲电器有限公司"
    listed = client.get(f"/api/v1/signals?credit_code={kettle.credit_code}", headers=sup)
    assert listed.status_code == 200 and [s["source"] for s in listed.json] == ["injury", "complaint"]
    assert [s["source"] for s in client.get("/api/v1/signals?source=complaint", headers=sup).json] == ["complaint"]
    events = client.get("/api/v1/audit?entity_type=risk_signal", headers=sup).json
    assert [e["action"] for e in events] == ["create", "create"]


def test_a_signal_that_matches_nothing_is_422_on_its_field_and_writes_nothing(client, auth, factory):
    cat = factory.category(code="DQ-01")
    factory.enterprise([cat], name="同名公司")
    factory.enterprise([cat], name="同名公司")
    sup = auth.headers("supervisor")
    base = {"date": "2026-09-01", "category_code": "DQ-01", "source": "outside_check"}
    cases = [
        ({"credit_code": make_code("91441900MA4W77777")}, "credit_code"),
        ({"credit_code": "91441900MA4W77777X"}, "credit_code"),
        ({"name": "没有这家公司"}, "name"),
        ({"name": "同名公司"}, "name"),
        ({}, "credit_code"),
        ({"name": "同名公司", "category_code": "NOPE"}, "category_code"),
        ({"name": "同名公司", "date": (today() + timedelta(days=2)).isoformat()}, "date"),
    ]
    for extra, field in cases:
        resp = client.post("/api/v1/signals", json={**base, **extra}, headers=sup)
        assert resp.status_code == 422, (extra, resp.json)
        assert field in resp.json["errors"], (extra, resp.json)
    bad_source = client.post("/api/v1/signals", json={**base, "name": "同名公司", "source": "rumour"}, headers=sup)
    assert bad_source.status_code == 422 and "json.source" in bad_source.json["errors"]
    assert _count(client, RiskSignal) == 0 and _count(client, AuditEvent) == 0


def test_only_a_supervisor_records_or_reads_signals(client, auth, factory):
    cat = factory.category(code="DQ-01")
    factory.enterprise([cat], name="甲")
    body = {"date": "2026-09-01", "name": "甲", "category_code": "DQ-01", "source": "complaint"}
    assert client.post("/api/v1/signals", json=body).status_code == 401
    inspector = auth.headers("inspector", inspector=factory.inspector())
    assert client.post("/api/v1/signals", json=body, headers=inspector).status_code == 403
    assert client.get("/api/v1/signals", headers=inspector).status_code == 403
    assert _count(client, RiskSignal) == 0


def test_the_import_is_all_or_nothing_and_names_the_bad_rows(client, auth, factory):
    cat = factory.category(code="DQ-01")
    other = factory.category(code="FZ-01")
    kettle = factory.enterprise([cat], name="东莞市甲电器有限公司")
    coat = factory.enterprise([other], name="东莞市乙服装有限公司")
    sup = auth.headers("supervisor")
    good = [f"2026-08-0{i},{kettle.credit_code},,DQ-01,complaint,投诉{i}\n" for i in range(1, 4)]
    good.append("2026-08-05,,东莞市乙服装有限公司,FZ-01,injury,\"伤害报告, 儿童\"\n")
    unknown = f"2026-08-06,{make_code('91441900MA4W55555')},,DQ-01,complaint,x\n"
    nameless = "2026-08-07,,东莞市不存在有限公司,DQ-01,complaint,x\n"
    malformed = "2026-13-01,,东莞市甲电器有限公司,DQ-01,gossip,x\n"
    resp = _upload(client, sup, HEADER + "".join(good[:2]) + unknown + good[2] + nameless + malformed)
    assert resp.status_code == 422
    assert set(resp.json["errors"]) == {"4", "6", "7"}
    assert any("credit_code" in m for m in resp.json["errors"]["4"])
    assert any("name" in m for m in resp.json["errors"]["6"])
    assert any("date" in m for m in resp.json["errors"]["7"]) and any("source" in m for m in resp.json["errors"]["7"])
    assert _count(client, RiskSignal) == 0
    missing = _upload(client, sup, "date,credit_code,category_code,source\n")
    assert missing.status_code == 422 and "header" in missing.json["errors"]

    resp = _upload(client, sup, HEADER + "".join(good))
    assert resp.status_code == 200 and resp.json == {"imported": 4}
    listed = client.get("/api/v1/signals?page_size=10", headers=sup).json
    assert [(s["enterprise"]["credit_code"], s["category_code"]) for s in listed] == [
        (coat.credit_code, "FZ-01"), *[(kettle.credit_code, "DQ-01")] * 3]
    assert listed[0]["summary"] == "伤害报告, 儿童"
    event = client.get("/api/v1/audit?entity_type=risk_signal", headers=sup).json[-1]
    assert event["action"] == "import" and event["after"] == {"imported": 4}


def test_signal_counts_cover_the_categories_and_the_twelve_months_before_the_day(app, db_session, factory):
    from services import signals

    heater, kettle, coat = factory.category(code="DQ-05"), factory.category(code="DQ-01"), factory.category()
    a, b, c = factory.enterprise([heater, kettle]), factory.enterprise([heater]), factory.enterprise([coat])
    on = date(2026, 10, 1)
    dated = [(a, heater, on), (a, kettle, on - timedelta(days=364)), (a, heater, on - timedelta(days=365)),
             (a, heater, on + timedelta(days=1)), (b, heater, on - timedelta(days=30)), (c, coat, on)]
    for enterprise, category, day in dated:
        signals.create_signal({"date": day, "credit_code": enterprise.credit_code, "category_code": category.code,
                               "source": "complaint"}, actor="test", today=on + timedelta(days=1))
    assert signal_counts([heater.id, kettle.id], on) == {a.id: 2, b.id: 1}
    assert signal_counts([heater.id], on) == {a.id: 1, b.id: 1}
    assert signal_counts([coat.id], on) == {c.id: 1}
    assert signal_counts([], on) == {}
