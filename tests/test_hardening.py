"""Issue 16's reproductions, each a test: input the caller controls is a clear 4xx naming the
field or row, never a 500; a database fault is a 503 or a 409, whatever the endpoint, with
nothing written; every answer carries the security headers; bidirectional controls are refused
at input and neutralised on the pages.
"""

import io
import re

import psycopg
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from extensions import db
from models.audit import AuditEvent
from models.base import Base
from models.registry import Enterprise
from sampling.credit_code import make_code
from sampling.text import BIDI_CONTROLS

ERROR_KEYS = {"code", "status", "message", "errors"}
HEADER = "credit_code,name,region,address,scale,category_codes,status\n"


def row_counts() -> dict[str, int]:
    """Rows per table, read on a connection of its own (what is committed)."""
    with db.engine.connect() as conn:
        return {t.name: conn.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


def assert_refused(resp, status: int, field: str | None = None):
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:300])
    body = resp.get_json()
    assert set(body) == ERROR_KEYS and body["code"] == status, body
    if field:
        assert field in body["errors"], body["errors"]


@pytest.fixture
def sup(auth):
    return auth.headers("supervisor")


def enterprise_csv(*rows: str) -> dict:
    data = (HEADER + "".join(rows)).encode()
    return {"file": (io.BytesIO(data), "enterprises.csv")}


# --- JSON bodies ----------------------------------------------------------------------------

@pytest.mark.parametrize("path, body, field", [
    ("/api/v1/categories", '{"code": "X1", "name": "\\ud800", "group": "industrial"}', "json.name"),
    ("/api/v1/plans", '{"name": "计划\\udfff", "level": "municipal", "kind": "routine", "period": "2026Q4"}',
     "json.name"),
    ("/api/v1/lists/entries/1/removal", '{"reason": "\\ud83d"}', "json.reason"),
    ("/api/v1/plans/1/draw", '{"public_entropy": "\\ud800\\ud800"}', "json.public_entropy"),
    ("/api/v1/samples/S1/result", '{"items": [{"name": "ok"}, {"name": "\\udc00"}]}', "json.items.1.name"),
])
def test_a_lone_surrogate_in_any_json_text_is_a_422_naming_the_field(client, sup, path, body, field):
    before = row_counts()
    resp = client.post(path, data=body, content_type="application/json", headers=sup)
    assert_refused(resp, 422, field)
    assert "surrogate" in resp.json["errors"][field][0]
    assert row_counts() == before


def test_json_nested_a_thousand_deep_is_a_422_not_a_recursion_error(client, sup):
    before = row_counts()
    for deep in ("[" * 1000 + "]" * 1000, '{"a":' * 1000 + "1" + "}" * 1000,
                 '{"name": ' + "[" * 100_000 + "]" * 100_000 + "}"):
        resp = client.post("/api/v1/categories", data=deep, content_type="application/json", headers=sup)
        assert_refused(resp, 422, "json")
        assert "nested deeper" in resp.json["errors"]["json"][0]
    # Brackets inside strings are text, not nesting.
    fine = client.post("/api/v1/categories", json={"code": "X1", "name": "[" * 150, "group": "industrial"},
                       headers=sup)
    assert fine.status_code == 201, fine.json
    assert row_counts()["categories"] == before["categories"] + 1


def test_a_json_body_over_the_limit_is_a_413(app, client, sup):
    huge = '{"code": "X1", "name": "' + "x" * (app.config["MAX_JSON_BYTES"] + 1) + '", "group": "industrial"}'
    before = row_counts()
    assert_refused(client.post("/api/v1/categories", data=huge, content_type="application/json", headers=sup), 413)
    assert row_counts() == before


def test_a_nul_in_a_text_field_is_a_422_naming_the_field(client, sup, factory):
    category = factory.category()
    before = row_counts()
    for body, field in (
        ({"code": "X\x001", "name": "n", "group": "industrial"}, "json.code"),
        ({"code": "X1", "name": "a\x00b", "group": "industrial", "standard": "GB 1"}, "json.name"),
    ):
        resp = client.post("/api/v1/categories", json=body, headers=sup)
        assert_refused(resp, 422, field)
        assert "NUL" in resp.json["errors"][field][0]
        assert "out of range" not in resp.json["message"]
    resp = client.post("/api/v1/enterprises", json={
        "credit_code": make_code("91441900MA4W00001"), "name": "东莞市\x00公司", "region": "南城街道",
        "category_codes": [category.code]}, headers=sup)
    assert_refused(resp, 422, "json.name")
    assert row_counts() == before


