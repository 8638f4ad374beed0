"""Pass-rate reports and the target table.

Counting follows DESIGN.md "Pass rates": a sample counts once its result was notified (an
imported one: once final), with its latest verdict (the retest's when there was one); it is
``pending`` while still open to objection or under retest, and a row with pending results
is ``provisional``. Refusals are counted beside the rate, never in its denominator; samples
still under way are left out altogether (a planned sample must not show, or the draw would
leak). All counting is one ``GROUP BY`` in the database: the query groups by the requested
keys plus the target cell (plan level × category group), so each row's target can be the
average of its cells' targets weighted by tested samples; distinct enterprises are one more
``COUNT(DISTINCT)``. Python only combines those few cells, adds the statistics
(``sampling.stats``) and, with pandas, writes CSV and XLSX.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date

from flask import current_app
from sqlalchemy import BigInteger, case, cast, func, select

from extensions import db
from models.plans import Plan
from models.registry import Category, Enterprise
from models.reports import TargetRate
from models.samples import Sample
from sampling import stats
from sampling.credit import period_of, previous_period
from sampling.enums import CATEGORY_GROUPS, ENTERPRISE_KINDS, PLAN_KINDS, PLAN_LEVELS, SCALES, STAGE_KINDS, STAGES
from sampling.errors import InvalidInput
from sampling.lifecycle import PASS, REFUSED
from services.audit import record_event
from services.stamp import data_stamp

# Grouping key -> the column it groups by; the label columns shown beside a code. ``weighted``
# (the plan drew with risk weights or per-grade ratios) is built per report from the plans;
# ``unit_kind`` (the sampled unit's kind) from the sample's stage and the enterprise's kinds.
GROUP_COLUMNS = {
    "period": Sample.period,
    "level": Sample.level,
    "kind": Sample.kind,
    "weighted": None,
    "category": Category.code,
    "group": Category.group,
    "region": Enterprise.region,
    "stage": Sample.stage,
    "unit_kind": None,
    "scale": Enterprise.scale,
    "enterprise": Enterprise.credit_code,
}
LABEL_COLUMNS = {
    "category": ("category_name", Category.name),
    "enterprise": ("enterprise_name", Enterprise.name),
}
GROUP_KEYS = tuple(GROUP_COLUMNS)
ENTERPRISE_KEYS = {"region", "scale", "enterprise", "unit_kind"}
CATEGORY_KEYS = {"category", "group"}
# Keys grouped in the inner scan (sample and enterprise columns); the category keys and the
# enterprise's code and name are added by the outer query from the inner ids.
INNER_KEYS = ("period", "level", "kind", "weighted", "region", "stage", "unit_kind", "scale")
INNER_FILTERS = ("period", "period_from", "period_to", "level", "kind", "weighted", "region", "stage", "scale")
OUTER_FILTERS = ("category", "group")
# The sample's own keys and filters (no join needed), and the enterprise's.
SAMPLE_KEYS = ("period", "level", "kind", "weighted", "stage")
SAMPLE_FILTERS = ("period", "period_from", "period_to", "level", "kind", "weighted", "stage")
ENTERPRISE_FILTERS = ("region", "scale")
FILTER_KEYS = ("period", "level", "kind", "weighted", "category", "group", "region", "stage", "scale")
RANGE_FILTERS = ("period_from", "period_to")
# Allowed values of the filters that have a closed set (the others are free text).
FILTER_CHOICES = {"level": PLAN_LEVELS, "kind": PLAN_KINDS, "group": CATEGORY_GROUPS, "stage": STAGES, "scale": SCALES}
FORMATS = ("json", "csv", "xlsx")
COUNT_FIELDS = ("tested", "pending", "passed", "failed", "refused", "enterprises")
STAT_FIELDS = ("pass_rate", "ci_low", "ci_high", "target", "status", "significance", "p_below", "p_above",
               "provisional")
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
    subtotals: dict = field(default_factory=dict)  # value of the first key -> its row (on request)

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
    subtotals: bool = False,
) -> PassRateReport:
    """The pass-rate report grouped by ``by`` (any of GROUP_KEYS), with a total row.

    ``filters`` maps a key of FILTER_KEYS to the list of values to keep (e.g. ``{"period":
    ["2026Q4"], "level": ["municipal"], "weighted": [False]}``); ``period_from`` /
    ``period_to`` bound the period. ``subtotals``: also a row per value of the first key
    (``report.subtotals``), from the same scan.
    """
    by = parse_by(by)
    filters = {k: v for k, v in (filters or {}).items() if v not in (None, [], "")}
    unknown = [k for k in filters if k not in (*FILTER_KEYS, *RANGE_FILTERS)]
    if unknown:
        raise InvalidInput(f"unknown filter {unknown[0]!r}", {k: ["unknown filter"] for k in unknown})
    report = PassRateReport(by=by, filters=filters, method=method, confidence=confidence)
    columns = _columns()
    cells = _count_cells(by, filters, columns)
    targets = _target_lookup()

    grouped: dict[tuple, dict] = {}
    for cell in cells:
        key = tuple(cell[k] for k in by)
        row = grouped.setdefault(key, {**{k: cell[k] for k in _key_columns(by)}, "cells": []})
        row["cells"].append(cell)
    report.rows = [grouped[key] for key in sorted(grouped, key=_sort_key)] if by else []
    report.total = {"cells": _merge_cells(cells)}
    enterprises = _count_enterprises(by, filters, columns)
    rows = [(row, tuple(row[k] for k in by)) for row in report.rows] + [(report.total, None)]
    if subtotals and by:
        first: dict = {}
        for cell in cells:
            first.setdefault(cell[by[0]], []).append(cell)
        report.subtotals = {value: {by[0]: value, "cells": _merge_cells(group)} for value, group in first.items()}
        enterprises |= {key: n for key, n in _count_enterprises(by[:1], filters, columns).items() if key}
        rows += [(row, ("subtotal", value)) for value, row in report.subtotals.items()]
    _add_statistics(rows, enterprises, targets, method, confidence)
    return report


def _add_statistics(rows: list[tuple[dict, tuple]], enterprises: dict, targets: dict, method: str,
                    confidence: float) -> None:
    """Replace each row's ``cells`` by its counts and statistics (one vectorised pass)."""
    cells = [row["cells"] for row, _ in rows]
    estimates = stats.estimate_rates(
        [sum(c["passed"] for c in group) for group in cells],
        [sum(c["tested"] for c in group) for group in cells],
        [_row_target(group, targets) for group in cells],
        method,
        confidence,
    )
    for (row, key), estimate in zip(rows, estimates, strict=True):
        group = row.pop("cells")
        if key and key[0] == "subtotal":
            key = key[1:]
        row.update(_row_values(
            estimate,
            pending=sum(c["pending"] for c in group),
            refused=sum(c["refused"] for c in group),
            enterprises=enterprises.get(key, 0),
        ))


