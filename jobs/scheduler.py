"""The scheduler process: APScheduler 3 with cron triggers in the regulator's time zone.

Run it beside gunicorn, as one process: ``python -m jobs`` or ``flask --app wsgi scheduler``.
On start it runs every job once, so a run missed while the process was down is caught up.
"""

import logging
import signal
import sys

import click
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask, current_app
from flask.cli import with_appcontext

from extensions import db
from jobs import audit, followup, lapse, overdue, publish, tasks

log = logging.getLogger(__name__)

# A run missed by up to a day (process restarted, host asleep) still runs, once.
JOB_DEFAULTS = {"coalesce": True, "misfire_grace_time": 24 * 3600, "max_instances": 1}


def job_table() -> list[tuple[str, object, dict]]:
    """``(id, function, cron fields)`` of every scheduled job, in catch-up order."""
    return [
        ("finalize_expired", overdue.finalize_expired, {"hour": 0, "minute": 20}),
        ("publish_lists", publish.publish_due, {"month": "1,4,7,10", "day": 1, "hour": 0, "minute": 30}),
        ("lapse_entries", lapse.lapse_expired, {"hour": 0, "minute": 40}),
        ("refresh_grades", lapse.refresh_grades, {"hour": 0, "minute": 45}),
        ("flag_overdue", overdue.flag_overdue, {"hour": 0, "minute": 50}),
        ("flag_overdue_actions", followup.flag_overdue_actions, {"hour": 0, "minute": 55}),
        ("anchor_audit", audit.anchor_audit, {"hour": 1, "minute": 0}),  # after the night's writes
        ("run_tasks", tasks.run_tasks, {"second": "*/10"}),  # queued draws and imports, stale ones
    ]


def run_job(app: Flask, job_id: str, function) -> object:
    """Run one job in a fresh app context; a failure is logged, never kills the scheduler."""
    with app.app_context():
        try:
            outcome = function()
            log.log(logging.INFO if outcome else logging.DEBUG, "job %s done: %s", job_id, outcome)
            return outcome
        except Exception:
            db.session.rollback()
            log.exception("job %s failed", job_id)
            return None
        finally:
            db.session.remove()


def catch_up(app: Flask) -> dict:
    """Run every job once now (what a missed run would have done); ``{job id: outcome}``."""
    return {job_id: run_job(app, job_id, function) for job_id, function, _ in job_table()}


def build_scheduler(app: Flask, scheduler_class=BlockingScheduler):
    """A scheduler with every job on its cron, in the configured time zone."""
    tz = app.config["TIMEZONE"]
    scheduler = scheduler_class(timezone=tz, job_defaults=JOB_DEFAULTS)
    for job_id, function, cron in job_table():
        scheduler.add_job(run_job, CronTrigger(timezone=tz, **cron), args=[app, job_id, function],
                          id=job_id, name=job_id, replace_existing=True, **JOB_DEFAULTS)
    return scheduler


def run_scheduler(app: Flask) -> None:
    """Catch up, then run the jobs on schedule until stopped (Ctrl-C or SIGTERM).

    On SIGTERM the process exits once a running job has finished (its transaction commits
    whole or not at all).
    """
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    catch_up(app)
    scheduler = build_scheduler(app)
    log.info("scheduler started: %s", ", ".join(job.id for job in scheduler.get_jobs()))
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        if scheduler.running:
            scheduler.shutdown(wait=True)
        log.info("scheduler stopped")


@click.command("scheduler")
@click.option("--once", is_flag=True, help="run every job once (catch up) and exit")
@with_appcontext
def scheduler_command(once):
    """Run the scheduled jobs (publish lists, lapse entries, flag overdue) as their own process."""
    app = current_app._get_current_object()
    if once:
        for job_id, outcome in catch_up(app).items():
            click.echo(f"{job_id}: {outcome}")
        return
    run_scheduler(app)
