"""The scheduler process: its jobs and triggers, catch-up on start, and two processes at once."""

import multiprocessing
import os
from datetime import UTC, datetime

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from credit_factory import LAST_QUARTER, counted_sample, day_in
from sqlalchemy import func, select

from extensions import db
from jobs import scheduler
from models.lists import ListEntry, Publication


def test_jobs_run_on_their_cron_in_shanghai_time(app):
    sched = scheduler.build_scheduler(app, BackgroundScheduler)
    jobs = {job.id: job for job in sched.get_jobs()}
    assert set(jobs) == {"publish_lists", "lapse_entries", "flag_overdue", "finalize_expired", "refresh_grades",
                         "flag_overdue_actions", "anchor_audit", "run_tasks"}
    trigger = jobs["publish_lists"].trigger
    assert str(trigger.timezone) == "Asia/Shanghai"
    # After the last moment of Q1 in Shanghai, the next run is on 1 April, Shanghai time.
    start = datetime(2026, 3, 31, 16, 0, tzinfo=UTC)  # 1 April 00:00 in Shanghai
    fire = trigger.get_next_fire_time(None, start)
    assert (fire.month, fire.day) == (4, 1) and fire.utcoffset().total_seconds() == 8 * 3600
    assert jobs["publish_lists"].coalesce is True and jobs["publish_lists"].misfire_grace_time >= 3600


def test_catch_up_publishes_a_missed_quarter_and_is_idempotent(app, factory):
    category = factory.category()
    counted_sample(factory.enterprise([category]), category, "fail", on=day_in(LAST_QUARTER))
    first = scheduler.catch_up(app)
    assert first["publish_lists"] == [LAST_QUARTER]
    second = scheduler.catch_up(app)
    assert second["publish_lists"] == [] and second["lapse_entries"] == []
    assert db.session.scalar(select(func.count()).select_from(Publication)) == 1


def test_a_failing_job_does_not_stop_the_others(app, monkeypatch):
    def broken():
        raise RuntimeError("database away")

    assert scheduler.run_job(app, "broken", broken) is None


def test_scheduler_cli_once(app, factory):
    category = factory.category()
    counted_sample(factory.enterprise([category]), category, "fail", on=day_in(LAST_QUARTER))
    result = app.test_cli_runner().invoke(args=["scheduler", "--once"])
    assert result.exit_code == 0, result.output
    assert f"publish_lists: ['{LAST_QUARTER}']" in result.output


def _scheduler_process(url, barrier, queue):
    """One scheduler process: passes the "already published?" check with the other, then publishes."""
    from app import create_app
    from jobs.publish import publish_due
    from services import lists

    original, first = lists.get_publication, [True]

    def lookup(period):
        if first[0]:
            first[0] = False
            barrier.wait()
            return None
        return original(period)

    lists.get_publication = lookup
    app = create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        queue.put(publish_due())


@pytest.mark.postgres  # two scheduler processes need PostgreSQL
def test_two_scheduler_processes_publish_once(app, factory):
    category = factory.category()
    for _ in range(3):
        counted_sample(factory.enterprise([category]), category, "fail", on=day_in(LAST_QUARTER))
    context = multiprocessing.get_context("spawn")
    barrier, queue = context.Barrier(2, timeout=60), context.Queue()
    url = os.environ["TEST_DATABASE_URL"]
    processes = [context.Process(target=_scheduler_process, args=(url, barrier, queue)) for _ in range(2)]
    for process in processes:
        process.start()
    outcomes = sorted((queue.get(timeout=120) for _ in processes), key=len)
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert outcomes == [[], [LAST_QUARTER]]
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Publication)) == 1
    assert db.session.scalar(select(func.count()).select_from(ListEntry)) == 3