@pytest.mark.parametrize("char", list(BIDI_CONTROLS), ids=lambda c: f"U+{ord(c):04X}")
def test_a_bidirectional_control_in_a_name_is_refused_naming_the_field(client, sup, factory, char):
    category = factory.category()
    before = row_counts()
    resp = client.post("/api/v1/enterprises", json={
        "credit_code": make_code("91441900MA4W00001"), "name": f"东莞市{char}司公限有器电", "region": "南城街道",
        "category_codes": [category.code]}, headers=sup)
    assert_refused(resp, 422, "json.name")
    assert "bidirectional" in resp.json["errors"]["json.name"][0]
    assert row_counts() == before


def test_query_arguments_follow_the_same_text_rule(client, sup):
    for value in ("\x00", "\u202e"):
        assert_refused(client.get("/api/v1/enterprises", query_string={"q": value}, headers=sup), 422, "query.q")
    page = client.get("/enterprises", query_string={"q": "\u202e"})
    assert page.status_code == 422 and "text/html" in page.content_type and "请求有误" in page.get_data(as_text=True)


def test_audit_since_the_first_day_of_year_one_is_not_a_500(client, sup):
    client.post("/api/v1/categories", json={"code": "X1", "name": "n", "group": "industrial"}, headers=sup)
    for since in ("0001-01-01", "0001-01-01T00:00:00+14:00", "9999-12-31", "9999-12-31T23:59:59-12:00"):
        resp = client.get("/api/v1/audit", query_string={"since": since}, headers=sup)
        assert resp.status_code == 200, (since, resp.json)
        assert len(resp.json) == (1 if since.startswith("0001") else 0), since


# --- CSV uploads ----------------------------------------------------------------------------

def good_row(n: int, category: str) -> str:
    return f"{make_code(f'91441900MA4W{n:05d}')},东莞市企业{n},南城街道,,small,{category},active\n"


@pytest.mark.parametrize("bad, problem", [
    ("{code},东莞市\x00企业,南城街道,,small,{cat},active\n", "NUL"),
    ("{code},东莞市\u202e企业,南城街道,,small,{cat},active\n", "bidirectional"),
    ("{code},东莞市企业,南城街道,,small,{cat},active,extra\n", "columns"),
    ("{code},东莞市企业,南城街道\n", "columns"),
    ("{code},东莞市" + "长" * 20_000 + "企业,南城街道,,small,{cat},active\n", "long"),
    ('{code},"东莞市企业,南城街道,,small,{cat},active\n', "CSV"),
])
def test_a_malformed_csv_row_is_a_422_naming_the_row_and_nothing_is_written(client, sup, factory, bad, problem):
    category = factory.category()
    before = row_counts()
    bad_row = bad.format(code=make_code("91441900MA4W99999"), cat=category.code)
    resp = client.post("/api/v1/enterprises/import", data=enterprise_csv(good_row(1, category.code), bad_row),
                       content_type="multipart/form-data", headers=sup)
    assert_refused(resp, 422, "3")
    assert problem.lower() in " ".join(resp.json["errors"]["3"]).lower()
    assert row_counts() == before


def test_an_undecodable_or_headless_csv_is_a_422(client, sup, factory):
    factory.category()
    before = row_counts()
    for data, field in ((b"\xff\xfe\x00\x00\xff", "file"), ("name,region\n甲,乙\n".encode(), "header"),
                        (HEADER.replace("name", "na\x00me").encode(), "header")):
        resp = client.post("/api/v1/enterprises/import", data={"file": (io.BytesIO(data), "x.csv")},
                           content_type="multipart/form-data", headers=sup)
        assert_refused(resp, 422, field)
    assert row_counts() == before


def test_csv_rows_reads_a_good_file_with_blank_lines_and_a_bom(app):
    from services.uploads import csv_rows, decode_upload

    text = decode_upload(("\ufeff" + "b,a,c\n 2 ,1,x\n\n4,3,y\n").encode())
    with app.app_context():
        assert list(csv_rows(text, ("a", "b"))) == [(2, {"a": "1", "b": "2"}, []), (4, {"a": "3", "b": "4"}, [])]
        broken = list(csv_rows(io.StringIO('a,b\n1,2\n"3,4\n5,6\n'), ("a", "b")))
        assert broken[0] == (2, {"a": "1", "b": "2"}, [])
        assert broken[1].number == 3 and broken[1].fields is None and "CSV" in broken[1].problems[0]
        assert len(broken) == 2  # nothing after a row that cannot be read


# --- database faults ------------------------------------------------------------------------

def db_error(sqlstate_class: type[psycopg.Error] | None, message: str = "boom") -> OperationalError:
    """A SQLAlchemy error as the driver would raise it, with ``sqlstate_class``'s SQLSTATE."""
    original = (sqlstate_class or psycopg.OperationalError)(message)
    return OperationalError("INSERT ...", {}, original)


