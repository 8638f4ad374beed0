"""一公开: what the public may read, and nothing more.

Every query behind the open data (``/api/v1/public/…``), the public pages and the Atom feed
lives here. The rules of DESIGN.md "一公开" are kept in one place:

- a plan is announced from the moment it exists, but never with the enterprises drawn
  (those are public only with the draw itself, see ``services.draws.is_public``);
- a sample's result is public once its verdict is final (a refusal once it is recorded);
- inspectors (names or codes) and internal notes (refusal statements, objection reasons,
  rectification notes, correction reasons, who recorded what) are never part of an answer.
"""

from collections import defaultdict
from datetime import date, datetime, time, timedelta

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import selectinload

from extensions import db
from models.lists import ListEntry, Publication, Supplement
from models.plans import Plan
from models.registry import Category, Enterprise
from models.samples import Result, Sample
from sampling import credit
from sampling.errors import NotFound
from services import draws
from services.actions import follow_up_summaries
from services.audit import published_anchors
from services.calendar import local_date, timezone
from services.credit import counted_samples
from services.lists import PublishedCache

# Public answers are read far more than written: kept per process for LISTS_CACHE_SECONDS.
public_cache = PublishedCache()

REFUSED = "refused"
RESULT_FIELDS = (
    "sample_code", "plan_id", "plan_name", "period", "level", "kind", "date", "sampled_on", "stage",
    "credit_code", "enterprise_name", "region", "producer_credit_code", "producer_name", "producer_address",
    "category_code", "category_name", "product_name", "brand", "model", "batch_no", "production_date",
    "verdict", "failed_items", "lab", "report_no", "follow_up",
)


# --- the check catalogue -----------------------------------------------------------------


def catalogue() -> list[dict]:
    """Every category with its standard, key-supervised flag, risk level and season, tree order."""
    categories = db.session.scalars(select(Category).options(selectinload(Category.parent))).all()
    in_tree_order = sorted(categories, key=lambda c: (c.parent.code if c.parent else c.code, c.parent is not None,
                                                      c.code))
    return [catalogue_row(c) for c in in_tree_order]


def catalogue_row(category: Category) -> dict:
    """One category as the catalogue shows it."""
    return {
        "code": category.code, "name": category.name,
        "parent_code": category.parent.code if category.parent else None,
        "parent_name": category.parent.name if category.parent else None,
        "group": category.group, "key_supervised": category.key_supervised,
        "risk_level": category.risk_level, "standard": category.standard,
        "season_months": list(category.season_months or []),
    }


# --- plan announcements ------------------------------------------------------------------


def plan_counts(plan_ids: list[int]) -> dict[int, dict]:
    """Per plan: samples whose result is public (``final``) and those still open (``pending``)."""
    counts = {plan_id: {"final": 0, "pending": 0} for plan_id in plan_ids}
    if not plan_ids:
        return counts
    public = func.sum(case((counted_samples(), 1), else_=0))
    rows = db.session.execute(
        select(Sample.plan_id, func.count(), public).where(Sample.plan_id.in_(plan_ids)).group_by(Sample.plan_id)
    )
    for plan_id, total, final in rows:
        counts[plan_id] = {"final": int(final or 0), "pending": int(total) - int(final or 0)}
    return counts


def announcement(plan: Plan, counts: dict) -> dict:
    """A plan as announced: its rules and commitment, how its draw stands, never who was drawn."""
    draw = plan.draw
    draw_public = draw is not None and draws.is_public(draw)
    return {
        "id": plan.id, "name": plan.name, "level": plan.level, "kind": plan.kind, "period": plan.period,
        "stage": plan.stage,
        "categories": [{"code": c.code, "name": c.name} for c in plan.categories],
        "category_codes": plan.category_codes,
        "regions": list(plan.regions or []),
        "sample_size": plan.sample_size, "sampling_ratio": plan.sampling_ratio,
        "grade_ratios": plan.grade_ratios, "risk_weighting": plan.risk_weighting,
        "team_size": plan.team_size, "avoid_same_region": plan.avoid_same_region,
        "window_start": plan.window_start, "window_end": plan.window_end,
        "exclusion_days": plan.exclusion_days,
        "seed_commitment": plan.seed_commitment,
        "announced_at": plan.created_at,
        "drawn": draw is not None,
        "drawn_at": draw.drawn_at if draw is not None else None,
        "draw_public": draw_public,
        "results": counts,
    }


