"""Stored credit grades follow the record (services/credit.py)."""

from credit_factory import counted_sample, local_today

from services.credit import credit_history, refresh_grades


def test_no_record_is_b_and_a_recent_failure_makes_c(factory, db_session):
    category = factory.category()
    enterprise = factory.enterprise([category])
    refresh_grades([enterprise.id], local_today(), "test")
    assert enterprise.credit_grade == "B"
    counted_sample(enterprise, category, "fail", 30)
    refresh_grades([enterprise.id], local_today(), "test")
    db_session.commit()
    assert db_session.get(type(enterprise), enterprise.id).credit_grade == "C"


def test_two_failures_make_d_and_three_passes_make_a(factory, db_session):
    category = factory.category()
    bad, good = factory.enterprise([category]), factory.enterprise([category])
    counted_sample(bad, category, "fail", 300)
    counted_sample(bad, category, days_ago=30, refused=True)
    for days in (400, 200, 20):
        counted_sample(good, category, "pass", days)
    refresh_grades([bad.id, good.id], local_today(), "test")
    db_session.commit()
    assert (bad.credit_grade, good.credit_grade) == ("D", "A")


def test_credit_history_lists_outcomes_with_failed_items(factory, db_session):
    category = factory.category()
    enterprise = factory.enterprise([category])
    counted_sample(enterprise, category, "fail", 30)
    history = credit_history(enterprise.credit_code, local_today())
    assert history["grade"] == "C"
    [row] = history["history"]
    assert row["verdict"] == "fail" and row["failed_items"] == ["甲醛含量"]


def test_grades_age_when_the_daily_job_runs(app, factory, db_session):
    from datetime import timedelta

    from jobs.lapse import refresh_grades as refresh_job

    category = factory.category()
    enterprise = factory.enterprise([category])
    counted_sample(enterprise, category, "fail", 300)
    assert refresh_job() == 1
    assert db_session.get(type(enterprise), enterprise.id).credit_grade == "C"
    assert refresh_job() == 0  # idempotent
    assert refresh_job(today=local_today() + timedelta(days=70)) == 1
    db_session.expire_all()
    assert db_session.get(type(enterprise), enterprise.id).credit_grade == "B"
