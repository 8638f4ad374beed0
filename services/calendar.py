"""The regulator's clock and calendar: the one place that reads the time or the time zone.

Services take ``now``/``today`` as arguments; views, jobs and the CLI ask here for them.
"""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app


def timezone() -> ZoneInfo:
    """The regulator's time zone (setting ``TIMEZONE``)."""
    return ZoneInfo(current_app.config["TIMEZONE"])


def now() -> datetime:
    """The current instant, aware, in UTC."""
    return datetime.now(UTC)


def today() -> date:
    """Today in the regulator's calendar."""
    return now().astimezone(timezone()).date()


def local_date(at: datetime | None) -> date | None:
    """The calendar date of a timestamp in the regulator's time zone."""
    return at.astimezone(timezone()).date() if at else None


def local_time(at: datetime | None) -> datetime | None:
    """A timestamp in the regulator's time zone, for people to read."""
    return at.astimezone(timezone()) if at else None