def _merge_cells(cells: list[dict]) -> list[dict]:
    """The total's cells: the counts per (plan level, category group) over every row."""
    merged: dict[tuple, dict] = {}
    for cell in cells:
        into = merged.setdefault((cell["_level"], cell["_group"]), {
            "_level": cell["_level"], "_group": cell["_group"], "tested": 0, "pending": 0, "passed": 0, "refused": 0})
        for name in ("tested", "pending", "passed", "refused"):
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


def weighted_plan_ids() -> list[int]:
    """Plans that drew with risk weights or per-grade ratios (their samples over-represent risk)."""
    plans = db.session.execute(select(Plan.id, Plan.risk_weighting, Plan.grade_ratios))
    return [plan_id for plan_id, risk, ratios in plans if risk or ratios]


def unit_kind(stage):
    """The sampled unit's kind (ENTERPRISE_KINDS): the one the sample's ``stage`` draws
    (STAGE_KINDS) when the enterprise is of it, else the enterprise's first kind."""
    by_stage = [((stage == name) & Enterprise.of_kind(kind), kind) for name, kind in STAGE_KINDS.items()]
    return case(*by_stage, *[(Enterprise.of_kind(k), k) for k in ENTERPRISE_KINDS])


def _columns() -> dict:
    """GROUP_COLUMNS with the columns built per report."""
    return {**GROUP_COLUMNS, "weighted": _weighted_column(), "unit_kind": unit_kind(Sample.stage)}


