"""Import of past spot-check results and refusals (DESIGN.md "History"), all or nothing.

Imported rows become samples with ``source="import"``: final (or refused) from the start, with
a result carrying the failed items, so they count in grades, lists and reports like live ones.
"""

import hashlib
from collections.abc import Iterable
from datetime import date, datetime, time

from sqlalchemy import insert, select

from extensions import db
from models.base import utcnow
from models.plans import KINDS, LEVELS
from models.registry import Category, Enterprise, Lab
from models.samples import STAGES, Result, ResultItem, Sample
from sampling import credit
from sampling.errors import InvalidInput
from services.audit import record_event
from services.calendar import timezone
from services.credit import refresh_grades
from services.uploads import csv_rows

HISTORY_HEADER = (
    "credit_code", "category_code", "period", "level", "kind", "stage", "sampled_on", "verdict",
    "failed_items", "critical", "lab", "report_no",
)
HISTORY_VERDICTS = ("pass", "fail", "refused")
BOOLEANS = {"true": True, "false": False, "": False, "1": True, "0": False}
CHUNK = 1000


def import_code(row: dict) -> str:
    """A stable sample code for an imported row, so the same row cannot be imported twice."""
    key = "|".join(row[k] for k in ("credit_code", "category_code", "period", "sampled_on", "verdict", "report_no"))
    return "IMP-" + hashlib.sha256(key.encode()).hexdigest()[:20].upper()


class Lookups:
    """The registry codes a history file refers to, loaded once; ``today`` bounds the dates."""

    def __init__(self, today: date):
        self.enterprises = dict(db.session.execute(select(Enterprise.credit_code, Enterprise.id)).all())
        self.categories = dict(db.session.execute(select(Category.code, Category.id)).all())
        self.labs = {code: (lab_id, name) for code, lab_id, name in
                     db.session.execute(select(Lab.code, Lab.id, Lab.name)).all()}
        self.today = today


def check_history_row(row: dict, known: Lookups) -> tuple[dict, list[str]]:
    """Validate one history row; return the cleaned row and its problems."""
    problems = _registry_problems(row, known)
    sampled_on = _date(row["sampled_on"], problems, known.today)
    items = [i.strip() for i in row["failed_items"].split(";") if i.strip()]
    critical = BOOLEANS.get(row["critical"].lower())
    problems += _verdict_problems(row, items, critical)
    code = row["credit_code"].upper()
    cleaned = {**row, "credit_code": code, "sampled_on": sampled_on, "failed_items": items,
               "critical": bool(critical), "code": import_code({**row, "credit_code": code})}
    return cleaned, problems


def _registry_problems(row: dict, known: Lookups) -> list[str]:
    """The codes a row names: enterprise, category, period, level, kind, stage."""
    problems = []
    if row["credit_code"].upper() not in known.enterprises:
        problems.append("credit_code: no registered enterprise with this code (企业未登记)")
    if row["category_code"] not in known.categories:
        problems.append("category_code: unknown category")
    if not credit.PERIOD_RE.match(row["period"]):
        problems.append("period: must be YYYYQn, e.g. 2025Q3")
    for field, allowed in (("level", LEVELS), ("kind", KINDS)):
        if row[field] not in allowed:
            problems.append(f"{field}: must be one of {', '.join(allowed)}")
    if row["stage"] and row["stage"] not in STAGES:
        problems.append(f"stage: must be one of {', '.join(STAGES)} or empty")
    return problems


def _verdict_problems(row: dict, items: list[str], critical: bool | None) -> list[str]:
    """The verdict and what must (or must not) come with it."""
    problems = []
    verdict = row["verdict"]
    if verdict not in HISTORY_VERDICTS:
        problems.append("verdict: must be pass, fail or refused")
    if verdict == "fail" and not items:
        problems.append("failed_items: a failing row names its failed items (不合格项目必填)")
    if verdict in ("pass", "refused") and items:
        problems.append(f"failed_items: must be empty when verdict is {verdict}")
    if critical is None:
        problems.append("critical: must be true or false")
    elif critical and verdict != "fail":
        problems.append("critical: only a failing row can have a failed critical item")
    if verdict in ("pass", "fail") and not row["report_no"]:
        problems.append("report_no: required for a tested row (报告编号必填)")
    if max(len(row["report_no"]), len(row["lab"])) > 100 or any(len(i) > 200 for i in items):
        problems.append("report_no, lab or a failed item is too long")
    return problems


def _date(text: str, problems: list[str], today_: date) -> date | None:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        problems.append("sampled_on: must be a date YYYY-MM-DD")
        return None
    if day > today_:
        problems.append("sampled_on: must not be in the future")
    return day


