"""Red/black lists (红黑榜): publish a period once, supplement it, remove early, lapse entries.

A list period holds the verdicts that became final in it (``Sample.final_at`` in the
regulator's calendar), so every final failure or refusal lands on exactly one black list.
What reaches a published period later is published as a numbered supplement.
"""

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from extensions import db
from models.lists import ListEntry, Publication, Supplement
from models.registry import Enterprise
from models.samples import Result, Sample
from sampling import credit
from sampling.errors import InvalidInput, NotFound, RuleViolation
from services import events
from services.actions import follow_up_summaries
from services.audit import record_event
from services.calendar import local_date, timezone
from services.credit import (
    accountable_enterprise,
    counted_samples,
    credit_rules,
    entry_of,
    failed_items,
    load_records,
    refresh_grades,
    standing_result,
    start_of,
)

log = logging.getLogger(__name__)


class PublishedCache:
    """Rendered answers about published lists, kept ``LISTS_CACHE_SECONDS`` per process.

    Keys are periods, never free text: a search filters the cached period. Publication,
    supplements, removal and lapse clear it (``clear``) in the process that writes."""

    MAX_ENTRIES = 512

    def __init__(self):
        self._entries: dict = {}
        self._lock = threading.Lock()

    def get_or_make(self, key, make):
        """The cached value for ``key``, or ``make()`` (cached when the TTL is positive)."""
        ttl = current_app.config["LISTS_CACHE_SECONDS"]
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
    "credit_code", "enterprise_name", "region", "category_code", "category_name", "product_name", "batch_no",
    "verdict", "failed_items", "lab", "report_no", "reason", "severity", "final_on", "listed_at", "expires_at",
    "sampled_credit_code", "sampled_name", "producer_credit_code", "producer_name",
)


@dataclass(frozen=True)
class Listing:
    """What a period's lists hold now: one black row per final failure or refusal, one red
    row per enterprise; ``key`` identifies it across publication and supplements."""

    key: tuple
    list: str
    enterprise_id: int
    sample: Sample
    severity: str | None
    reason: str
    final_on: date


# --- periods -------------------------------------------------------------------------


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """The instants (UTC) the quarter starts and the next one starts, in the regulator's calendar."""
    tz = timezone()

    def instant(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)

    return instant(credit.period_start(period)), instant(credit.period_start(credit.next_period(period)))


def first_period_with_data() -> str | None:
    """The first quarter holding a final verdict or a refusal (live or imported), if any."""
    first = db.session.scalar(select(func.min(Sample.final_at)).where(counted_samples()))
    return credit.period_of(local_date(first)) if first else None


def check_publishable(period: str, today: date) -> None:
    """A well-formed period that has ended and is not before the first quarter with data."""
    credit.parse_period(period)
    if not credit.has_ended(period, today):
        raise RuleViolation(f"{period} has not ended yet; lists are published after the quarter (本季度尚未结束)",
                            {"period": ["must be a quarter that has ended"]})
    first = first_period_with_data()
    if first is None or credit.period_key(period) < credit.period_key(first):
        message = (f"{period} is before the first quarter with a final verdict ({first or 'none yet'}); "
                   f"nothing to publish (该季度早于首个有抽查结论的季度)")
        raise InvalidInput(message, {"period": [message]})


# --- what a period holds -------------------------------------------------------------