def plans_query(filters: dict):
    """The plans matching ``filters`` (period, level, kind, stage, category), newest first."""
    stmt = select(Plan).options(selectinload(Plan.categories), selectinload(Plan.draw))
    if filters.get("period"):
        stmt = stmt.where(Plan.period == filters["period"])
    for name in ("level", "kind", "stage"):
        if filters.get(name):
            stmt = stmt.where(getattr(Plan, name) == filters[name])
    if filters.get("category"):
        stmt = stmt.where(Plan.categories.any(Category.id.in_(category_ids(filters["category"]))))
    return stmt.order_by(Plan.period.desc(), Plan.id.desc())


def plan_announcements(filters: dict, offset: int = 0, limit: int = 50) -> tuple[int, list[dict]]:
    """``(total, announcements)`` of one page of plans."""
    stmt = plans_query(filters)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    plans = db.session.scalars(stmt.offset(offset).limit(limit)).all()
    counts = plan_counts([p.id for p in plans])
    return total, [announcement(p, counts[p.id]) for p in plans]


def plan_announcement(plan_id: int) -> dict:
    """One plan's announcement, or NotFound."""
    plan = db.session.get(Plan, plan_id) if 0 < plan_id < 2**31 else None
    if plan is None:
        raise NotFound(f"plan {plan_id} not found (未找到抽查计划)", {"plan_id": ["unknown plan"]})
    return announcement(plan, plan_counts([plan.id])[plan.id])


# --- results announcements ---------------------------------------------------------------


def category_ids(code: str) -> list[int]:
    """The category with ``code`` and all its descendants (a parent includes its children)."""
    rows = db.session.execute(select(Category.id, Category.code, Category.parent_id)).all()
    children = defaultdict(list)
    for category_id, _, parent_id in rows:
        children[parent_id].append(category_id)
    found = [category_id for category_id, c, _ in rows if c == code]
    result = []
    while found:
        category_id = found.pop()
        result.append(category_id)
        found.extend(children[category_id])
    return result


def decided_at():
    """When a public result was decided: the verdict became final, or the refusal was recorded."""
    return func.coalesce(Sample.final_at, Sample.refused_at)


def local_day_start(day: date) -> datetime:
    """The first instant of a regulator's calendar day."""
    return datetime.combine(day, time(0, 0), tzinfo=timezone())


def results_query(filters: dict):
    """A select of the public results matching ``filters``, newest decision first."""
    stmt = select(Sample).join(Enterprise, Enterprise.id == Sample.enterprise_id).where(counted_samples())
    for condition in result_conditions(filters):
        stmt = stmt.where(condition)
    return stmt.order_by(decided_at().desc(), Sample.id.desc())


def equal_filters() -> dict:
    """Filters that compare one column with the value given."""
    return {"plan_id": Sample.plan_id, "period": Sample.period, "region": Enterprise.region,
            "stage": Sample.stage, "credit_code": Enterprise.credit_code}


def result_conditions(filters: dict) -> list:
    """The WHERE conditions of ``filters`` (dates are the regulator's calendar days)."""
    given = {name: value for name, value in filters.items() if value not in (None, "")}
    conditions = [column == given[name] for name, column in equal_filters().items() if name in given]
    if "from" in given:
        conditions.append(decided_at() >= local_day_start(given["from"]))
    if "to" in given:
        conditions.append(decided_at() < local_day_start(given["to"] + timedelta(days=1)))
    if "category" in given:
        conditions.append(Sample.category_id.in_(category_ids(given["category"])))
    if given.get("verdict") == REFUSED:
        conditions.append(Sample.status == REFUSED)
    elif "verdict" in given:
        conditions += [Sample.verdict == given["verdict"], Sample.status != REFUSED]
    if given.get("q", "").strip():
        needle = f"%{escape_like(given['q'].strip())}%"
        conditions.append(or_(*(column.ilike(needle, escape="\\") for column in (
            Enterprise.name, Enterprise.credit_code, Sample.code, Sample.product_name, Sample.brand))))
    return conditions


