"""Public pages of the 一公开 (Chinese, readable on a phone, no script): plans, results,
enterprise lookup and the check catalogue, plus the template filters every public page uses.

The pages read the same service as the open data (``services.public``); Jinja autoescapes
every value and nothing here marks text safe.
"""

from datetime import date, datetime
from urllib.parse import urlencode

from flask import Blueprint, abort, render_template, request
from marshmallow import ValidationError

from blueprints.answer_cache import kept_for
from blueprints.public import (
    PublicEnterpriseQuerySchema,
    PublicPlanQuerySchema,
    PublicResultQuerySchema,
    result_filters,
)
from sampling.credit import PERIOD_RE
from sampling.enums import LABELS
from services import calendar, public

blp = kept_for(Blueprint("public_pages", __name__))

PAGE_SIZE = 20
QUARTER_NAMES = {"1": "第一季度", "2": "第二季度", "3": "第三季度", "4": "第四季度"}
FILTER_NAMES = {  # what a refused filter is called on the page
    "period": "期次（写作 2026Q3）", "level": "抽查层级", "kind": "抽查类型", "stage": "抽样环节",
    "category": "产品类别", "region": "区域", "verdict": "结论", "from": "起始日期（写作 2026-07-01）",
    "to": "截止日期（不早于起始日期）", "plan_id": "抽查计划", "q": "关键词（不超过 100 字）",
}


# --- filters every public template may use ------------------------------------------------


@blp.app_template_filter("period_cn")
def period_cn(period: str | None) -> str:
    """``2026Q3`` as people write it: 2026年第三季度."""
    if not period or not PERIOD_RE.match(period):
        return period or ""
    return f"{period[:4]}年{QUARTER_NAMES[period[-1]]}"


@blp.app_template_filter("label")
def label(value, vocabulary: str) -> str:
    """The Chinese name of a vocabulary word (``{{ plan.level|label('level') }}``)."""
    if value is None:
        return ""
    return LABELS.get(vocabulary, {}).get(value, value)


@blp.app_template_filter("local_day")
def local_day(value) -> str:
    """A date, or a timestamp's date in the regulator's time zone, as 2026-11-03."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = calendar.local_date(value)
    return value.isoformat() if isinstance(value, date) else str(value)


@blp.app_template_filter("local_time")
def local_time(value: datetime | None) -> str:
    """A timestamp in the regulator's time zone, as 2026-11-03 09:30."""
    return calendar.local_time(value).strftime("%Y-%m-%d %H:%M") if value else ""


@blp.app_context_processor
def vocabulary() -> dict:
    """Every public template may name vocabulary words (``labels.level``) and refused filters."""
    return {"labels": LABELS, "filter_names": FILTER_NAMES}


@blp.app_template_global("page_url")
def page_url(page: int) -> str:
    """This page's URL with its query and another page number."""
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    args["page"] = page
    return f"{request.path}?{urlencode(args)}"


# --- pages -------------------------------------------------------------------------------


def page_number() -> int:
    """The ``page`` query argument (1 when absent or not a sensible number)."""
    value = request.args.get("page", "1")
    return int(value) if value.isdigit() and 0 < int(value) < 100_000 else 1


def parsed(schema, args) -> tuple[dict, dict]:
    """``(query, errors)``: the filled-in filters, or what is wrong with them."""
    cleaned = {k: v.strip() for k, v in args.items() if k != "page" and v.strip()}
    try:
        return schema.load(cleaned, unknown="exclude"), {}
    except ValidationError as error:
        return {}, error.messages


@blp.get("/plans")
def plans_page():
    """Plan announcements (抽查计划公告), newest first."""
    query, errors = parsed(PublicPlanQuerySchema(), request.args)
    page = page_number()
    total, plans = public.plan_announcements(query, (page - 1) * PAGE_SIZE, PAGE_SIZE)
    return render_template("plans.html", plans=plans, total=total, page=page, page_size=PAGE_SIZE,
                           errors=errors, args=request.args), 422 if errors else 200


@blp.get("/plans/<int:plan_id>")
def plan_page(plan_id):
    """One plan's announcement and its published results."""
    if not 0 < plan_id < 2**31:
        abort(404)
    page = page_number()
    plan, total, results = public.plan_with_results(plan_id, (page - 1) * PAGE_SIZE, PAGE_SIZE)
    return render_template("plan.html", plan=plan, results=results, total=total, page=page, page_size=PAGE_SIZE)


@blp.get("/results")
def results_page():
    """Results announcements (抽查结果公告) with filters."""
    query, errors = parsed(PublicResultQuerySchema(), request.args)
    page = page_number()
    total, results, choices = public.results_page(result_filters(query), (page - 1) * PAGE_SIZE, PAGE_SIZE)
    csv_url = "/api/v1/public/results.csv" + (f"?{urlencode(clean_args())}" if clean_args() else "")
    return render_template("results.html", results=results, total=total, page=page, page_size=PAGE_SIZE,
                           choices=choices, args=request.args, errors=errors, csv_url=csv_url), \
        422 if errors else 200


def clean_args() -> dict:
    """The filled-in query arguments, page excluded."""
    return {k: v for k, v in request.args.items() if k != "page" and v.strip()}


@blp.get("/enterprises")
def enterprises_page():
    """Enterprise lookup (企业质量信用查询) by name or credit code."""
    q = request.args.get("q", "").strip()
    page = page_number()
    query, errors = parsed(PublicEnterpriseQuerySchema(), {"q": q}) if q else ({}, {})
    total, found = public.find_enterprises(query["q"], (page - 1) * PAGE_SIZE, PAGE_SIZE) if query else (0, [])
    return render_template("enterprises.html", q=q, found=found, total=total, page=page, page_size=PAGE_SIZE,
                           errors=errors), 422 if errors else 200


@blp.get("/enterprises/<credit_code>")
def enterprise_page(credit_code):
    """One enterprise's grade, list entries, published results and follow-up, in one page."""
    if len(credit_code) != 18:
        abort(404)
    return render_template("enterprise.html", record=public.enterprise_record(credit_code, calendar.today()))


@blp.get("/catalogue")
def catalogue_page():
    """The check catalogue (抽查产品目录)."""
    return render_template("catalogue.html", categories=public.catalogue())
