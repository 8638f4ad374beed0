"""Registries over HTTP: categories, enterprises, inspectors, labs, import; auth and errors."""

import json

from sqlalchemy import func, select

from models.audit import AuditEvent
from models.registry import Enterprise
from sampling.credit_code import make_code


def test_health(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json == {"status": "ok", "database": "ok"}


def test_create_and_read_enterprise(client, auth, factory):
    cat = factory.category(code="DQ-01")
    sup = auth.headers("supervisor")
    code = make_code("91441900MA4W12345")
    resp = client.post("/api/v1/enterprises", json={
        "credit_code": code, "name": "东莞市测试电器有限公司", "region": "南城街道", "category_codes": [cat.code]},
        headers=sup)
    assert resp.status_code == 201, resp.json
    assert resp.json["credit_code"] == code
    assert resp.json["credit_grade"] == "B"
    assert "东莞市测试电器有限公司" in resp.get_data(as_text=True)  # Chinese as text, not \u escapes
    resp = client.get(f"/api/v1/enterprises/{code}", headers=sup)
    assert resp.status_code == 200 and resp.json["category_codes"] == ["DQ-01"]


def test_bad_check_character_is_422_on_the_field_and_writes_nothing(client, auth, factory):
    cat = factory.category()
    code = make_code("91441900MA4W12345")
    wrong = code[:17] + ("0" if code[17] != "0" else "1")
    resp = client.post("/api/v1/enterprises", json={
        "credit_code": wrong, "name": "x", "region": "南城街道", "category_codes": [cat.code]},
        headers=auth.headers("supervisor"))
    assert resp.status_code == 422
    assert set(resp.json) == {"code", "status", "message", "errors"}
    assert "json.credit_code" in resp.json["errors"]
    assert client.get("/api/v1/enterprises", headers=auth.headers("supervisor")).json == []


def test_bad_input_of_every_kind(client, auth, factory):
    cat = factory.category()
    sup = auth.headers("supervisor")
    good = {"credit_code": make_code("91441900MA4W12345"), "name": "甲", "region": "南城街道",
            "category_codes": [cat.code]}
    missing = client.post("/api/v1/enterprises", json={"name": "甲"}, headers=sup)
    assert missing.status_code == 422 and "json.credit_code" in missing.json["errors"]
    wrong_type = client.post("/api/v1/enterprises", json={**good, "category_codes": "DQ"}, headers=sup)
    assert wrong_type.status_code == 422 and "json.category_codes" in wrong_type.json["errors"]
    unknown = client.post("/api/v1/enterprises", json={**good, "category_codes": ["NOPE"]}, headers=sup)
    assert unknown.status_code == 422 and "category_codes" in unknown.json["errors"]
    assert client.post("/api/v1/enterprises", json=good, headers=sup).status_code == 201
    events = client.application.extensions["sqlalchemy"].session.scalar(select(func.count()).select_from(AuditEvent))
    duplicate = client.post("/api/v1/enterprises", json=good, headers=sup)
    assert duplicate.status_code == 409 and duplicate.json["code"] == 409
    session = client.application.extensions["sqlalchemy"].session
    assert session.scalar(select(func.count()).select_from(Enterprise)) == 1
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == events


def test_tokens_and_roles(client, auth, factory):
    factory.category(code="X1")
    body = {"code": "X2", "name": "n", "group": "industrial"}
    assert client.post("/api/v1/categories", json=body).status_code == 401
    bad = client.post("/api/v1/categories", json=body, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.json["code"] == 401
    lab = factory.lab([])
    forbidden = client.post("/api/v1/categories", json=body, headers=auth.headers("lab", lab=lab))
    assert forbidden.status_code == 403
    assert client.get("/api/v1/categories").status_code == 401
    assert client.get("/api/v1/categories", headers=auth.headers("lab", lab=lab)).status_code == 200
    assert client.post("/api/v1/categories", json=body, headers=auth.headers("supervisor")).status_code == 201


def test_category_tree_and_filters(client, auth):
    sup = auth.headers("supervisor")
    assert client.post("/api/v1/categories", json={"code": "DQ", "name": "家用电器", "group": "consumer"},
                       headers=sup).status_code == 201
    child = client.post("/api/v1/categories", json={"code": "DQ-01", "name": "电热水壶", "group": "consumer",
                                                     "parent_code": "DQ", "key_supervised": True, "risk_level": 3},
                        headers=sup)
    assert child.status_code == 201 and child.json["parent_code"] == "DQ"
    orphan = client.post("/api/v1/categories", json={"code": "Z", "name": "z", "group": "consumer",
                                                      "parent_code": "NOPE"}, headers=sup)
    assert orphan.status_code == 422 and "parent_code" in orphan.json["errors"]
    listed = client.get("/api/v1/categories?parent_code=DQ", headers=sup)
    assert [c["code"] for c in listed.json] == ["DQ-01"]
    assert json.loads(listed.headers["X-Pagination"])["total"] == 1


def test_pagination_header(client, auth, factory):
    cat = factory.category()
    for _ in range(7):
        factory.enterprise([cat])
    resp = client.get("/api/v1/enterprises?page=2&page_size=3", headers=auth.headers("supervisor"))
    assert len(resp.json) == 3
    meta = json.loads(resp.headers["X-Pagination"])
    assert (meta["total"], meta["page"], meta["page_size"]) == (7, 2, 3)
    too_big = client.get("/api/v1/enterprises?page_size=5000", headers=auth.headers("supervisor"))
    assert too_big.status_code == 422


def test_inspectors_and_labs(client, auth, factory):
    factory.category(code="DQ-01")
    sup = auth.headers("supervisor")
    assert client.post("/api/v1/inspectors", json={"code": "INS1", "name": "陈伟", "region": "虎门镇"},
                       headers=sup).status_code == 201
    lab = client.post("/api/v1/labs", json={"code": "LAB1", "name": "检验院", "accreditation": "CNAS L1",
                                             "category_codes": ["DQ-01"]}, headers=sup)
    assert lab.status_code == 201 and lab.json["capacity"] == 100
    unknown = client.post("/api/v1/labs", json={"code": "LAB2", "name": "x", "accreditation": "a",
                                                 "category_codes": ["NOPE"]}, headers=sup)
    assert unknown.status_code == 422 and "category_codes" in unknown.json["errors"]
    assert [i["code"] for i in client.get("/api/v1/inspectors?region=虎门镇", headers=sup).json] == ["INS1"]
    assert [x["code"] for x in client.get("/api/v1/labs?category=DQ-01", headers=sup).json] == ["LAB1"]


def _csv(rows):
    header = "credit_code,name,region,address,scale,category_codes,status\n"
    return (header + "".join(",".join(r) + "\n" for r in rows)).encode()


def test_import_all_or_nothing(client, auth, factory):
    factory.category(code="DQ-01")
    factory.category(code="FZ-01")
    sup = auth.headers("supervisor")
    good = [[make_code(f"91441900MA4W1234{i}"), f"企业{i}", "虎门镇", "", "small", "DQ-01;FZ-01", "active"]
            for i in range(5)]
    bad = good[:2] + [[make_code("91441900MA4W12399")[:17] + "Z", "坏", "虎门镇", "", "huge", "NOPE", ""]] + good[2:]
    resp = client.post("/api/v1/enterprises/import", data={"file": (__import__("io").BytesIO(_csv(bad)), "e.csv")},
                       headers=sup, content_type="multipart/form-data")
    assert resp.status_code == 422
    assert list(resp.json["errors"]) == ["4"]
    assert any("credit_code" in m for m in resp.json["errors"]["4"])
    assert client.get("/api/v1/enterprises", headers=sup).json == []

    resp = client.post("/api/v1/enterprises/import", data={"file": (__import__("io").BytesIO(_csv(good)), "e.csv")},
                       headers=sup, content_type="multipart/form-data")
    assert resp.status_code == 200 and resp.json == {"created": 5, "updated": 0}
    good[0][1] = "改名企业"
    resp = client.post("/api/v1/enterprises/import", data={"file": (__import__("io").BytesIO(_csv(good)), "e.csv")},
                       headers=sup, content_type="multipart/form-data")
    assert resp.json == {"created": 0, "updated": 5}
    assert client.get(f"/api/v1/enterprises/{good[0][0]}", headers=sup).json["name"] == "改名企业"
    assert client.get(f"/api/v1/enterprises/{good[0][0]}", headers=sup).json["category_codes"] == ["DQ-01", "FZ-01"]


def test_openapi_lists_registry_endpoints(client):
    spec = client.get("/api/openapi.json").json
    for path in ("/api/v1/categories", "/api/v1/enterprises", "/api/v1/enterprises/{credit_code}",
                 "/api/v1/enterprises/import", "/api/v1/inspectors", "/api/v1/labs"):
        assert path in spec["paths"], path
    assert "Enterprise" in spec["components"]["schemas"]
    assert client.get("/api/docs").status_code == 200


def test_unknown_page_is_a_chinese_html_404_and_unknown_api_path_is_json(client):
    page = client.get("/lists/2099Q9")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "页面不存在" in page.get_data(as_text=True)
    api = client.get("/api/v1/nothing-here")
    assert api.status_code == 404 and set(api.json) == {"code", "status", "message", "errors"}


def test_unknown_codes_are_404_in_the_error_shape(client, auth):
    sup = auth.headers("supervisor")
    for path in ("/api/v1/categories/NOPE", f"/api/v1/enterprises/{make_code('91441900MA4W99999')}",
                 "/api/v1/inspectors/NOPE", "/api/v1/labs/NOPE"):
        resp = client.get(path, headers=sup)
        assert resp.status_code == 404, path
        assert set(resp.json) == {"code", "status", "message", "errors"} and resp.json["code"] == 404
    resp = client.patch(f"/api/v1/enterprises/{make_code('91441900MA4W99999')}", json={"name": "x"}, headers=sup)
    assert resp.status_code == 404


def _audit_count(client):
    session = client.application.extensions["sqlalchemy"].session
    return session.scalar(select(func.count()).select_from(AuditEvent))


def test_a_patch_that_changes_nothing_writes_no_audit_event(client, auth, factory):
    cat = factory.category(code="DQ-01")
    other = factory.category(code="FZ-01")
    enterprise = factory.enterprise([cat], region="虎门镇", name="东莞市不变有限公司")
    sup = auth.headers("supervisor")
    path = f"/api/v1/enterprises/{enterprise.credit_code}"
    events = _audit_count(client)
    empty = client.patch(path, json={}, headers=sup)
    assert empty.status_code == 200 and empty.json["name"] == "东莞市不变有限公司"
    same = client.patch(path, json={"name": "东莞市不变有限公司", "region": "虎门镇", "category_codes": ["DQ-01"]},
                        headers=sup)
    assert same.status_code == 200
    assert _audit_count(client) == events
    changed = client.patch(path, json={"name": "东莞市改名有限公司", "category_codes": ["DQ-01", other.code]},
                           headers=sup)
    assert changed.status_code == 200 and changed.json["category_codes"] == ["DQ-01", "FZ-01"]
    assert _audit_count(client) == events + 1
    session = client.application.extensions["sqlalchemy"].session
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert (event.action, event.entity_id) == ("update", enterprise.credit_code)
    assert event.actor == "supervisor:supervisor-user"
    assert event.before["name"] == "东莞市不变有限公司" and event.after["name"] == "东莞市改名有限公司"
