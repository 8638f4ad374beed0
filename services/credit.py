"""Credit records: load an enterprise's outcomes and entries, derive and store its grade.

An outcome counts against the enterprise that answers for it (``accountable_enterprise``)
and is dated by the day its verdict became final (``Sample.final_at``, regulator's calendar).
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime

from flask import current_app
from sqlalchemy import case, func, null, or_, select
from sqlalchemy.orm import selectinload

from extensions import db
from models.auth import User
from models.lists import ListEntry
from models.registry import Enterprise
from models.samples import Result, ResultItem, Sample
from sampling import credit
from sampling.credit import CreditRules, Entry, Outcome, Record
from sampling.errors import Forbidden, NotFound
from services import events
from services.audit import record_event
from services.calendar import local_date, timezone

REFUSED_STATUS = "refused"


def credit_rules() -> CreditRules:
    """The list and grade thresholds from the settings."""
    return CreditRules.from_config(current_app.config)


def counted_samples():
    """Samples that count in a record: a final verdict, or a recorded refusal."""
    return Sample.final_at.is_not(None) & or_(Sample.verdict.is_not(None), Sample.status == REFUSED_STATUS)


def accountable_enterprise():
    """The enterprise a sample's outcome counts for (SQL; DESIGN.md's attribution rule).

    A refusal counts against the sampled unit; a verdict against the named producer when it
    is registered here; when the label names a producer registered elsewhere, against nobody
    here (a referral to its authority follows); when no producer is named (imported history,
    a product its seller cannot source), against the sampled unit.
    """
    return case(
        (Sample.status == REFUSED_STATUS, Sample.enterprise_id),
        (Sample.producer_enterprise_id.is_not(None), Sample.producer_enterprise_id),
        (Sample.producer_name.is_not(None), null()),
        else_=Sample.enterprise_id,
    )


def answered_by(ids: list[int]):
    """Samples whose outcome counts for one of the enterprises (SQL condition, index-friendly)."""
    return or_(Sample.enterprise_id.in_(ids), Sample.producer_enterprise_id.in_(ids)) \
        & accountable_enterprise().in_(ids)


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
    return Outcome(
        ref=sample.id,
        on=local_date(sample.final_at),
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
    """The counted samples the enterprises answer for, with results and items loaded."""
    ids = list(enterprise_ids)
    if not ids:
        return []
    stmt = (
        select(Sample)
        .where(answered_by(ids), counted_samples())
        .options(selectinload(Sample.results).selectinload(Result.items))
        .order_by(Sample.id)
    )
    return list(db.session.scalars(stmt))


OUTCOME_COLUMNS = (
    Sample.id, accountable_enterprise().label("accountable_id"), Sample.status, Sample.verdict,
    Sample.critical_failed, Sample.final_at, Sample.recheck_verdict, Sample.rechecked_at, Sample.source,
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
            select(*OUTCOME_COLUMNS).where(answered_by(chunk), counted_samples()).order_by(Sample.id)
        ).all()
        items = _failed_items_of([r.id for r in rows if r.verdict == credit.FAIL and r.status != REFUSED_STATUS])
        for row in rows:
            outcomes[row.accountable_id].append(_outcome(row, items.get(row.id, ())))
        for entry in db.session.scalars(select(ListEntry).where(
                ListEntry.enterprise_id.in_(chunk), ListEntry.withdrawn_in_id.is_(None))):
            entries[entry.enterprise_id].append(entry_of(entry))
    return {i: Record.of(outcomes[i], entries[i]) for i in ids}


def start_of(day: date) -> datetime:
    """Midnight at the start of a day of the regulator's calendar (aware)."""
    return datetime(day.year, day.month, day.day, tzinfo=timezone())


def refresh_grades(enterprise_ids: list[int], on: date, actor: str, at: datetime | None = None) -> None:
    """Recompute and store the credit grade of each enterprise as of ``on``, in the caller's
    transaction; ``actor`` made the change that moved it, at ``at`` (default: the start of
    ``on``). Each change is audited and reaches partners as a ``grade_changed`` event."""
    at = at or start_of(on)
    rules = credit_rules()
    records = load_records(enterprise_ids)
    changes = {}
    for chunk in _chunks(list(records)):
        for enterprise in db.session.scalars(select(Enterprise).where(Enterprise.id.in_(chunk))):
            grade = credit.credit_grade(records[enterprise.id], on, rules)
            if grade != enterprise.credit_grade:
                changes[enterprise.credit_code] = {"from": enterprise.credit_grade, "to": grade}
                events.emit("grade_changed", enterprise.credit_code, at,
                            {"from": enterprise.credit_grade, "to": grade, "as_of": on})
                enterprise.credit_grade = grade
    if len(changes) == 1:
        [(code, change)] = changes.items()
        record_event("credit.grade", "enterprise", code, before={"credit_grade": change["from"]},
                     after={"credit_grade": change["to"]}, actor=actor)
    elif changes:
        record_event("credit.grades", "enterprise", f"{len(changes)} enterprises", after={"changes": changes},
                     actor=actor)


def refresh_all_grades(on: date, actor: str) -> int:
    """Recompute every enterprise's grade (grades age with time) and commit; the number changed."""
    ids = list(db.session.scalars(select(Enterprise.id).order_by(Enterprise.id)))
    before = dict(db.session.execute(select(Enterprise.id, Enterprise.credit_grade)).all())
    for start in range(0, len(ids), 500):
        refresh_grades(ids[start:start + 500], on, actor)
    after = dict(db.session.execute(select(Enterprise.id, Enterprise.credit_grade)).all())
    db.session.commit()
    return sum(1 for i in ids if before.get(i) != after.get(i))


def entry_state(row: ListEntry, record: Record, on: date) -> str:
    """``active``, ``lapsed``, ``removed`` or ``withdrawn`` (by a supplement)."""
    if row.withdrawn_in_id is not None:
        return "withdrawn"
    if row.removed_at is not None:
        return "removed"
    return "active" if credit.is_active(entry_of(row), on, record) else "lapsed"


def credit_record_for(user: User, credit_code: str, on: date) -> dict:
    """``credit_history`` as ``user`` may read it: staff any enterprise's, an enterprise only its own."""
    if user.role == "enterprise" and user.enterprise.credit_code != credit_code:
        raise Forbidden("an enterprise reads only its own credit record (只能查询本企业的信用记录)")
    return credit_history(credit_code, on)


def credit_history(credit_code: str, on: date) -> dict:
    """An enterprise's credit standing on ``on``: grade, list entries and every counted outcome."""
    enterprise = db.session.scalar(select(Enterprise).where(Enterprise.credit_code == credit_code))
    if enterprise is None:
        raise NotFound(f"Enterprise not found: credit_code={credit_code} (未找到)", {"credit_code": [credit_code]})
    record = load_records([enterprise.id])[enterprise.id]
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
        "sample_code": sample.code, "period": sample.period, "date": outcome.on, "list_period": outcome.period,
        "level": sample.level, "kind": sample.kind, "category_code": sample.category.code,
        "verdict": outcome.verdict, "failed_items": list(outcome.failed_items),
        "critical_failed": outcome.critical_failed, "report_no": result.report_no if result else None,
        "recheck": outcome.recheck, "source": sample.source,
    }
