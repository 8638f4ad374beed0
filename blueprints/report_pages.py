"""Public page ``/reports``: pass rates per category against their targets, with trend charts.

The charts are SVG drawn on the server (no script, no CDN): the pass rate per period, its
confidence band and the target line. Every name goes through Jinja's autoescaping.
"""

import re
from dataclasses import dataclass, field

from flask import Blueprint, render_template, request

from models.plans import LEVELS
from sampling import stats
from services import reports

blp = Blueprint("report_pages", __name__)

PERIOD_RE = re.compile(r"^\d{4}Q[1-4]$")
STATUS_LABELS = {
    stats.STATUS_MET: "达标",
    stats.STATUS_BELOW: "未达标",
    stats.STATUS_INCONCLUSIVE: "尚无定论",
    stats.STATUS_NO_DATA: "无数据",
}
LEVEL_LABELS = {"national": "国家级", "provincial": "省级", "municipal": "市级"}

# Chart geometry, in SVG user units.
WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 36


@dataclass
class TrendChart:
    """Coordinates of one trend chart, ready for the template to draw."""

    width: int = WIDTH
    height: int = HEIGHT
    x_ticks: list = field(default_factory=list)  # (x, label)
    y_ticks: list = field(default_factory=list)  # (y, label)
    band: str = ""  # polygon points of the confidence band
    rate_lines: list = field(default_factory=list)  # polyline points, one per unbroken run
    points: list = field(default_factory=list)  # (x, y, tooltip)
    target_line: str = ""
    plot: tuple = (LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM)


@blp.get("/reports")
def reports_page():
    """Pass rates of one period per category, and each category's trend against its target."""
    periods = reports.periods_with_data()
    period = request.args.get("period", "")
    if not PERIOD_RE.match(period):
        period = periods[-1] if periods else None
    level = request.args.get("level") if request.args.get("level") in LEVELS else None
    level_filter = {"level": [level]} if level else {}
    overview = reports.pass_rate_table(["category"], {**level_filter, "period": [period]} if period else level_filter)
    trend = reports.pass_rate_trend(["category"], level_filter)
    sections = [_section(key, rows) for key, rows in sorted(trend.items(), key=lambda item: item[0])]
    return render_template(
        "reports.html",
        period=period,
        periods=periods,
        level=level,
        levels=LEVEL_LABELS,
        overview=overview if period else None,
        sections=sections,
        status_labels=STATUS_LABELS,
    )


def _section(key: tuple, rows: list[dict]) -> dict:
    latest = rows[-1]
    return {
        "code": key[0],
        "name": latest.get("category_name"),
        "target": latest["target"],
        "rows": rows,
        "chart": trend_chart(rows),
    }


def trend_chart(rows: list[dict]) -> TrendChart:
    """Lay out one category's periods: the rate, its interval band and the target line."""
    chart = TrendChart()
    x0, y0, x1, y1 = chart.plot
    values = [v for r in rows for v in (r["ci_low"], r["target"]) if v is not None]
    floor = max(0.0, min([*values, 0.9]) - 0.02)
    floor = int(floor * 20) / 20  # round down to 5 points
    step = (x1 - x0) / max(len(rows) - 1, 1)

    def x_of(i):
        return round(x0 + (step * i if len(rows) > 1 else (x1 - x0) / 2), 1)

    def y_of(value):
        return round(y1 - (value - floor) / (1 - floor) * (y1 - y0), 1)

    chart.x_ticks = [(x_of(i), r["period"]) for i, r in enumerate(rows)]
    ticks = [floor + (1 - floor) * i / 4 for i in range(5)]
    chart.y_ticks = [(y_of(v), f"{v * 100:.0f}%" if (v * 100) % 1 < 1e-9 else f"{v * 100:.1f}%") for v in ticks]

    measured = [(i, r) for i, r in enumerate(rows) if r["tested"]]
    if measured:
        upper = [f"{x_of(i)},{y_of(r['ci_high'])}" for i, r in measured]
        lower = [f"{x_of(i)},{y_of(r['ci_low'])}" for i, r in reversed(measured)]
        chart.band = " ".join(upper + lower)
    run: list[str] = []
    for i, r in enumerate(rows):
        if r["tested"]:
            run.append(f"{x_of(i)},{y_of(r['pass_rate'])}")
            tip = f"{r['period']} 合格率 {r['pass_rate'] * 100:.1f}%（{r['passed']}/{r['tested']}）"
            chart.points.append((x_of(i), y_of(r["pass_rate"]), tip))
        elif run:
            chart.rate_lines.append(" ".join(run))
            run = []
    if run:
        chart.rate_lines.append(" ".join(run))
    targets = [(i, r["target"]) for i, r in enumerate(rows) if r["target"] is not None]
    if len(targets) == 1:
        chart.target_line = f"{x0},{y_of(targets[0][1])} {x1},{y_of(targets[0][1])}"
    else:
        chart.target_line = " ".join(f"{x_of(i)},{y_of(t)}" for i, t in targets)
    return chart
