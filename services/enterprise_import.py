"""The enterprise CSV import, all or nothing, in bounded memory at any size and any mix.

The file is read as a stream, one row at a time: each row is checked, and the good ones are
written in chunks into a temporary staging table (COPY on PostgreSQL). When the whole file is
good, a few set-based statements merge the staging table into the registry: an UPDATE of the
existing enterprises whose fields differ, an INSERT of the new ones, and the category links
added and removed by difference. No row passes through the ORM, so re-importing 200,000
existing enterprises costs about what importing them new does. One transaction: a bad row, or
any failure, leaves the registry as it was.
"""

from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import (
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.engine import Connection

from extensions import db
from models.base import utcnow
from models.registry import Category, Enterprise, enterprise_categories, kind_column
from sampling.credit_code import problem as credit_code_problem
from sampling.enums import (
    DEFAULT_ENTERPRISE_KINDS,
    DEFAULT_GRADE,
    DEFAULT_SCALE,
    DEFAULT_STATUS,
    ENTERPRISE_KINDS,
    ENTERPRISE_STATUSES,
    SCALES,
)
from sampling.errors import InvalidInput
from services.audit import record_event
from services.bulk import insert_tuples
from services.uploads import csv_rows

IMPORT_HEADER = ("credit_code", "name", "region", "address", "scale", "category_codes", "status")
OPTIONAL_COLUMNS = ("kinds", "platform", "shop_id")  # may follow the documented header, in any order
CHUNK = 5000  # rows staged per write
MAX_REPORTED_ROWS = 1000  # bad rows named in a 422 (the count says how many there were)
LIMITS = {"name": 200, "region": 64, "address": 300, "platform": 64, "shop_id": 64}
KIND_COLUMNS = tuple(kind_column(k) for k in ENTERPRISE_KINDS)
FIELDS = ("name", "region", "address", "scale", "status")

_staging = MetaData()
# One row per good CSV row; a kind column, platform or shop id left NULL was not given by the file.
STAGED = Table(
    "import_enterprises", _staging,
    Column("row_no", Integer, nullable=False),
    Column("credit_code", String(18), nullable=False),
    Column("name", String(200), nullable=False),
    Column("region", String(64), nullable=False),
    Column("address", String(300)),
    Column("scale", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    *(Column(name, Boolean) for name in KIND_COLUMNS),
    Column("platform", String(64)),
    Column("shop_id", String(64)),
    prefixes=["TEMPORARY"], postgresql_on_commit="DROP",
)
STAGED_LINKS = Table(
    "import_enterprise_categories", _staging,
    Column("credit_code", String(18), nullable=False),
    Column("category_id", Integer, nullable=False),
    prefixes=["TEMPORARY"], postgresql_on_commit="DROP",
)
# Made once the rows are in (faster than keeping them up to date row by row).
STAGED_INDEXES = (
    f"CREATE INDEX ix_{STAGED.name}_code ON {STAGED.name} (credit_code)",
    f"CREATE INDEX ix_{STAGED_LINKS.name}_code ON {STAGED_LINKS.name} (credit_code, category_id)",
)


class RowChecker:
    """Checks and cleans the rows of one file against the categories it may name."""

    def __init__(self):
        self.categories = dict(db.session.execute(select(Category.code, Category.id)).all())

    def check(self, row: dict[str, str]) -> tuple[tuple, list[tuple[str, int]], list[str]]:
        """``(staged row without its number, category links, problems)`` of one CSV row, whose
        shape and text ``services.uploads.csv_rows`` has checked."""
        code = row["credit_code"].upper()
        scale, status = row["scale"] or DEFAULT_SCALE, row["status"] or DEFAULT_STATUS
        problems = _field_problems(row, code, scale, status)
        codes = list(dict.fromkeys(c.strip() for c in row["category_codes"].split(";") if c.strip()))
        if not codes:
            problems.append("category_codes: at least one category (至少一个产品类别)")
        unknown = [c for c in codes if c not in self.categories]
        if unknown:
            problems.append(f"category_codes: unknown category {', '.join(unknown)}")
        flags = self._kinds(row.get("kinds", ""), problems)
        platform, shop_id = row.get("platform") or None, row.get("shop_id") or None
        if flags and flags[ENTERPRISE_KINDS.index("online_shop")] and not (platform and shop_id):
            problems.append("platform, shop_id: required for an online shop (网店须填写电商平台和店铺编号)")
        staged = (code, row["name"], row["region"], row["address"] or None, scale, status,
                  *(flags or (None,) * len(KIND_COLUMNS)), platform, shop_id)
        return staged, [(code, self.categories[c]) for c in codes if c in self.categories], problems

    @staticmethod
    def _kinds(cell: str, problems: list[str]) -> tuple[bool, ...] | None:
        """The kind flags a ``kinds`` cell gives (``;``-separated), or None when it is empty."""
        kinds = {k.strip() for k in cell.split(";") if k.strip()}
        if not kinds:
            return None
        unknown = sorted(kinds - set(ENTERPRISE_KINDS))
        if unknown:
            problems.append(f"kinds: unknown kind {', '.join(unknown)} (one of {', '.join(ENTERPRISE_KINDS)})")
        return tuple(k in kinds for k in ENTERPRISE_KINDS)


def _field_problems(row: dict, code: str, scale: str, status: str) -> list[str]:
    """What is wrong with a row's own fields: credit code, required ones, lengths, scale, status."""
    problems = []
    wrong = credit_code_problem(code)
    if wrong:
        problems.append(f"credit_code: {wrong}")
    problems += [f"{field}: required (必填)" for field in ("name", "region") if not row[field]]
    problems += [f"{field}: at most {limit} characters (过长)"
                 for field, limit in LIMITS.items() if len(row.get(field, "")) > limit]
    if scale not in SCALES:
        problems.append(f"scale: must be one of {', '.join(SCALES)}")
    if status not in ENTERPRISE_STATUSES:
        problems.append(f"status: must be one of {', '.join(ENTERPRISE_STATUSES)}")
    return problems


def import_enterprises(lines: Iterable[str], actor: str, progress: Callable[[int], object] | None = None) -> dict:
    """Upsert enterprises from CSV text, all or nothing; a bad row is a 422 keyed by its row number.

    ``lines`` is any iterable of CSV text (an open text file streams); ``progress(n)`` is called
    as rows are read (the CLI shows a bar with it). Answers ``{"created": n, "updated": m}``.
    """
    connection = db.session.connection()
    _create_staging(connection)
    checker = RowChecker()
    errors: dict[str, list[str]] = {}
    bad_rows, staged, links = 0, [], []
    for number, fields, malformed in csv_rows(lines, IMPORT_HEADER, OPTIONAL_COLUMNS):
        row, row_links, problems = ((), [], malformed) if malformed else checker.check(fields)
        if problems:
            bad_rows += 1
            if len(errors) < MAX_REPORTED_ROWS:
                errors[str(number)] = problems
        elif not errors:
            staged.append((number, *row))
            links.extend(row_links)
            if len(staged) >= CHUNK:
                _stage(staged, links)
                staged, links = [], []
        if progress and number % 1000 == 0:
            progress(1000)
    if not errors:
        _stage(staged, links)
        errors = _duplicates(connection)
        bad_rows = len(errors)
    if errors:
        listed = "" if bad_rows <= len(errors) else f"; the first {len(errors)} are listed"
        raise InvalidInput(f"{bad_rows} row(s) have errors{listed}; nothing was imported (导入失败，未写入任何数据)",
                           errors)
    summary = _merge(connection, utcnow())
    record_event("import", "enterprise", "csv", after=summary, actor=actor)
    _drop_staging(connection)
    db.session.commit()
    return summary


def _create_staging(connection: Connection) -> None:
    """Empty staging tables, private to this connection (PostgreSQL drops them at commit)."""
    _drop_staging(connection)
    STAGED.create(connection)
    STAGED_LINKS.create(connection)


def _drop_staging(connection: Connection) -> None:
    """Drop what SQLite keeps after a transaction (PostgreSQL's are gone with it)."""
    if connection.dialect.name == "sqlite":
        for table in (STAGED_LINKS, STAGED):
            connection.execute(text(f"DROP TABLE IF EXISTS temp.{table.name}"))


def _stage(rows: list[tuple], links: list[tuple]) -> None:
    """Write checked rows and their links into the staging tables (temporary, on the session's
    connection): COPY on PostgreSQL, the driver's executemany on SQLite."""
    for table, values in ((STAGED, rows), (STAGED_LINKS, links)):
        insert_tuples(table, [c.name for c in table.columns], values)


def _duplicates(connection: Connection) -> dict[str, list[str]]:
    """Rows whose credit code an earlier row of the file already has, keyed by row number."""
    for index in STAGED_INDEXES:
        connection.execute(text(index))
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"ANALYZE {STAGED.name}, {STAGED_LINKS.name}"))
    first = STAGED.alias("first")
    stmt = (
        select(STAGED.c.row_no, func.min(first.c.row_no))
        .join(first, and_(first.c.credit_code == STAGED.c.credit_code, first.c.row_no < STAGED.c.row_no))
        .group_by(STAGED.c.row_no).order_by(STAGED.c.row_no).limit(MAX_REPORTED_ROWS)
    )
    return {str(row): [f"credit_code: appears twice in the file (row {earlier})"]
            for row, earlier in connection.execute(stmt)}


