"""Answers kept per process against the data stamp (issue 15): the lists a user reads are served
again without being made again, yet a write shows at once, in every worker, and each caller
still sees only what its role may see; a token is checked on every request."""

from datetime import UTC, datetime

from extensions import db
from services import users
from tests.lifecycle_factory import make_world

SAMPLES = "/api/v1/samples?page_size=50"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def supervisor_token(name="主管") -> str:
    _, token = users.create_user(name, "supervisor", actor="test", now=NOW)
    return token


def test_a_kept_answer_is_the_answer_made_afresh(app, client, factory):
    world = make_world(factory)
    world.sample(enterprise=factory.enterprise([world.category]))
    sup = bearer(supervisor_token())
    for url in (SAMPLES, "/api/v1/enterprises?page_size=50", "/api/v1/plans", f"/api/v1/plans/{world.plan.id}/draw",
                "/api/v1/actions"):
        made = client.get(url, headers=sup)
        kept = client.get(url, headers=sup)
        app.config["REPORTS_CACHE"] = False
        try:
            fresh = client.get(url, headers=sup)
        finally:
            app.config["REPORTS_CACHE"] = True
        assert made.status_code == kept.status_code == fresh.status_code == 200, url
        assert made.data == kept.data == fresh.data, url
        assert made.headers.get("X-Pagination") == kept.headers.get("X-Pagination") == fresh.headers.get(
            "X-Pagination")
        assert kept.headers["Content-Type"] == fresh.headers["Content-Type"]


def test_a_write_in_another_worker_shows_at_once(factory, workers):
    reader, writer = workers
    world = make_world(factory)
    sup = bearer(supervisor_token())
    before = reader.get(SAMPLES, headers=sup).json
    assert [s["enterprise_name"] for s in before] == [world.enterprise.name]
    assert reader.get("/api/v1/enterprises", headers=sup).json[0]["name"] == world.enterprise.name
    assert reader.get(SAMPLES, headers=sup).json == before  # kept

    url = f"/api/v1/enterprises/{world.enterprise.credit_code}"
    renamed = writer.patch(url, json={"name": "东莞市新名有限公司"}, headers=sup)
    assert renamed.status_code == 200, renamed.json

    assert [s["enterprise_name"] for s in reader.get(SAMPLES, headers=sup).json] == ["东莞市新名有限公司"]
    assert reader.get("/api/v1/enterprises", headers=sup).json[0]["name"] == "东莞市新名有限公司"


def test_each_caller_is_answered_within_its_own_scope(client, factory, auth):
    world = make_world(factory)
    outsiders = world.sample(team=[world.team[2], world.outsider])
    sup = bearer(supervisor_token())
    assert {s["sample_code"] for s in client.get(SAMPLES, headers=sup).json} == {
        world.samples[0].code, outsiders.code}
    mine = client.get(SAMPLES, headers=auth.headers("inspector", inspector=world.outsider, name="外组"))
    assert [s["sample_code"] for s in mine.json] == [outsiders.code]
    assert client.get(SAMPLES, headers=auth.headers("lab", lab=world.lab, name="检验所")).json == []  # planned
    assert client.get(SAMPLES, headers=auth.headers("enterprise", enterprise=world.enterprise)).json == []


def test_a_token_is_checked_on_every_request(factory, workers):
    reader, writer = workers
    make_world(factory)
    token = supervisor_token("将吊销")
    assert reader.get(SAMPLES, headers=bearer(token)).status_code == 200
    assert reader.get(SAMPLES, headers=bearer(token)).status_code == 200  # the token's user kept
    assert reader.get(SAMPLES, headers=bearer("not-a-token")).status_code == 401
    assert reader.get(SAMPLES).status_code == 401

    with writer.application.app_context():  # revoked in the other worker
        users.revoke_user("将吊销", actor="test", now=NOW)
        db.session.remove()
    refused = reader.get(SAMPLES, headers=bearer(token))
    assert refused.status_code == 401 and "revoked" in refused.json["message"]


def test_a_public_kept_answer_reads_no_token(client, factory):
    make_world(factory)
    assert client.get("/api/v1/plans").status_code == 200
    assert client.get("/api/v1/plans", headers=bearer("not-a-token")).status_code == 200  # as before: no token needed


def test_a_published_draw_is_kept_for_good_once_its_answer_is_final(app, client, factory):
    from models.samples import Sample
    from tests.plans_factory import plans_world

    plans_world(factory)
    sup = bearer(supervisor_token())
    plan = client.post("/api/v1/plans", json={
        "name": "2026年第四季度服装五金产品监督抽查", "level": "municipal", "kind": "routine", "period": "2026Q4",
        "category_codes": ["FZ-01", "WJ-01"], "sample_size": 3}, headers=sup).get_json()
    url = f"/api/v1/plans/{plan['id']}/draw"
    assert client.post(url, json={}, headers=sup).status_code == 201
    for sample in db.session.query(Sample).all():  # every sample visited: the draw is public, not yet published
        sample.status = "sampled"
    db.session.commit()

    public = client.get(url)
    assert public.status_code == 200 and public.json["public"] is True and public.json["published_at"] is None
    published = client.post(url + "/publish", headers=sup).json["published_at"]
    assert published is not None
    assert client.get(url).json["published_at"] == published  # the unpublished answer was not kept for good
    for path in ("", "/verify", "/export"):
        first = client.get(url + path)
        assert first.status_code == 200 and client.get(url + path).data == first.data
    assert set(app.extensions["published_answers"]) == {("localhost", f"{url}{path}?")
                                                          for path in ("", "/verify", "/export")}


def test_a_report_by_enterprise_kept_for_staff_is_never_served_to_anyone_else(client, factory, auth):
    world = make_world(factory)
    world.sample(enterprise=factory.enterprise([world.category]))
    by_enterprise = "/api/v1/reports/pass-rates?by=enterprise"
    kept = client.get(by_enterprise, headers=auth.headers("supervisor"))
    assert kept.status_code == 200 and client.get(by_enterprise, headers=auth.headers("supervisor")).data == kept.data
    assert client.get(by_enterprise).status_code == 401
    assert client.get(by_enterprise, headers=auth.headers("enterprise", enterprise=world.enterprise)).status_code == 403
    # a report by category reads no token, kept or not, as before
    for _ in range(2):
        assert client.get("/api/v1/reports/pass-rates?by=category", headers=bearer("nonsense")).status_code == 200
