"""Red/black lists (红黑榜): publish a period exactly once, remove early, lapse entries."""

import logging
import threading
import time
from collections import defaultdict
from datetime import date

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from extensions import db
from models.base import utcnow
from models.lists import ListEntry, Publication
from models.samples import Result, Sample
from sampling import credit
from sampling.errors import NotFound, RuleViolation
from services.audit import record_event
from services.calendar import today
from services.credit import (
    counted_samples,
    credit_rules,
    entry_of,
    failed_items,
    load_records,
    outcome_of,
    refresh_grades,
    standing_result,
)

log = logging.getLogger(__name__)


class PublishedCache:
    """Rendered answers about published lists, kept ``LISTS_CACHE_SECONDS`` per process.

    Publication, removal and lapse clear it (``clear``) in the process that writes."""

    MAX_ENTRIES = 512  # ``q`` is free text: bound what a crawler can make us keep

    def __init__(self):
        self._entries: dict = {}
        self._lock = threading.Lock()

    def get_or_make(self, key, make):
        """The cached value for ``key``, or ``make()`` (cached when the TTL is positive)."""
        ttl = current_app.config.get("LISTS_CACHE_SECONDS", 0)
        if ttl <= 0:
            return make()
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = make()
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (now + ttl, value)
        return value

    def clear(self) -> None:
        """Forget everything (called after every write to the lists)."""
        with self._lock:
            self._entries.clear()


published_cache = PublishedCache()

ROW_FIELDS = (
    "credit_code", "enterprise_name", "region", "category_code", "product_name", "batch_no",
    "verdict", "failed_items", "lab", "report_no", "reason", "severity", "listed_at", "expires_at",
)


def get_publication(period: str) -> Publication | None:
    """The publication of a period, if any."""
    return db.session.scalar(select(Publication).where(Publication.period == period))


def publication_or_404(period: str) -> Publication:
    """The publication of a period, or 404."""
    credit.parse_period(period)
    publication = get_publication(period)
    if publication is None:
        raise NotFound(f"The lists of {period} are not published (该期红黑榜尚未发布)", {"period": [period]})
    return publication


def publish_lists(period: str, actor: str) -> tuple[Publication, bool]:
    """Publish the period's red and black lists once; ``(publication, created)``.

    Publishing again, even from a concurrent request or a second scheduler process, returns
    the publication already made: the period is unique, and losing that race is caught.
    """
    credit.parse_period(period)
    existing = get_publication(period)
    if existing is not None:
        return existing, False
    on = today()
    if credit.period_end(period) >= on:
        raise RuleViolation(f"{period} has not ended yet; lists are published after the quarter (本季度尚未结束)",
                            {"period": ["must be a quarter that has ended"]})
    publication = Publication(period=period, published_by=actor)
    try:
        db.session.add(publication)
        db.session.flush()  # claims the period; a concurrent publisher fails here
        entries = build_entries(period, publication, on)
        db.session.add_all(entries)
        db.session.flush()
        record_event("lists.publish", "publication", period, actor=actor, after={
            "period": period, "red": sum(e.list == credit.RED for e in entries),
            "black": sum(e.list == credit.BLACK for e in entries),
        })
        refresh_grades(sorted({e.enterprise_id for e in entries}))
        db.session.commit()
        published_cache.clear()
    except IntegrityError:
        db.session.rollback()
        existing = get_publication(period)
        if existing is None:
            raise
        log.info("lists of %s were published concurrently; returning that publication", period)
        return existing, False
    return publication, True


def period_samples(period: str) -> dict[int, list[Sample]]:
    """The period's samples by enterprise, with what a row shows loaded."""
    stmt = (
        select(Sample)
        .where(Sample.period == period)
        .options(selectinload(Sample.enterprise), selectinload(Sample.category),
                 selectinload(Sample.results).selectinload(Result.items),
                 selectinload(Sample.results).selectinload(Result.lab))
        .order_by(Sample.id)
    )
    by_enterprise = defaultdict(list)
    for sample in db.session.scalars(stmt):
        by_enterprise[sample.enterprise_id].append(sample)
    return by_enterprise


def is_counted(sample: Sample) -> bool:
    """The sample has a final verdict or is a refusal."""
    return sample.status == "refused" or (sample.final_at is not None and sample.verdict is not None)


def build_entries(period: str, publication: Publication, on: date) -> list[ListEntry]:
    """The entries of the period's lists, from every enterprise's record as it stands."""
    rules = credit_rules()
    by_enterprise = period_samples(period)
    records = load_records(by_enterprise)
    entries = []
    for enterprise_id in sorted(by_enterprise):
        samples, record = by_enterprise[enterprise_id], records[enterprise_id]
        by_id = {s.id: s for s in samples}
        for listing in credit.black_listings(period, record, rules):
            sample = by_id[listing.outcome.ref]
            entries.append(make_entry(publication, sample, credit.BLACK, listing.severity, listing.reason, on))
        # An enterprise with a sample still open in the period is not red until it closes.
        if all(is_counted(s) for s in samples) and credit.is_red(period, record, rules):
            latest = max(samples, key=lambda s: (outcome_of(s).on, s.id))
            entries.append(make_entry(publication, latest, credit.RED, None, credit.red_reason(period, record), on))
    return entries