def period_listings(period: str) -> list[Listing]:
    """The rows the period's lists hold now, from every enterprise's record as it stands."""
    rules = credit_rules()
    start, end = period_bounds(period)
    stmt = (
        select(Sample, accountable_enterprise())
        .where(counted_samples(), Sample.final_at >= start, Sample.final_at < end)
        .options(selectinload(Sample.enterprise), selectinload(Sample.producer), selectinload(Sample.category),
                 selectinload(Sample.results).selectinload(Result.items),
                 selectinload(Sample.results).selectinload(Result.lab))
        .order_by(Sample.id)
    )
    by_enterprise = defaultdict(list)
    for sample, enterprise_id in db.session.execute(stmt):
        if enterprise_id is not None:
            by_enterprise[enterprise_id].append(sample)
    records = load_records(by_enterprise)
    listings = []
    for enterprise_id in sorted(by_enterprise):
        by_id = {s.id: s for s in by_enterprise[enterprise_id]}
        record = records[enterprise_id]
        for black in credit.black_listings(period, record, rules):
            listings.append(Listing(("black", black.outcome.ref), credit.BLACK, enterprise_id,
                                    by_id[black.outcome.ref], black.severity, black.reason, black.outcome.on))
        if credit.is_red(period, record, rules):
            latest = max((o for o in record.outcomes if o.period == period), key=lambda o: (o.on, o.ref))
            listings.append(Listing(("red", enterprise_id), credit.RED, enterprise_id, by_id[latest.ref], None,
                                    credit.red_reason(period, record), latest.on))
    return listings


def entry_key(entry: ListEntry) -> tuple:
    """The identity of a published entry, as ``Listing.key``."""
    return ("red", entry.enterprise_id) if entry.list == credit.RED else ("black", entry.sample_id)


def make_entry(publication: Publication, supplement: Supplement | None, listing: Listing,
               enterprises: dict[int, Enterprise]) -> ListEntry:
    """One entry with its row frozen as published; its term runs from the day it became final."""
    sample = listing.sample
    expires = credit.expiry(listing.final_on, listing.list, listing.severity, credit_rules())
    result = standing_result(sample)
    refused = sample.status == "refused"
    listed = enterprises[listing.enterprise_id]
    row = {
        "credit_code": listed.credit_code,
        "enterprise_name": listed.name,
        "region": listed.region,
        "category_code": sample.category.code,
        "category_name": sample.category.name,
        "product_name": sample.product_name,
        "batch_no": sample.batch_no,
        "verdict": credit.REFUSED if refused else sample.verdict,
        "failed_items": list(failed_items(sample)),
        "lab": None if refused or result is None else (result.lab_name or (result.lab.name if result.lab else None)),
        "report_no": None if refused or result is None else result.report_no,
        "reason": listing.reason,
        "severity": listing.severity,
        "final_on": listing.final_on.isoformat(),
        "listed_at": listing.final_on.isoformat(),
        "expires_at": expires.isoformat(),
        # Both the sampled unit (被抽样单位) and the named producer (标称生产者) the row answers for.
        "sampled_credit_code": sample.enterprise.credit_code,
        "sampled_name": sample.enterprise.name,
        "producer_credit_code": sample.producer.credit_code if sample.producer else None,
        "producer_name": sample.producer.name if sample.producer else sample.producer_name,
    }
    return ListEntry(
        publication=publication, supplement=supplement, enterprise_id=listed.id, sample_id=sample.id,
        period=publication.period, list=listing.list, severity=listing.severity, reason=listing.reason, row=row,
        final_on=listing.final_on, listed_at=listing.final_on, expires_at=expires,
    )


def store_entries(publication: Publication, supplement: Supplement | None,
                  listings: list[Listing], at: datetime) -> list[ListEntry]:
    """The entries of ``listings``, added to the session; each reaches partners as ``listed``."""
    ids = sorted({listing.enterprise_id for listing in listings})
    enterprises = {e.id: e for e in db.session.scalars(select(Enterprise).where(Enterprise.id.in_(ids)))}
    entries = [make_entry(publication, supplement, listing, enterprises) for listing in listings]
    db.session.add_all(entries)
    db.session.flush()
    for entry in entries:
        events.emit("listed", entry.row["credit_code"], at, {
            **event_data(entry), "severity": entry.severity, "reason": entry.reason,
            "final_on": entry.final_on, "expires_at": entry.expires_at,
            "supplement": supplement.no if supplement else None})
    return entries


def event_data(entry: ListEntry) -> dict:
    """What a partner needs to find an entry: its id, period and list."""
    return {"entry_id": entry.id, "period": entry.period, "list": entry.list}


# --- publishing ----------------------------------------------------------------------


