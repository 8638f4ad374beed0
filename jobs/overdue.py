"""Scheduled jobs of the sample life cycle: flag overdue samples, close expired objection windows.

Each job takes plain values, runs inside an app context (pushing one if the caller has none),
passes the regulator's time to the services, and can run twice with the same effect as once.
"""

from datetime import date

from flask import Flask

from jobs.context import in_app


def flag_overdue(today: date | None = None, app: Flask | None = None) -> int:
    """Flag every sample deadline passed by ``today`` (default: today in the regulator's
    calendar), once each; returns how many new flags were set."""
    from services import calendar, samples

    return in_app(app, lambda: samples.flag_overdue(today or calendar.today()))


def finalize_expired(today: date | None = None, app: Flask | None = None) -> list[str]:
    """Make final every failing result whose objection window has passed with no objection by
    ``today`` (default: today); returns the codes of the samples closed."""
    from services import calendar, samples

    return in_app(app, lambda: samples.finalize_expired(today or calendar.today(), calendar.now()))
