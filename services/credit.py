"""Credit records: load an enterprise's outcomes and entries, derive and store its grade."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date

from flask import current_app
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from extensions import db
from models.lists import ListEntry
from models.registry import Enterprise
from models.samples import Result, ResultItem, Sample
from sampling import credit
from sampling.credit import CreditRules, Entry, Outcome, Record
from services.audit import record_event
from services.calendar import local_date, today

REFUSED_STATUS = "refused"


def credit_rules() -> CreditRules:
    """The list and grade thresholds from the settings."""
    return CreditRules.from_config(current_app.config)


def counted_samples():
    """Samples that count in a record: a final verdict, or a refusal."""
    return or_(Sample.final_at.is_not(None) & Sample.verdict.is_not(None), Sample.status == REFUSED_STATUS)


def standing_result(sample: Sample) -> Result | None:
    """The result that stands: the latest recorded (a retest or a correction supersedes)."""
    return sample.results[-1] if sample.results else None


def failed_items(sample: Sample) -> tuple[str, ...]:
    """Names of the failed items of the standing result."""
    result = standing_result(sample)
    if result is None or sample.verdict != credit.FAIL:
        return ()
    return tuple(item.name for item in result.items if item.verdict == credit.FAIL)


def outcome_of(sample: Sample) -> Outcome:
    """A counted sample as the pure rules see it."""
    return _outcome(sample, failed_items(sample))


def _outcome(sample, items: tuple[str, ...]) -> Outcome:
    """An outcome from a sample or a row of its columns (the same attribute names)."""
    refused = sample.status == REFUSED_STATUS
    at = sample.refused_at if refused else (sample.sampled_at or sample.final_at)
    return Outcome(
        ref=sample.id,
        on=local_date(at or sample.created_at),
        period=sample.period,
        verdict=credit.REFUSED if refused else sample.verdict,
        critical_failed=bool(sample.critical_failed) and not refused,
        failed_items=items,
        recheck=sample.recheck_verdict,
        recheck_on=local_date(sample.rechecked_at),
        source=sample.source,
    )


def entry_of(row: ListEntry) -> Entry:
    """A stored list entry as the pure rules see it."""
    return Entry(
        list=row.list, period=row.period, listed_on=row.listed_at, expires_on=row.expires_at,
        severity=row.severity, ref=row.sample_id, removed_on=local_date(row.removed_at),
    )


def counted_samples_of(enterprise_ids: Iterable[int]) -> list[Sample]:
    """The counted samples of the enterprises, with results and items loaded."""
    ids = list(enterprise_ids)
    if not ids:
        return []
    stmt = (
        select(Sample)
        .where(Sample.enterprise_id.in_(ids), counted_samples())
        .options(selectinload(Sample.results).selectinload(Result.items))
        .order_by(Sample.id)
    )
    return list(db.session.scalars(stmt))


OUTCOME_COLUMNS = (
    Sample.id, Sample.enterprise_id, Sample.period, Sample.status, Sample.verdict, Sample.critical_failed,
    Sample.refused_at, Sample.sampled_at, Sample.final_at, Sample.created_at, Sample.recheck_verdict,
    Sample.rechecked_at, Sample.source,
)
CHUNK = 1000


def _chunks(ids: list[int]):
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def _failed_items_of(sample_ids: list[int]) -> dict[int, tuple[str, ...]]:
    """Failed item names of each failing sample's standing (latest) result."""
    items: dict[int, tuple[str, ...]] = {}
    for chunk in _chunks(sample_ids):
        latest = dict(db.session.execute(
            select(Result.sample_id, func.max(Result.id)).where(Result.sample_id.in_(chunk)).group_by(Result.sample_id)
        ).all())
        names = defaultdict(list)
        rows = db.session.execute(
            select(ResultItem.result_id, ResultItem.name)
            .where(ResultItem.result_id.in_(list(latest.values())), ResultItem.verdict == credit.FAIL)
            .order_by(ResultItem.result_id, ResultItem.position)
        )
        for result_id, name in rows:
            names[result_id].append(name)
        items.update({sample_id: tuple(names[result_id]) for sample_id, result_id in latest.items()})
    return items


