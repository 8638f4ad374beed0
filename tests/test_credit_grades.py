"""Stored credit grades follow the record (services/credit.py)."""

from datetime import datetime, timedelta, timezone

from extensions import db
from models.samples import Result, ResultItem, Sample
from services.credit import credit_history, refresh_grades


def counted_sample(enterprise, category, verdict, days_ago, code, status="final", critical=False):
    """A sample with a final verdict (or a refusal) ``days_ago`` days back."""
    at = datetime.now(timezone.utc) - timedelta(days=days_ago)
    sample = Sample(code=code, enterprise=enterprise, category=category, period="2026Q1", level="municipal",
                    kind="routine", source="draw", status=status, sampled_at=at)
    if status == "refused":
        sample.refused_at = at
    else:
        sample.verdict, sample.final_at, sample.critical_failed = verdict, at, critical
        result = Result(report_no=f"R-{code}", tested_at=at, verdict=verdict, kind="initial")
        result.items = [ResultItem(position=0, name="甲醛", requirement="≤0.1", measured="0.3" if verdict == "fail" else "0.05",
                                   verdict=verdict, critical=critical)]
        sample.results = [result]
    db.session.add(sample)
    db.session.commit()
    return sample


def test_no_record_is_b_and_a_recent_failure_makes_c(factory, db_session):
    category = factory.category()
    enterprise = factory.enterprise([category])
    refresh_grades([enterprise.id])
    assert enterprise.credit_grade == "B"
    counted_sample(enterprise, category, "fail", 30, "S1")
    refresh_grades([enterprise.id])
    db_session.commit()
    assert db_session.get(type(enterprise), enterprise.id).credit_grade == "C"


def test_two_failures_make_d_and_three_passes_make_a(factory, db_session):
    category = factory.category()
    bad, good = factory.enterprise([category]), factory.enterprise([category])
    counted_sample(bad, category, "fail", 300, "B1")
    counted_sample(bad, category, None, 30, "B2", status="refused")
    for n, days in enumerate((400, 200, 20)):
        counted_sample(good, category, "pass", days, f"G{n}")
    refresh_grades([bad.id, good.id])
    db_session.commit()
    assert (bad.credit_grade, good.credit_grade) == ("D", "A")


def test_credit_history_lists_outcomes_with_failed_items(factory, db_session):
    category = factory.category()
    enterprise = factory.enterprise([category])
    counted_sample(enterprise, category, "fail", 30, "H1")
    history = credit_history(enterprise)
    assert history["grade"] == "C"
    [row] = history["history"]
    assert row["verdict"] == "fail" and row["failed_items"] == ["甲醛"]