def _weighted_column():
    """True for a sample of a weighted plan; imported history and routine draws are not weighted."""
    return case((Sample.plan_id.in_(weighted_plan_ids()), True), else_=False)


# A sample counts once its result was notified (imported history: final), with its latest
# verdict; it is pending until final. Refusals are counted beside, never in the rate.
COUNTED = (
    Sample.verdict.is_not(None)
    & (Sample.status != REFUSED)
    & (Sample.notified_at.is_not(None) | Sample.final_at.is_not(None))
)
REFUSED_SAMPLE = Sample.status == REFUSED


def _count_cells(by: list[str], filters: dict, columns: dict) -> list[dict]:
    """The counts per (group keys, plan level, category group), aggregated in the database.

    Two levels, both ``GROUP BY`` in SQL: the inner one scans the samples once, grouping by
    integer ids and short columns (category id, plan level, the sample's and enterprise's
    keys); the outer one joins the few resulting groups to categories (and enterprises) for
    codes, names and the category group. Grouping the big scan by ids rather than names is
    what keeps the report close to a bare count.
    """
    inner_keys = [columns[key].label(key) for key in by if key in INNER_KEYS]
    if "enterprise" in by:
        inner_keys.append(Sample.enterprise_id.label("enterprise_id"))
    inner = (
        select(
            *inner_keys,
            Sample.category_id.label("category_id"),
            Sample.level.label("_level"),
            func.sum(case((COUNTED, 1), else_=0)).label("tested"),
            func.sum(case((COUNTED & Sample.final_at.is_(None), 1), else_=0)).label("pending"),
            func.sum(case((COUNTED & (Sample.verdict == PASS), 1), else_=0)).label("passed"),
            func.sum(case((REFUSED_SAMPLE, 1), else_=0)).label("refused"),
        )
        .where(COUNTED | REFUSED_SAMPLE)
        .group_by(*[c.element for c in inner_keys], Sample.category_id, Sample.level)
    )
    if ENTERPRISE_KEYS & (set(by) | set(filters)):
        inner = inner.join(Enterprise, Enterprise.id == Sample.enterprise_id)
    inner = _apply_filters(inner, filters, INNER_FILTERS, columns).subquery("cells")

    outer_keys = []
    for key in by:
        if key in INNER_KEYS:
            outer_keys.append(inner.c[key].label(key))
        else:
            outer_keys.append(columns[key].label(key))
        if key in LABEL_COLUMNS:
            name, column = LABEL_COLUMNS[key]
            outer_keys.append(column.label(name))
    total = [cast(func.sum(inner.c[name]), BigInteger).label(name)  # not a NUMERIC on PostgreSQL
             for name in ("tested", "pending", "passed", "refused")]
    stmt = (
        select(*outer_keys, inner.c._level, Category.group.label("_group"), *total)
        .select_from(inner)
        .join(Category, Category.id == inner.c.category_id)
        .group_by(*[c.element for c in outer_keys], inner.c._level, Category.group)
    )
    if "enterprise" in by:
        stmt = stmt.join(Enterprise, Enterprise.id == inner.c.enterprise_id)
    stmt = _apply_filters(stmt, filters, OUTER_FILTERS, columns)
    return [_plain_keys(row) for row in _rows(stmt)]


def _count_enterprises(by: list[str], filters: dict, columns: dict) -> dict:
    """Distinct enterprises with a counted sample: ``{key tuple: n}`` per row, ``{None: n}`` the total.

    Not derivable from the cells (one enterprise may be in several), so counted apart.
    """
    counts: dict = {None: _distinct_enterprises([], filters, columns).get((), 0)}
    if by:
        counts.update(_distinct_enterprises(by, filters, columns))
    return counts


