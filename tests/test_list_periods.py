"""A list period holds the verdicts that became final in it; later arrivals are supplements.

Services take the time, so these tests run the publication at chosen instants (a
controllable clock) instead of waiting for a quarter to end.
"""

import io
import random
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

import pytest
from credit_factory import LAST_QUARTER, TZ, counted_sample, day_in
from sqlalchemy import func, select

from extensions import db
from jobs.publish import publish_due
from models.lists import ListEntry, Publication, Supplement
from models.samples import Result, ResultItem, Sample
from sampling import credit
from services import lists
from services.history import HISTORY_HEADER
from services.samples import finalize_expired


def at_local(day: date, hour: int = 0, minute: int = 30) -> datetime:
    """An instant on a day of the regulator's calendar."""
    return datetime.combine(day, time(hour, minute), tzinfo=TZ)


def notified_failure(enterprise, category, notified_on: date) -> Sample:
    """A failing sample notified on a day, still open to objection (not final)."""
    sample = counted_sample(enterprise, category, "fail", on=notified_on)
    sample.status, sample.final_at = "notified", None
    sample.notified_at = sample.last_event_at = at_local(notified_on, 10)
    db.session.commit()
    return sample


def black_sample_ids(period: str) -> list[int]:
    """The samples on a published period's black list, supplements included."""
    return list(db.session.scalars(select(ListEntry.sample_id).where(
        ListEntry.period == period, ListEntry.list == "black", ListEntry.withdrawn_in_id.is_(None))))


def test_a_failure_final_after_the_quarter_is_on_the_next_quarters_black_list(app_ctx, factory):
    category = factory.category()
    enterprise = factory.enterprise([category])
    counted_sample(factory.enterprise([category]), category, "pass", on=date(2025, 11, 3))  # Q4 has data
    sample = notified_failure(enterprise, category, date(2025, 12, 29))

    # 1 January 00:30: the objection window (15 days) is still open; Q4 is published without it.
    q4, _, created = lists.publish_lists("2025Q4", "scheduler", at_local(date(2026, 1, 1)))
    assert created and black_sample_ids("2025Q4") == []
    # 13 January: the window has passed, the job makes it final.
    sample.status, sample.final_at = "final", at_local(date(2026, 1, 13), 0, 20)
    db.session.commit()
    # Q4 does not change: nothing reached it (200, no supplement) ...
    again, supplement, created = lists.publish_lists("2025Q4", "supervisor", at_local(date(2026, 1, 20), 9))
    assert (again.id, supplement, created) == (q4.id, None, False)
    # ... and on 1 April the failure is on Q1's black list, its term running from 13 January.
    lists.publish_lists("2026Q1", "scheduler", at_local(date(2026, 4, 1)))
    [entry] = db.session.scalars(select(ListEntry).where(ListEntry.period == "2026Q1")).all()
    assert entry.sample_id == sample.id and entry.list == "black"
    assert entry.row["final_on"] == entry.row["listed_at"] == "2026-01-13"
    assert entry.expires_at == date(2026, 7, 13)


def test_a_quarter_is_judged_in_the_regulators_time_zone(app_ctx, factory):
    category = factory.category()
    first, second = factory.enterprise([category]), factory.enterprise([category])
    # 2025-12-31 16:30 UTC is already 1 January 00:30 in Beijing: final in 2026Q1.
    new_year = counted_sample(first, category, "fail", on=date(2025, 12, 1))
    new_year.final_at = datetime(2025, 12, 31, 16, 30, tzinfo=UTC)
    old_year = counted_sample(second, category, "fail", on=date(2025, 12, 31))
    old_year.final_at = at_local(date(2025, 12, 31), 23, 59)
    db.session.commit()
    lists.publish_lists("2025Q4", "test", at_local(date(2026, 1, 1), 1))
    lists.publish_lists("2026Q1", "test", at_local(date(2026, 4, 1), 1))
    assert black_sample_ids("2025Q4") == [old_year.id]
    assert black_sample_ids("2026Q1") == [new_year.id]


