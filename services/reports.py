"""Pass-rate reports and the target table.

Counting follows DESIGN.md "Pass rates": a sample counts once it has a final verdict
(``final_at`` set), live or imported alike; refusals are counted beside the rate, never in
its denominator; samples still under way are left out altogether (a planned sample must not
show, or the draw would leak). All counting is one ``GROUP BY`` in the database: the query
groups by the requested keys plus the target cell (plan level × category group), so each
row's target can be the average of its cells' targets weighted by tested samples. Python
only combines those few cells, adds the statistics (``sampling.stats``) and, with pandas,
writes CSV and XLSX.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field

from flask import current_app
from sqlalchemy import BigInteger, case, cast, func, select

from extensions import db
from models.registry import Category, Enterprise
from models.reports import TargetRate
from models.samples import Sample
from sampling import stats
from sampling.enums import CATEGORY_GROUPS, PLAN_KINDS, PLAN_LEVELS, SCALES, STAGES
from sampling.errors import InvalidInput
from services.audit import record_event

# Grouping key -> the column it groups by; the label columns shown beside a code.
GROUP_COLUMNS = {
    "period": Sample.period,
    "level": Sample.level,
    "kind": Sample.kind,
    "category": Category.code,
    "group": Category.group,
    "region": Enterprise.region,
    "stage": Sample.stage,
    "scale": Enterprise.scale,
    "enterprise": Enterprise.credit_code,
}
LABEL_COLUMNS = {
    "category": ("category_name", Category.name),
    "enterprise": ("enterprise_name", Enterprise.name),
}
GROUP_KEYS = tuple(GROUP_COLUMNS)
ENTERPRISE_KEYS = {"region", "scale", "enterprise"}
# Keys grouped in the inner scan (sample and enterprise columns); the category keys and the
# enterprise's code and name are added by the outer query from the inner ids.
INNER_KEYS = ("period", "level", "kind", "region", "stage", "scale")
INNER_FILTERS = ("period", "period_from", "period_to", "level", "kind", "region", "stage", "scale")
OUTER_FILTERS = ("category", "group")
FILTER_KEYS = ("period", "level", "kind", "category", "group", "region", "stage", "scale")
# Allowed values of the filters that have a closed set (the others are free text).
FILTER_CHOICES = {"level": PLAN_LEVELS, "kind": PLAN_KINDS, "group": CATEGORY_GROUPS, "stage": STAGES, "scale": SCALES}
FORMATS = ("json", "csv", "xlsx")
COUNT_FIELDS = ("tested", "passed", "failed", "refused")
STAT_FIELDS = ("pass_rate", "ci_low", "ci_high", "target", "status", "p_value")
TOTAL_LABEL = "total"


@dataclass
class PassRateReport:
    """The report: one dict per row (group keys, counts, statistics) plus the total row."""

    by: list[str]
    filters: dict[str, list[str]]
    method: str
    confidence: float
    rows: list[dict] = field(default_factory=list)
    total: dict = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        """Column order of the exported table."""
        return _key_columns(self.by) + list(COUNT_FIELDS) + list(STAT_FIELDS)


# --- targets ------------------------------------------------------------------------------


def default_targets() -> dict[str, float]:
    """Level -> default target, from the settings (``DEFAULT_TARGETS``)."""
    return current_app.config["DEFAULT_TARGETS"]


def target_overrides() -> dict[tuple[str, str], float]:
    """The cells of the target table that override the default: ``(level, group) -> rate``."""
    return {(t.level, t.group): t.rate for t in db.session.scalars(select(TargetRate))}


def target_cells() -> list[dict]:
    """The whole target table, level × group, each cell with its rate and a ``default`` flag."""
    return stats.target_table(CATEGORY_GROUPS, target_overrides(), default_targets())


def set_targets(cells: list[dict], actor: str) -> list[dict]:
    """Set (``rate``) or reset to the default (``rate`` None) some cells; commits; returns the table."""
    for cell in cells:
        _set_target(cell["level"], cell["group"], cell.get("rate"), actor)
    db.session.commit()
    return target_cells()


def set_target(level: str, group: str, rate: float | None, actor: str) -> dict:
    """Set or reset one cell of the target table; commits; returns the cell."""
    _set_target(level, group, rate, actor)
    db.session.commit()
    return next(c for c in target_cells() if c["level"] == level and c["group"] == group)


def _set_target(level: str, group: str, rate: float | None, actor: str) -> None:
    if level not in PLAN_LEVELS:
        raise InvalidInput(f"unknown level {level!r}", {"level": [f"must be one of {', '.join(PLAN_LEVELS)}"]})
    if group not in CATEGORY_GROUPS:
        raise InvalidInput(f"unknown group {group!r}", {"group": [f"must be one of {', '.join(CATEGORY_GROUPS)}"]})
    row = db.session.scalar(select(TargetRate).where(TargetRate.level == level, TargetRate.group == group))
    before = {"level": level, "group": group, "rate": row.rate if row else None}
    if rate is None:
        if row is None:
            return
        db.session.delete(row)
    else:
        rate = stats.validate_target_rate(rate)
        if row is None:
            db.session.add(TargetRate(level=level, group=group, rate=rate))
        elif row.rate == rate:
            return
        else:
            row.rate = rate
    after = {"level": level, "group": group, "rate": rate}
    record_event("reset" if rate is None else "update", "target_rate", f"{level}/{group}", before, after,
                 actor=actor)


# --- the report -----------------------------------------------------------------------------


def parse_by(by) -> list[str]:
    """``"category,region"`` (or a list) -> ``["category", "region"]``; unknown keys are a 422."""
    if by is None:
        return []
    keys = [k.strip() for k in (by.split(",") if isinstance(by, str) else by) if k and k.strip()]
    unknown = [k for k in keys if k not in GROUP_COLUMNS]
    if unknown:
        raise InvalidInput(
            f"unknown grouping key: {', '.join(unknown)} (未知分组)",
            {"by": [f"unknown key {k!r}; allowed: {', '.join(GROUP_KEYS)}" for k in unknown]},
        )
    return list(dict.fromkeys(keys))


def pass_rate_table(
    by=None,
    filters: dict | None = None,
    method: str = stats.DEFAULT_METHOD,
    confidence: float = stats.DEFAULT_CONFIDENCE,
) -> PassRateReport:
    """The pass-rate report grouped by ``by`` (any of GROUP_KEYS), with a total row.

    ``filters`` maps a key of FILTER_KEYS to the list of values to keep (e.g. ``{"period":
    ["2026Q4"], "level": ["municipal"]}``); ``period_from`` / ``period_to`` bound the period.
    """
    by = parse_by(by)
    filters = {k: v for k, v in (filters or {}).items() if v not in (None, [], "")}
    report = PassRateReport(by=by, filters=filters, method=method, confidence=confidence)
    cells = _count_cells(by, filters)
    targets = _target_lookup()

    grouped: dict[tuple, dict] = {}
    for cell in cells:
        key = tuple(cell[k] for k in by)
        row = grouped.setdefault(key, {**{k: cell[k] for k in _key_columns(by)}, "cells": []})
        row["cells"].append(cell)
    rows = [grouped[key] for key in sorted(grouped, key=_sort_key)] if by else []
    total = {"cells": _merge_cells(cells)}

    estimates = stats.estimate_rates(
        [sum(c["passed"] for c in r["cells"]) for r in rows + [total]],
        [sum(c["tested"] for c in r["cells"]) for r in rows + [total]],
        [_row_target(r["cells"], targets) for r in rows + [total]],
        method,
        confidence,
    )
    for row, estimate in zip(rows + [total], estimates, strict=True):
        refused = sum(c["refused"] for c in row.pop("cells"))
        row.update(_row_values(estimate, refused))
    report.rows, report.total = rows, total
    return report


def _merge_cells(cells: list[dict]) -> list[dict]:
    """The total's cells: the counts per (plan level, category group) over every row."""
    merged: dict[tuple, dict] = {}
    for cell in cells:
        into = merged.setdefault((cell["_level"], cell["_group"]), {
            "_level": cell["_level"], "_group": cell["_group"], "tested": 0, "passed": 0, "refused": 0})
        for name in ("tested", "passed", "refused"):
            into[name] += cell[name]
    return list(merged.values())