def import_history(lines: Iterable[str], actor: str, today: date, progress=None) -> dict:
    """Import past results and refusals from CSV lines, all or nothing; ``{"imported": n}``.

    Errors are keyed by row number; a row already imported (same enterprise, category,
    period, date, verdict and report) is an error too; no date may be after ``today``.
    ``progress(n)`` is called per row. A row becomes final on its sampling date, so it joins
    the list period of that date (a published one through a supplement).
    """
    known = Lookups(today)
    errors: dict[str, list[str]] = {}
    rows: dict[str, dict] = {}
    for number, raw, malformed in csv_rows(lines, HISTORY_HEADER):
        if malformed:
            errors[str(number)] = malformed
            continue
        row, problems = check_history_row(raw, known)
        if not problems and row["code"] in rows:
            problems.append(f"row repeats row {rows[row['code']]['row']}")
        if problems:
            errors[str(number)] = problems
        elif not errors:
            rows[row["code"]] = {**row, "row": number}
        if progress:
            progress(1)
    if not errors:
        errors = _already_imported(rows)
    if errors:
        raise InvalidInput(f"{len(errors)} row(s) have errors; nothing was imported (导入失败，未写入任何数据)",
                           errors)
    return _store(list(rows.values()), known, actor)


def _already_imported(rows: dict[str, dict]) -> dict[str, list[str]]:
    codes, found = list(rows), set()
    for start in range(0, len(codes), CHUNK):
        found.update(db.session.scalars(select(Sample.code).where(Sample.code.in_(codes[start:start + CHUNK]))))
    return {str(rows[c]["row"]): ["this row was already imported (已导入)"] for c in sorted(found)}


def _store(rows: list[dict], known: Lookups, actor: str) -> dict:
    """Write the validated rows in bulk, refresh the grades they touch, commit once."""
    tz = timezone()
    for start in range(0, len(rows), CHUNK):
        _insert_chunk(rows[start:start + CHUNK], known, tz)
    enterprise_ids = sorted({known.enterprises[r["credit_code"]] for r in rows})
    refresh_grades(enterprise_ids, known.today, actor)
    summary = {"imported": len(rows)}
    record_event("import", "history", "csv", actor=actor,
                 after={**summary, "sample_codes": [r["code"] for r in rows[:20]]})
    db.session.commit()
    return summary


def _insert_chunk(rows: list[dict], known: Lookups, tz) -> None:
    """Samples, then the results of the tested ones, then their failed items (bulk INSERTs)."""
    # Plain executemany, then ids looked up by the unique sample code: far faster than
    # INSERT ... RETURNING in parameter order, which the drivers run in small batches.
    samples = [_sample_values(row, known, tz) for row in rows]
    db.session.execute(insert(Sample), samples)
    codes = [row["code"] for row in rows]
    sample_ids = dict(db.session.execute(select(Sample.code, Sample.id).where(Sample.code.in_(codes))).all())
    tested = [(sample_ids[row["code"]], row, values) for row, values in zip(rows, samples, strict=True)
              if row["verdict"] != "refused"]
    if not tested:
        return
    db.session.execute(insert(Result), [_result_values(sid, row, values, known) for sid, row, values in tested])
    result_ids = dict(db.session.execute(
        select(Result.sample_id, Result.id).where(Result.sample_id.in_([sid for sid, _, _ in tested]))).all())
    items = [
        {"result_id": result_ids[sample_id], "position": i, "name": name, "requirement": "", "measured": "",
         "verdict": "fail", "critical": row["critical"]}
        for sample_id, row, _ in tested
        for i, name in enumerate(row["failed_items"])
    ]
    if items:
        db.session.execute(insert(ResultItem), items)


def _sample_values(row: dict, known: Lookups, tz) -> dict:
    at = datetime.combine(row["sampled_on"], time(12, 0), tzinfo=tz)
    refused = row["verdict"] == "refused"
    lab_id = None if refused else known.labs.get(row["lab"], (None, None))[0]
    return {
        "code": row["code"], "enterprise_id": known.enterprises[row["credit_code"]],
        "category_id": known.categories[row["category_code"]], "period": row["period"], "level": row["level"],
        "kind": row["kind"], "source": "import", "status": "refused" if refused else "final",
        "verdict": None if refused else row["verdict"], "critical_failed": row["critical"],
        "stage": row["stage"] or None, "sampled_at": None if refused else at, "refused_at": at if refused else None,
        "final_at": at, "last_event_at": at, "lab_id": lab_id, "created_at": utcnow(),
    }


def _result_values(sample_id: int, row: dict, sample: dict, known: Lookups) -> dict:
    lab_id, lab_name = known.labs.get(row["lab"], (None, row["lab"] or None))
    return {
        "sample_id": sample_id, "kind": "initial", "lab_id": lab_id, "lab_name": lab_name,
        "report_no": row["report_no"], "tested_at": sample["sampled_at"], "verdict": row["verdict"],
        "critical_failed": row["critical"], "recorded_by": "import", "created_at": utcnow(),
    }
