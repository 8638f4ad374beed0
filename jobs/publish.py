"""Job: publish the red/black lists of every ended quarter not yet published."""

import logging
from datetime import date

from flask import Flask

from jobs.context import in_app

log = logging.getLogger(__name__)
ACTOR = "scheduler"


def publish_due(today: date | None = None, app: Flask | None = None) -> list[str]:
    """Publish each ended quarter that has drawn samples and no publication yet (the quarter
    just ended, and any a stopped scheduler missed); returns the periods it published."""
    from services import lists

    def run():
        published = []
        for period in lists.due_periods(today):
            _, created = lists.publish_lists(period, ACTOR)
            if created:
                published.append(period)
                log.info("published the red/black lists of %s", period)
        return published

    return in_app(app, run)
