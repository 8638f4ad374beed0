"""Registry reads and writes: categories, enterprises (single and CSV import), inspectors, labs.

The views parse and shape; every query and every transaction of the registries is here. Each
write takes the ``actor`` the audit trail names and records its event in its own transaction.
"""

from collections.abc import Iterable

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import aliased, selectinload

from extensions import db
from models.registry import Category, Enterprise, Inspector, Lab
from sampling.errors import InvalidInput, NotFound, RuleViolation
from services.audit import record_event


def category_map(codes: Iterable[str], field: str = "category_codes") -> dict[str, Category]:
    """The categories named by ``codes``; an unknown code is a 422 on ``field``."""
    codes = list(dict.fromkeys(codes))
    found = {c.code: c for c in db.session.scalars(select(Category).where(Category.code.in_(codes)))}
    unknown = [code for code in codes if code not in found]
    if unknown:
        raise InvalidInput("Unknown category code (未知产品类别)", {field: [f"unknown category: {c}" for c in unknown]})
    return found


def _one(model, **criteria):
    """The one row matching ``criteria``; a 404 naming what was looked for."""
    row = db.session.scalar(select(model).filter_by(**criteria))
    if row is None:
        described = ", ".join(f"{k}={v}" for k, v in criteria.items())
        raise NotFound(f"{model.__name__} not found: {described} (未找到)")
    return row


def _store_new(row, entity_type: str, entity_id: str, snapshot, actor: str):
    """Add a new registry row and its audit event (``snapshot(row)``) in one transaction."""
    db.session.add(row)
    db.session.flush()
    record_event("create", entity_type, entity_id, after=snapshot(row), actor=actor)
    db.session.commit()
    return row


def _ensure_unique(model, field: str, value: str) -> None:
    if db.session.scalar(select(model.id).where(getattr(model, field) == value)) is not None:
        raise RuleViolation(f"{model.__name__} {value} already exists (已存在)", {field: ["already exists"]})


# --- categories --------------------------------------------------------------------------

def list_categories(filters: dict) -> Select:
    """Categories by code, filtered by ``group``, ``parent_code`` or ``key_supervised`` (a query to page)."""
    stmt = select(Category).order_by(Category.code)
    if "group" in filters:
        stmt = stmt.where(Category.group == filters["group"])
    if "key_supervised" in filters:
        stmt = stmt.where(Category.key_supervised == filters["key_supervised"])
    if "parent_code" in filters:
        parent = aliased(Category)
        stmt = stmt.join(parent, Category.parent_id == parent.id).where(parent.code == filters["parent_code"])
    return stmt


def get_category(code: str) -> Category:
    """One category by code (404 if unknown)."""
    return _one(Category, code=code)


def create_category(data: dict, actor: str) -> Category:
    """Add a category to the catalogue tree."""
    _ensure_unique(Category, "code", data["code"])
    parent_code = data.pop("parent_code", None)
    data["season_months"] = sorted(set(data.get("season_months") or ())) or None
    category = Category(**data)
    if parent_code:
        category.parent = category_map([parent_code], "parent_code")[parent_code]
    return _store_new(category, "category", category.code, category_snapshot, actor)


def category_snapshot(category: Category) -> dict:
    """What the audit trail records of a category."""
    return {
        "code": category.code, "name": category.name, "parent_code": category.parent_code,
        "group": category.group, "key_supervised": category.key_supervised,
        "risk_level": category.risk_level, "standard": category.standard, "season_months": category.season_months,
    }


# --- enterprises -------------------------------------------------------------------------

def enterprise_snapshot(enterprise: Enterprise) -> dict:
    """What the audit trail records of an enterprise."""
    return {
        "credit_code": enterprise.credit_code, "name": enterprise.name, "region": enterprise.region,
        "address": enterprise.address, "scale": enterprise.scale, "status": enterprise.status,
        "category_codes": enterprise.category_codes, "kinds": enterprise.kinds, "platform": enterprise.platform,
        "shop_id": enterprise.shop_id,
    }


def shop_problems(kinds, platform: str | None, shop_id: str | None) -> dict[str, list[str]]:
    """An online shop is known by its platform and shop id: both are required for that kind."""
    if "online_shop" not in kinds:
        return {}
    required = ["required for an online shop (网店须填写电商平台和店铺编号)"]
    return {field: required for field, value in (("platform", platform), ("shop_id", shop_id)) if not value}