def make_entry(publication: Publication, sample: Sample, list_name: str, severity: str | None,
               reason: str, on: date) -> ListEntry:
    """One entry with its row frozen as published."""
    expires = credit.expiry(on, list_name, severity, credit_rules())
    result = standing_result(sample)
    refused = sample.status == "refused"
    enterprise = sample.enterprise
    row = {
        "credit_code": enterprise.credit_code,
        "enterprise_name": enterprise.name,
        "region": enterprise.region,
        "category_code": sample.category.code,
        "product_name": sample.product_name,
        "batch_no": sample.batch_no,
        "verdict": credit.REFUSED if refused else sample.verdict,
        "failed_items": list(failed_items(sample)),
        "lab": None if refused or result is None else (result.lab_name or (result.lab.name if result.lab else None)),
        "report_no": None if refused or result is None else result.report_no,
        "reason": reason,
        "severity": severity,
        "listed_at": on.isoformat(),
        "expires_at": expires.isoformat(),
    }
    return ListEntry(
        publication=publication, enterprise_id=enterprise.id, sample_id=sample.id, period=publication.period,
        list=list_name, severity=severity, reason=reason, row=row, listed_at=on, expires_at=expires,
    )


def entry_row(entry: ListEntry) -> dict:
    """The published row of an entry, with its id and whether it still stands."""
    return {"id": entry.id, **entry.row, "lapsed_at": entry.lapsed_at, "removed_at": entry.removed_at}


def publication_view(publication: Publication, q: str | None = None, standing_only: bool = False) -> dict:
    """``{period, published_at, red, black}``; ``q`` filters by name or credit code."""
    red, black = [], []
    for entry in publication.entries:
        if standing_only and entry.removed_at is not None:
            continue
        if q and not matches(entry.row, q):
            continue
        (red if entry.list == credit.RED else black).append(entry_row(entry))
    return {"period": publication.period, "published_at": publication.published_at,
            "published_by": publication.published_by, "red": red, "black": black}


def matches(row: dict, q: str) -> bool:
    """The row's enterprise name or credit code contains ``q`` (case-insensitive)."""
    needle = q.strip().casefold()
    return needle in (row.get("enterprise_name") or "").casefold() or needle in row["credit_code"].casefold()


def list_publications():
    """Publications, newest period first (a select for pagination)."""
    return select(Publication).order_by(Publication.period.desc())


def remove_entry(entry_id: int, reason: str, actor: str) -> ListEntry:
    """Remove an entry early (信用修复) with a recorded reason; the grade follows."""
    entry = db.session.get(ListEntry, entry_id, with_for_update=True) if 0 < entry_id < 2**31 else None
    if entry is None:
        raise NotFound(f"List entry {entry_id} not found (未找到该榜单条目)", {"id": [str(entry_id)]})
    if entry.removed_at is not None:
        raise RuleViolation(f"List entry {entry_id} was already removed on {entry.removed_at.date()} (已移出)")
    entry.removed_at, entry.removal_reason, entry.removed_by = utcnow(), reason, actor
    record_event("lists.remove", "list_entry", entry.id, actor=actor,
                 before={"removed_at": None}, after={"removed_at": entry.removed_at, "reason": reason})
    refresh_grades([entry.enterprise_id])
    db.session.commit()
    published_cache.clear()
    return entry


def lapse_entries(on: date | None = None) -> list[int]:
    """Mark entries whose time is up (and, if black, whose failure was put right) as lapsed."""
    on = on or today()
    open_entries = list(db.session.scalars(
        select(ListEntry).where(ListEntry.lapsed_at.is_(None), ListEntry.removed_at.is_(None),
                                ListEntry.expires_at <= on).order_by(ListEntry.id)
    ))
    records = load_records({e.enterprise_id for e in open_entries})
    lapsed = []
    for entry in open_entries:
        when = credit.lapses_on(entry_of(entry), records[entry.enterprise_id])
        if when is not None and when <= on:
            entry.lapsed_at = when
            record_event("lists.lapse", "list_entry", entry.id, actor="scheduler",
                         before={"lapsed_at": None}, after={"lapsed_at": when})
            lapsed.append(entry.id)
    refresh_grades(sorted({e.enterprise_id for e in open_entries if e.id in lapsed}))
    db.session.commit()
    published_cache.clear()
    return lapsed


def due_periods(on: date | None = None) -> list[str]:
    """Ended quarters with drawn samples whose lists are not yet published, oldest first."""
    on = on or today()
    current = credit.period_of(on)
    periods = db.session.scalars(
        select(Sample.period).where(Sample.source == "draw", counted_samples()).distinct()
    ).all()
    published = set(db.session.scalars(select(Publication.period)))
    return sorted((p for p in periods if credit.period_key(p) < credit.period_key(current) and p not in published),
                  key=credit.period_key)
