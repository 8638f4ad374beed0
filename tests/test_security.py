"""Security: every write endpoint checks its token and role, tokens are stored hashed, pages escape
what they show, uploads have a size limit, and no error body carries a stack trace.

The write endpoints are read from the app's own OpenAPI document, so endpoints added later are
covered without touching this file.
"""

import re

import pytest
from sqlalchemy import func, select, text

from extensions import db
from models.audit import AuditEvent
from models.base import Base
from models.registry import Enterprise
from sampling.credit_code import make_code
from sampling.enums import ROLES
from services.users import hash_token

ERROR_KEYS = {"code", "status", "message", "errors"}
WRITE_METHODS = ("post", "put", "patch", "delete")
INJECTED = "<script>alert('x')</script>"
# Placeholder values for path parameters; the token is checked before anything is looked up.
PATH_VALUES = {"period": "2026Q4", "plan_id": "1", "entry_id": "1", "id": "1", "action_id": "1",
               "credit_code": make_code("91441900MA4W00001")}


def write_operations(app) -> list[tuple[str, str, dict]]:
    """(method, path, operation) of every documented write under /api/v1."""
    spec = app.test_client().get("/api/openapi.json").get_json()
    return [
        (method, path, operation)
        for path, item in spec["paths"].items() if path.startswith("/api/v1/")
        for method, operation in item.items() if method in WRITE_METHODS
    ]


def allowed_roles(operation: dict) -> set[str]:
    """The roles an operation's documentation names (``Roles: a, b.``); all roles if it names none."""
    found = re.search(r"Roles: ([a-z, ]+)\.", operation.get("description") or "")
    return {r.strip() for r in found.group(1).split(",")} if found else set(ROLES)


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m.group(1), "X0001"), path)


def row_counts() -> dict[str, int]:
    """Rows per table: what a refused request must leave as it was."""
    return {
        t.name: db.session.scalar(select(func.count()).select_from(t))
        for t in Base.metadata.sorted_tables
    }


def assert_error_shape(resp, status):
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:300])
    body = resp.get_json()
    assert body is not None and set(body) == ERROR_KEYS, body
    assert body["code"] == status and isinstance(body["errors"], dict)
    assert "Traceback" not in resp.get_data(as_text=True)


def send(client, method, path, headers=None):
    """An empty body of the kind the operation takes: the refusal must come before validation."""
    return client.open(concrete(path), method=method.upper(), json={}, headers=headers or {})


@pytest.fixture
def role_headers(auth, factory):
    """A token per role; inspector, lab and enterprise tokens are bound to their records."""
    category = factory.category()
    headers = {
        "supervisor": auth.headers("supervisor"),
        "inspector": auth.headers("inspector", inspector=factory.inspector()),
        "lab": auth.headers("lab", lab=factory.lab([category])),
        "enterprise": auth.headers("enterprise", enterprise=factory.enterprise([category])),
        "partner": auth.headers("partner"),
    }
    assert set(headers) == set(ROLES)
    return headers


def test_every_write_endpoint_is_documented_with_a_role(app):
    operations = write_operations(app)
    assert any(path == "/api/v1/enterprises" for _, path, _ in operations)
    undocumented = [f"{m.upper()} {p}" for m, p, op in operations if not op.get("security")]
    assert undocumented == []


def test_every_write_endpoint_refuses_a_missing_or_bad_token_and_writes_nothing(app, client, role_headers):
    before = row_counts()
    for method, path, _ in write_operations(app):
        assert_error_shape(send(client, method, path), 401)
        assert_error_shape(send(client, method, path, {"Authorization": "Bearer not-a-token"}), 401)
        assert_error_shape(send(client, method, path, {"Authorization": "Basic abc"}), 401)
    assert row_counts() == before


def test_every_write_endpoint_refuses_the_roles_it_does_not_allow_and_writes_nothing(app, client, role_headers):
    before = row_counts()
    checked = 0
    for method, path, operation in write_operations(app):
        for role in set(ROLES) - allowed_roles(operation):
            assert_error_shape(send(client, method, path, role_headers[role]), 403)
            checked += 1
    assert checked > 0
    assert row_counts() == before


