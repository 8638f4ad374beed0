"""Red/black lists over HTTP: publish once, rows, CSV, search, early removal, lapse, credit."""

import csv
import io
import json
import threading
from datetime import date, timedelta

import pytest
from credit_factory import LAST_QUARTER, counted_sample, day_in
from sqlalchemy import func, select

from extensions import db
from models.lists import ListEntry, Publication
from models.registry import Enterprise
from sampling import credit
from services import lists

ROW_FIELDS = {"credit_code", "enterprise_name", "region", "category_code", "category_name", "product_name",
              "batch_no", "verdict", "failed_items", "lab", "report_no", "reason", "severity", "final_on",
              "listed_at", "expires_at"}
FINAL_ON = day_in(LAST_QUARTER)  # the day the city's verdicts became final


@pytest.fixture
def city(factory):
    """A failing, a refusing, a critically failing, a red and a plain enterprise, final last quarter."""
    category = factory.category()
    e = {name: factory.enterprise([category], name=f"东莞市{name}有限公司")
         for name in ("不合格", "拒检", "安全", "诚信", "一般")}
    counted_sample(e["不合格"], category, "fail", on=FINAL_ON, items=("甲醛含量", "pH值"))
    counted_sample(e["拒检"], category, on=FINAL_ON, refused=True)
    counted_sample(e["安全"], category, "fail", on=FINAL_ON, critical=True)
    two_back = credit.previous_period(credit.previous_period(LAST_QUARTER))
    counted_sample(e["诚信"], category, "pass", on=day_in(two_back))
    counted_sample(e["诚信"], category, "pass", on=day_in(credit.previous_period(LAST_QUARTER)))
    counted_sample(e["诚信"], category, "pass", on=FINAL_ON)
    counted_sample(e["一般"], category, "pass", on=FINAL_ON)
    return e


def publish(client, auth, period=LAST_QUARTER):
    return client.post(f"/api/v1/lists/{period}/publish", headers=auth.headers("supervisor"))


def by_code(rows):
    return {row["credit_code"]: row for row in rows}


def test_publish_puts_each_enterprise_on_the_right_list(client, auth, city):
    response = publish(client, auth)
    assert response.status_code == 201
    body = response.get_json()
    assert body["period"] == LAST_QUARTER
    black, red = by_code(body["black"]), by_code(body["red"])
    assert set(red) == {city["诚信"].credit_code}
    assert set(black) == {city[n].credit_code for n in ("不合格", "拒检", "安全")}
    failed = black[city["不合格"].credit_code]
    assert failed["severity"] == "general" and failed["verdict"] == "fail"
    assert failed["failed_items"] == ["甲醛含量", "pH值"] and "甲醛含量" in failed["reason"]
    assert black[city["拒检"].credit_code]["severity"] == "serious"
    assert black[city["拒检"].credit_code]["verdict"] == "refused"
    assert black[city["安全"].credit_code]["severity"] == "serious"
    assert ROW_FIELDS <= set(failed) and failed["category_name"] == city["不合格"].categories[0].name
    # The term runs from the day the verdict became final, not from the publication.
    assert failed["final_on"] == failed["listed_at"] == FINAL_ON.isoformat()
    assert failed["expires_at"] == credit.add_months(FINAL_ON, 6).isoformat()
    assert black[city["拒检"].credit_code]["expires_at"] == credit.add_months(FINAL_ON, 12).isoformat()
    assert body["supplements"] == []


def test_publishing_again_returns_the_same_publication(client, auth, city):
    first = publish(client, auth)
    # Final after the quarter ended: it belongs to the current quarter, not to this one.
    counted_sample(city["一般"], city["一般"].categories[0], "fail", days_ago=0, period=LAST_QUARTER)
    again = publish(client, auth)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json() == first.get_json()
    assert db.session.scalar(select(func.count()).select_from(Publication)) == 1


def test_publication_is_read_publicly_and_searched(client, auth, city):
    publish(client, auth)
    assert client.get(f"/api/v1/lists/{LAST_QUARTER}").status_code == 200
    found = client.get(f"/api/v1/lists/{LAST_QUARTER}", query_string={"q": "拒检"}).get_json()
    assert [r["credit_code"] for r in found["black"]] == [city["拒检"].credit_code] and found["red"] == []
    by_credit = client.get(f"/api/v1/lists/{LAST_QUARTER}", query_string={"q": city["诚信"].credit_code[-6:]})
    assert [r["credit_code"] for r in by_credit.get_json()["red"]] == [city["诚信"].credit_code]
    every = client.get("/api/v1/lists")
    assert every.status_code == 200 and json.loads(every.headers["X-Pagination"])["total"] == 1
    assert every.get_json()[0]["period"] == LAST_QUARTER


