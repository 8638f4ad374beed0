"""Job: mark list entries lapsed once their time is up (and the failure was put right)."""

from datetime import date

from flask import Flask

from jobs.context import in_app


def lapse_expired(today: date | None = None, app: Flask | None = None) -> list[int]:
    """Lapse every entry due by ``today``; returns the ids lapsed now."""
    from services import lists

    return in_app(app, lambda: lists.lapse_entries(today))


def refresh_grades(today: date | None = None, app: Flask | None = None) -> int:
    """Recompute every enterprise's grade: grades age (a failure leaves the 12- and 24-month
    windows) even when nothing new is recorded; returns how many changed."""
    from extensions import db
    from services.credit import refresh_all_grades

    def run():
        changed = refresh_all_grades(today)
        db.session.commit()
        return changed

    return in_app(app, run)
