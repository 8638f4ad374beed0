"""Job: mark list entries lapsed once their time is up (and the failure was put right)."""

from datetime import date

from flask import Flask

from jobs.overdue import _in_app


def lapse_expired(today: date | None = None, app: Flask | None = None) -> list[int]:
    """Lapse every entry due by ``today``; returns the ids lapsed now."""
    from services import lists

    return _in_app(app, lambda: lists.lapse_entries(today))