def test_unpublished_period_is_404_and_malformed_is_422(client):
    assert client.get("/api/v1/lists/2020Q1").status_code == 404
    response = client.get("/api/v1/lists/2020Q9")
    assert response.status_code == 422 and set(response.get_json()) == {"code", "status", "message", "errors"}


def test_publish_needs_a_supervisor_and_an_ended_quarter(client, auth, city, factory):
    assert client.post(f"/api/v1/lists/{LAST_QUARTER}/publish").status_code == 401
    lab_headers = auth.headers("lab", lab=factory.lab([city["一般"].categories[0]]))
    assert client.post(f"/api/v1/lists/{LAST_QUARTER}/publish", headers=lab_headers).status_code == 403
    current = credit.next_period(LAST_QUARTER)
    assert publish(client, auth, current).status_code == 409
    assert publish(client, auth, "9999Q4").status_code == 409
    assert db.session.scalar(select(func.count()).select_from(Publication)) == 0


@pytest.mark.parametrize("period", ["0001Q1", "2026Q5", "0000Q1", "garbage"])
def test_publishing_a_period_before_any_data_or_malformed_is_422(client, auth, city, period):
    response = publish(client, auth, period)
    assert response.status_code == 422
    assert set(response.get_json()) == {"code", "status", "message", "errors"}
    assert db.session.scalar(select(func.count()).select_from(Publication)) == 0


def test_the_first_quarter_with_data_can_be_published_and_not_the_one_before(client, auth, factory):
    category = factory.category()
    old = credit.previous_period(credit.previous_period(LAST_QUARTER))
    counted_sample(factory.enterprise([category]), category, "pass", on=day_in(old), source="import")
    assert publish(client, auth, credit.previous_period(old)).status_code == 422
    assert publish(client, auth, old).status_code == 201
    between = publish(client, auth, credit.previous_period(LAST_QUARTER))  # no verdict became final in it
    assert between.status_code == 201 and between.get_json()["black"] == []


