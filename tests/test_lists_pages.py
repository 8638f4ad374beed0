"""Public pages: home, the list index and a period's red and black tables, escaped."""

import pytest
from credit_factory import LAST_QUARTER, counted_sample, day_in

from sampling import credit
from services.calendar import now
from services.lists import publish_lists

EVIL = '<script>alert("x")</script>恶意公司'


@pytest.fixture
def published(factory):
    category = factory.category()
    bad = factory.enterprise([category], name=EVIL)
    good = factory.enterprise([category], name="东莞市诚信玩具有限公司")
    counted_sample(bad, category, "fail", on=day_in(LAST_QUARTER), items=("<b>铅</b>",))
    earlier = credit.previous_period(LAST_QUARTER)
    for period in (credit.previous_period(earlier), earlier):
        counted_sample(good, category, "pass", on=day_in(period))
    counted_sample(good, category, "pass", on=day_in(LAST_QUARTER))
    publish_lists(LAST_QUARTER, "test", now())
    return {"bad": bad, "good": good}


def test_home_links_lists_and_reports(client, published):
    page = client.get("/").get_data(as_text=True)
    assert f'href="/lists/{LAST_QUARTER}"' in page and 'href="/reports"' in page


def test_lists_index_links_each_period_and_its_csv(client, published):
    response = client.get("/lists")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "红黑榜" in page
    assert f"/api/v1/lists/{LAST_QUARTER}.csv" in page


def test_period_page_shows_both_tables_escaped(client, published):
    response = client.get(f"/lists/{LAST_QUARTER}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    assert "<b>铅</b>" not in page and "&lt;b&gt;铅&lt;/b&gt;" in page
    assert "东莞市诚信玩具有限公司" in page and "严重失信" not in page and "一般失信" in page


def test_period_page_search_by_name_and_code(client, published):
    by_name = client.get(f"/lists/{LAST_QUARTER}", query_string={"q": "诚信玩具"}).get_data(as_text=True)
    assert published["good"].credit_code in by_name and published["bad"].credit_code not in by_name
    by_code = client.get(f"/lists/{LAST_QUARTER}", query_string={"q": published["bad"].credit_code})
    page = by_code.get_data(as_text=True)
    assert published["bad"].credit_code in page and "东莞市诚信玩具有限公司" not in page
    echoed = client.get(f"/lists/{LAST_QUARTER}", query_string={"q": "<img src=x>"}).get_data(as_text=True)
    assert "<img src=x>" not in echoed


def test_removed_entries_leave_the_public_page(client, published, db_session):
    from sqlalchemy import select

    from models.lists import ListEntry
    from services.lists import remove_entry

    entry = db_session.scalar(select(ListEntry).where(ListEntry.enterprise_id == published["bad"].id))
    remove_entry(entry.id, "信用修复", "test", now())
    assert published["bad"].credit_code not in client.get(f"/lists/{LAST_QUARTER}").get_data(as_text=True)


def test_unknown_or_malformed_period_is_404(client, published):
    assert client.get("/lists/2001Q1").status_code == 404
    assert client.get("/lists/whatever").status_code == 404


def test_pages_load_nothing_from_elsewhere(client, published):
    for path in ("/", "/lists", f"/lists/{LAST_QUARTER}"):
        page = client.get(path).get_data(as_text=True)
        assert "http://" not in page and "https://" not in page
