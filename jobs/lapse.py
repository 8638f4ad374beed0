"""Jobs: lapse list entries whose time is up, and let grades age (both daily)."""

from datetime import date

from flask import Flask

from jobs.context import in_app

ACTOR = "scheduler"


def lapse_expired(today: date | None = None, app: Flask | None = None) -> list[int]:
    """Lapse every entry due by ``today`` (default: the regulator's today); the ids lapsed now."""
    from services import calendar, lists

    return in_app(app, lambda: lists.lapse_entries(today or calendar.today(), ACTOR))


def refresh_grades(today: date | None = None, app: Flask | None = None) -> int:
    """Recompute every enterprise's grade: grades age (a failure leaves the 12- and 24-month
    windows) even when nothing new is recorded; returns how many changed."""
    from services import calendar, credit

    return in_app(app, lambda: credit.refresh_all_grades(today or calendar.today(), ACTOR))