def test_a_year_of_scheduler_runs_puts_every_final_failure_on_exactly_one_black_list(app_ctx, factory):
    rng = random.Random(11)
    category = factory.category()
    enterprises = [factory.enterprise([category]) for _ in range(12)]
    start, days = date(2025, 1, 1), 365
    open_failures = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        # 00:20 the finalize job (the samples service it calls, at the job's time): a failure
        # whose 15-day objection window has passed becomes final.
        if open_failures:
            finalize_expired(day, at_local(day, 0, 20))
            open_failures = [s for s in open_failures if db.session.get(Sample, s.id).status == "notified"]
        # 00:30 the publish job (it runs on the first day of each quarter; any day is harmless).
        if day.day == 1 and day.month in (1, 4, 7, 10):
            publish_due(now=at_local(day, 0, 30))
        # During the day: results notified and refusals recorded.
        for _ in range(rng.choice((0, 0, 1, 2))):
            enterprise = rng.choice(enterprises)
            roll = rng.random()
            if roll < 0.25:
                open_failures.append(notified_failure(enterprise, category, day))
            elif roll < 0.35:
                counted_sample(enterprise, category, on=day, refused=True)
            else:
                counted_sample(enterprise, category, "pass", on=day)
    # The first day of the next year's first quarter: the last quarter of the year is published.
    assert publish_due(now=at_local(date(2026, 1, 1), 0, 30)) == ["2025Q4"]
    finalize_expired(date(2026, 1, 31), at_local(date(2026, 1, 31), 0, 20))  # still open on 1 January

    final_failures = set(db.session.scalars(select(Sample.id).where(
        Sample.final_at < at_local(date(2026, 1, 1), 0, 0),
        (Sample.verdict == "fail") | (Sample.status == "refused"))))
    listed = Counter(db.session.scalars(select(ListEntry.sample_id).where(ListEntry.list == "black")))
    assert len(final_failures) > 40
    assert set(listed) == final_failures and set(listed.values()) == {1}
    assert sorted(db.session.scalars(select(Publication.period))) == ["2025Q1", "2025Q2", "2025Q3", "2025Q4"]
    # Every entry's term ran from the day it became final, inside its own quarter.
    for entry in db.session.scalars(select(ListEntry).where(ListEntry.list == "black")):
        assert credit.period_of(entry.final_on) == entry.period and entry.listed_at == entry.final_on


def history_csv(*rows: str) -> dict:
    return {"file": (io.BytesIO("\n".join([",".join(HISTORY_HEADER), *rows]).encode()), "history.csv")}


def test_history_imported_into_a_published_quarter_is_published_as_supplement_1(client, auth, factory):
    headers = auth.headers("supervisor")
    category = factory.category(code="TOY01")
    live, late = factory.enterprise([category]), factory.enterprise([category])
    counted_sample(live, category, "fail", on=day_in(LAST_QUARTER))
    first = client.post(f"/api/v1/lists/{LAST_QUARTER}/publish", headers=headers)
    assert first.status_code == 201 and len(first.get_json()["black"]) == 1

    sampled_on = day_in(LAST_QUARTER, 40).isoformat()
    imported = client.post("/api/v1/history/import", headers=headers, content_type="multipart/form-data",
                           data=history_csv(f"{late.credit_code},TOY01,{LAST_QUARTER},municipal,routine,production,"
                                            f"{sampled_on},fail,甲醛含量,false,旧系统质检所,OLD-1"))
    assert imported.status_code == 200
    supplemented = client.post(f"/api/v1/lists/{LAST_QUARTER}/publish", headers=headers)
    assert supplemented.status_code == 201
    body = supplemented.get_json()
    assert body["black"] == first.get_json()["black"]  # the original is never edited
    [supplement] = body["supplements"]
    assert body["supplement"] == supplement
    assert supplement["no"] == 1 and "补录历史" in supplement["reason"]
    assert [r["credit_code"] for r in supplement["black"]] == [late.credit_code]
    assert supplement["black"][0]["final_on"] == sampled_on and supplement["withdrawn"] == []

    again = client.post(f"/api/v1/lists/{LAST_QUARTER}/publish", headers=headers)
    assert again.status_code == 200 and again.get_json()["supplements"] == body["supplements"]
    read = client.get(f"/api/v1/lists/{LAST_QUARTER}").get_json()
    assert read["supplements"] == body["supplements"] and read["black"] == body["black"]
    assert db.session.scalar(select(func.count()).select_from(Supplement)) == 1
    csv_text = client.get(f"/api/v1/lists/{LAST_QUARTER}.csv").get_data(as_text=True)
    assert late.credit_code in csv_text and live.credit_code in csv_text