def list_enterprises(filters: dict) -> Select:
    """Enterprises by credit code, filtered by region, status, grade, category or a search term."""
    stmt = select(Enterprise).options(selectinload(Enterprise.categories)).order_by(Enterprise.credit_code)
    for field in ("region", "status"):
        if field in filters:
            stmt = stmt.where(getattr(Enterprise, field) == filters[field])
    if "grade" in filters:
        stmt = stmt.where(Enterprise.credit_grade == filters["grade"])
    if "kind" in filters:
        stmt = stmt.where(Enterprise.of_kind(filters["kind"]))
    if "category" in filters:
        stmt = stmt.where(Enterprise.categories.any(Category.code == filters["category"]))
    if filters.get("q"):
        term = f"%{filters['q']}%"
        stmt = stmt.where(or_(Enterprise.name.like(term), Enterprise.credit_code.like(term)))
    return stmt


def get_enterprise(credit_code: str) -> Enterprise:
    """One enterprise by credit code (404 if unknown)."""
    return _one(Enterprise, credit_code=credit_code)


def create_enterprise(data: dict, actor: str) -> Enterprise:
    """Register an enterprise with its categories."""
    _ensure_unique(Enterprise, "credit_code", data["credit_code"])
    problems = shop_problems(data["kinds"], data.get("platform"), data.get("shop_id"))
    if problems:
        raise InvalidInput("An online shop needs its platform and shop id (网店信息不全)", problems)
    categories = category_map(data.pop("category_codes"))
    enterprise = Enterprise(**data, categories=list(categories.values()))
    return _store_new(enterprise, "enterprise", enterprise.credit_code, enterprise_snapshot, actor)


def update_enterprise(credit_code: str, data: dict, actor: str) -> Enterprise:
    """Change an enterprise's writable fields (its credit code is its identity).

    A change that changes nothing (``{}``, or every value as it is) writes nothing and no event.
    """
    enterprise = get_enterprise(credit_code)
    before = enterprise_snapshot(enterprise)
    if "category_codes" in data:
        categories = list(category_map(data.pop("category_codes")).values())
        if {c.id for c in categories} != {c.id for c in enterprise.categories}:
            enterprise.categories = categories
    for field, value in data.items():
        if getattr(enterprise, field) != value:
            setattr(enterprise, field, value)
    problems = shop_problems(enterprise.kinds, enterprise.platform, enterprise.shop_id)
    if problems:
        raise InvalidInput("An online shop needs its platform and shop id (网店信息不全)", problems)
    if not db.session.is_modified(enterprise):
        return enterprise
    db.session.flush()
    record_event("update", "enterprise", enterprise.credit_code, before=before,
                 after=enterprise_snapshot(enterprise), actor=actor)
    db.session.commit()
    return enterprise


# --- inspectors and labs -----------------------------------------------------------------

def list_inspectors(filters: dict) -> Select:
    """Inspectors by code, filtered by ``region`` or ``active``."""
    stmt = select(Inspector).order_by(Inspector.code)
    for field in ("region", "active"):
        if field in filters:
            stmt = stmt.where(getattr(Inspector, field) == filters[field])
    return stmt


def get_inspector(code: str) -> Inspector:
    """One inspector by code (404 if unknown)."""
    return _one(Inspector, code=code)


def create_inspector(data: dict, actor: str) -> Inspector:
    """Register an inspector."""
    _ensure_unique(Inspector, "code", data["code"])
    inspector = Inspector(**data)
    return _store_new(inspector, "inspector", inspector.code, lambda _: data, actor)


def list_labs(filters: dict) -> Select:
    """Labs by code, optionally those accredited for the ``category`` code."""
    stmt = select(Lab).order_by(Lab.code)
    if "category" in filters:
        stmt = stmt.where(Lab.categories.any(Category.code == filters["category"]))
    return stmt


def get_lab(code: str) -> Lab:
    """One lab by code (404 if unknown)."""
    return _one(Lab, code=code)


def create_lab(data: dict, actor: str) -> Lab:
    """Register an accredited lab with the categories it may test."""
    _ensure_unique(Lab, "code", data["code"])
    categories = category_map(data.pop("category_codes"))
    lab = Lab(**data, categories=list(categories.values()))
    return _store_new(lab, "lab", lab.code, lambda row: {**data, "category_codes": row.category_codes}, actor)
