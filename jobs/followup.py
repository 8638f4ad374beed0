"""Scheduled job of the follow-up after a failure: flag the actions past their due date.

Runs in the app context the scheduler pushes; twice on a day has the effect of once.
"""

from datetime import date

from services import actions, calendar


def flag_overdue_actions(today: date | None = None) -> int:
    """Flag every open follow-up action past its due date by ``today`` (default: today in the
    regulator's calendar), once each; returns how many were newly flagged."""
    return actions.flag_overdue_actions(today or calendar.today())
