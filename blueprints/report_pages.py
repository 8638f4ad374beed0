"""Public page ``/reports``: pass rates per category against their targets, with trend charts.

The headline is the routine checks drawn without weights (the only ones that estimate the
whole market); the other checks of the period are shown apart. The charts are SVG drawn on
the server (no script, no CDN), all on one y scale: each quarter's pass rate as a point
(joined across neighbouring quarters, dashed across quarters without data), its 95%
confidence band and the target line. Every name goes through Jinja's autoescaping.
"""

import math
from dataclasses import dataclass, field

from flask import Blueprint, render_template, request

from auth import SUPERVISOR, current_principal
from blueprints.public_pages import QUARTER_NAMES, period_cn
from sampling import stats
from sampling.credit import PERIOD_RE
from sampling.enums import LABELS, PLAN_LEVELS
from sampling.errors import InvalidInput
from services import calendar, coverage, reports

blp = Blueprint("report_pages", __name__)


# Chart geometry, in SVG user units: narrow enough that text stays readable on a 390 px phone.
WIDTH, HEIGHT = 480, 250
LEFT, RIGHT, TOP, BOTTOM = 44, 28, 12, 44  # RIGHT: half of the last quarter label "第四季度"
HEADROOM = 8  # above 100%, so a point at 100% is drawn whole
MAX_QUARTERS = 12  # the charts show the last three years at most
MAX_X_LABELS = 6


@dataclass
class TrendChart:
    """Coordinates of one trend chart, ready for the template to draw."""

    width: int = WIDTH
    height: int = HEIGHT
    x_ticks: list = field(default_factory=list)  # (x, year label, quarter label)
    y_ticks: list = field(default_factory=list)  # (y, label)
    band: str = ""  # polygon points of the confidence band over the quarters with data
    whiskers: list = field(default_factory=list)  # (x, y_high, y_low): a lone quarter's interval
    rate_lines: list = field(default_factory=list)  # polyline points, one per run of neighbouring quarters
    gap_lines: list = field(default_factory=list)  # dashed polyline points across quarters without data
    points: list = field(default_factory=list)  # (x, y, tooltip)
    target_line: str = ""
    plot: tuple = (LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM)

    @property
    def legend(self) -> list[tuple[str, str]]:
        """What this chart draws, and only that: (mark, label)."""
        items = [("point", "合格率")]
        if self.rate_lines or self.gap_lines:
            items.append(("line", "相邻季度连线" + ("（虚线：中间季度无数据）" if self.gap_lines else "")))
        if self.band:
            items.append(("band", "95% 置信区间"))
        if self.whiskers:
            items.append(("whisker", "95% 置信区间（单个季度）"))
        if self.target_line:
            items.append(("target", "目标合格率"))
        return items


@dataclass(frozen=True)
class YScale:
    """The one y scale every chart shares: from ``floor`` to 100%, ticks every ``step``."""

    floor: float
    step: float

    @property
    def ticks(self) -> list[float]:
        n = round((1 - self.floor) / self.step)
        return [round(self.floor + i * self.step, 4) for i in range(n + 1)]


def shared_scale(rows) -> YScale:
    """A y scale for every chart: down to the lowest interval or target, in whole 5% or 10% steps."""
    values = [v for r in rows for v in (r["ci_low"], r["target"]) if v is not None]
    low = min([*values, 0.9])
    step = 0.05 if low >= 0.6 else 0.1
    floor = max(0.0, math.floor((low - 0.01) / step) * step)
    return YScale(round(floor, 4), step)


class PageError(Exception):
    """A bad query argument on the page: answered as a Chinese error page."""


def _query(args) -> tuple[str | None, str | None, bool]:
    period = args.get("period", "").strip() or None
    if period is not None and not PERIOD_RE.match(period):
        raise PageError("期次格式不正确：应为“年份+季度”，例如 2026Q3 表示 2026年第三季度。")
    level = args.get("level", "").strip() or None
    if level is not None and level not in PLAN_LEVELS:
        raise PageError("抽查层级不正确：应为国家级、省级或市级。")
    return period, level, args.get("scope") == "all"


@blp.get("/reports")
def reports_page():
    """Pass rates of one period per category, and each category's trend against its target."""
    try:
        period, level, every_check = _query(request.args)
    except PageError as error:
        page = render_template("error.html", code=422, title="查询条件有误", explanation=str(error))
        return page, 422
    today = calendar.today()
    # kept encoded: a repeat sends the bytes, without encoding the page again
    return reports.answer_cache().get_or_make(
        ("page", period, level, every_check, today), lambda: _render(period, level, every_check, today).encode())


def _render(period: str | None, level: str | None, every_check: bool, today) -> str:
    page = reports.pass_rate_page(period, level, today, every_check)
    trend = page["trend"]
    axis = quarters_between([row["period"] for rows in trend.values() for row in rows])[-MAX_QUARTERS:]
    shown = [[r for r in rows if r["period"] in axis] for rows in trend.values()]
    scale = shared_scale([r for rows in shown for r in rows])
    sections = [_section(key, rows, axis, scale) for key, rows in sorted(trend.items(), key=lambda item: item[0])]
    return render_template(
        "reports.html",
        period=page["period"],
        periods=page["periods"],
        level=level,
        every_check=every_check,
        levels=LABELS["level"],
        kinds=LABELS["kind"],
        overview=page["overview"],
        apart=[r for r in page["apart"].rows if r["tested"] or r["refused"]] if page["apart"] else [],
        sections=sections,
        judgement=judgement,
    )


def _error_page(code: int, title: str, explanation: str):
    return render_template("error.html", code=code, title=title, explanation=explanation), code


