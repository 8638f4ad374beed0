"""Whom a failure counts against (issue 14), what was done about it (处理情况), and the credit
events partners read (issue 13), for the lists and the grades."""

from datetime import UTC, date, datetime, timedelta

from credit_factory import LAST_QUARTER, counted_sample, day_in
from sqlalchemy import select

from extensions import db
from models.events import PartnerEvent
from models.registry import Enterprise
from services import lists

FINAL_ON = day_in(LAST_QUARTER)


def publish(client, auth):
    response = client.post(f"/api/v1/lists/{LAST_QUARTER}/publish", headers=auth.headers("supervisor"))
    assert response.status_code == 201
    return response.get_json()


def grade(enterprise) -> str:
    return db.session.get(Enterprise, enterprise.id).credit_grade


def test_a_registered_producers_failure_found_at_a_seller_lists_the_producer(client, auth, factory):
    category = factory.category()
    producer = factory.enterprise([category], name="东莞市精工电器有限公司")
    seller = factory.enterprise([category], name="东莞市百货商场有限公司")
    sample = counted_sample(seller, category, "fail", on=FINAL_ON, items=("泄漏电流",))
    sample.producer_enterprise_id, sample.stage = producer.id, "distribution"
    db.session.commit()
    body = publish(client, auth)
    [row] = body["black"]
    assert row["credit_code"] == producer.credit_code and row["enterprise_name"] == producer.name
    assert (row["sampled_credit_code"], row["sampled_name"]) == (seller.credit_code, seller.name)
    assert (row["producer_credit_code"], row["producer_name"]) == (producer.credit_code, producer.name)
    assert (grade(producer), grade(seller)) == ("C", "B")
    page = client.get(f"/lists/{LAST_QUARTER}").get_data(as_text=True)
    assert "被抽样单位" in page and seller.name in page and producer.name in page


def test_an_out_of_town_producers_failure_lists_nobody_here_but_a_refusal_lists_the_seller(client, auth, factory):
    category = factory.category()
    seller, shop = factory.enterprise([category]), factory.enterprise([category])
    elsewhere = counted_sample(seller, category, "fail", on=FINAL_ON)
    elsewhere.producer_enterprise_id, elsewhere.producer_name = None, "浙江省某某电器有限公司"
    elsewhere.producer_address = "浙江省宁波市"
    counted_sample(shop, category, on=FINAL_ON, refused=True)
    db.session.commit()
    body = publish(client, auth)
    assert [r["credit_code"] for r in body["black"]] == [shop.credit_code]
    assert body["black"][0]["verdict"] == "refused" and body["black"][0]["severity"] == "serious"
    assert (grade(seller), grade(shop)) == ("B", "D")


def test_list_rows_say_what_was_done_about_the_failure(client, auth, factory):
    category = factory.category()
    enterprise = factory.enterprise([category])
    sample = counted_sample(enterprise, category, "fail", on=FINAL_ON)
    body = publish(client, auth)
    assert body["black"][0]["follow_up"] == "待处理"
    headers = auth.headers("supervisor")
    created = client.post(f"/api/v1/samples/{sample.code}/actions", headers=headers,
                          json={"kind": "interview", "due_date": (date.today() + timedelta(days=10)).isoformat()})
    assert created.status_code == 201, created.get_json()
    held = datetime.now(UTC).isoformat()
    done = client.patch(f"/api/v1/actions/{created.get_json()['id']}", headers=headers,
                        json={"held_at": held, "completed_at": held, "person": "法定代表人 王某"})
    assert done.status_code == 200, done.get_json()
    row = client.get(f"/api/v1/lists/{LAST_QUARTER}").get_json()["black"][0]
    assert row["follow_up"] == "已约谈"
    assert "已约谈" in client.get(f"/lists/{LAST_QUARTER}").get_data(as_text=True)


def partner_events(kind: str) -> list[PartnerEvent]:
    return list(db.session.scalars(select(PartnerEvent).where(PartnerEvent.type == kind).order_by(PartnerEvent.id)))


def test_partners_read_listed_grade_changed_removed_and_lapsed(client, auth, factory):
    category = factory.category()
    failed, rechecked = factory.enterprise([category]), factory.enterprise([category])
    counted_sample(failed, category, "fail", on=FINAL_ON)
    counted_sample(rechecked, category, "fail", on=FINAL_ON, recheck="pass")
    body = publish(client, auth)
    listed = partner_events("listed")
    assert {e.credit_code for e in listed} == {failed.credit_code, rechecked.credit_code}
    assert {e.data["period"] for e in listed} == {LAST_QUARTER} and all(e.position for e in listed)
    assert {e.credit_code for e in partner_events("grade_changed")} == {failed.credit_code, rechecked.credit_code}

    entry = next(r for r in body["black"] if r["credit_code"] == failed.credit_code)
    removed = client.post(f"/api/v1/lists/entries/{entry['id']}/removal", headers=auth.headers("supervisor"),
                          json={"reason": "整改到位，信用修复"})
    assert removed.status_code == 200
    [event] = partner_events("removed")
    assert event.credit_code == failed.credit_code and event.data["reason"] == "整改到位，信用修复"

    lapsed = lists.lapse_entries(FINAL_ON + timedelta(days=200), "scheduler")
    assert len(lapsed) == 1
    [event] = partner_events("lapsed")
    assert event.credit_code == rechecked.credit_code and event.data["entry_id"] == lapsed[0]


def test_a_failed_write_leaves_no_partner_event(app_ctx, factory, monkeypatch):
    category = factory.category()
    counted_sample(factory.enterprise([category]), category, "fail", on=FINAL_ON)

    def broken(*args, **kwargs):
        raise RuntimeError("database away")

    monkeypatch.setattr(lists, "refresh_grades", broken)
    try:
        lists.publish_lists(LAST_QUARTER, "test", datetime.now(UTC))
    except RuntimeError:
        db.session.rollback()
    assert partner_events("listed") == [] and lists.get_publication(LAST_QUARTER) is None
