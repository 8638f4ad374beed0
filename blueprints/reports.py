"""Pass-rate reports, the sample-size planner and the target table (API.md "Reports").

Aggregate reports and the planner are public, like the pass-rate pages; a report by
enterprise needs a staff token. The target table is public to read (the public page shows
it) and a supervisor's to change. ``GET /reports/overdue`` lives in ``blueprints/overdue.py``.
"""

import json
import sys

import click
from flask import Response
from flask.cli import AppGroup
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from auth import STAFF, SUPERVISOR, current_principal, roles_required
from blueprints.common import PERIOD_PATTERN, Blueprint, period_field
from models.plans import KINDS, LEVELS
from models.registry import CATEGORY_GROUPS, SCALES
from models.samples import STAGES
from sampling import stats
from sampling.errors import DomainError
from services import reports

blp = Blueprint("reports", __name__, url_prefix="/api/v1", description="Pass rates against targets")

FORMATS = ("json", "csv", "xlsx")
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
    level = CommaList(choices=LEVELS)
    kind = CommaList(choices=KINDS)
    category = CommaList(metadata={"description": "category codes"})
    group = CommaList(choices=CATEGORY_GROUPS)
    region = CommaList()
    stage = CommaList(choices=STAGES)
    scale = CommaList(choices=SCALES)
    method = fields.String(load_default=stats.DEFAULT_METHOD, validate=validate.OneOf(stats.METHODS),
                           metadata={"description": "wilson (default) or exact (Clopper–Pearson)"})
    confidence = fields.Float(load_default=stats.DEFAULT_CONFIDENCE, validate=validate.Range(min=0.5, max=0.999))
    format = fields.String(load_default="json", validate=validate.OneOf(FORMATS))


class PassRateRowSchema(Schema):
    period = fields.String()
    level = fields.String()
    kind = fields.String()
    category = fields.String()
    category_name = fields.String()
    group = fields.String()
    region = fields.String()
    stage = fields.String(allow_none=True)
    scale = fields.String()
    enterprise = fields.String(metadata={"description": "credit code"})
    enterprise_name = fields.String()
    tested = fields.Integer(metadata={"description": "samples with a final verdict (the denominator)"})
    passed = fields.Integer()
    failed = fields.Integer()
    refused = fields.Integer(metadata={"description": "refusals, reported beside the rate, not in it"})
    pass_rate = fields.Float(allow_none=True)
    ci_low = fields.Float(allow_none=True)
    ci_high = fields.Float(allow_none=True)
    target = fields.Float(allow_none=True, metadata={"description": "weighted by tested samples in mixed rows"})
    status = fields.String(metadata={"description": "met, below, inconclusive, or no data (n = 0)"})
    p_value = fields.Float(allow_none=True, metadata={"description": "one-sided exact binomial test of rate >= target"})


class PassRateReportSchema(Schema):
    by = fields.List(fields.String())
    filters = fields.Dict()
    method = fields.String()
    confidence = fields.Float()
    rows = fields.List(fields.Nested(PassRateRowSchema))
    total = fields.Nested(PassRateRowSchema)


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
    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    group = fields.String(required=True, validate=validate.OneOf(CATEGORY_GROUPS))
    rate = fields.Float(required=True, allow_none=True,
                        validate=validate.Range(min=0, max=1, min_inclusive=False),
                        metadata={"description": "null resets the cell to its default"})
    default = fields.Boolean(dump_only=True)


class TargetTableSchema(Schema):
    targets = fields.List(fields.Nested(TargetCellSchema), required=True, validate=validate.Length(min=1))


# Views.

@blp.route("/reports/pass-rates")
class PassRates(MethodView):
    @blp.arguments(PassRateQuerySchema, location="query")
    @blp.response(200, PassRateReportSchema)
    @blp.doc(responses={"200": {"content": {
        "application/json": {"schema": PassRateReportSchema},
        "text/csv": {"schema": {"type": "string", "description": "format=csv: the rows, then the total row"}},
        MIMETYPES["xlsx"]: {"schema": {"type": "string", "format": "binary", "description": "format=xlsx"}},
    }}})
    def get(self, query):
        """Pass rates grouped by any of period, level, kind, category, group, region, stage, scale, enterprise.

        ``format=csv`` or ``format=xlsx`` answers a download of the same rows and the total row.
        """
        by = query.get("by") or DEFAULT_BY
        if "enterprise" in by:
            _require_staff()
        report = reports.pass_rate_table(by, _filters(query), query["method"], query["confidence"])
        if query["format"] == "json":
            return report
        return _download(report, query["format"], query.get("period"))


@blp.route("/reports/sample-size")
class SampleSize(MethodView):
    @blp.arguments(SampleSizeQuerySchema, location="query")
    @blp.response(200, SampleSizeSchema)
    def get(self, query):
        """How many samples tell a true rate of ``expected`` from ``target`` (exact binomial test)."""
        return stats.plan_sample_size(query["target"], query["expected"], query["confidence"], query["power"])