def escape_like(text: str) -> str:
    """``text`` with LIKE's wildcards taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def load_results(stmt) -> list[Sample]:
    """The samples of ``stmt`` with everything a result row shows loaded."""
    return db.session.scalars(stmt.options(
        selectinload(Sample.enterprise), selectinload(Sample.category), selectinload(Sample.producer),
        selectinload(Sample.results).selectinload(Result.items), selectinload(Sample.results).selectinload(Result.lab),
        selectinload(Sample.lab),
    )).all()


def search_results(filters: dict, offset: int = 0, limit: int = 50) -> tuple[int, list[dict]]:
    """``(total, rows)`` of one page of public results."""
    stmt = results_query(filters)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    return total, result_rows(load_results(stmt.offset(offset).limit(limit)))


def all_results(filters: dict, chunk: int = 500):
    """Every public result matching ``filters``, in pages of ``chunk`` (for the CSV download)."""
    stmt, offset = results_query(filters), 0
    while True:
        rows = result_rows(load_results(stmt.offset(offset).limit(chunk)))
        yield from rows
        if len(rows) < chunk:
            return
        offset += chunk


def result_rows(samples: list[Sample]) -> list[dict]:
    """The public rows of ``samples``, with their plans' names and what was done (处理情况)."""
    if not samples:
        return []
    plan_names = dict(db.session.execute(
        select(Plan.id, Plan.name).where(Plan.id.in_({s.plan_id for s in samples if s.plan_id}))
    ).all())
    done = follow_up_summaries([s.id for s in samples])
    return [result_row(s, plan_names.get(s.plan_id), done.get(s.id)) for s in samples]


def standing(sample: Sample) -> Result | None:
    """The result that stands (a retest or a correction supersedes the first)."""
    return sample.results[-1] if sample.results else None


def result_row(sample: Sample, plan_name: str | None, follow_up: str | None) -> dict:
    """One results-announcement row: what was checked, where, what was found, what was done."""
    refused = sample.status == REFUSED
    result = None if refused else standing(sample)
    enterprise = sample.enterprise
    lab = None
    if result is not None:
        lab = result.lab.name if result.lab else result.lab_name
    failed = [] if result is None or sample.verdict != credit.FAIL else [
        {"name": i.name, "requirement": i.requirement, "measured": i.measured, "unit": i.unit,
         "critical": bool(i.critical)}
        for i in result.items if i.verdict == credit.FAIL
    ]
    producer = producer_of(sample)
    return {
        "sample_code": sample.code, "plan_id": sample.plan_id, "plan_name": plan_name,
        "period": sample.period, "level": sample.level, "kind": sample.kind, "source": sample.source,
        "date": local_date(sample.refused_at if refused else sample.final_at),
        "sampled_on": None if refused else local_date(sample.sampled_at),
        "stage": sample.stage,
        "sampled_unit": {"credit_code": enterprise.credit_code, "name": enterprise.name,
                         "region": enterprise.region},
        "producer": producer,
        "region": enterprise.region,
        "category_code": sample.category.code, "category_name": sample.category.name,
        "product_name": sample.product_name, "brand": sample.brand, "model": sample.model,
        "batch_no": sample.batch_no, "production_date": sample.production_date,
        "verdict": REFUSED if refused else sample.verdict,
        "failed_items": failed,
        "lab": lab,
        "report_no": result.report_no if result is not None else None,
        "retested": any(r.kind == "retest" for r in sample.results),
        "purchase_platform": sample.purchase_platform,
        "follow_up": follow_up,
    }


def producer_of(sample: Sample) -> dict:
    """The named producer (标称生产者): registered here, or named with its address; else the sampled unit."""
    if sample.producer is not None:
        return {"credit_code": sample.producer.credit_code, "name": sample.producer.name,
                "address": sample.producer.address}
    if sample.producer_name:
        return {"credit_code": sample.producer_credit_code, "name": sample.producer_name,
                "address": sample.producer_address}
    enterprise = sample.enterprise
    return {"credit_code": enterprise.credit_code, "name": enterprise.name, "address": enterprise.address}


