"""Open data (开放数据): the check catalogue, plan and results announcements, enterprise lookup.

Public, no token. The same data as the public pages, as JSON (paginated, ``X-Pagination``) and
CSV. What may be public, and when, is decided in ``services.public``; nothing here queries.
"""

import csv
import io

from flask import Response
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from blueprints.answer_cache import kept_for
from blueprints.common import Blueprint, period_field
from sampling.enums import PLAN_KINDS, PLAN_LEVELS, STAGES, VERDICTS
from sampling.text import csv_cell
from services import calendar, public

blp = kept_for(Blueprint("public", __name__, url_prefix="/api/v1/public",
                         description="Open data (开放数据): public, no token"))

VERDICT_FILTERS = (*VERDICTS, public.REFUSED)


class PublicCatalogueSchema(Schema):
    code = fields.String()
    name = fields.String()
    parent_code = fields.String(allow_none=True)
    parent_name = fields.String(allow_none=True)
    group = fields.String()
    key_supervised = fields.Boolean(metadata={"description": "on the key-supervised products list (重点监管产品目录)"})
    risk_level = fields.Integer()
    standard = fields.String(allow_none=True)
    season_months = fields.List(fields.Integer(),
                                metadata={"description": "months of a seasonal product; empty: all year"})


class PublicNamedCategorySchema(Schema):
    code = fields.String()
    name = fields.String()


class PublicPlanCountsSchema(Schema):
    final = fields.Integer(metadata={"description": "samples whose result is public (final, or refused)"})
    pending = fields.Integer(metadata={"description": "samples drawn whose result is not final yet"})


class PublicAnnouncementSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    level = fields.String()
    kind = fields.String()
    period = fields.String()
    stage = fields.String()
    categories = fields.List(fields.Nested(PublicNamedCategorySchema))
    category_codes = fields.List(fields.String())
    regions = fields.List(fields.String(), metadata={"description": "empty: every region"})
    sample_size = fields.Integer(allow_none=True)
    sampling_ratio = fields.Float(allow_none=True)
    grade_ratios = fields.Dict(allow_none=True)
    risk_weighting = fields.Boolean()
    team_size = fields.Integer()
    avoid_same_region = fields.Boolean()
    window_start = fields.Date(allow_none=True)
    window_end = fields.Date(allow_none=True)
    exclusion_days = fields.Integer()
    seed_commitment = fields.String(metadata={"description": "sha256 of the server seed, fixed before the draw"})
    announced_at = fields.AwareDateTime()
    drawn = fields.Boolean()
    drawn_at = fields.AwareDateTime(allow_none=True)
    draw_public = fields.Boolean(metadata={"description": "the draw (who was drawn) is public at /draws/{id}"})
    results = fields.Nested(PublicPlanCountsSchema)


class PublicPlanQuerySchema(Schema):
    period = period_field()
    level = fields.String(validate=validate.OneOf(PLAN_LEVELS))
    kind = fields.String(validate=validate.OneOf(PLAN_KINDS))
    stage = fields.String(validate=validate.OneOf(STAGES))
    category = fields.String(validate=validate.Length(max=32))


class PublicUnitSchema(Schema):
    credit_code = fields.String(allow_none=True)
    name = fields.String()
    region = fields.String()


class PublicProducerSchema(Schema):
    credit_code = fields.String(allow_none=True)
    name = fields.String()
    address = fields.String(allow_none=True)


class PublicFailedItemSchema(Schema):
    name = fields.String()
    requirement = fields.String(allow_none=True)
    measured = fields.String(allow_none=True)
    unit = fields.String(allow_none=True)
    critical = fields.Boolean()




class PublicResultSchema(Schema):
    sample_code = fields.String()
    plan_id = fields.Integer(allow_none=True)
    plan_name = fields.String(allow_none=True)
    period = fields.String()
    level = fields.String()
    kind = fields.String()
    source = fields.String(metadata={"description": "draw, or import (the city's past record)"})
    date = fields.Date(metadata={"description": "the day the verdict became final (a refusal: recorded)"})
    sampled_on = fields.Date(allow_none=True)
    stage = fields.String(allow_none=True)
    sampled_unit = fields.Nested(PublicUnitSchema, metadata={"description": "被抽样单位"})
    producer = fields.Nested(PublicProducerSchema, metadata={"description": "标称生产者"})
    region = fields.String()
    category_code = fields.String()
    category_name = fields.String()
    product_name = fields.String(allow_none=True)
    brand = fields.String(allow_none=True)
    model = fields.String(allow_none=True)
    batch_no = fields.String(allow_none=True)
    production_date = fields.Date(allow_none=True)
    verdict = fields.String(metadata={"description": "pass, fail or refused"})
    failed_items = fields.List(fields.Nested(PublicFailedItemSchema))
    lab = fields.String(allow_none=True)
    report_no = fields.String(allow_none=True)
    retested = fields.Boolean()
    purchase_platform = fields.String(allow_none=True, metadata={"description": "online samples: where it was bought"})
    follow_up = fields.String(allow_none=True, metadata={
        "description": "处理情况: what was done about a failure or refusal (已约谈、已整改、复查合格…; 待处理)"})


