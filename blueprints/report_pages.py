"""Public page ``/reports``: pass rates per category against their targets, with trend charts.

The charts are SVG drawn on the server (no script, no CDN): the pass rate per period, its
confidence band and the target line. Every name goes through Jinja's autoescaping.
"""

from dataclasses import dataclass, field

from flask import Blueprint, render_template, request

from sampling import stats
from sampling.credit import PERIOD_RE
from sampling.enums import PLAN_LEVELS
from services import reports

blp = Blueprint("report_pages", __name__)

STATUS_LABELS = {
    stats.STATUS_MET: "达标",
    stats.STATUS_BELOW: "未达标",
    stats.STATUS_INCONCLUSIVE: "尚无定论",
    stats.STATUS_NO_DATA: "无数据",
}
LEVEL_LABELS = {"national": "国家级", "provincial": "省级", "municipal": "市级"}

# Chart geometry, in SVG user units.
WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 24, 16, 36
MAX_QUARTERS = 16  # the charts show the last four years at most


@dataclass
class TrendChart:
    """Coordinates of one trend chart, ready for the template to draw."""

    width: int = WIDTH
    height: int = HEIGHT
    x_ticks: list = field(default_factory=list)  # (x, label)
    y_ticks: list = field(default_factory=list)  # (y, label)
    bands: list = field(default_factory=list)  # polygon points of the confidence band, per run
    rate_lines: list = field(default_factory=list)  # polyline points, one per unbroken run
    points: list = field(default_factory=list)  # (x, y, tooltip)
    target_line: str = ""
    plot: tuple = (LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM)


@blp.get("/reports")
def reports_page():
    """Pass rates of one period per category, and each category's trend against its target."""
    period = request.args.get("period", "")
    level = request.args.get("level") if request.args.get("level") in PLAN_LEVELS else None
    page = reports.pass_rate_page(period if PERIOD_RE.match(period) else None, level)
    trend = page["trend"]
    axis = quarters_between([row["period"] for rows in trend.values() for row in rows])[-MAX_QUARTERS:]
    sections = [_section(key, rows, axis) for key, rows in sorted(trend.items(), key=lambda item: item[0])]
    return render_template(
        "reports.html",
        period=page["period"],
        periods=page["periods"],
        level=level,
        levels=LEVEL_LABELS,
        overview=page["overview"],
        sections=sections,
        status_labels=STATUS_LABELS,
    )


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


def _section(key: tuple, rows: list[dict], axis: list[str]) -> dict:
    latest = rows[-1]
    return {
        "code": key[0],
        "name": latest.get("category_name"),
        "target": latest["target"],
        "rows": rows,
        "chart": trend_chart([r for r in rows if r["period"] in axis], axis),
    }


def trend_chart(rows: list[dict], axis: list[str]) -> TrendChart:
    """Lay out one category's periods on the quarter ``axis``: rate, interval band, target line.

    A quarter without a tested sample breaks the rate line (and the band) rather than
    bridging it.
    """
    chart = TrendChart()
    x0, y0, x1, y1 = chart.plot
    values = [v for r in rows for v in (r["ci_low"], r["target"]) if v is not None]
    floor = max(0.0, min([*values, 0.9]) - 0.02)
    floor = int(floor * 20) / 20  # round down to 5 points
    step = (x1 - x0) / max(len(axis) - 1, 1)
    position = {period: i for i, period in enumerate(axis)}

    def x_of(i):
        return round(x0 + (step * i if len(axis) > 1 else (x1 - x0) / 2), 1)

    def y_of(value):
        return round(y1 - (value - floor) / (1 - floor) * (y1 - y0), 1)

    every = max(1, (len(axis) + 11) // 12)  # at most about a dozen labels
    chart.x_ticks = [(x_of(i), period) for i, period in enumerate(axis) if i % every == 0 or i == len(axis) - 1]
    ticks = [floor + (1 - floor) * i / 4 for i in range(5)]
    chart.y_ticks = [(y_of(v), f"{v * 100:.0f}%" if (v * 100) % 1 < 1e-9 else f"{v * 100:.1f}%") for v in ticks]

    runs, run, previous = [], [], None
    for r in rows:
        i = position[r["period"]]
        if not r["tested"]:
            continue
        if previous is not None and i != previous + 1 and run:
            runs.append(run)
            run = []
        run.append((i, r))
        previous = i
        tip = f"{r['period']} 合格率 {r['pass_rate'] * 100:.1f}%（{r['passed']}/{r['tested']}）"
        chart.points.append((x_of(i), y_of(r["pass_rate"]), tip))
    if run:
        runs.append(run)
    for run in runs:
        chart.rate_lines.append(" ".join(f"{x_of(i)},{y_of(r['pass_rate'])}" for i, r in run))
        edges = [(x_of(i), r) for i, r in run]
        if len(edges) == 1:  # a lone quarter: its interval as a narrow bar
            (x, r), = edges
            edges = [(x - 4, r), (x + 4, r)]
        upper = [f"{x},{y_of(r['ci_high'])}" for x, r in edges]
        lower = [f"{x},{y_of(r['ci_low'])}" for x, r in reversed(edges)]
        chart.bands.append(" ".join(upper + lower))
    targets = [(position[r["period"]], r["target"]) for r in rows if r["target"] is not None]
    if len({t for _, t in targets}) == 1:  # one target throughout: across the whole chart
        left, right = (x0, x1) if len(axis) == 1 else (x_of(0), x_of(len(axis) - 1))
        chart.target_line = f"{left},{y_of(targets[0][1])} {right},{y_of(targets[0][1])}"
    else:
        chart.target_line = " ".join(f"{x_of(i)},{y_of(t)}" for i, t in targets)
    return chart
