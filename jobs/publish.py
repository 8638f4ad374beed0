"""Job: publish the red/black lists of every ended quarter not yet published."""

import logging
from datetime import datetime

from flask import Flask

from jobs.context import in_app

log = logging.getLogger(__name__)
ACTOR = "scheduler"


def publish_due(now: datetime | None = None, app: Flask | None = None) -> list[str]:
    """Publish each ended quarter with no publication yet (the quarter just ended, and any a
    stopped scheduler missed), as of ``now`` (default: the clock); the periods it published."""
    from services import calendar, lists

    def run():
        at = now or calendar.now()
        published = []
        for period in lists.due_periods(calendar.local_date(at)):
            _, _, created = lists.publish_lists(period, ACTOR, at)
            if created:
                published.append(period)
                log.info("published the red/black lists of %s", period)
        return published

    return in_app(app, run)