def csv_row(row: dict) -> dict:
    """A result row flattened for CSV: one cell per field, lists joined."""
    return {
        **{name: row.get(name) for name in RESULT_FIELDS},
        "credit_code": row["sampled_unit"]["credit_code"], "enterprise_name": row["sampled_unit"]["name"],
        "producer_credit_code": row["producer"]["credit_code"], "producer_name": row["producer"]["name"],
        "producer_address": row["producer"]["address"],
        "failed_items": ";".join(
            f"{i['name']}（要求 {i['requirement']}，实测 {i['measured']}{i['unit'] or ''}）"
            for i in row["failed_items"]
        ),
    }


# --- enterprise lookup -------------------------------------------------------------------


def find_enterprises(q: str, offset: int = 0, limit: int = 50) -> tuple[int, list[dict]]:
    """Enterprises whose name contains ``q`` or whose credit code starts with it."""
    needle = escape_like(q.strip())
    stmt = select(Enterprise).where(or_(Enterprise.name.ilike(f"%{needle}%", escape="\\"),
                                        Enterprise.credit_code.ilike(f"{needle}%", escape="\\")))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = db.session.scalars(stmt.order_by(Enterprise.name, Enterprise.credit_code).offset(offset).limit(limit))
    return total, [enterprise_summary(e) for e in rows]


def enterprise_summary(enterprise: Enterprise) -> dict:
    """What a search lists of an enterprise."""
    return {"credit_code": enterprise.credit_code, "name": enterprise.name, "region": enterprise.region,
            "status": enterprise.status, "grade": enterprise.credit_grade,
            "kinds": enterprise.kinds}


def enterprise_record(credit_code: str, on: date) -> dict:
    """One enterprise's public record on day ``on``: grade, list entries with terms, results, follow-up.

    The grade is the stored one, recomputed whenever the record changes and daily by the scheduler
    (as the registry shows it)."""
    enterprise = db.session.scalar(select(Enterprise).where(Enterprise.credit_code == credit_code))
    if enterprise is None:
        raise NotFound(f"enterprise {credit_code} not found (未找到该企业)", {"credit_code": ["unknown enterprise"]})
    entries = db.session.scalars(
        select(ListEntry).join(Publication, Publication.id == ListEntry.publication_id)
        .where(ListEntry.enterprise_id == enterprise.id).order_by(ListEntry.listed_at.desc(), ListEntry.id.desc())
    ).all()
    results = result_rows(load_results(results_query({"credit_code": credit_code})))
    return {
        **enterprise_summary(enterprise),
        "list_entries": [list_entry_row(e, on) for e in entries],
        "results": results,
        "follow_up": [{"sample_code": r["sample_code"], "follow_up": r["follow_up"]} for r in results
                      if r["follow_up"]],
    }


def list_entry_row(entry: ListEntry, on: date) -> dict:
    """A published list entry with its term and whether it still stands."""
    if entry.withdrawn_in_id is not None:
        state = "withdrawn"  # a supplement withdrew it (a corrected verdict)
    elif entry.removed_at is not None:
        state = "removed"
    elif entry.lapsed_at is not None and entry.lapsed_at <= on:
        state = "lapsed"
    else:
        state = "active"
    row = entry.row or {}
    return {
        "period": entry.period, "list": entry.list, "severity": entry.severity, "reason": entry.reason,
        "category_code": row.get("category_code"), "product_name": row.get("product_name"),
        "listed_at": entry.listed_at, "expires_at": entry.expires_at, "lapsed_at": entry.lapsed_at,
        "removed_on": local_date(entry.removed_at), "state": state,
    }


# --- the feed ----------------------------------------------------------------------------


