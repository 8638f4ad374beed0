"""Deadlines passed: the overdue report, and the job that flags each passed deadline once."""

from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from extensions import db
from models.auth import User
from models.samples import Sample, SampleEvent
from sampling import lifecycle as lc
from services import actions
from services.audit import record_event
from services.samples.access import SUPERVISOR, actor_label, visible_to
from services.samples.rules import deadline_rules, timeline

SYSTEM = actor_label(None)


def _open_samples():
    # Imported history is a closed record: its old deadlines are not the service's to chase.
    return select(Sample).where(Sample.status.in_(lc.OPEN_STATES), Sample.source == "draw").options(
        selectinload(Sample.results)).order_by(Sample.id)


def overdue_rows(user: User | None, on: date, deadline: str | None = None) -> list[dict]:
    """Every sample ``user`` may see with a deadline passed ``on`` a day: one row per passed
    deadline, then (for a supervisor) each follow-up action past its due date; only
    ``deadline`` (a deadline's name or an action's kind) when named."""
    rules = deadline_rules()
    stmt = visible_to(_open_samples(), user).options(
        selectinload(Sample.enterprise), selectinload(Sample.lab), selectinload(Sample.retest_lab))
    rows = []
    for sample in db.session.scalars(stmt):
        for d in lc.overdue(timeline(sample), rules, on):
            if deadline not in (None, d.name):
                continue
            rows.append({
                "sample_code": sample.code, "plan_id": sample.plan_id,
                "credit_code": sample.enterprise.credit_code, "enterprise_name": sample.enterprise.name,
                "status": sample.status, "lab": sample.lab.code if sample.lab else None,
                "retest_lab": sample.retest_lab.code if sample.retest_lab else None,
                "deadline": d.name, "due": d.due, "days_overdue": (on - d.due).days,
            })
    if user is None or user.role == SUPERVISOR:  # follow-up actions are the supervisors' business
        rows += [row for row in actions.overdue_action_rows(on) if deadline in (None, row["deadline"])]
    return rows


def flag_overdue(on: date) -> int:
    """Flag every deadline passed ``on`` a day, once: the sample keeps the flag and its history
    and the audit trail record it. Returns how many new flags were set; a rerun sets none.

    A flag's event time is the moment its deadline passed (the start of the day after it), so
    a late or repeated run records the same history.
    """
    rules = deadline_rules()
    flagged = 0
    for sample in db.session.scalars(_open_samples()):
        known = sample.overdue or []
        passed = [d for d in lc.overdue(timeline(sample), rules, on)
                  if {"deadline": d.name, "due": d.due.isoformat()} not in known]
        if not passed:
            continue
        new = [{"deadline": d.name, "due": d.due.isoformat()} for d in passed]
        before = {"overdue": known}
        sample.overdue = known + new
        for d, flag in zip(passed, new, strict=True):
            passed_at = datetime.combine(d.due + timedelta(days=1), time(0), tzinfo=rules.tz)
            at = max(passed_at, sample.last_event_at or passed_at)
            db.session.add(SampleEvent(sample=sample, action="overdue", from_status=sample.status,
                                       to_status=sample.status, occurred_at=at, actor=SYSTEM, data=flag))
        record_event("sample.overdue", "sample", sample.code, before=before,
                     after={"overdue": sample.overdue}, actor=SYSTEM)
        flagged += len(new)
    db.session.commit()
    return flagged
