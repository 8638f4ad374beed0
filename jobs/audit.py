"""Job: publish the audit trail's head as the day's anchor (once a day; again is the same)."""

from datetime import date

from flask import Flask

from jobs.context import in_app


def anchor_audit(today: date | None = None, app: Flask | None = None) -> dict:
    """Record today's anchor (the head's count and hash) in the regulator's calendar; the anchor."""
    from services import audit, calendar

    def run():
        anchor = audit.publish_anchor(today or calendar.today())
        return {"day": anchor.day.isoformat(), "events": anchor.events, "hash": anchor.hash}

    return in_app(app, run)
