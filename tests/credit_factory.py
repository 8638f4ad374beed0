"""Test data for credit and lists: samples that already count (final verdict or refusal)."""

import itertools
from datetime import UTC, datetime, timedelta

from extensions import db
from models.samples import Result, ResultItem, Sample
from sampling.credit import quarter_just_ended

_codes = itertools.count(1)
LAST_QUARTER = quarter_just_ended()


def counted_sample(enterprise, category, verdict="pass", days_ago=30, period=LAST_QUARTER, *,
                   refused=False, critical=False, items=("甲醛含量",), recheck=None, source="draw"):
    """A final sample (or a refusal) of ``enterprise``, sampled ``days_ago`` days back."""
    at = datetime.now(UTC) - timedelta(days=days_ago)
    n = next(_codes)
    sample = Sample(code=f"CS{n:06d}", enterprise=enterprise, category=category, period=period,
                    level="municipal", kind="routine", source=source, sampled_at=at,
                    product_name=f"产品{n}", batch_no=f"B{n}")
    if refused:
        sample.status, sample.refused_at, sample.sampled_at = "refused", at, None
    else:
        sample.status, sample.verdict, sample.final_at, sample.critical_failed = "final", verdict, at, critical
        result = Result(report_no=f"R{n:06d}", tested_at=at, verdict=verdict, kind="initial", lab_name="东莞市质检所")
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