def _distinct_enterprises(by: list[str], filters: dict, columns: dict) -> dict[tuple, int]:
    """The scan keeps distinct (sample keys, category id, enterprise id) only; the joins for
    names, regions and groups are made on those few tuples, as ``_count_cells`` does."""
    wanted = set(by) | set(filters)
    picked = [columns[key].label(key) for key in by if key in SAMPLE_KEYS]
    picked.append(Sample.enterprise_id.label("enterprise_id"))
    if CATEGORY_KEYS & wanted:
        picked.append(Sample.category_id.label("category_id"))
    if "unit_kind" in by:
        picked.append(Sample.stage.label("_stage"))
    scan = _apply_filters(select(*picked).where(COUNTED).distinct(), filters, SAMPLE_FILTERS, columns)
    pairs = scan.subquery("pairs")
    if "unit_kind" in by:
        columns = {**columns, "unit_kind": unit_kind(pairs.c._stage)}
    keys = [pairs.c[key].label(key) if key in SAMPLE_KEYS else columns[key].label(key) for key in by]
    # DISTINCT then count(*): hashable on every database, unlike a sorted count(DISTINCT) per group
    each = select(*keys, pairs.c.enterprise_id).select_from(pairs).distinct()
    if CATEGORY_KEYS & wanted:
        each = each.join(Category, Category.id == pairs.c.category_id)
    if ENTERPRISE_KEYS & wanted:
        each = each.join(Enterprise, Enterprise.id == pairs.c.enterprise_id)
    each = _apply_filters(each, filters, OUTER_FILTERS + ENTERPRISE_FILTERS, columns).subquery("each")
    stmt = select(*[each.c[key] for key in by], func.count().label("n")).select_from(each)
    if by:
        stmt = stmt.group_by(*[each.c[key] for key in by])
    return {tuple(row[k] for k in by): row["n"] for row in map(_plain_keys, _rows(stmt))}


def _rows(stmt) -> list[dict]:
    result = db.session.connection().execute(stmt)  # Core: plain rows, no ORM layer
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]


def _plain_keys(row: dict) -> dict:
    """``weighted`` as a bool on every database (SQLite answers 0/1)."""
    if "weighted" in row:
        row["weighted"] = bool(row["weighted"])
    return row


def _apply_filters(stmt, filters: dict, keys: tuple, columns: dict):
    """Add the WHERE clauses of the filters that belong to this level of the query."""
    for key, values in filters.items():
        if key not in keys:
            continue
        if key == "period_from":
            stmt = stmt.where(Sample.period >= values)
        elif key == "period_to":
            stmt = stmt.where(Sample.period <= values)
        else:
            values = [values] if isinstance(values, str | bool) else list(values)
            stmt = stmt.where(columns[key].in_(values))
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


def _row_values(estimate: stats.RateEstimate, pending: int, refused: int, enterprises: int) -> dict:
    return {
        "tested": estimate.tested,
        "pending": int(pending),
        "passed": estimate.passed,
        "failed": estimate.tested - estimate.passed,
        "refused": int(refused),
        "enterprises": int(enterprises),
        "pass_rate": estimate.pass_rate,
        "ci_low": estimate.ci_low,
        "ci_high": estimate.ci_high,
        "target": estimate.target,
        "status": estimate.status,
        "significance": estimate.significance,
        "p_below": estimate.p_below,
        "p_above": estimate.p_above,
        "provisional": pending > 0,
    }


# --- answers kept while the data is unchanged (issue 15) ----------------------------------------


class AnswerCache:
    """Reports, downloads and pages kept per process while ``data_stamp()`` is unchanged.

    Ended quarters change only by late results, supplements and corrections, and each of
    those moves the stamp (``services.stamp``): a request after any write recomputes, in every
    worker, with no TTL to wait out. The stamp is read before the answer is made, so a write
    racing a request can only make the next request recompute, never keep an old answer under a
    new stamp.
    """

    MAX_ENTRIES = 256  # bounded: keys come from query strings

    def __init__(self):
        self._entries: dict = {}
        self._lock = threading.Lock()

    def get_or_make(self, key, make: Callable, stamp: tuple | None = None):
        """The answer for ``key`` made at the current stamp, or ``make()`` (then kept). ``stamp``:
        the stamp as read earlier in the same request, before anything was made."""
        if not current_app.config["REPORTS_CACHE"]:
            return make()
        stamp = stamp if stamp is not None else data_stamp()
        hit = self._entries.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        value = make()
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (stamp, value)
        return value


def answer_cache() -> AnswerCache:
    """This app's cache of report answers."""
    return current_app.extensions.setdefault("pass_rate_answers", AnswerCache())


def report_key(kind: str, by, filters: dict, *options) -> tuple:
    """A hashable key for one report answer (``kind``: what is kept, e.g. "json" or "csv")."""
    frozen = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in filters.items()))
    return (kind, tuple(parse_by(by)), frozen, *options)