def feed_entries(limit: int = 50) -> list[dict]:
    """Publications, results announcements and the audit trail's daily anchors, newest first:
    ``[{id, kind, updated, ...}]``."""
    items = []
    for publication in db.session.scalars(select(Publication).order_by(Publication.published_at.desc()).limit(limit)):
        original = [e for e in publication.entries if e.supplement_id is None]
        red = sum(e.list == credit.RED for e in original)
        items.append({"id": f"lists:{publication.period}", "kind": "lists", "period": publication.period,
                      "updated": publication.published_at, "red": red, "black": len(original) - red})
    for supplement in db.session.scalars(select(Supplement).order_by(Supplement.published_at.desc()).limit(limit)):
        items.append({"id": f"supplement:{supplement.publication.period}:{supplement.no}", "kind": "supplement",
                      "period": supplement.publication.period, "no": supplement.no, "reason": supplement.reason,
                      "updated": supplement.published_at})
    rows = db.session.execute(
        select(Sample.plan_id, func.max(decided_at()), func.count(),
               func.sum(case(((Sample.verdict == credit.FAIL) | (Sample.status == REFUSED), 1), else_=0)))
        .where(counted_samples(), Sample.plan_id.is_not(None)).group_by(Sample.plan_id)
        .order_by(func.max(decided_at()).desc()).limit(limit)
    ).all()
    plans = {p.id: p for p in db.session.scalars(select(Plan).where(Plan.id.in_([r[0] for r in rows])))}
    for plan_id, updated, count, failed in rows:
        plan = plans[plan_id]
        items.append({"id": f"results:{plan_id}", "kind": "results", "plan_id": plan_id, "plan_name": plan.name,
                      "period": plan.period, "updated": updated, "count": count, "failed": int(failed or 0)})
    for anchor in published_anchors(limit):
        items.append({"id": f"audit-anchor:{anchor['day'].isoformat()}", "kind": "anchor", "day": anchor["day"],
                      "events": anchor["events"], "hash": anchor["hash"], "updated": anchor["published_at"]})
    items.sort(key=lambda item: item["updated"], reverse=True)
    return items[:limit]


# --- the home page -----------------------------------------------------------------------


def home() -> dict:
    """What the home page links to: latest plans, periods with lists, totals."""
    _, plans = plan_announcements({}, 0, 8)
    publications = db.session.scalars(select(Publication).order_by(Publication.period.desc())).all()
    total, latest = search_results({}, 0, 8)
    return {"plans": plans, "publications": publications, "results_total": total, "latest_results": latest,
            "draws": public_draws()}


def public_draws(limit: int = 20) -> list[Plan]:
    """The latest plans whose draw is public (the draw service's rule)."""
    stmt = select(Plan).where(Plan.draw.has()).order_by(Plan.period.desc(), Plan.id.desc()).limit(limit * 4)
    return [plan for plan in db.session.scalars(stmt) if draws.is_public(plan.draw)][:limit]


def filter_choices() -> dict:
    """Regions, categories and periods for the results page's filters."""
    return {
        "regions": db.session.scalars(select(Enterprise.region).distinct().order_by(Enterprise.region)).all(),
        "categories": db.session.execute(select(Category.code, Category.name).order_by(Category.code)).all(),
        "periods": db.session.scalars(select(Sample.period).distinct().order_by(Sample.period.desc())).all(),
        "plans": db.session.execute(select(Plan.id, Plan.name).order_by(Plan.id.desc()).limit(200)).all(),
    }


# --- what the pages show -----------------------------------------------------------------


def plan_with_results(plan_id: int, offset: int = 0, limit: int = 50) -> tuple[dict, int, list[dict]]:
    """A plan's announcement and one page of its published results."""
    plan = plan_announcement(plan_id)
    total, rows = search_results({"plan_id": plan_id}, offset, limit)
    return plan, total, rows


def results_page(filters: dict, offset: int = 0, limit: int = 50) -> tuple[int, list[dict], dict]:
    """One page of results and the choices of the page's filters."""
    total, rows = search_results(filters, offset, limit)
    return total, rows, filter_choices()


# --- answers kept for a few seconds ------------------------------------------------------


class NotKept(Exception):
    """Nothing fresh is kept under the key asked for."""


def _not_kept():
    raise NotKept


def kept_answer(key):
    """The answer kept under ``key`` if it is still fresh, else None (nothing is made)."""
    try:
        return public_cache.get_or_make(key, _not_kept)
    except NotKept:
        return None


def keep_answer(key, answer) -> None:
    """Keep ``answer`` under ``key`` for ``LISTS_CACHE_SECONDS`` (not at all when 0)."""
    public_cache.get_or_make(key, lambda: answer)