@pytest.mark.parametrize("error, status", [
    (db_error(psycopg.errors.SerializationFailure), 409),
    (db_error(psycopg.errors.DeadlockDetected), 409),
    (db_error(psycopg.errors.QueryCanceled, "canceling statement due to statement timeout"), 503),
    (db_error(psycopg.errors.LockNotAvailable), 503),
    (db_error(psycopg.errors.AdminShutdown), 503),
    (db_error(None, "connection refused"), 503),
    (psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly"), 503),
    (psycopg.errors.SerializationFailure("raw, unwrapped by SQLAlchemy"), 409),
])
def test_database_faults_map_to_503_or_409_on_any_endpoint(client, sup, monkeypatch, error, status):
    from services import registry

    def fail(*_args, **_kwargs):
        db.session.add(Enterprise(credit_code="X", name="half-written", region="r"))
        raise error

    before = row_counts()
    monkeypatch.setattr(registry, "create_category", fail)
    resp = client.post("/api/v1/categories", json={"code": "X1", "name": "n", "group": "industrial"}, headers=sup)
    assert_refused(resp, status)
    assert "nothing was written" in resp.json["message"]
    assert row_counts() == before


def test_a_rollback_that_fails_too_still_answers_503(client, sup, monkeypatch):
    from services import registry

    def lose_connection(*_args, **_kwargs):
        raise db_error(None, "server closed the connection unexpectedly")

    def rollback_on_a_dead_connection():
        raise OperationalError("ROLLBACK", {}, psycopg.OperationalError("the connection is closed"))

    monkeypatch.setattr(registry, "create_category", lose_connection)
    monkeypatch.setattr(db.session, "rollback", rollback_on_a_dead_connection)
    resp = client.post("/api/v1/categories", json={"code": "X1", "name": "n", "group": "industrial"}, headers=sup)
    monkeypatch.undo()
    assert_refused(resp, 503)
    assert client.get("/api/v1/categories", headers=sup).status_code == 200  # the next request is served


# --- answers: security headers, bidi on the pages --------------------------------------------

def csp_directives(resp) -> dict[str, str]:
    policy = resp.headers["Content-Security-Policy"]
    return {part.split()[0]: " ".join(part.split()[1:]) for part in policy.split(";") if part.strip()}


def test_every_answer_carries_the_security_headers(app, client, sup):
    answers = {
        "page": client.get("/"), "missing page": client.get("/no-such-page"), "api": client.get("/api/v1/lists"),
        "api error": client.get("/api/v1/enterprises"), "health": client.get("/healthz"),
        "spec": client.get("/api/openapi.json"), "static": client.get("/static/site.css"),
        "docs": client.get("/api/docs"), "feed": client.get("/feeds/publications.atom"),
    }
    for name, resp in answers.items():
        resp.close()
        assert resp.headers["X-Content-Type-Options"] == "nosniff", name
        assert resp.headers["Referrer-Policy"] == "no-referrer", name
        directives = csp_directives(resp)
        assert directives["frame-ancestors"] == "'none'", name
        assert "*" not in resp.headers["Content-Security-Policy"] and "http" not in directives.get("script-src", "")
    page = csp_directives(answers["page"])
    assert page["default-src"] == "'none'" and page["script-src"] == "'self'" and page["style-src"] == "'self'"
    assert csp_directives(answers["api"])["default-src"] == "'none'"


def test_the_swagger_ui_is_allowed_exactly_its_own_inline_script_and_assets(client):
    import base64
    import hashlib

    docs = client.get("/api/docs")
    assert docs.status_code == 200
    html = docs.get_data(as_text=True)
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert scripts
    allowed = csp_directives(docs)["script-src"].split()
    for script in scripts:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in allowed
    assert "'unsafe-inline'" not in allowed and "'unsafe-eval'" not in allowed
    for asset in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert asset.startswith("/api/swagger-ui/"), asset  # nothing from elsewhere
        served = client.get(asset)
        served.close()
        assert served.status_code == 200, asset


def test_bidi_controls_stored_before_the_rule_are_removed_on_every_page(app, client, factory):
    category = factory.category(name="电\u202e器")
    spoofed = factory.enterprise([category], name="东莞市\u202e司公限有\u2066器电\u2069")
    pages = [f"/enterprises/{spoofed.credit_code}", "/enterprises?q=东莞市", "/catalogue"]
    shown = 0
    for url in pages:
        resp = client.get(url)
        assert resp.status_code == 200, url
        html = resp.get_data(as_text=True)
        assert not any(char in html for char in BIDI_CONTROLS), url
        shown += "东莞市司公限有器电" in html
    assert shown, "no page showed the name; the check proved nothing"
    assert db.session.scalar(select(AuditEvent).limit(1)) is None  # reading changed nothing


def test_a_lone_surrogate_in_a_field_name_is_answered_without_it(client, sup):
    before = row_counts()
    body = '{"\\ud800": {"\\udfff": "\\ud800"}}'
    resp = client.post("/api/v1/categories", data=body, content_type="application/json", headers=sup)
    assert_refused(resp, 422)
    assert set(resp.json["errors"]) == {"json.?", "json.?.?"}
    assert row_counts() == before