def _key_columns(by: list[str]) -> list[str]:
    columns = []
    for key in by:
        columns.append(key)
        if key in LABEL_COLUMNS:
            columns.append(LABEL_COLUMNS[key][0])
    return columns


def _sort_key(key: tuple) -> tuple:
    """Sort rows by their keys, None last, the same on every database."""
    return tuple((value is None, "" if value is None else str(value)) for value in key)


def _count_cells(by: list[str], filters: dict) -> list[dict]:
    """The counts per (group keys, plan level, category group), aggregated in the database.

    Two levels, both ``GROUP BY`` in SQL: the inner one scans the samples once, grouping by
    integer ids and short columns (category id, plan level, the sample's and enterprise's
    keys); the outer one joins the few resulting groups to categories (and enterprises) for
    codes, names and the category group. Grouping the big scan by ids rather than names is
    what keeps the report close to a bare count.
    """
    counted = Sample.final_at.is_not(None) & Sample.verdict.is_not(None) & (Sample.status != "refused")
    refused = Sample.status == "refused"
    inner_keys = [GROUP_COLUMNS[key].label(key) for key in by if key in INNER_KEYS]
    if "enterprise" in by:
        inner_keys.append(Sample.enterprise_id.label("enterprise_id"))
    inner = (
        select(
            *inner_keys,
            Sample.category_id.label("category_id"),
            Sample.level.label("_level"),
            func.sum(case((counted, 1), else_=0)).label("tested"),
            func.sum(case((counted & (Sample.verdict == "pass"), 1), else_=0)).label("passed"),
            func.sum(case((refused, 1), else_=0)).label("refused"),
        )
        .where(counted | refused)
        .group_by(*[c.element for c in inner_keys], Sample.category_id, Sample.level)
    )
    if ENTERPRISE_KEYS & (set(by) | set(filters)):
        inner = inner.join(Enterprise, Enterprise.id == Sample.enterprise_id)
    inner = _apply_filters(inner, filters, INNER_FILTERS).subquery("cells")

    outer_keys = []
    for key in by:
        if key in INNER_KEYS:
            outer_keys.append(inner.c[key].label(key))
        else:
            outer_keys.append(GROUP_COLUMNS[key].label(key))
        if key in LABEL_COLUMNS:
            name, column = LABEL_COLUMNS[key]
            outer_keys.append(column.label(name))
    stmt = (
        select(
            *outer_keys,
            inner.c._level,
            Category.group.label("_group"),
            cast(func.sum(inner.c.tested), BigInteger).label("tested"),  # not a NUMERIC on PostgreSQL
            cast(func.sum(inner.c.passed), BigInteger).label("passed"),
            cast(func.sum(inner.c.refused), BigInteger).label("refused"),
        )
        .select_from(inner)
        .join(Category, Category.id == inner.c.category_id)
        .group_by(*[c.element for c in outer_keys], inner.c._level, Category.group)
    )
    if "enterprise" in by:
        stmt = stmt.join(Enterprise, Enterprise.id == inner.c.enterprise_id)
    stmt = _apply_filters(stmt, filters, OUTER_FILTERS)
    result = db.session.connection().execute(stmt)  # Core: plain rows, no ORM layer
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]