def get_publication(period: str) -> Publication | None:
    """The publication of a period, if any."""
    return db.session.scalar(select(Publication).where(Publication.period == period))


def publish_lists(period: str, actor: str, now: datetime,
                  reason: str | None = None) -> tuple[Publication, Supplement | None, bool]:
    """Publish the period's lists; ``(publication, new supplement or None, created)``.

    The first call publishes the period. Later calls publish a numbered supplement with
    what reached the period since (``created`` true), or return the publication as it is
    when nothing did. Concurrent publishers (requests, scheduler processes) make one.
    """
    today = local_date(now)
    check_publishable(period, today)
    existing = get_publication(period)
    if existing is not None:
        return publish_supplement(existing, actor, now, reason)
    publication = Publication(period=period, published_by=actor, published_at=now)
    try:
        db.session.add(publication)
        db.session.flush()  # claims the period; a concurrent publisher fails here
        entries = store_entries(publication, None, period_listings(period), now)
        record_event("lists.publish", "publication", period, actor=actor, after={
            "period": period, "red": sum(e.list == credit.RED for e in entries),
            "black": sum(e.list == credit.BLACK for e in entries),
        })
        refresh_grades(sorted({e.enterprise_id for e in entries}), today, actor, now)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        existing = get_publication(period)
        if existing is None:
            raise
        log.info("lists of %s were published concurrently; returning that publication", period)
        return existing, None, False
    published_cache.clear()
    return publication, None, True


def publish_supplement(publication: Publication, actor: str, now: datetime,
                       reason: str | None) -> tuple[Publication, Supplement | None, bool]:
    """A numbered supplement with the rows that reached the period since it was published,
    and the withdrawal of rows it no longer holds; none when nothing changed."""
    db.session.refresh(publication, with_for_update=True)  # one supplement writer per period
    standing = {entry_key(e): e for e in publication.entries if e.withdrawn_in_id is None}
    listings = {listing.key: listing for listing in period_listings(publication.period)}
    added = [listing for key, listing in listings.items() if key not in standing]
    withdrawn = [entry for key, entry in standing.items() if key not in listings]
    if not added and not withdrawn:
        db.session.rollback()
        return publication, None, False
    number = max((s.no for s in publication.supplements), default=0) + 1
    supplement = Supplement(publication=publication, no=number, published_at=now, published_by=actor,
                            reason=reason or supplement_reason(added, withdrawn))
    try:
        db.session.add(supplement)
        db.session.flush()
        entries = store_entries(publication, supplement, added, now)
        for entry in withdrawn:
            entry.withdrawn_in = supplement
            events.emit("removed", entry.row["credit_code"], now, {
                **event_data(entry), "withdrawn_in": number, "reason": supplement.reason})
        record_event("lists.supplement", "publication", publication.period, actor=actor, after={
            "period": publication.period, "no": number, "reason": supplement.reason,
            "red": sum(e.list == credit.RED for e in entries), "black": sum(e.list == credit.BLACK for e in entries),
            "withdrawn": [e.id for e in withdrawn],
        })
        affected = {e.enterprise_id for e in entries} | {e.enterprise_id for e in withdrawn}
        refresh_grades(sorted(affected), local_date(now), actor, now)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        log.info("a supplement of %s was published concurrently", publication.period)
        return get_publication(publication.period), None, False
    published_cache.clear()
    return publication, supplement, True


def supplement_reason(added: list[Listing], withdrawn: list[ListEntry]) -> str:
    """The reason written on a supplement when the supervisor gave none."""
    parts = []
    imported = [a for a in added if a.sample.source == "import"]
    if imported:
        parts.append(f"补录历史抽查结果{len(imported)}条")
    if len(imported) < len(added):
        parts.append(f"发布后更正的检验结论新增{len(added) - len(imported)}条")
    if withdrawn:
        parts.append(f"检验结论更正后撤回{len(withdrawn)}条")
    return "本期红黑榜发布后：" + "；".join(parts)


# --- reading -------------------------------------------------------------------------


