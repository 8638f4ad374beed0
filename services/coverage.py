"""Key-product coverage (重点监管产品目录): which active producers were sampled within N years.

DESIGN.md "Risk signals and key products": every active producer of a key-supervised
category is to be sampled at least once every N years (setting ``COVERAGE_YEARS``). A
producer counts as covered for a category when a sample of that category, or of a category
below it (a parent includes its children), was taken within the window with the producer as
the sampled unit or as the named producer (标称生产者) of a sample taken at a seller or shop.
A refusal is not a sample taken: the producer stays due.

``uncovered_producers`` is the one rule, used by the report and by plans limited to the
producers not yet covered (``uncovered_only``).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time

from flask import current_app
from sqlalchemy import select, union

from extensions import db
from models.registry import Category, Enterprise, enterprise_categories
from models.samples import Sample
from sampling.credit import add_months
from sampling.errors import InvalidInput
from services.calendar import timezone
from services.category_tree import category_tree, with_descendants


@dataclass(frozen=True)
class Producer:
    """An active producer registered for a category's tree, and whether it is covered."""

    enterprise_id: int
    credit_code: str
    region: str
    covered: bool


def window_start(today: date, years: int) -> datetime:
    """The first instant of the coverage window: the regulator's midnight ``years`` years before ``today``."""
    if years < 1:
        raise InvalidInput("years must be at least 1", {"years": ["must be at least 1"]})
    return datetime.combine(add_months(today, -12 * years), time(), tzinfo=timezone())


def default_years() -> int:
    """The coverage goal's N (setting ``COVERAGE_YEARS``)."""
    return current_app.config["COVERAGE_YEARS"]


def producers_by_category(roots: Iterable[int], today: date, years: int,
                          regions: Iterable[str] | None = None) -> dict[int, list[Producer]]:
    """Per category id of ``roots``: its active producers (registered for it or a category below),
    each with whether it was sampled in that tree within ``years`` years before ``today``."""
    roots = list(dict.fromkeys(roots))
    _, children, _ = category_tree()
    trees = {root: with_descendants([root], children) for root in roots}
    every = set().union(*trees.values()) if trees else set()
    if not every:
        return {root: [] for root in roots}
    stmt = (
        select(Enterprise.id, Enterprise.credit_code, Enterprise.region, enterprise_categories.c.category_id)
        .join(enterprise_categories, enterprise_categories.c.enterprise_id == Enterprise.id)
        .where(Enterprise.status == "active", Enterprise.of_kind("producer"),
               enterprise_categories.c.category_id.in_(every))
    )
    if regions:
        stmt = stmt.where(Enterprise.region.in_(list(regions)))
    registered: dict[int, tuple[str, str, set[int]]] = {}
    for enterprise_id, code, region, category_id in db.session.execute(stmt):
        registered.setdefault(enterprise_id, (code, region, set()))[2].add(category_id)
    sampled = _sampled_pairs(every, window_start(today, years))
    found = {}
    for root, tree in trees.items():
        found[root] = sorted(
            (Producer(enterprise_id, code, region, bool(sampled.get(enterprise_id, set()) & tree))
             for enterprise_id, (code, region, categories) in registered.items() if categories & tree),
            key=lambda p: (p.region, p.credit_code),
        )
    return found


def _sampled_pairs(category_ids: set[int], since: datetime) -> dict[int, set[int]]:
    """Enterprise id -> the categories it was sampled in since ``since`` (sampled unit or named producer)."""
    taken = Sample.sampled_at.is_not(None) & (Sample.sampled_at >= since) & Sample.category_id.in_(category_ids)
    as_unit = select(Sample.enterprise_id.label("enterprise_id"), Sample.category_id).where(taken)
    as_producer = (
        select(Sample.producer_enterprise_id.label("enterprise_id"), Sample.category_id)
        .where(taken, Sample.producer_enterprise_id.is_not(None))
    )
    pairs: dict[int, set[int]] = {}
    for enterprise_id, category_id in db.session.execute(union(as_unit, as_producer)):
        pairs.setdefault(enterprise_id, set()).add(category_id)
    return pairs


def uncovered_producers(category_ids: Iterable[int], today: date, years: int | None = None,
                        regions: Iterable[str] | None = None) -> dict[int, set[int]]:
    """Active producers not sampled within ``years`` (default ``COVERAGE_YEARS``) before ``today``
    in a category of ``category_ids`` (a parent includes its children): enterprise id -> the ids
    of those given categories it is still due for. A plan with ``uncovered_only`` draws from these.
    """
    years = default_years() if years is None else years
    due: dict[int, set[int]] = {}
    for root, producers in producers_by_category(category_ids, today, years, regions).items():
        for producer in producers:
            if not producer.covered:
                due.setdefault(producer.enterprise_id, set()).add(root)
    return due


def coverage_report(today: date, years: int | None = None, category: str | None = None,
                    region: str | None = None) -> dict:
    """Per key-supervised category and region: producers, how many were sampled within the window,
    and the credit codes of those not yet sampled (API.md ``GET /reports/coverage``)."""
    years = default_years() if years is None else years
    stmt = select(Category.id, Category.code, Category.name).where(Category.key_supervised.is_(True))
    if category:
        stmt = stmt.where(Category.code == category)
    keys = db.session.execute(stmt.order_by(Category.code)).all()
    if category and not keys:
        message = f"{category!r} is not a key-supervised category (不是重点监管产品)"
        raise InvalidInput(message, {"category": [message]})
    producers = producers_by_category([k.id for k in keys], today, years, [region] if region else None)
    rows = []
    for key in keys:
        by_region: dict[str, list[Producer]] = {}
        for producer in producers[key.id]:
            by_region.setdefault(producer.region, []).append(producer)
        for name, group in sorted(by_region.items()):
            sampled = sum(p.covered for p in group)
            rows.append({
                "category_code": key.code, "category_name": key.name, "region": name,
                "producers": len(group), "sampled": sampled,
                "coverage": round(sampled / len(group), 4),
                "not_sampled": [p.credit_code for p in group if not p.covered],
            })
    return {"years": years, "since": window_start(today, years).date(), "as_of": today, "rows": rows,
            "total": _total(rows)}


def _total(rows: list[dict]) -> dict:
    producers = sum(r["producers"] for r in rows)
    sampled = sum(r["sampled"] for r in rows)
    return {"producers": producers, "sampled": sampled,
            "coverage": round(sampled / producers, 4) if producers else None}

