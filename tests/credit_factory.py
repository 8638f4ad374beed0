"""Test data for credit and lists: samples that already count (final verdict or refusal).

A list period holds the verdicts that became final in it, so list tests place a sample's
``final_at`` inside a quarter (``on=day_in(period)``); grade tests count back from today.
"""

import itertools
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from config import Config
from extensions import db
from models.samples import Result, ResultItem, Sample
from sampling import credit

_codes = itertools.count(1)
TZ = ZoneInfo(Config.TIMEZONE)


def local_today() -> date:
    """Today in the regulator's calendar (the tests' own clock reading)."""
    return datetime.now(TZ).date()


def local_noon(day: date) -> datetime:
    """Noon of a day in the regulator's time zone."""
    return datetime.combine(day, time(12), tzinfo=TZ)


LAST_QUARTER = credit.quarter_just_ended(local_today())


def day_in(period: str, offset: int = 30) -> date:
    """A day inside ``period``: ``offset`` days after its start."""
    return credit.period_start(period) + timedelta(days=offset)


def counted_sample(enterprise, category, verdict="pass", days_ago=30, period=None, *, on: date | None = None,
                   refused=False, critical=False, items=("甲醛含量",), recheck=None, source="draw"):
    """A final sample (or a refusal) of ``enterprise``, final on ``on`` (noon, regulator's time)
    or ``days_ago`` days back; ``period`` is its plan's period (default: that day's quarter)."""
    at = local_noon(on) if on else datetime.now(TZ) - timedelta(days=days_ago)
    n = next(_codes)
    period = period or credit.period_of(at.date())
    sample = Sample(code=f"CS{n:06d}", enterprise=enterprise, category=category, period=period,
                    level="municipal", kind="routine", source=source, sampled_at=at - timedelta(days=25),
                    product_name=f"产品{n}", batch_no=f"B{n}", final_at=at)
    if refused:
        sample.status, sample.refused_at, sample.sampled_at = "refused", at, None
    else:
        sample.status, sample.verdict, sample.critical_failed = "final", verdict, critical
        result = Result(report_no=f"R{n:06d}", tested_at=at - timedelta(days=20), verdict=verdict, kind="initial",
                        lab_name="东莞市质检所")
        failed = list(items) if verdict == "fail" else []
        result.items = [ResultItem(position=i, name=name, requirement="≤0.1", measured="0.3", verdict="fail",
                                   critical=critical) for i, name in enumerate(failed)]
        result.items.append(ResultItem(position=len(failed), name="外观", requirement="无破损", measured="无破损",
                                       verdict="pass"))
        sample.results = [result]
        if recheck:
            sample.status, sample.recheck_verdict, sample.rechecked_at = "rechecked", recheck, at + timedelta(days=10)
    db.session.add(sample)
    db.session.commit()
    return sample