def _apply_filters(stmt, filters: dict, keys: tuple):
    """Add the WHERE clauses of the filters that belong to this level of the query."""
    for key, values in filters.items():
        if key not in (*FILTER_KEYS, "period_from", "period_to"):
            raise InvalidInput(f"unknown filter {key!r}", {key: ["unknown filter"]})
        if key not in keys:
            continue
        if key == "period_from":
            stmt = stmt.where(Sample.period >= values)
        elif key == "period_to":
            stmt = stmt.where(Sample.period <= values)
        else:
            values = [values] if isinstance(values, str) else list(values)
            stmt = stmt.where(GROUP_COLUMNS[key].in_(values))
    return stmt


def _target_lookup() -> dict:
    overrides, defaults = target_overrides(), default_targets()
    return {
        (level, group): stats.target_for(level, group, overrides, defaults)
        for level in PLAN_LEVELS
        for group in CATEGORY_GROUPS
    }


def _row_target(cells: list[dict], targets: dict) -> float | None:
    return stats.weighted_target((targets[(c["_level"], c["_group"])], int(c["tested"])) for c in cells)


def _row_values(estimate: stats.RateEstimate, refused: int) -> dict:
    return {
        "tested": estimate.tested,
        "passed": estimate.passed,
        "failed": estimate.tested - estimate.passed,
        "refused": int(refused),
        "pass_rate": estimate.pass_rate,
        "ci_low": estimate.ci_low,
        "ci_high": estimate.ci_high,
        "target": estimate.target,
        "status": estimate.status,
        "p_value": estimate.p_value,
    }