def entry_row(entry: ListEntry, follow_up: str | None = None) -> dict:
    """The published row of an entry, with its id, whether it still stands, and what has been
    done about the failure since (处理情况: live, not frozen)."""
    row = {field: entry.row.get(field) for field in ROW_FIELDS}
    row["final_on"] = row["final_on"] or (entry.final_on or entry.listed_at).isoformat()
    return {"id": entry.id, **row, "list": entry.list, "follow_up": follow_up, "lapsed_at": entry.lapsed_at,
            "removed_at": entry.removed_at,
            "withdrawn_in": entry.withdrawn_in.no if entry.withdrawn_in_id else None}


def publication_view(publication: Publication) -> dict:
    """``{period, published_at, red, black, supplements: [{no, published_at, reason, red, black, withdrawn}]}``."""
    follow_ups = follow_up_summaries(e.sample_id for e in publication.entries
                                     if e.list == credit.BLACK and e.sample_id is not None)

    def row(entry: ListEntry) -> dict:
        return entry_row(entry, follow_ups.get(entry.sample_id) if entry.list == credit.BLACK else None)

    def split_rows(entries) -> tuple[list[dict], list[dict]]:
        red, black = [], []
        for entry in entries:
            (red if entry.list == credit.RED else black).append(row(entry))
        return red, black

    red, black = split_rows(e for e in publication.entries if e.supplement_id is None)
    supplements = []
    for supplement in publication.supplements:
        s_red, s_black = split_rows(e for e in publication.entries if e.supplement_id == supplement.id)
        withdrawn = [row(e) for e in publication.entries if e.withdrawn_in_id == supplement.id]
        supplements.append({"no": supplement.no, "published_at": supplement.published_at,
                            "published_by": supplement.published_by, "reason": supplement.reason,
                            "red": s_red, "black": s_black, "withdrawn": withdrawn})
    return {"period": publication.period, "published_at": publication.published_at,
            "published_by": publication.published_by, "red": red, "black": black, "supplements": supplements}


def publication_or_404(period: str) -> Publication:
    """The publication of a period, or 404 (422 for a malformed period)."""
    credit.parse_period(period)
    publication = get_publication(period)
    if publication is None:
        raise NotFound(f"The lists of {period} are not published (该期红黑榜尚未发布)", {"period": [period]})
    return publication


def period_view(period: str) -> dict:
    """The publication view of a period (404 if unpublished)."""
    return publication_view(publication_or_404(period))


def matches(row: dict, q: str) -> bool:
    """The row's enterprise name or credit code contains ``q`` (case-insensitive)."""
    needle = q.strip().casefold()
    return needle in (row.get("enterprise_name") or "").casefold() or needle in row["credit_code"].casefold()


def cached_period_view(period: str) -> dict:
    """``period_view`` from the per-process cache (keyed by the period only)."""
    return published_cache.get_or_make(("view", period), lambda: period_view(period))


def search_view(view: dict, q: str | None, standing_only: bool = False) -> dict:
    """The view with only the rows whose name or credit code contains ``q`` (all when empty);
    ``standing_only`` also leaves out rows removed early or withdrawn by a supplement."""
    if not (q and q.strip()) and not standing_only:
        return view

    def keep(rows):
        return [row for row in rows if (not q or matches(row, q))
                and not (standing_only and (row["removed_at"] or row["withdrawn_in"]))]

    return {**view, "red": keep(view["red"]), "black": keep(view["black"]), "supplements": [
        {**s, "red": keep(s["red"]), "black": keep(s["black"]),
         "withdrawn": [row for row in s["withdrawn"] if not q or matches(row, q)]}
        for s in view["supplements"]]}


def publication_summaries(page: int, page_size: int) -> tuple[list[dict], int]:
    """One page of publications, newest period first, each as ``publication_view``; and the total."""
    total = db.session.scalar(select(func.count()).select_from(Publication))
    stmt = (select(Publication).order_by(Publication.period.desc())
            .offset((page - 1) * page_size).limit(page_size)
            .options(selectinload(Publication.entries), selectinload(Publication.supplements)))
    return [publication_view(p) for p in db.session.scalars(stmt)], total


