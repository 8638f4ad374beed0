"""Risk signals (风险信号): record them one by one or from CSV, list them, count them for the draw.

A signal names an enterprise by credit code or by exact name; it is stored against the
enterprise it matched, with the code and name as the source gave them.
"""

from collections.abc import Iterable, Iterator
from datetime import date, timedelta

from sqlalchemy import Select, func, insert, select

from extensions import db
from models.base import utcnow
from models.registry import Category, Enterprise
from models.signals import RiskSignal
from sampling.credit_code import problem as credit_code_problem
from sampling.enums import SIGNAL_SOURCES
from sampling.errors import InvalidInput
from services.audit import record_event
from services.uploads import csv_rows

SIGNAL_HEADER = ("date", "credit_code", "name", "category_code", "source", "summary")
SIGNAL_WINDOW_DAYS = 365  # "the last 12 months" of DESIGN.md's risk weighting
CHUNK = 1000


def signal_counts(category_ids: Iterable[int], on: date) -> dict[int, int]:
    """Risk signals per enterprise id in ``category_ids`` dated in the 12 months up to ``on``.

    The window is ``on - 365 days < date <= on``; the caller expands parent categories.
    Enterprises without a signal are absent from the answer.
    """
    ids = list(category_ids)
    if not ids:
        return {}
    stmt = (
        select(RiskSignal.enterprise_id, func.count())
        .where(RiskSignal.category_id.in_(ids))
        .where(RiskSignal.signal_date > on - timedelta(days=SIGNAL_WINDOW_DAYS))
        .where(RiskSignal.signal_date <= on)
        .group_by(RiskSignal.enterprise_id)
    )
    return dict(db.session.execute(stmt).all())


def list_signals(filters: dict) -> Select:
    """Signals, newest first, filtered by enterprise credit code, category code, source or dates."""
    stmt = select(RiskSignal).order_by(RiskSignal.signal_date.desc(), RiskSignal.id.desc())
    if "credit_code" in filters:
        stmt = stmt.where(RiskSignal.enterprise.has(Enterprise.credit_code == filters["credit_code"].upper()))
    if "category" in filters:
        stmt = stmt.where(RiskSignal.category.has(Category.code == filters["category"]))
    if "source" in filters:
        stmt = stmt.where(RiskSignal.source == filters["source"])
    if "since" in filters:
        stmt = stmt.where(RiskSignal.signal_date >= filters["since"])
    if "until" in filters:
        stmt = stmt.where(RiskSignal.signal_date <= filters["until"])
    return stmt


def signal_snapshot(signal: RiskSignal) -> dict:
    """What the audit trail records of a signal."""
    return {
        "date": signal.signal_date, "enterprise": signal.enterprise.credit_code, "category_code": signal.category_code,
        "source": signal.source, "credit_code": signal.credit_code, "name": signal.name, "summary": signal.summary,
    }


class Matcher:
    """Finds the enterprise a signal names: by credit code if given, else by exact name."""

    def __init__(self, codes: Iterable[str] = (), names: Iterable[str] = ()):
        self.by_code = _lookup(Enterprise.credit_code, {c for c in codes if c})
        self.by_name: dict[str, list[int]] = {}
        for chunk in _chunks(sorted({n for n in names if n})):
            for name, enterprise_id in db.session.execute(
                    select(Enterprise.name, Enterprise.id).where(Enterprise.name.in_(chunk))):
                self.by_name.setdefault(name, []).append(enterprise_id)
        self.categories = dict(db.session.execute(select(Category.code, Category.id)).all())

    def enterprise(self, credit_code: str | None, name: str | None) -> tuple[int | None, dict[str, str]]:
        """The matched enterprise id, or None and the problem keyed by the field at fault."""
        if credit_code:
            wrong = credit_code_problem(credit_code)
            if wrong:
                return None, {"credit_code": wrong}
            if credit_code not in self.by_code:
                return None, {"credit_code": "no registered enterprise with this code (企业未登记)"}
            return self.by_code[credit_code], {}
        if not name:
            return None, {"credit_code": "give the credit code or the exact name (需填写信用代码或企业名称)"}
        found = self.by_name.get(name, [])
        if not found:
            return None, {"name": "no registered enterprise with this exact name (无此名称的登记企业)"}
        if len(found) > 1:
            return None, {"name": f"{len(found)} enterprises have this name; give the code (重名，请填写信用代码)"}
        return found[0], {}


