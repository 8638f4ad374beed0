"""Background tasks (draws, imports) the web process queued: every few seconds the scheduler runs
whatever is still queued (a worker restarted before its thread began) and queues again, once, a
task whose process died while running it (its heartbeat is older than ``TASK_STALE_SECONDS``)."""

from flask import Flask

from jobs.context import in_app


def run_tasks(app: Flask | None = None) -> dict:
    """Sweep stale tasks, run the queued ones; ``{"requeued", "failed", "ran"}`` with only what
    happened (``{}`` when nothing did)."""
    from flask import current_app

    from services import calendar, tasks

    def run():
        outcome = tasks.run_pending(calendar.now(), current_app.config["TASK_STALE_SECONDS"])
        return {key: ids for key, ids in outcome.items() if ids}

    return in_app(app, run)