def _merge(connection: Connection, now: datetime) -> dict:
    """Merge the staged rows into the registry with set-based statements; ``{created, updated}``."""
    enterprises = Enterprise.__table__
    known = exists().where(enterprises.c.credit_code == STAGED.c.credit_code)
    total = connection.scalar(select(func.count()).select_from(STAGED))
    updated = connection.scalar(select(func.count()).select_from(STAGED).where(known))

    kept = {name: func.coalesce(STAGED.c[name], enterprises.c[name]) for name in (*KIND_COLUMNS, "platform", "shop_id")}
    changes = {**{name: STAGED.c[name] for name in FIELDS}, **kept}
    connection.execute(
        update(enterprises)
        .where(enterprises.c.credit_code == STAGED.c.credit_code)
        .where(or_(*(enterprises.c[name].is_distinct_from(value) for name, value in changes.items())))
        .values(**changes, updated_at=now)
    )

    defaults = {name: func.coalesce(STAGED.c[name], literal(kind in DEFAULT_ENTERPRISE_KINDS))
                for name, kind in zip(KIND_COLUMNS, ENTERPRISE_KINDS, strict=True)}
    new = {
        "credit_code": STAGED.c.credit_code, **{name: STAGED.c[name] for name in FIELDS}, **defaults,
        "platform": STAGED.c.platform, "shop_id": STAGED.c.shop_id, "credit_grade": literal(DEFAULT_GRADE),
        "created_at": literal(now, enterprises.c.created_at.type),
        "updated_at": literal(now, enterprises.c.updated_at.type),
    }
    connection.execute(insert(enterprises).from_select(list(new), select(*new.values()).where(~known)))
    if total - updated > 50_000 and connection.dialect.name == "postgresql":
        # Fresh statistics for the joins below, or the planner still thinks the table is small.
        connection.execute(text(f"ANALYZE {enterprises.name}"))

    links = enterprise_categories
    in_file = select(enterprises.c.id).join(STAGED, STAGED.c.credit_code == enterprises.c.credit_code)
    still_named = (
        select(true()).select_from(STAGED_LINKS)
        .join(enterprises, enterprises.c.credit_code == STAGED_LINKS.c.credit_code)
        .where(enterprises.c.id == links.c.enterprise_id, STAGED_LINKS.c.category_id == links.c.category_id)
        .exists()
    )
    connection.execute(links.delete().where(links.c.enterprise_id.in_(in_file), ~still_named))
    linked = exists().where(links.c.enterprise_id == enterprises.c.id,
                            links.c.category_id == STAGED_LINKS.c.category_id)
    connection.execute(insert(links).from_select(
        ["enterprise_id", "category_id"],
        select(enterprises.c.id, STAGED_LINKS.c.category_id)
        .join(enterprises, enterprises.c.credit_code == STAGED_LINKS.c.credit_code)
        .where(~linked),
    ))
    return {"created": total - updated, "updated": updated}
