"""The demo's finished past quarter: real services, published lists, a public verifiable draw."""

from credit_factory import LAST_QUARTER
from sqlalchemy import select

from extensions import db
from models.lists import Publication
from models.samples import Sample
from scripts.demo import load_demo
from scripts.demo_quarter import load_history, load_past_quarter
from services import draws


def test_demo_quarter_publishes_real_lists(app, app_ctx, client):
    load_demo(seed=7, enterprises=120)
    load_history(seed=7)
    summary = load_past_quarter(seed=7, sample_size=24)
    period = LAST_QUARTER
    assert summary["period"] == period and 0 < summary["samples"] <= 24
    assert summary["refused"] == 1 and summary["failed"] >= 2 and summary["red"] >= 1
    publication = db.session.scalar(select(Publication).where(Publication.period == period))
    black = [e for e in publication.entries if e.list == "black"]
    assert len(black) == summary["failed"] + summary["refused"] == summary["black"]
    refusal = next(e for e in black if e.row["verdict"] == "refused")
    assert refusal.severity == "serious"
    assert any(e.severity == "serious" and "安全" in e.reason for e in black)
    overturned = db.session.scalar(select(Sample).where(Sample.plan_id == summary["plan_id"],
                                                         Sample.objection_filed_at.is_not(None)))
    assert overturned.verdict == "pass" and overturned.status == "final"
    assert not any(e.sample_id == overturned.id for e in black)
    draw = draws.get_draw(summary["plan_id"])
    assert draws.is_public(draw) and draws.verify_plan_draw(summary["plan_id"], None)["verified"] is True
    page = client.get(f"/lists/{period}").get_data(as_text=True)
    assert refusal.row["credit_code"] in page
    home = client.get("/").get_data(as_text=True)
    assert f"/draws/{summary['plan_id']}" in home and f"/lists/{period}" in home
