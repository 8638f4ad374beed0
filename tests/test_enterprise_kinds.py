"""Enterprise kinds (producer, seller, online shop, importer), online shops' platform, seasonal categories."""

import io

from sqlalchemy import func, select

from models.audit import AuditEvent
from models.registry import Enterprise
from sampling.credit_code import make_code

HEADER = "credit_code,name,region,address,scale,category_codes,status"


def _upload(client, headers, text: str):
    return client.post("/api/v1/enterprises/import", data={"file": (io.BytesIO(text.encode()), "e.csv")},
                       headers=headers, content_type="multipart/form-data")


def test_kinds_default_to_producer_and_are_filtered(client, auth, factory):
    cat = factory.category(code="DQ-01")
    sup = auth.headers("supervisor")
    producer = {"credit_code": make_code("91441900MA4W10001"), "name": "东莞市甲电器厂", "region": "虎门镇",
                "category_codes": [cat.code]}
    made = client.post("/api/v1/enterprises", json=producer, headers=sup)
    assert made.status_code == 201 and made.json["kinds"] == ["producer"]
    assert made.json["platform"] is None and made.json["shop_id"] is None
    shop = {"credit_code": make_code("91441900MA4W10002"), "name": "乙家电旗舰店", "region": "南城街道",
            "category_codes": [cat.code], "kinds": ["online_shop", "seller"], "platform": "天猫", "shop_id": "TM-88"}
    made = client.post("/api/v1/enterprises", json=shop, headers=sup)
    assert made.status_code == 201, made.json
    assert made.json["kinds"] == ["seller", "online_shop"] and made.json["platform"] == "天猫"
    importer = {**producer, "credit_code": make_code("91441900MA4W10003"), "name": "丙进出口", "kinds": ["importer"]}
    assert client.post("/api/v1/enterprises", json=importer, headers=sup).status_code == 201

    def listed(kind):
        resp = client.get(f"/api/v1/enterprises?kind={kind}", headers=sup)
        assert resp.status_code == 200
        return [e["name"] for e in resp.json]

    assert listed("producer") == ["东莞市甲电器厂"]
    assert listed("seller") == ["乙家电旗舰店"] and listed("online_shop") == ["乙家电旗舰店"]
    assert listed("importer") == ["丙进出口"]
    assert client.get("/api/v1/enterprises?kind=farmer", headers=sup).status_code == 422


def test_bad_kinds_and_an_online_shop_without_its_platform_are_422(client, auth, factory):
    cat = factory.category()
    sup = auth.headers("supervisor")
    body = {"credit_code": make_code("91441900MA4W10004"), "name": "丁网店", "region": "虎门镇",
            "category_codes": [cat.code]}
    unknown = client.post("/api/v1/enterprises", json={**body, "kinds": ["farmer"]}, headers=sup)
    assert unknown.status_code == 422 and "json.kinds.0" in unknown.json["errors"]
    empty = client.post("/api/v1/enterprises", json={**body, "kinds": []}, headers=sup)
    assert empty.status_code == 422 and "json.kinds" in empty.json["errors"]
    no_shop = client.post("/api/v1/enterprises", json={**body, "kinds": ["online_shop"], "platform": "京东"},
                          headers=sup)
    assert no_shop.status_code == 422 and set(no_shop.json["errors"]) == {"shop_id"}
    session = client.application.extensions["sqlalchemy"].session
    assert session.scalar(select(func.count()).select_from(Enterprise)) == 0
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0
    # A producer becoming an online shop must bring its platform and shop id along.
    assert client.post("/api/v1/enterprises", json=body, headers=sup).status_code == 201
    path = f"/api/v1/enterprises/{body['credit_code']}"
    half = client.patch(path, json={"kinds": ["producer", "online_shop"]}, headers=sup)
    assert half.status_code == 422 and set(half.json["errors"]) == {"platform", "shop_id"}
    assert client.get(path, headers=sup).json["kinds"] == ["producer"]
    whole = client.patch(path, json={"kinds": ["producer", "online_shop"], "platform": "京东", "shop_id": "JD-1"},
                         headers=sup)
    assert whole.status_code == 200 and whole.json["kinds"] == ["producer", "online_shop"]


def test_a_category_season_is_a_set_of_months(client, auth):
    sup = auth.headers("supervisor")
    heater = client.post("/api/v1/categories", json={
        "code": "DQ-05", "name": "电暖器", "group": "consumer", "season_months": [10, 11, 12, 1, 2, 12]}, headers=sup)
    assert heater.status_code == 201 and heater.json["season_months"] == [1, 2, 10, 11, 12]
    assert client.get("/api/v1/categories/DQ-05", headers=sup).json["season_months"] == [1, 2, 10, 11, 12]
    all_year = client.post("/api/v1/categories", json={"code": "DQ-06", "name": "电饭锅", "group": "consumer"},
                           headers=sup)
    assert all_year.status_code == 201 and all_year.json["season_months"] is None
    bad = client.post("/api/v1/categories", json={"code": "DQ-07", "name": "x", "group": "consumer",
                                                   "season_months": [0, 13]}, headers=sup)
    assert bad.status_code == 422 and "json.season_months.0" in bad.json["errors"]


def test_the_import_takes_optional_kinds_platform_and_shop_id(client, auth, factory):
    factory.category(code="DQ-01")
    sup = auth.headers("supervisor")
    codes = [make_code(f"91441900MA4W2000{i}") for i in range(4)]
    text = (f"{HEADER},kinds,platform,shop_id\n"
            f"{codes[0]},甲厂,虎门镇,,small,DQ-01,active,,,\n"
            f"{codes[1]},乙店,虎门镇,,small,DQ-01,active,seller;online_shop,拼多多,PDD-7\n"
            f"{codes[2]},丙进口,虎门镇,,small,DQ-01,active,importer,,\n")
    resp = _upload(client, sup, text)
    assert resp.status_code == 200 and resp.json == {"created": 3, "updated": 0}
    kinds = {e["credit_code"]: e["kinds"] for e in client.get("/api/v1/enterprises", headers=sup).json}
    assert kinds == {codes[0]: ["producer"], codes[1]: ["seller", "online_shop"], codes[2]: ["importer"]}
    shop = client.get(f"/api/v1/enterprises/{codes[1]}", headers=sup).json
    assert (shop["platform"], shop["shop_id"]) == ("拼多多", "PDD-7")

    # The documented header alone still works, and leaves the kinds it does not mention as they are.
    resp = _upload(client, sup, f"{HEADER}\n{codes[1]},乙店改名,虎门镇,,small,DQ-01,active\n")
    assert resp.status_code == 200 and resp.json == {"created": 0, "updated": 1}
    shop = client.get(f"/api/v1/enterprises/{codes[1]}", headers=sup).json
    assert shop["name"] == "乙店改名" and shop["kinds"] == ["seller", "online_shop"] and shop["platform"] == "拼多多"

    bad = (f"{HEADER},kinds,platform,shop_id\n"
           f"{codes[3]},丁,虎门镇,,small,DQ-01,active,farmer,,\n"
           f"{codes[0]},甲厂,虎门镇,,small,DQ-01,active,online_shop,淘宝,\n")
    resp = _upload(client, sup, bad)
    assert resp.status_code == 422 and set(resp.json["errors"]) == {"2", "3"}
    assert any("kinds" in m for m in resp.json["errors"]["2"])
    assert any("shop_id" in m for m in resp.json["errors"]["3"])
    assert client.get(f"/api/v1/enterprises/{codes[0]}", headers=sup).json["kinds"] == ["producer"]