def test_a_corrected_verdict_is_withdrawn_by_a_supplement_with_the_supervisors_reason(client, auth, factory):
    headers = auth.headers("supervisor")
    category = factory.category()
    enterprise = factory.enterprise([category])
    sample = counted_sample(enterprise, category, "fail", on=day_in(LAST_QUARTER))
    client.post(f"/api/v1/lists/{LAST_QUARTER}/publish", headers=headers)
    assert db.session.get(type(enterprise), enterprise.id).credit_grade == "C"
    # The verdict is corrected to a pass (a recorded result that supersedes the first).
    sample.verdict = "pass"
    sample.results.append(Result(report_no="R-CORR", tested_at=sample.final_at, verdict="pass", kind="correction",
                                 lab_name="东莞市质检所", items=[ResultItem(position=0, name="甲醛含量",
                                 requirement="≤0.1", measured="0.05", verdict="pass")]))
    db.session.commit()
    response = client.post(f"/api/v1/lists/{LAST_QUARTER}/publish", headers=headers,
                           json={"reason": "检验机构更正报告，结论改为合格"})
    assert response.status_code == 201
    body = response.get_json()
    [supplement] = body["supplements"]
    assert supplement["reason"] == "检验机构更正报告，结论改为合格"
    assert [r["credit_code"] for r in supplement["withdrawn"]] == [enterprise.credit_code]
    assert body["black"][0]["withdrawn_in"] == 1  # the original row stays, marked
    page = client.get(f"/lists/{LAST_QUARTER}").get_data(as_text=True)
    assert "补充公告" in page and "检验机构更正报告" in page
    standing = client.get(f"/api/v1/enterprises/{enterprise.credit_code}/credit", headers=headers).get_json()
    assert standing["black_listed"] is False and standing["entries"][0]["state"] == "withdrawn"
    public = client.get(f"/api/v1/public/enterprises/{enterprise.credit_code}").get_json()
    assert [e["state"] for e in public["list_entries"]] == ["withdrawn"]
    assert "已撤回" in client.get(f"/enterprises/{enterprise.credit_code}").get_data(as_text=True)


@pytest.mark.parametrize("reason", ["", "x" * 2001])
def test_a_bad_supplement_reason_is_422(client, auth, factory, reason):
    category = factory.category()
    counted_sample(factory.enterprise([category]), category, "fail", on=day_in(LAST_QUARTER))
    response = client.post(f"/api/v1/lists/{LAST_QUARTER}/publish", headers=auth.headers("supervisor"),
                           json={"reason": reason})
    assert response.status_code == 422 and "reason" in str(response.get_json()["errors"])


def test_a_search_reads_the_cached_period(app, client, auth, factory, monkeypatch):
    monkeypatch.setitem(app.config, "LISTS_CACHE_SECONDS", 60)
    lists.published_cache.clear()
    category = factory.category()
    wanted = factory.enterprise([category], name="东莞市星辰玩具有限公司")
    counted_sample(wanted, category, "fail", on=day_in(LAST_QUARTER))
    counted_sample(factory.enterprise([category]), category, "fail", on=day_in(LAST_QUARTER))
    client.post(f"/api/v1/lists/{LAST_QUARTER}/publish", headers=auth.headers("supervisor"))
    built = []
    original = lists.period_view
    monkeypatch.setattr(lists, "period_view", lambda period: built.append(period) or original(period))
    for n in range(20):
        response = client.get(f"/api/v1/lists/{LAST_QUARTER}", query_string={"q": f"随机{n}"})
        assert response.status_code == 200 and response.get_json()["black"] == []
        page = client.get(f"/lists/{LAST_QUARTER}", query_string={"q": f"随机{n}"})
        assert page.status_code == 200
    found = client.get(f"/api/v1/lists/{LAST_QUARTER}", query_string={"q": "星辰"}).get_json()
    assert [r["credit_code"] for r in found["black"]] == [wanted.credit_code]
    assert wanted.credit_code in client.get(f"/lists/{LAST_QUARTER}?q=星辰").get_data(as_text=True)
    assert built == [LAST_QUARTER, LAST_QUARTER]  # once for the API, once for the page: 42 reads
    lists.published_cache.clear()