@blp.route("/targets")
class Targets(MethodView):
    @blp.response(200, TargetTableSchema)
    def get(self):
        """The target table: every plan level × category group with its rate (public)."""
        return {"targets": reports.target_cells()}

    @roles_required(*SUPERVISOR)
    @blp.arguments(TargetTableSchema)
    @blp.response(200, TargetTableSchema)
    def put(self, body):
        """Set the given cells (a null rate resets one to its default); other cells are kept."""
        return {"targets": reports.set_targets(body["targets"])}


def _require_staff() -> None:
    user = current_principal()
    if user is None:
        abort(401, message="A report by enterprise needs a staff token (需要登录令牌)")
    if user.role not in STAFF:
        abort(403, message="Role may not read reports by enterprise (无权操作)")


def _filters(query: dict) -> dict:
    return {k: query[k] for k in (*reports.FILTER_KEYS, "period_from", "period_to") if query.get(k)}


def _download(report, fmt: str, periods) -> Response:
    body = reports.report_csv(report) if fmt == "csv" else reports.report_xlsx(report)
    name = "pass-rates" + ("-" + "-".join(periods) if periods else "") + f".{fmt}"
    return Response(body, mimetype=MIMETYPES[fmt], headers={"Content-Disposition": f'attachment; filename="{name}"'})


# CLI: ``flask --app wsgi reports pass-rates ...`` and ``flask --app wsgi targets set|list``.

reports_cli = AppGroup("reports", help="Pass-rate reports and the sample-size planner.")
targets_cli = AppGroup("targets", help="The pass-rate target table (level × category group).")


def _comma_list(choices=None):
    def convert(ctx, param, value):
        if value is None:
            return None
        items = [v.strip() for v in value.split(",") if v.strip()]
        bad = [v for v in items if choices is not None and v not in choices]
        if bad:
            raise click.BadParameter(f"unknown: {', '.join(bad)}; allowed: {', '.join(choices)}")
        return items

    return convert


@reports_cli.command("pass-rates")
@click.option("--period", callback=_comma_list(), help="period(s), e.g. 2026Q4 or 2026Q3,2026Q4")
@click.option("--by", default="category", show_default=True, callback=_comma_list(reports.GROUP_KEYS),
              help=f"grouping keys: {', '.join(reports.GROUP_KEYS)}")
@click.option("--level", callback=_comma_list(LEVELS))
@click.option("--kind", callback=_comma_list(KINDS))
@click.option("--method", type=click.Choice(stats.METHODS), default=stats.DEFAULT_METHOD, show_default=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="file (default: stdout)")
def pass_rates_command(period, by, level, kind, method, fmt, output):
    """Write the pass-rate report as CSV, XLSX or JSON."""
    filters = {"period": period, "level": level, "kind": kind}
    report = reports.pass_rate_table(by, filters, method)
    if fmt == "json":
        body = json.dumps(PassRateReportSchema().dump(report), ensure_ascii=False, indent=2).encode()
    elif fmt == "csv":
        body = reports.report_csv(report)
    else:
        if not output:
            raise click.UsageError("XLSX needs -o FILE")
        body = reports.report_xlsx(report)
    if output:
        with open(output, "wb") as handle:
            handle.write(body)
        click.echo(f"{len(report.rows)} rows and the total written to {output}", err=True)
    else:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()


@reports_cli.command("sample-size")
@click.option("--target", type=float, required=True)
@click.option("--expected", type=float, required=True)
@click.option("--confidence", type=float, default=stats.DEFAULT_CONFIDENCE, show_default=True)
@click.option("--power", type=float, default=stats.DEFAULT_POWER, show_default=True)
def sample_size_command(target, expected, confidence, power):
    """The planner: samples needed to tell ``expected`` from ``target``."""
    try:
        plan = stats.plan_sample_size(target, expected, confidence, power)
    except DomainError as error:
        raise click.UsageError(error.message) from None
    click.echo(
        f"n = {plan.n}: declare 'below target' when at most {plan.critical_passed} pass "
        f"(power {plan.achieved_power:.3f}, actual alpha {plan.actual_alpha:.4f})"
    )


@targets_cli.command("list")
def list_targets():
    """Print the target table."""
    for cell in reports.target_cells():
        mark = "default" if cell["default"] else "set"
        click.echo(f"{cell['level']:<11} {cell['group']:<11} {cell['rate']:.4f}  {mark}")


@targets_cli.command("set")
@click.option("--level", type=click.Choice(LEVELS), required=True)
@click.option("--group", type=click.Choice(CATEGORY_GROUPS), required=True)
@click.argument("rate", required=False)
@click.option("--reset", is_flag=True, help="go back to the level's default")
def set_target_command(level, group, rate, reset):
    """Set one cell, e.g. ``targets set --level municipal --group industrial 0.94``."""
    if reset == (rate is not None):
        raise click.UsageError("give a RATE, or --reset")
    try:
        value = None if reset else float(rate.rstrip("%")) / (100 if rate.endswith("%") else 1)
        cell = reports.set_target(level, group, value)
    except ValueError:
        raise click.UsageError(f"not a rate: {rate!r}") from None
    except DomainError as error:
        raise click.UsageError(error.message) from None
    click.echo(f"{cell['level']} {cell['group']}: {cell['rate']:.4f}{' (default)' if cell['default'] else ''}")


cli_commands = (reports_cli, targets_cli)