class PublicResultQuerySchema(Schema):
    plan_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))
    period = period_field()
    from_ = fields.Date(data_key="from", metadata={"description": "decided on or after (YYYY-MM-DD)"})
    to = fields.Date(metadata={"description": "decided on or before (YYYY-MM-DD)"})
    category = fields.String(validate=validate.Length(max=32),
                             metadata={"description": "a code; a parent includes its children"})
    region = fields.String(validate=validate.Length(max=64))
    stage = fields.String(validate=validate.OneOf(STAGES))
    verdict = fields.String(validate=validate.OneOf(VERDICT_FILTERS))
    q = fields.String(validate=validate.Length(max=100),
                      metadata={"description": "enterprise name, credit code, sample code, product or brand"})

    @validates_schema
    def ordered(self, data, **_):
        if data.get("from_") and data.get("to") and data["from_"] > data["to"]:
            raise ValidationError({"to": ["must not be before from"]})


class PublicEnterpriseQuerySchema(Schema):
    q = fields.String(required=True, validate=validate.Length(min=1, max=100),
                      metadata={"description": "part of the name, or the start of the credit code"})


class PublicEnterpriseSummarySchema(Schema):
    credit_code = fields.String()
    name = fields.String()
    region = fields.String()
    status = fields.String()
    grade = fields.String()
    kinds = fields.List(fields.String())


class PublicListEntrySchema(Schema):
    period = fields.String()
    list = fields.String(metadata={"description": "red or black"})
    severity = fields.String(allow_none=True)
    reason = fields.String()
    category_code = fields.String(allow_none=True)
    product_name = fields.String(allow_none=True)
    listed_at = fields.Date()
    expires_at = fields.Date(allow_none=True)
    lapsed_at = fields.Date(allow_none=True)
    removed_on = fields.Date(allow_none=True)
    state = fields.String(metadata={"description": "active, lapsed or removed"})


class PublicSampleFollowUpSchema(Schema):
    sample_code = fields.String()
    follow_up = fields.String()


class PublicEnterpriseRecordSchema(PublicEnterpriseSummarySchema):
    list_entries = fields.List(fields.Nested(PublicListEntrySchema))
    results = fields.List(fields.Nested(PublicResultSchema))
    follow_up = fields.List(fields.Nested(PublicSampleFollowUpSchema))


def result_filters(query: dict) -> dict:
    """The query's filters under the service's names."""
    filters = dict(query)
    if "from_" in filters:
        filters["from"] = filters.pop("from_")
    return filters


@blp.route("/catalogue")
class Catalogue(MethodView):
    @blp.response(200, PublicCatalogueSchema(many=True))
    def get(self):
        """The check catalogue (抽查产品目录): categories, standards, key products, seasons."""
        return public.catalogue()


@blp.route("/plans")
class Plans(MethodView):
    @blp.arguments(PublicPlanQuerySchema, location="query")
    @blp.response(200, PublicAnnouncementSchema(many=True))
    @blp.paginate()
    def get(self, query, pagination_parameters):
        """Plan announcements (抽查计划公告), newest first; never which enterprises were drawn."""
        total, rows = public.plan_announcements(query, pagination_parameters.first_item,
                                                pagination_parameters.page_size)
        pagination_parameters.item_count = total
        return rows


@blp.route("/plans/<int:plan_id>")
class PlanItem(MethodView):
    @blp.response(200, PublicAnnouncementSchema)
    @blp.alt_response(404, response="DEFAULT_ERROR", description="No such plan")
    def get(self, plan_id):
        """One plan announcement with how many results are final and how many pending."""
        return public.plan_announcement(plan_id)


@blp.route("/results")
class Results(MethodView):
    @blp.arguments(PublicResultQuerySchema, location="query")
    @blp.response(200, PublicResultSchema(many=True))
    @blp.paginate()
    def get(self, query, pagination_parameters):
        """Results announcements (抽查结果公告): each final result and each refusal, newest first."""
        total, rows = public.search_results(result_filters(query), pagination_parameters.first_item,
                                            pagination_parameters.page_size)
        pagination_parameters.item_count = total
        return rows


@blp.route("/results.csv")
class ResultsCsv(MethodView):
    @blp.arguments(PublicResultQuerySchema, location="query")
    @blp.response(200, {"type": "string"}, content_type="text/csv")
    def get(self, query):
        """The same results as CSV (UTF-8 with BOM), every matching row."""
        rows = public.all_results(result_filters(query))
        return Response(results_csv(rows), mimetype="text/csv", headers={
            "Content-Disposition": 'attachment; filename="results.csv"'})


@blp.route("/enterprises")
class Enterprises(MethodView):
    @blp.arguments(PublicEnterpriseQuerySchema, location="query")
    @blp.response(200, PublicEnterpriseSummarySchema(many=True))
    @blp.paginate()
    def get(self, query, pagination_parameters):
        """Enterprise lookup (企业质量信用查询) by part of the name or the start of the credit code."""
        total, rows = public.find_enterprises(query["q"], pagination_parameters.first_item,
                                              pagination_parameters.page_size)
        pagination_parameters.item_count = total
        return rows


@blp.route("/enterprises/<credit_code>")
class EnterpriseItem(MethodView):
    @blp.response(200, PublicEnterpriseRecordSchema)
    @blp.alt_response(404, response="DEFAULT_ERROR", description="No such enterprise")
    def get(self, credit_code):
        """An enterprise's grade, list entries with their terms, published results and follow-up."""
        return public.enterprise_record(credit_code, calendar.today())


def results_csv(rows) -> str:
    """Result rows as CSV text (UTF-8 BOM for Excel), formula-like cells neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(public.RESULT_FIELDS)
    for row in rows:
        flat = public.csv_row(row)
        writer.writerow([csv_cell(flat[name]) for name in public.RESULT_FIELDS])
    return "\ufeff" + out.getvalue()