def load_records(enterprise_ids: Iterable[int]) -> dict[int, Record]:
    """Each enterprise's record (every enterprise asked for gets one, empty if need be)."""
    ids = sorted(set(enterprise_ids))
    outcomes, entries = defaultdict(list), defaultdict(list)
    for chunk in _chunks(ids):
        rows = db.session.execute(
            select(*OUTCOME_COLUMNS).where(Sample.enterprise_id.in_(chunk), counted_samples()).order_by(Sample.id)
        ).all()
        items = _failed_items_of([r.id for r in rows if r.verdict == credit.FAIL and r.status != REFUSED_STATUS])
        for row in rows:
            outcomes[row.enterprise_id].append(_outcome(row, items.get(row.id, ())))
        for entry in db.session.scalars(select(ListEntry).where(ListEntry.enterprise_id.in_(chunk))):
            entries[entry.enterprise_id].append(entry_of(entry))
    return {i: Record.of(outcomes[i], entries[i]) for i in ids}


def refresh_grades(enterprise_ids: list[int], on: date | None = None, actor: str = "system") -> None:
    """Recompute and store the credit grade of each enterprise, in the caller's transaction."""
    rules, on = credit_rules(), on or today()
    records = load_records(enterprise_ids)
    changes = {}
    for chunk in _chunks(list(records)):
        for enterprise in db.session.scalars(select(Enterprise).where(Enterprise.id.in_(chunk))):
            grade = credit.credit_grade(records[enterprise.id], on, rules)
            if grade != enterprise.credit_grade:
                changes[enterprise.credit_code] = {"from": enterprise.credit_grade, "to": grade}
                enterprise.credit_grade = grade
    if len(changes) == 1:
        [(code, change)] = changes.items()
        record_event("credit.grade", "enterprise", code, before={"credit_grade": change["from"]},
                     after={"credit_grade": change["to"]}, actor=actor)
    elif changes:
        record_event("credit.grades", "enterprise", f"{len(changes)} enterprises", after={"changes": changes},
                     actor=actor)


def refresh_all_grades(on: date | None = None) -> int:
    """Recompute every enterprise's grade (grades age with time); the number changed."""
    ids = list(db.session.scalars(select(Enterprise.id).order_by(Enterprise.id)))
    before = dict(db.session.execute(select(Enterprise.id, Enterprise.credit_grade)).all())
    for start in range(0, len(ids), 500):
        refresh_grades(ids[start:start + 500], on)
    after = dict(db.session.execute(select(Enterprise.id, Enterprise.credit_grade)).all())
    return sum(1 for i in ids if before.get(i) != after.get(i))


def entry_state(row: ListEntry, record: Record, on: date) -> str:
    """``active``, ``lapsed`` or ``removed``."""
    if row.removed_at is not None:
        return "removed"
    return "active" if credit.is_active(entry_of(row), on, record) else "lapsed"


def credit_history(enterprise: Enterprise) -> dict:
    """An enterprise's credit standing: grade, list entries and every counted outcome."""
    record = load_records([enterprise.id])[enterprise.id]
    on = today()
    rows = db.session.scalars(
        select(ListEntry).where(ListEntry.enterprise_id == enterprise.id).order_by(ListEntry.id)
    ).all()
    entries = [{**entry_summary(row), "state": entry_state(row, record, on)} for row in rows]
    samples = counted_samples_of([enterprise.id])
    history = [history_row(sample, outcome_of(sample)) for sample in samples]
    history.sort(key=lambda h: (h["date"], h["sample_code"]))
    return {
        "credit_code": enterprise.credit_code,
        "name": enterprise.name,
        "grade": credit.credit_grade(record, on, credit_rules()),
        "red_listed": any(e["list"] == credit.RED and e["state"] == "active" for e in entries),
        "black_listed": any(e["list"] == credit.BLACK and e["state"] == "active" for e in entries),
        "entries": entries,
        "history": history,
    }


def entry_summary(row: ListEntry) -> dict:
    """The stored facts of one entry."""
    return {
        "id": row.id, "period": row.period, "list": row.list, "severity": row.severity,
        "reason": row.reason, "listed_at": row.listed_at, "expires_at": row.expires_at,
        "lapsed_at": row.lapsed_at, "removed_at": row.removed_at, "removal_reason": row.removal_reason,
    }


def history_row(sample: Sample, outcome: Outcome) -> dict:
    """One counted outcome as shown in an enterprise's credit history."""
    result = standing_result(sample)
    return {
        "sample_code": sample.code, "period": sample.period, "date": outcome.on,
        "level": sample.level, "kind": sample.kind, "category_code": sample.category.code,
        "verdict": outcome.verdict, "failed_items": list(outcome.failed_items),
        "critical_failed": outcome.critical_failed, "report_no": result.report_no if result else None,
        "recheck": outcome.recheck, "source": sample.source,
    }