def _lookup(column, values: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(sorted(values)):
        found.update(db.session.execute(select(column, Enterprise.id).where(column.in_(chunk))).all())
    return found


def _chunks(values: list, size: int = CHUNK) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _check(data: dict, matcher: Matcher, today: date) -> tuple[dict, dict[str, str]]:
    """Clean one signal (from JSON or a CSV row) and its problems keyed by field."""
    problems: dict[str, str] = {}
    enterprise_id, wrong = matcher.enterprise(data.get("credit_code"), data.get("name"))
    problems.update(wrong)
    if data["category_code"] not in matcher.categories:
        problems["category_code"] = "unknown category (未知产品类别)"
    if data["date"] > today:
        problems["date"] = "must not be in the future (日期不能晚于今天)"
    row = {
        "signal_date": data["date"], "enterprise_id": enterprise_id,
        "category_id": matcher.categories.get(data["category_code"]), "source": data["source"],
        "summary": data.get("summary") or None, "credit_code": data.get("credit_code") or None,
        "name": data.get("name") or None,
    }
    return row, problems


def create_signal(data: dict, actor: str, today: date) -> RiskSignal:
    """Record one signal; an enterprise or category it cannot be matched to is a 422 on that field."""
    data = {**data, "credit_code": (data.get("credit_code") or "").strip().upper() or None,
            "name": (data.get("name") or "").strip() or None}
    matcher = Matcher([data["credit_code"] or ""], [data["name"] or ""])
    row, problems = _check(data, matcher, today)
    if problems:
        raise InvalidInput("The signal cannot be recorded (风险信号有误)", {k: [v] for k, v in problems.items()})
    signal = RiskSignal(**row)
    db.session.add(signal)
    db.session.flush()
    record_event("create", "risk_signal", signal.id, after=signal_snapshot(signal), actor=actor)
    db.session.commit()
    return signal


def parse_signal_rows(lines: Iterable[str]) -> Iterator[tuple[int, dict, list[str]]]:
    """Rows of a signal CSV as ``(row number, fields, problems of form)``; row 1 is the header."""
    for number, row, malformed in csv_rows(lines, SIGNAL_HEADER):
        if malformed:
            yield number, row or dict.fromkeys(SIGNAL_HEADER, ""), malformed
            continue
        row["credit_code"] = row["credit_code"].upper()
        problems = []
        try:
            row["date"] = date.fromisoformat(row["date"])
        except ValueError:
            problems.append("date: must be YYYY-MM-DD (日期格式应为 YYYY-MM-DD)")
        if row["source"] not in SIGNAL_SOURCES:
            problems.append(f"source: must be one of {', '.join(SIGNAL_SOURCES)}")
        if len(row["name"]) > 200:
            problems.append("name: too long")
        yield number, row, problems


def import_signals(lines: Iterable[str], actor: str, today: date) -> dict:
    """Record the signals of a CSV, all or nothing: a row that matches no enterprise is a 422 on it."""
    rows = list(parse_signal_rows(lines))
    matcher = Matcher([r["credit_code"] for _, r, _ in rows], [r["name"] for _, r, _ in rows])
    errors: dict[str, list[str]] = {}
    cleaned = []
    for number, row, problems in rows:
        if not problems:
            clean, wrong = _check(row, matcher, today)
            problems = [f"{field}: {message}" for field, message in wrong.items()]
            cleaned.append(clean)
        if problems:
            errors[str(number)] = problems
    if errors:
        raise InvalidInput(f"{len(errors)} row(s) have errors; nothing was imported (导入失败，未写入任何数据)", errors)
    now = utcnow()
    for chunk in _chunks(cleaned):
        db.session.execute(insert(RiskSignal), [{**row, "created_at": now} for row in chunk])
    record_event("import", "risk_signal", "csv", after={"imported": len(cleaned)}, actor=actor)
    db.session.commit()
    return {"imported": len(cleaned)}
