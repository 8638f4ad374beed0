"""Scheduled jobs of the sample life cycle: flag overdue samples, close expired objection windows.

Each job takes plain values, runs inside an app context (pushing one if the caller has none)
and can run twice with the same effect as once.
"""

from datetime import date

from flask import Flask, has_app_context


def flag_overdue(today: date | None = None, app: Flask | None = None) -> int:
    """Flag every sample deadline passed by ``today`` (default: today in the regulator's
    calendar), once each; returns how many new flags were set."""
    from services import samples

    return _in_app(app, lambda: samples.flag_overdue(today))


def finalize_expired(today: date | None = None, app: Flask | None = None) -> list[str]:
    """Make final every failing result whose objection window has passed with no objection;
    returns the codes of the samples closed."""
    from services import samples

    return _in_app(app, lambda: samples.finalize_expired(today))


def _in_app(app: Flask | None, run):
    if app is None and has_app_context():
        return run()
    if app is None:
        from app import create_app

        app = create_app()
    with app.app_context():
        return run()