# --- trend and periods ------------------------------------------------------------------------


def periods_with_data() -> list[str]:
    """Every period that has a counted result or a refusal, oldest first."""
    stmt = select(Sample.period).where(COUNTED | REFUSED_SAMPLE).group_by(Sample.period).order_by(Sample.period)
    return list(db.session.scalars(stmt))


def _trend(report: PassRateReport, by: list[str]) -> dict:
    trend: dict[tuple, list[dict]] = {}
    for row in report.rows:
        trend.setdefault(tuple(row[k] for k in by), []).append(row)
    return trend


# The public page's headline: routine checks drawn without risk weights or per-grade ratios,
# the only ones whose rate estimates the whole market (DESIGN.md "Pass rates").
HEADLINE_FILTERS = {"kind": ["routine"], "weighted": [False]}


def pass_rate_page(period: str | None, level: str | None, today: date, every_check: bool = False) -> dict:
    """What the public page shows, from one scan: per period and category, the chosen period's rows.

    ``period`` None: the last ended quarter with data on ``today`` (the last ended quarter
    when none has). The rows are of routine unweighted checks unless ``every_check``; the
    other checks of the period are given apart, by kind and weighting (``apart``).
    """
    periods = periods_with_data()
    if period is None:
        ended = previous_period(period_of(today))
        period = max((p for p in periods if p <= ended), default=ended)
    filters = {"level": [level]} if level else {}
    scope = filters if every_check else {**filters, **HEADLINE_FILTERS}
    table = pass_rate_table(["period", "category"], scope, subtotals=True)
    trend = _trend(table, ["category"])
    overview = {
        "rows": [row for row in table.rows if row["period"] == period],
        "total": table.subtotals.get(period),
    }
    apart = None if every_check else pass_rate_table(["kind", "weighted"], {**filters, "period": [period]})
    return {"periods": periods, "period": period, "overview": overview if overview["total"] else None,
            "apart": apart, "trend": trend}


# --- exports -----------------------------------------------------------------------------------


def report_frame(report: PassRateReport, cell: Callable[[str], str] = str):
    """The report as a pandas DataFrame: the rows, then the total row (first key column "total").

    ``cell`` rewrites every text cell (the exports pass the one that neutralises formulas).
    """
    import pandas as pd

    columns = report.columns
    total = {**{c: None for c in columns}, **report.total}
    if report.by:
        total[report.by[0]] = TOTAL_LABEL
    else:
        columns = ["row", *columns]
        total["row"] = TOTAL_LABEL
    rows = [{c: cell(v) if isinstance(v, str) else v for c, v in row.items()} for row in [*report.rows, total]]
    return pd.DataFrame(rows, columns=columns)


def report_dict(report: PassRateReport) -> dict:
    """The report as plain data (for JSON)."""
    return asdict(report)


def report_file(report: PassRateReport, fmt: str, cell: Callable[[str], str]) -> bytes:
    """The report as a ``csv`` or ``xlsx`` file, every text cell passed through ``cell``."""
    return report_csv(report, cell) if fmt == "csv" else report_xlsx(report, cell)


def pass_rate_download(by, filters: dict, method: str, confidence: float, fmt: str,
                       cell: Callable[[str], str]) -> bytes:
    """The pass-rate report as a ``csv`` or ``xlsx`` file (see ``report_file``), cached like the report."""
    key = report_key(fmt, by, filters, method, confidence, cell.__qualname__)
    return answer_cache().get_or_make(
        key, lambda: report_file(pass_rate_table(by, filters, method, confidence), fmt, cell))


def report_csv(report: PassRateReport, cell: Callable[[str], str]) -> bytes:
    """CSV, UTF-8 with a byte-order mark so spreadsheet programs read the Chinese names."""
    return report_frame(report, cell).to_csv(index=False).encode("utf-8-sig")


def report_xlsx(report: PassRateReport, cell: Callable[[str], str]) -> bytes:
    """An XLSX workbook with one sheet of the rows and the total row."""
    buffer = io.BytesIO()
    report_frame(report, cell).to_excel(buffer, index=False, sheet_name="pass_rates", engine="openpyxl")
    return buffer.getvalue()
