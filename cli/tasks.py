"""``tasks``: the background tasks (draws, imports) from the command line.

``flask --app wsgi tasks list`` shows the latest; ``flask --app wsgi tasks run`` does once what the
scheduler does every ten seconds: queue again what a dead process left running, run what is queued.
"""

import json

import click
from flask import current_app
from flask.cli import AppGroup

from extensions import db
from services import calendar, tasks

tasks_cli = AppGroup("tasks", help="Background tasks: draws and imports too large for a request.")


@tasks_cli.command("list")
@click.option("--limit", default=20, show_default=True, help="how many, newest first")
def list_command(limit):
    """The latest tasks: id, kind, status, stage, progress, who asked, outcome."""
    for task in db.session.scalars(tasks.list_tasks().limit(limit)):
        total = "?" if task.progress_total is None else task.progress_total
        outcome = task.result if task.status == "succeeded" else (task.error or {}).get("message", "")
        click.echo(f"{task.id}\t{task.kind}\t{task.status}\t{task.stage or '-'}\t{task.progress_done}/{total}\t"
                   f"{task.created_by}\t{json.dumps(outcome, ensure_ascii=False) if outcome else ''}")


@tasks_cli.command("run")
def run_command():
    """Requeue stale tasks (once) and run every queued one now, in this process."""
    outcome = tasks.run_pending(calendar.now(), current_app.config["TASK_STALE_SECONDS"])
    for key in ("requeued", "failed", "ran"):
        click.echo(f"{key}: {', '.join(map(str, outcome[key])) or '-'}")