def test_csv_has_the_same_rows(client, auth, city):
    published = publish(client, auth).get_json()
    response = client.get(f"/api/v1/lists/{LAST_QUARTER}.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == len(published["red"]) + len(published["black"])
    failed = next(r for r in rows if r["credit_code"] == city["不合格"].credit_code)
    assert failed["list"] == "black" and failed["failed_items"] == "甲醛含量;pH值"


def test_csv_quotes_formula_like_names(client, auth, factory):
    category = factory.category()
    evil = factory.enterprise([category], name="=HYPERLINK(\"http://x\")公司")
    counted_sample(evil, category, "fail", on=FINAL_ON)
    publish(client, auth)
    text = client.get(f"/api/v1/lists/{LAST_QUARTER}.csv").get_data(as_text=True)
    assert "'=HYPERLINK" in text


def test_early_removal_records_the_reason_and_lifts_the_grade(client, auth, city):
    publish(client, auth)
    enterprise = city["不合格"]
    entry = db.session.scalar(select(ListEntry).where(ListEntry.enterprise_id == enterprise.id))
    headers = auth.headers("supervisor", name="张科长")
    assert client.post(f"/api/v1/lists/entries/{entry.id}/removal", json={}, headers=headers).status_code == 422
    response = client.post(f"/api/v1/lists/entries/{entry.id}/removal", json={"reason": "整改到位，信用修复"},
                           headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["removal_reason"] == "整改到位，信用修复" and body["removed_at"] and "张科长" in body["removed_by"]
    again = client.post(f"/api/v1/lists/entries/{entry.id}/removal", json={"reason": "x"}, headers=headers)
    assert again.status_code == 409
    assert client.post("/api/v1/lists/entries/999999/removal", json={"reason": "x"}, headers=headers).status_code == 404
    standing = client.get(f"/api/v1/enterprises/{enterprise.credit_code}/credit", headers=headers).get_json()
    assert standing["black_listed"] is False and standing["entries"][0]["state"] == "removed"
    # The failure itself is still within 12 months: C, no longer held down by the entry.
    assert standing["grade"] == "C"


def test_publication_updates_grades(client, auth, city):
    publish(client, auth)
    grades = {name: db.session.get(Enterprise, e.id).credit_grade for name, e in city.items()}
    assert grades == {"不合格": "C", "拒检": "D", "安全": "D", "诚信": "A", "一般": "B"}


def test_credit_endpoint_shows_entries_and_history(client, auth, city):
    publish(client, auth)
    headers = auth.headers("supervisor")
    body = client.get(f"/api/v1/enterprises/{city['拒检'].credit_code}/credit", headers=headers).get_json()
    assert {"credit_code", "grade", "red_listed", "black_listed", "entries", "history"} <= set(body)
    assert body["grade"] == "D" and body["black_listed"] is True
    assert body["entries"][0]["severity"] == "serious" and body["history"][0]["verdict"] == "refused"
    assert client.get(f"/api/v1/enterprises/{city['拒检'].credit_code}/credit").status_code == 401
    assert client.get("/api/v1/enterprises/91440000000000000X/credit", headers=headers).status_code == 404


def test_lapse_waits_for_the_recheck(client, auth, factory):
    category = factory.category()
    rechecked, not_rechecked = factory.enterprise([category]), factory.enterprise([category])
    counted_sample(rechecked, category, "fail", on=FINAL_ON, recheck="pass")
    counted_sample(not_rechecked, category, "fail", on=FINAL_ON)
    publish(client, auth)
    assert lists.lapse_entries(FINAL_ON + timedelta(days=100), "test") == []
    later = credit.add_months(FINAL_ON, 6)
    lapsed = lists.lapse_entries(later, "test")
    entry = db.session.get(ListEntry, lapsed[0])
    assert len(lapsed) == 1 and entry.enterprise_id == rechecked.id and entry.lapsed_at == later
    assert lists.lapse_entries(later + timedelta(days=1), "test") == []  # idempotent


def test_scheduler_job_publishes_missed_quarters_once(app_ctx, factory):
    from jobs.publish import publish_due

    category = factory.category()
    enterprise = factory.enterprise([category])
    counted_sample(enterprise, category, "fail", on=FINAL_ON)
    older = credit.previous_period(LAST_QUARTER)
    counted_sample(enterprise, category, "pass", on=day_in(older))
    # Imported history alone does not make the job publish its (long past) quarters.
    counted_sample(enterprise, category, "pass", on=date(2019, 2, 1), source="import")
    assert publish_due() == [older, LAST_QUARTER]
    assert publish_due() == []
    assert db.session.scalar(select(func.count()).select_from(Publication)) == 2


def racing_lookup(parties):
    """A ``get_publication`` whose first call in each thread waits for the others and finds
    nothing, so every publisher passes the check and they insert together."""
    original, barrier, seen = lists.get_publication, threading.Barrier(parties, timeout=30), set()

    def lookup(period):
        me = threading.get_ident()
        if me not in seen:
            seen.add(me)
            barrier.wait()
            return None
        return original(period)

    return lookup


def _publish_over_http(app, headers, results):
    response = app.test_client().post(f"/api/v1/lists/{LAST_QUARTER}/publish", headers=headers)
    results.append((response.status_code, response.get_json()))


@pytest.mark.postgres  # concurrent writers need PostgreSQL (SQLite serialises them)
def test_concurrent_publish_requests_make_one_publication(app, auth, city, monkeypatch):
    headers = auth.headers("supervisor")
    monkeypatch.setattr(lists, "get_publication", racing_lookup(4))
    results = []
    threads = [threading.Thread(target=_publish_over_http, args=(app, headers, results)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(status for status, _ in results) == [200, 200, 200, 201]
    bodies = [body for _, body in results]
    assert all(body == bodies[0] for body in bodies)
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Publication)) == 1
    assert db.session.scalar(select(func.count()).select_from(ListEntry)) == 4


def test_published_lists_are_cached_and_a_removal_shows_at_once(app, client, auth, city, monkeypatch):
    monkeypatch.setitem(app.config, "LISTS_CACHE_SECONDS", 60)
    lists.published_cache.clear()
    publish(client, auth)
    first = client.get(f"/api/v1/lists/{LAST_QUARTER}").get_json()
    page = client.get(f"/lists/{LAST_QUARTER}").get_data(as_text=True)
    name = city["不合格"].name
    assert name in page and name in {r["enterprise_name"] for r in first["black"]}
    # A change made behind the app (another process) is not seen while the cached answer lives...
    db.session.execute(ListEntry.__table__.update().values(lapsed_at=date(2026, 1, 1)))
    db.session.commit()
    assert client.get(f"/api/v1/lists/{LAST_QUARTER}").get_json() == first
    # ...but a removal through this process clears the cache at once, for the API and the page.
    entry = db.session.scalar(select(ListEntry).where(ListEntry.enterprise_id == city["不合格"].id))
    removed = client.post(f"/api/v1/lists/entries/{entry.id}/removal", json={"reason": "整改到位"},
                          headers=auth.headers("supervisor"))
    assert removed.status_code == 200
    fresh = client.get(f"/api/v1/lists/{LAST_QUARTER}").get_json()
    assert {r["lapsed_at"] for r in first["black"]} == {None}
    assert {r["lapsed_at"] for r in fresh["black"]} == {"2026-01-01"}
    assert name not in client.get(f"/lists/{LAST_QUARTER}").get_data(as_text=True)
    lists.published_cache.clear()
