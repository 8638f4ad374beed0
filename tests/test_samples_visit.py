"""The sampling visit of issue 14: the named producer, the purchase of online samples, the window."""

from datetime import UTC, datetime, timedelta

import pytest
from lifecycle_factory import make_world
from sqlalchemy import func, select

from extensions import db
from models.samples import Sample, SampleEvent
from sampling.credit_code import make_code

API = "/api/v1/samples"


@pytest.fixture
def world(factory):
    return make_world(factory)


@pytest.fixture
def visit(client, auth, world):
    """Post a sampling visit of the world's first sample; the response."""
    headers = auth.headers("inspector", inspector=world.team[0])
    code = world.samples[0].code

    def post(**over):
        body = {"sampled_at": (datetime.now(UTC) - timedelta(days=3)).isoformat(), "stage": "distribution",
                "product_name": "电暖器", "quantity": "2台",
                "inspector_codes": [world.team[0].code, world.team[1].code], **over}
        return client.post(f"{API}/{code}/sampling", json=body, headers=headers)

    return post


def _untouched(world):
    db.session.expire_all()
    assert db.session.get(Sample, world.samples[0].id).status == "planned"
    assert db.session.scalar(select(func.count()).select_from(SampleEvent)) == 0


def test_a_producer_registered_here_is_named_by_its_credit_code(visit, world, factory):
    maker = factory.enterprise([world.category], name="东莞市制造有限公司", address="东莞市长安镇1号")
    resp = visit(producer={"credit_code": maker.credit_code, "name": "标签上的名称"})
    assert resp.status_code == 200, resp.json
    assert resp.json["credit_code"] == world.enterprise.credit_code  # the sampled unit (a seller here)
    assert resp.json["producer"] == {"credit_code": maker.credit_code, "name": "东莞市制造有限公司",
                                     "address": "东莞市长安镇1号", "registered": True}
    db.session.expire_all()
    assert db.session.get(Sample, world.samples[0].id).producer_enterprise_id == maker.id


def test_a_producer_registered_elsewhere_is_kept_by_name_address_and_code(visit, world):
    elsewhere = make_code("91440300MA5F00001")  # a Shenzhen code, valid, not in our registry
    resp = visit(producer={"credit_code": elsewhere, "name": "深圳市某电器有限公司", "address": "深圳市宝安区"})
    assert resp.status_code == 200, resp.json
    assert resp.json["producer"] == {"credit_code": elsewhere, "name": "深圳市某电器有限公司",
                                     "address": "深圳市宝安区", "registered": False}
    no_code = visit(producer={"name": "某厂", "address": "浙江省宁波市"})
    assert no_code.status_code == 409  # already sampled: the visit above stands


def test_a_producer_registered_elsewhere_needs_its_address_and_a_valid_code(visit, world):
    missing = visit(producer={"credit_code": make_code("91440300MA5F00001"), "name": "深圳市某电器有限公司"})
    assert missing.status_code == 422 and "producer.address" in missing.json["errors"]
    bad = make_code("91440300MA5F00001")
    bad = bad[:-1] + ("0" if bad[-1] != "0" else "1")
    wrong = visit(producer={"credit_code": bad, "name": "某厂", "address": "某地"})
    assert wrong.status_code == 422 and "json.producer.credit_code" in str(wrong.json["errors"])
    nameless = visit(producer={"address": "某地"})
    assert nameless.status_code == 422
    _untouched(world)


def test_an_online_sample_records_its_purchase(visit, world):
    sampled_on = (datetime.now(UTC) - timedelta(days=3))
    purchase = {"platform": "某电商平台", "order_no": "2026112300001", "price": 129.9,
                "received_on": (sampled_on - timedelta(days=1)).date().isoformat()}
    without = visit(stage="online")
    assert without.status_code == 422 and "purchase" in without.json["errors"]
    late = visit(stage="cross_border", purchase={**purchase, "received_on": datetime.now(UTC).date().isoformat()})
    assert late.status_code == 422 and "purchase.received_on" in late.json["errors"]
    negative = visit(stage="online", purchase={**purchase, "price": -1})
    assert negative.status_code == 422
    _untouched(world)
    resp = visit(stage="cross_border", purchase=purchase)
    assert resp.status_code == 200, resp.json
    assert resp.json["stage"] == "cross_border"
    assert resp.json["purchase"] == {**purchase, "price": 129.9}
    db.session.expire_all()
    assert db.session.get(Sample, world.samples[0].id).purchase_price_fen == 12990


def test_a_sample_in_distribution_needs_no_purchase(visit):
    resp = visit(stage="distribution")
    assert resp.status_code == 200 and resp.json["purchase"] is None


def test_a_visit_outside_the_plans_sampling_window_is_refused(client, auth, world, visit):
    today = datetime.now(UTC).date()
    world.plan.window_start, world.plan.window_end = today - timedelta(days=60), today - timedelta(days=10)
    db.session.commit()
    late = visit()  # three days ago: after the window closed
    assert late.status_code == 422 and "sampled_at" in late.json["errors"]
    assert "window" in late.json["message"]
    headers = auth.headers("inspector", inspector=world.team[1])
    refusal = client.post(f"{API}/{world.samples[0].code}/refusal", headers=headers, json={
        "refused_at": (datetime.now(UTC) - timedelta(days=2)).isoformat(), "reason": "拒绝",
        "inspector_codes": [world.team[0].code, world.team[1].code]})
    assert refusal.status_code == 422 and "refused_at" in refusal.json["errors"]
    _untouched(world)
    inside = visit(sampled_at=(datetime.now(UTC) - timedelta(days=20)).isoformat())
    assert inside.status_code == 200, inside.json


def test_a_plan_without_window_takes_visits_any_day(visit, world):
    assert world.plan.window_start is None and world.plan.window_end is None
    assert visit().status_code == 200
