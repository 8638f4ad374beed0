"""Pass-rate reports, the sample-size planner and the target table (API.md "Reports").

Aggregate reports and the planner are public, like the pass-rate pages; a report by
enterprise needs a staff token. The target table is public to read (the public page shows
it) and a supervisor's to change. ``GET /reports/overdue`` lives in ``blueprints/overdue.py``.
"""

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from auth import STAFF, SUPERVISOR, actor_name, current_principal, roles_required
from blueprints.answer_cache import kept_while_unchanged
from blueprints.common import PERIOD_PATTERN, Blueprint, period_field
from sampling import stats
from sampling.enums import CATEGORY_GROUPS, PLAN_KINDS, PLAN_LEVELS, SCALES, STAGES
from sampling.text import csv_cell
from services import calendar, coverage, reports

blp = Blueprint("reports", __name__, url_prefix="/api/v1", description="Pass rates against targets")

DEFAULT_BY = ["category"]
MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
OPEN_UNIT = {"min": 0, "max": 1, "min_inclusive": False, "max_inclusive": False}


class CommaList(fields.String):
    """A comma-separated query value (``by=category,region``) as a list, each item checked."""

    def __init__(self, choices=None, pattern=None, **kwargs):
        super().__init__(**kwargs)
        self.choices, self.pattern = choices, pattern

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError("must be a comma-separated string")
        items = list(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
        if self.choices is not None:
            bad = [v for v in items if v not in self.choices]
            if bad:
                raise ValidationError(f"unknown value(s) {', '.join(bad)}; allowed: {', '.join(self.choices)}")
        if self.pattern is not None:
            for item in items:
                validate.Regexp(self.pattern, error="period must be YYYYQn, e.g. 2026Q4")(item)
        return items


# Schemas.

class PassRateQuerySchema(Schema):
    by = CommaList(choices=reports.GROUP_KEYS, metadata={
        "description": f"grouping keys, comma-separated, any of: {', '.join(reports.GROUP_KEYS)} (default category)",
        "example": "category,region",
    })
    period = CommaList(pattern=PERIOD_PATTERN, metadata={"description": "one or more periods, e.g. 2026Q3,2026Q4"})
    period_from = period_field(metadata={"description": "first period of a trend (inclusive)"})
    period_to = period_field(metadata={"description": "last period of a trend (inclusive)"})
    level = CommaList(choices=PLAN_LEVELS)
    kind = CommaList(choices=PLAN_KINDS)
    weighted = fields.Boolean(metadata={
        "description": "true: only plans drawn with risk weights or per-grade ratios; false: only the others"})
    category = CommaList(metadata={"description": "category codes"})
    group = CommaList(choices=CATEGORY_GROUPS)
    region = CommaList()
    stage = CommaList(choices=STAGES)
    scale = CommaList(choices=SCALES)
    method = fields.String(load_default=stats.DEFAULT_METHOD, validate=validate.OneOf(stats.METHODS),
                           metadata={"description": "wilson (default) or exact (Clopper–Pearson)"})
    confidence = fields.Float(load_default=stats.DEFAULT_CONFIDENCE, validate=validate.Range(min=0.5, max=0.999))
    format = fields.String(load_default="json", validate=validate.OneOf(reports.FORMATS))


class PassRateRowSchema(Schema):
    period = fields.String()
    level = fields.String()
    kind = fields.String()
    weighted = fields.Boolean(metadata={"description": "drawn with risk weights or per-grade ratios: not an "
                                                       "estimate of the whole market"})
    category = fields.String()
    category_name = fields.String()
    group = fields.String()
    region = fields.String()
    stage = fields.String(allow_none=True, metadata={"description": "production, distribution, online, cross_border"})
    unit_kind = fields.String(metadata={
        "description": "the sampled unit's kind: producer, seller, online_shop or importer (the kind its stage "
                       "draws when the enterprise is of it, else its first kind)"})
    scale = fields.String()
    enterprise = fields.String(metadata={"description": "credit code"})
    enterprise_name = fields.String()
    tested = fields.Integer(metadata={
        "description": "notified results with their latest verdict, final or pending (the denominator)"})
    pending = fields.Integer(metadata={"description": "of tested: still open to objection or under retest"})
    passed = fields.Integer()
    failed = fields.Integer()
    refused = fields.Integer(metadata={"description": "refusals, reported beside the rate, not in it"})
    enterprises = fields.Integer(metadata={"description": "distinct enterprises among the tested samples"})
    pass_rate = fields.Float(allow_none=True)
    ci_low = fields.Float(allow_none=True)
    ci_high = fields.Float(allow_none=True)
    target = fields.Float(allow_none=True, metadata={"description": "weighted by tested samples in mixed rows"})
    status = fields.String(metadata={"description": "met (rate >= target), below, or no data (n = 0)"})
    significance = fields.String(allow_none=True, metadata={
        "description": "significantly_below (p_below < 0.05), significantly_above (p_above < 0.05), not_significant"})
    p_below = fields.Float(allow_none=True, metadata={
        "description": 'binomtest(passed, tested, target, alternative="less").pvalue, 6 significant digits'})
    p_above = fields.Float(allow_none=True, metadata={
        "description": 'binomtest(passed, tested, target, alternative="greater").pvalue, 6 significant digits'})
    provisional = fields.Boolean(metadata={"description": "true while any of the row's results is pending"})


class PassRateReportSchema(Schema):
    by = fields.List(fields.String())
    filters = fields.Dict()
    method = fields.String()
    confidence = fields.Float()
    rows = fields.List(fields.Nested(PassRateRowSchema))
    total = fields.Nested(PassRateRowSchema)


class CoverageQuerySchema(Schema):
    years = fields.Integer(validate=validate.Range(min=1, max=50), metadata={
        "description": "the coverage window in years before today (default: the setting COVERAGE_YEARS, 2)"})
    category = fields.String(validate=validate.Length(min=1, max=32),
                             metadata={"description": "one key-supervised category code"})
    region = fields.String(validate=validate.Length(min=1, max=64))


class CoverageRowSchema(Schema):
    category_code = fields.String()
    category_name = fields.String()
    region = fields.String()
    producers = fields.Integer(metadata={"description": "active producers of the category (or one below it)"})
    sampled = fields.Integer(metadata={"description": "of them, sampled in that category within the window"})
    coverage = fields.Float(metadata={"description": "sampled / producers"})
    not_sampled = fields.List(fields.String(), metadata={"description": "credit codes of the producers still due"})


class CoverageTotalSchema(Schema):
    producers = fields.Integer()
    sampled = fields.Integer()
    coverage = fields.Float(allow_none=True)


class CoverageReportSchema(Schema):
    years = fields.Integer()
    since = fields.Date(metadata={"description": "first day of the window, in the regulator's calendar"})
    as_of = fields.Date()
    rows = fields.List(fields.Nested(CoverageRowSchema))
    total = fields.Nested(CoverageTotalSchema)


class SampleSizeQuerySchema(Schema):
    target = fields.Float(required=True, validate=validate.Range(**OPEN_UNIT))
    expected = fields.Float(required=True, validate=validate.Range(**OPEN_UNIT),
                            metadata={"description": "the true pass rate to detect; below target"})
    confidence = fields.Float(load_default=stats.DEFAULT_CONFIDENCE, validate=validate.Range(**OPEN_UNIT))
    power = fields.Float(load_default=stats.DEFAULT_POWER, validate=validate.Range(**OPEN_UNIT))

    @validates_schema
    def expected_below_target(self, data, **kwargs):
        if "target" in data and "expected" in data and data["expected"] >= data["target"]:
            raise ValidationError("must be less than target: the test detects a pass rate under it", "expected")


class SampleSizeSchema(Schema):
    n = fields.Integer(metadata={"description": "smallest n whose exact one-sided test reaches the power"})
    critical_passed = fields.Integer(metadata={"description": "declare 'below target' when passed <= this"})
    achieved_power = fields.Float()
    actual_alpha = fields.Float(metadata={"description": "the test's real size, at most 1 - confidence"})
    target = fields.Float()
    expected = fields.Float()
    confidence = fields.Float()
    power = fields.Float()


class TargetCellSchema(Schema):
    level = fields.String(required=True, validate=validate.OneOf(PLAN_LEVELS))
    group = fields.String(required=True, validate=validate.OneOf(CATEGORY_GROUPS))
    rate = fields.Float(required=True, allow_none=True,
                        validate=validate.Range(min=0, max=1, min_inclusive=False),
                        metadata={"description": "null resets the cell to its default"})
    default = fields.Boolean(dump_only=True)


class TargetTableSchema(Schema):
    targets = fields.List(fields.Nested(TargetCellSchema), required=True, validate=validate.Length(min=1))


# Views.

def names_enterprises() -> bool:
    """Whether the report asked for is by enterprise (staff only), so kept per caller."""
    return any("enterprise" in by for by in request.args.getlist("by"))


@blp.route("/reports/pass-rates")
class PassRates(MethodView):
    @kept_while_unchanged(by_caller=names_enterprises)  # a repeat is served before its query is parsed
    @blp.arguments(PassRateQuerySchema, location="query")
    @blp.response(200, PassRateReportSchema)
    @blp.doc(responses={"200": {"content": {
        "application/json": {"schema": PassRateReportSchema},
        "text/csv": {"schema": {"type": "string", "description": "format=csv: the rows, then the total row"}},
        MIMETYPES["xlsx"]: {"schema": {"type": "string", "format": "binary", "description": "format=xlsx"}},
    }}})
    def get(self, query):
        """Pass rates grouped by any of the keys of ``by`` (default category), with a total row.

        Weighted plans (risk weights, per-grade ratios) are shown apart with ``by=weighted`` or
        left out with ``weighted=false``. ``format=csv`` or ``format=xlsx`` answers a download
        of the same rows and the total row.
        """
        by = query.get("by") or DEFAULT_BY
        if "enterprise" in by:
            _require_staff()
        filters, method, confidence = _filters(query), query["method"], query["confidence"]
        if query["format"] == "json":
            # kept serialized by its meaning, not its URL: another spelling of the same report,
            # or one too big for kept_while_unchanged, is not computed and dumped again
            body = reports.answer_cache().get_or_make(
                reports.report_key("json", by, filters, method, confidence),
                lambda: current_app.json.response(PassRateReportSchema().dump(
                    reports.pass_rate_table(by, filters, method, confidence))).get_data())
            return Response(body, content_type="application/json")
        body = reports.pass_rate_download(by, filters, method, confidence, query["format"], csv_cell)
        return _download(body, query["format"], query.get("period"))


@blp.route("/reports/coverage")
class Coverage(MethodView):
    @roles_required(*SUPERVISOR)
    @blp.arguments(CoverageQuerySchema, location="query")
    @blp.response(200, CoverageReportSchema)
    def get(self, query):
        """Key-product coverage: per key-supervised category and region, producers sampled within N years.

        The producers not yet sampled are named: supervisors only (a list of who is due would
        tip them off).
        """
        return coverage.coverage_report(calendar.today(), query.get("years"), query.get("category"),
                                         query.get("region"))


@blp.route("/reports/sample-size")
class SampleSize(MethodView):
    @blp.arguments(SampleSizeQuerySchema, location="query")
    @blp.response(200, SampleSizeSchema)
    def get(self, query):
        """How many samples tell a true rate of ``expected`` from ``target`` (exact binomial test)."""
        return stats.plan_sample_size(query["target"], query["expected"], query["confidence"], query["power"])


@blp.route("/targets")
class Targets(MethodView):
    @kept_while_unchanged(by_caller=False)
    @blp.response(200, TargetTableSchema)
    def get(self):
        """The target table: every plan level × category group with its rate (public)."""
        return {"targets": reports.target_cells()}

    @roles_required(*SUPERVISOR)
    @blp.arguments(TargetTableSchema)
    @blp.response(200, TargetTableSchema)
    def put(self, body):
        """Set the given cells (a null rate resets one to its default); other cells are kept."""
        return {"targets": reports.set_targets(body["targets"], actor_name())}


def _require_staff() -> None:
    user = current_principal()
    if user is None:
        abort(401, message="A report by enterprise needs a staff token (需要登录令牌)")
    if user.role not in STAFF:
        abort(403, message="Role may not read reports by enterprise (无权操作)")


def _filters(query: dict) -> dict:
    filters = {k: query[k] for k in (*reports.FILTER_KEYS, *reports.RANGE_FILTERS) if query.get(k)}
    if "weighted" in query:
        filters["weighted"] = [query["weighted"]]
    return filters


def _download(body: bytes, fmt: str, periods) -> Response:
    name = "pass-rates" + ("-" + "-".join(periods) if periods else "") + f".{fmt}"
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(body, content_type=MIMETYPES[fmt], headers=disposition)