@blp.get("/coverage")
def coverage_page():
    """Supervisors' page: key-product coverage per category and region, with the producers still due."""
    user = current_principal()
    if user is None:
        return _error_page(401, "需要登录", "重点产品抽查覆盖情况仅供监管人员查看，请携带监管人员令牌访问。")
    if user.role not in SUPERVISOR:
        return _error_page(403, "无权查看", "重点产品抽查覆盖情况仅供监管人员查看。")
    years = request.args.get("years", "").strip()
    if years and not (years.isdigit() and 1 <= int(years) <= 50):
        return _error_page(422, "查询条件有误", "年限应为 1 至 50 之间的整数。")
    category = request.args.get("category", "").strip() or None
    region = request.args.get("region", "").strip() or None
    try:
        report = coverage.coverage_report(calendar.today(), int(years) if years else None, category, region)
    except InvalidInput:
        return _error_page(422, "查询条件有误", f"“{category}”不是重点监管产品类别。")
    return render_template("coverage.html", report=report, category=category or "", region=region or "")


def judgement(row: dict) -> tuple[str, str]:
    """The row's status in words, never a bare 未达标 when the sample cannot tell: (css class, text)."""
    status, significance = row["status"], row.get("significance")
    if status == stats.STATUS_NO_DATA:
        return "no-data", "无检验数据"
    if status == stats.STATUS_BELOW:
        if significance == stats.SIGNIFICANTLY_BELOW:
            return "below", "未达标（显著低于目标）"
        return "below-unsure", "低于目标，但差异不显著"
    if significance == stats.SIGNIFICANTLY_ABOVE:
        return "met", "达标（显著高于目标）"
    return "met", "达标"


def quarters_between(periods: list[str]) -> list[str]:
    """Every quarter from the first to the last of ``periods`` (``YYYYQn``), in order."""
    if not periods:
        return []
    first, last = min(periods), max(periods)
    year, quarter = int(first[:4]), int(first[5])
    axis = []
    while f"{year}Q{quarter}" <= last:
        axis.append(f"{year}Q{quarter}")
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    return axis


def _section(key: tuple, rows: list[dict], axis: list[str], scale: YScale) -> dict:
    latest = rows[-1]
    return {
        "code": key[0],
        "name": latest.get("category_name"),
        "target": latest["target"],
        "rows": rows,
        "chart": trend_chart([r for r in rows if r["period"] in axis], axis, scale),
    }


def _join_points(chart: TrendChart, points: list[tuple[int, float, float]]) -> None:
    """Solid lines through runs of neighbouring quarters, a dashed one across each gap."""
    run = []
    for (i, x, y), following in zip(points, [*points[1:], None], strict=True):
        run.append(f"{x},{y}")
        if following is not None and following[0] == i + 1:
            continue
        if len(run) > 1:
            chart.rate_lines.append(" ".join(run))
        run = []
        if following is not None:
            chart.gap_lines.append(f"{x},{y} {following[1]},{following[2]}")


def trend_chart(rows: list[dict], axis: list[str], scale: YScale | None = None) -> TrendChart:
    """Lay out one category's periods on the quarter ``axis``: rate, interval band, target line.

    Neighbouring quarters are joined by a solid line, quarters with none tested between them
    by a dashed one; the band spans every quarter with data. ``scale`` is the y scale shared
    by all the page's charts (this chart's own when not given).
    """
    chart = TrendChart()
    scale = scale or shared_scale(rows)
    x0, y0, x1, y1 = chart.plot
    top = y0 + HEADROOM
    step = (x1 - x0) / max(len(axis) - 1, 1)
    position = {period: i for i, period in enumerate(axis)}

    def x_of(i):
        return round(x0 + (step * i if len(axis) > 1 else (x1 - x0) / 2), 1)

    def y_of(value):
        return round(y1 - (value - scale.floor) / (1 - scale.floor) * (y1 - top), 1)

    every = max(1, math.ceil(len(axis) / MAX_X_LABELS))
    chart.x_ticks = [(x_of(i), f"{p[:4]}年", QUARTER_NAMES[p[-1]])
                     for i, p in enumerate(axis) if (len(axis) - 1 - i) % every == 0]
    chart.y_ticks = [(y_of(v), f"{v * 100:.0f}%") for v in scale.ticks]

    tested = [(position[r["period"]], r) for r in rows if r["tested"]]
    for i, r in tested:
        tip = f"{period_cn(r['period'])} 合格率 {r['pass_rate'] * 100:.1f}%（{r['passed']}/{r['tested']}）"
        chart.points.append((x_of(i), y_of(r["pass_rate"]), tip))
    _join_points(chart, [(i, x_of(i), y_of(r["pass_rate"])) for i, r in tested])
    if len(tested) > 1:
        upper = [f"{x_of(i)},{y_of(r['ci_high'])}" for i, r in tested]
        lower = [f"{x_of(i)},{y_of(r['ci_low'])}" for i, r in reversed(tested)]
        chart.band = " ".join(upper + lower)
    elif tested:
        (i, r), = tested
        chart.whiskers.append((x_of(i), y_of(r["ci_high"]), y_of(r["ci_low"])))
    targets = [(position[r["period"]], r["target"]) for r in rows if r["target"] is not None]
    if len({t for _, t in targets}) == 1:  # one target throughout: across the whole chart
        left, right = (x0, x1) if len(axis) == 1 else (x_of(0), x_of(len(axis) - 1))
        chart.target_line = f"{left},{y_of(targets[0][1])} {right},{y_of(targets[0][1])}"
    else:
        chart.target_line = " ".join(f"{x_of(i)},{y_of(t)}" for i, t in targets)
    return chart
