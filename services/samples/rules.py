"""The configured life-cycle rules, and the facts of a sample they are applied to."""

from datetime import date

from flask import current_app

from models.samples import Result, Sample
from sampling import lifecycle as lc
from services.calendar import timezone


def deadline_rules() -> lc.DeadlineRules:
    """The configured deadline lengths (``config.py``) and the regulator's calendar."""
    cfg = current_app.config
    return lc.DeadlineRules(
        lab_result_days=cfg["LAB_RESULT_DAYS"],
        objection_days=cfg["OBJECTION_DAYS"],
        rectification_days=cfg["RECTIFICATION_DAYS"],
        recheck_days=cfg["RECHECK_DAYS"],
        tz=timezone(),
    )


def report_max_bytes() -> int:
    """The largest rectification report accepted (setting ``RECTIFICATION_REPORT_MAX_BYTES``)."""
    return current_app.config["RECTIFICATION_REPORT_MAX_BYTES"]


def result_of(sample: Sample) -> Result | None:
    """The result that stands now: the latest recorded (a retest or correction supersedes)."""
    return sample.results[-1] if sample.results else None


def timeline(sample: Sample) -> lc.Timeline:
    """The facts of ``sample`` that its deadlines are computed from."""
    first = next((r for r in sample.results if r.kind == "initial"), None)
    retest = next((r for r in sample.results if r.kind == "retest"), None)
    return lc.Timeline(
        status=sample.status,
        verdict=sample.verdict,
        result_verdict=first.verdict if first else None,
        received_at=sample.received_at,
        tested_at=sample.tested_at,
        notified_at=sample.notified_at,
        objection_at=sample.objection_filed_at,
        retested_at=retest.tested_at if retest else None,
        final_at=sample.final_at,
        rectification_due=sample.rectification_due,
        rechecked_at=sample.rechecked_at,
    )


def deadlines_of(sample: Sample, on: date, rules: lc.DeadlineRules | None = None) -> list[dict]:
    """The sample's deadlines with their due dates, when met, and whether overdue ``on`` a day."""
    return [
        {"name": d.name, "due": d.due, "met_at": d.met_at, "overdue": d.passed(on)}
        for d in lc.deadlines(timeline(sample), rules or deadline_rules())
    ]