def test_tokens_are_stored_hashed(app, db_session):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "--role", "supervisor", "审计员"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert len(token) >= 32
    rows = db_session.execute(text("SELECT * FROM users")).all()
    assert len(rows) == 1
    stored = " ".join(str(value) for value in rows[0])
    assert token not in stored
    assert hash_token(token) in stored
    events = " ".join(str(e.after) + str(e.before) for e in db_session.scalars(select(AuditEvent)))
    assert token not in events
    resp = app.test_client().get("/api/v1/enterprises", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200


def html_pages(app) -> list[str]:
    """Every GET page outside the API, with its path parameters filled in."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith(("/api", "/static")) or rule.rule == "/healthz":
            continue
        urls.append(re.sub(r"<(?:\w+:)?(\w+)>", lambda m: PATH_VALUES.get(m.group(1), "1"), rule.rule))
    return urls


def publish_a_list_naming(enterprise, category) -> str | None:
    """Put ``enterprise`` on a published black list when the lists feature exists; its period."""
    try:
        from credit_factory import LAST_QUARTER, counted_sample, day_in

        from services.calendar import now
        from services.lists import publish_lists
    except ImportError:
        return None
    counted_sample(enterprise, category, "fail", on=day_in(LAST_QUARTER), items=(INJECTED,))
    publish_lists(LAST_QUARTER, "test", now())
    return LAST_QUARTER


def test_pages_escape_injected_names(app, client, factory, monkeypatch):
    category = factory.category(name=INJECTED)
    enterprise = factory.enterprise([category], name=f"东莞市{INJECTED}有限公司", region=INJECTED)
    period = publish_a_list_naming(enterprise, category)
    if period:
        monkeypatch.setitem(PATH_VALUES, "period", period)
    pages = html_pages(app)
    if not pages:
        pytest.skip("no HTML pages registered yet")
    shown_escaped = 0
    for url in pages:
        for query in ({}, {"q": INJECTED}, {"q": enterprise.credit_code}):
            resp = client.get(url, query_string=query)
            page = resp.get_data(as_text=True)
            resp.close()  # downloads (files sent from disk) too
            assert resp.status_code < 500, (url, resp.status_code)
            assert INJECTED not in page, url
            shown_escaped += "&lt;script&gt;" in page
    if period:
        assert shown_escaped, "no page showed the injected name at all; the check proved nothing"


def test_uploads_over_the_size_limit_are_refused_with_413(app, client, auth, factory):
    factory.category(code="DQ-01")
    sup = auth.headers("supervisor")
    header = "credit_code,name,region,address,scale,category_codes,status\n"
    body = header + "".join(
        f"{make_code(f'91441900{n:09d}')},东莞市企业{n},南城街道,,small,DQ-01,active\n" for n in range(200)
    )
    limit = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 4096
    try:
        upload_paths = [p for m, p, op in write_operations(app) if "multipart/form-data" in str(op.get("requestBody"))]
        assert "/api/v1/enterprises/import" in upload_paths
        for path in upload_paths:
            import io

            resp = client.post(path, data={"file": (io.BytesIO(body.encode()), "big.csv")},
                               content_type="multipart/form-data", headers=sup)
            assert_error_shape(resp, 413)
        assert db.session.scalar(select(func.count()).select_from(Enterprise)) == 0
        small = header + body.splitlines(keepends=True)[1]
        resp = client.post("/api/v1/enterprises/import", data={"file": (io.BytesIO(small.encode()), "ok.csv")},
                           content_type="multipart/form-data", headers=sup)
        assert resp.status_code == 200 and resp.json == {"created": 1, "updated": 0}
    finally:
        app.config["MAX_CONTENT_LENGTH"] = limit


def test_an_unexpected_error_is_a_500_in_the_error_shape_without_a_trace(client, auth, monkeypatch):
    import errors
    from services import registry

    logged = []
    monkeypatch.setattr(errors.log, "exception", lambda *args, **kwargs: logged.append(args))

    def explode(*_args, **_kwargs):
        raise RuntimeError("secret internals: password=hunter2")

    monkeypatch.setattr(registry, "create_category", explode)
    resp = client.post("/api/v1/categories", json={"code": "X1", "name": "n", "group": "industrial"},
                       headers=auth.headers("supervisor"))
    assert_error_shape(resp, 500)
    text_body = resp.get_data(as_text=True)
    assert "hunter2" not in text_body and "RuntimeError" not in text_body and 'File "' not in text_body
    assert logged  # the trace goes to the log, not to the client


def test_errors_of_every_kind_have_the_shape_and_no_trace(client, auth):
    sup = auth.headers("supervisor")
    cases = [
        (client.get("/api/v1/enterprises/NOPE", headers=sup), 404),
        (client.get("/api/v1/no-such-endpoint", headers=sup), 404),
        (client.delete("/api/v1/enterprises", headers=sup), 405),
        (client.post("/api/v1/enterprises", data="{not json", content_type="application/json", headers=sup), 400),
        (client.post("/api/v1/enterprises", json=[1, 2], headers=sup), 422),
        (client.post("/api/v1/enterprises", json={"credit_code": "\x00" * 18}, headers=sup), 422),
    ]
    for resp, status in cases:
        assert_error_shape(resp, status)


def test_numbers_too_big_for_the_database_are_not_500s(client, auth):
    sup = auth.headers("supervisor")
    far_page = client.get("/api/v1/enterprises", query_string={"page": 10**20}, headers=sup)
    assert far_page.status_code == 200 and far_page.json == []
    huge_id = client.get(f"/api/v1/plans/{10**20}", headers=sup)
    assert_error_shape(huge_id, 404)


def test_a_token_may_act_only_on_what_its_record_owns(client, auth, factory):
    from datetime import UTC, datetime, timedelta

    from lifecycle_factory import make_world

    world = make_world(factory)
    code = world.samples[0].code
    outsider = auth.headers("inspector", inspector=world.outsider)
    other_lab = auth.headers("lab", lab=world.other_labs[0])
    at = datetime.now(UTC) - timedelta(days=30)
    visit = {"sampled_at": at.isoformat(), "stage": "production", "product_name": "电热水壶", "quantity": 4,
             "inspector_codes": [world.team[0].code, world.team[1].code]}
    before = row_counts()
    assert_error_shape(client.post(f"/api/v1/samples/{code}/sampling", json=visit, headers=outsider), 403)
    assert_error_shape(client.get(f"/api/v1/samples/{code}", headers=other_lab), 403)
    assert row_counts() == before

    team = auth.headers("inspector", inspector=world.team[0])
    assert client.post(f"/api/v1/samples/{code}/sampling", json=visit, headers=team).status_code == 200
    before = row_counts()
    receipt = {"received_at": (at + timedelta(days=1)).isoformat()}
    assert_error_shape(client.post(f"/api/v1/samples/{code}/receipt", json=receipt, headers=other_lab), 403)
    assert row_counts() == before
    assigned = auth.headers("lab", lab=world.lab)
    assert client.post(f"/api/v1/samples/{code}/receipt", json=receipt, headers=assigned).status_code == 200


def test_an_expired_or_revoked_token_is_a_401_and_a_live_one_works(app, client, db_session):
    from datetime import timedelta

    from models.auth import User
    from services.calendar import now
    from services.users import create_user, revoke_user

    _, live = create_user("在岗", "supervisor", actor="test", now=now(), expires_days=30)
    _, old = create_user("过期", "supervisor", actor="test", now=now() - timedelta(days=31), expires_days=30)
    _, gone = create_user("离职", "supervisor", actor="test", now=now())
    assert client.get("/api/v1/categories", headers={"Authorization": f"Bearer {gone}"}).status_code == 200
    revoke_user("离职", actor="test", now=now())

    assert client.get("/api/v1/categories", headers={"Authorization": f"Bearer {live}"}).status_code == 200
    for token, word in ((old, "expired"), (gone, "revoked")):
        resp = client.get("/api/v1/categories", headers={"Authorization": f"Bearer {token}"})
        assert_error_shape(resp, 401)
        assert word in resp.json["message"]
        before = row_counts()
        resp = client.post("/api/v1/categories", json={"code": "X1", "name": "n", "group": "industrial"},
                           headers={"Authorization": f"Bearer {token}"})
        assert_error_shape(resp, 401)
        assert row_counts() == before
    expiring = db_session.scalar(select(User).where(User.name == "在岗"))
    assert timedelta(days=29, hours=23) < expiring.expires_at - now() <= timedelta(days=30)