# --- trend and periods ------------------------------------------------------------------------


def periods_with_data() -> list[str]:
    """Every period that has a final verdict or a refusal, oldest first."""
    stmt = (
        select(Sample.period)
        .where(Sample.final_at.is_not(None) | (Sample.status == "refused"))
        .group_by(Sample.period)
        .order_by(Sample.period)
    )
    return list(db.session.scalars(stmt))


def pass_rate_trend(by=("category",), filters: dict | None = None, method: str = stats.DEFAULT_METHOD) -> dict:
    """Per value of ``by``, its rows over the periods (oldest first): ``{key tuple: [row, ...]}``."""
    by = [k for k in parse_by(list(by)) if k != "period"]
    report = pass_rate_table(["period", *by], filters, method)
    trend: dict[tuple, list[dict]] = {}
    for row in report.rows:
        trend.setdefault(tuple(row[k] for k in by), []).append(row)
    return trend


# --- exports -----------------------------------------------------------------------------------


def report_frame(report: PassRateReport):
    """The report as a pandas DataFrame: the rows, then the total row (first key column "total")."""
    import pandas as pd

    columns = report.columns
    total = {**{c: None for c in columns}, **report.total}
    if report.by:
        total[report.by[0]] = TOTAL_LABEL
    else:
        columns = ["row", *columns]
        total["row"] = TOTAL_LABEL
    return pd.DataFrame([*report.rows, total], columns=columns)


def report_dict(report: PassRateReport) -> dict:
    """The report as plain data (for JSON)."""
    return asdict(report)


def report_file(report: PassRateReport, fmt: str) -> bytes:
    """The report as a ``csv`` or ``xlsx`` file."""
    return report_csv(report) if fmt == "csv" else report_xlsx(report)


def pass_rate_download(by, filters: dict, method: str, confidence: float, fmt: str) -> bytes:
    """The pass-rate report as a ``csv`` or ``xlsx`` file."""
    return report_file(pass_rate_table(by, filters, method, confidence), fmt)


def pass_rate_page(period: str | None, level: str | None) -> dict:
    """What the public page shows: the periods with data, one period's rows by category, the trend.

    ``period`` None: the latest period with data.
    """
    periods = periods_with_data()
    period = period or (periods[-1] if periods else None)
    level_filter = {"level": [level]} if level else {}
    overview = pass_rate_table(["category"], {**level_filter, "period": [period]}) if period else None
    return {"periods": periods, "period": period, "overview": overview,
            "trend": pass_rate_trend(["category"], level_filter)}


def report_csv(report: PassRateReport) -> bytes:
    """CSV, UTF-8 with a byte-order mark so spreadsheet programs read the Chinese names."""
    return report_frame(report).to_csv(index=False).encode("utf-8-sig")


def report_xlsx(report: PassRateReport) -> bytes:
    """An XLSX workbook with one sheet of the rows and the total row."""
    buffer = io.BytesIO()
    report_frame(report).to_excel(buffer, index=False, sheet_name="pass_rates", engine="openpyxl")
    return buffer.getvalue()