def publication_index() -> list[dict]:
    """Every publication, newest first: ``{period, published_at, red, black, supplements}`` counts."""
    counts = defaultdict(lambda: {"red": 0, "black": 0})
    for period, list_name, n in db.session.execute(
        select(ListEntry.period, ListEntry.list, func.count())
        .where(ListEntry.withdrawn_in_id.is_(None), ListEntry.removed_at.is_(None))
        .group_by(ListEntry.period, ListEntry.list)
    ):
        counts[period][list_name] = n
    supplements = dict(db.session.execute(
        select(Publication.period, func.count(Supplement.id)).join(Supplement).group_by(Publication.period)).all())
    return [{"period": p.period, "published_at": p.published_at, **counts[p.period],
             "supplements": supplements.get(p.period, 0)}
            for p in db.session.scalars(select(Publication).order_by(Publication.period.desc()))]


# --- early removal and lapse ---------------------------------------------------------


def remove_entry(entry_id: int, reason: str, actor: str, now: datetime) -> dict:
    """Remove an entry early (信用修复) with a recorded reason; the grade follows."""
    entry = db.session.get(ListEntry, entry_id, with_for_update=True) if 0 < entry_id < 2**31 else None
    if entry is None:
        raise NotFound(f"List entry {entry_id} not found (未找到该榜单条目)", {"id": [str(entry_id)]})
    if entry.removed_at is not None:
        raise RuleViolation(f"List entry {entry_id} was already removed on {entry.removed_at.date()} (已移出)")
    entry.removed_at, entry.removal_reason, entry.removed_by = now, reason, actor
    record_event("lists.remove", "list_entry", entry.id, actor=actor,
                 before={"removed_at": None}, after={"removed_at": entry.removed_at, "reason": reason})
    events.emit("removed", entry.row["credit_code"], now, {**event_data(entry), "reason": reason})
    refresh_grades([entry.enterprise_id], local_date(now), actor, now)
    db.session.commit()
    published_cache.clear()
    return entry_summary(entry)


def entry_summary(entry: ListEntry) -> dict:
    """An entry's row with its period, list and removal."""
    return {**entry_row(entry), "period": entry.period, "removal_reason": entry.removal_reason,
            "removed_by": entry.removed_by}


def lapse_entries(today: date, actor: str) -> list[int]:
    """Mark entries whose time is up (and, if black, whose failure was put right) as lapsed."""
    open_entries = list(db.session.scalars(
        select(ListEntry).where(ListEntry.lapsed_at.is_(None), ListEntry.removed_at.is_(None),
                                ListEntry.withdrawn_in_id.is_(None), ListEntry.expires_at <= today)
        .order_by(ListEntry.id)
    ))
    records = load_records({e.enterprise_id for e in open_entries})
    lapsed = []
    for entry in open_entries:
        when = credit.lapses_on(entry_of(entry), records[entry.enterprise_id])
        if when is not None and when <= today:
            entry.lapsed_at = when
            record_event("lists.lapse", "list_entry", entry.id, actor=actor,
                         before={"lapsed_at": None}, after={"lapsed_at": when})
            events.emit("lapsed", entry.row["credit_code"], start_of(when), {**event_data(entry), "lapsed_at": when})
            lapsed.append(entry.id)
    refresh_grades(sorted({e.enterprise_id for e in open_entries if e.id in lapsed}), today, actor)
    db.session.commit()
    if lapsed:
        published_cache.clear()
    return lapsed


def due_periods(today: date) -> list[str]:
    """Ended quarters not yet published, from the first holding a live verdict, oldest first."""
    first = db.session.scalar(select(func.min(Sample.final_at)).where(counted_samples(), Sample.source == "draw"))
    if first is None:
        return []
    period, last = credit.period_of(local_date(first)), credit.quarter_just_ended(today)
    published = set(db.session.scalars(select(Publication.period)))
    due = []
    while credit.period_key(period) <= credit.period_key(last):
        if period not in published:
            due.append(period)
        period = credit.next_period(period)
    return due
