"""Red/black lists (红黑榜): publish a period (and its supplements), read it (JSON, CSV), remove an entry."""

import csv
import io

from flask import Response, current_app
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from auth import SUPERVISOR, actor_name, roles_required
from blueprints.answer_cache import kept_while_unchanged
from blueprints.common import Blueprint, PlainText
from sampling.text import csv_cell
from services import calendar, lists

blp = Blueprint("lists", __name__, url_prefix="/api/v1/lists", description="Red and black lists (红黑榜)")


class ListRowSchema(Schema):
    id = fields.Integer(metadata={"description": "entry id, for early removal"})
    credit_code = fields.String(metadata={"description": "the listed enterprise"})
    enterprise_name = fields.String()
    region = fields.String()
    category_code = fields.String()
    category_name = fields.String(allow_none=True)
    product_name = fields.String(allow_none=True)
    batch_no = fields.String(allow_none=True)
    verdict = fields.String(metadata={"description": "pass, fail or refused"})
    failed_items = fields.List(fields.String())
    lab = fields.String(allow_none=True)
    report_no = fields.String(allow_none=True)
    reason = fields.String()
    severity = fields.String(allow_none=True, metadata={"description": "general or serious (black list)"})
    final_on = fields.String(metadata={"format": "date", "description": "the day the verdict became final"})
    listed_at = fields.String(metadata={"format": "date", "description": "the day the verdict became final"})
    expires_at = fields.String(metadata={"format": "date", "description": "the end of the term (from final_on)"})
    sampled_credit_code = fields.String(metadata={"description": "the sampled unit (被抽样单位)"})
    sampled_name = fields.String()
    producer_credit_code = fields.String(allow_none=True, metadata={
        "description": "the named producer (标称生产者), when registered here"})
    producer_name = fields.String(allow_none=True)
    follow_up = fields.String(allow_none=True, metadata={
        "description": "what was done about a failure (处理情况: 已约谈, 已整改, 复查合格, 已立案...)"})
    lapsed_at = fields.Date(allow_none=True)
    removed_at = fields.AwareDateTime(allow_none=True)
    withdrawn_in = fields.Integer(allow_none=True, metadata={"description": "the supplement that withdrew it"})


class SupplementSchema(Schema):
    no = fields.Integer()
    published_at = fields.AwareDateTime()
    published_by = fields.String(allow_none=True)
    reason = fields.String()
    red = fields.List(fields.Nested(ListRowSchema))
    black = fields.List(fields.Nested(ListRowSchema))
    withdrawn = fields.List(fields.Nested(ListRowSchema))


class PublicationSchema(Schema):
    period = fields.String()
    published_at = fields.AwareDateTime()
    published_by = fields.String(allow_none=True)
    red = fields.List(fields.Nested(ListRowSchema))
    black = fields.List(fields.Nested(ListRowSchema))
    supplements = fields.List(fields.Nested(SupplementSchema))


class PublishResultSchema(PublicationSchema):
    supplement = fields.Nested(SupplementSchema, allow_none=True,
                               metadata={"description": "the supplement this call published (201), if any"})


class PeriodQuerySchema(Schema):
    q = fields.String(validate=validate.Length(max=100),
                      metadata={"description": "part of an enterprise name or credit code"})


class PublishSchema(Schema):
    reason = PlainText(validate=validate.Length(min=1, max=2000),
                       metadata={"description": "kept on a supplement; written by the server when absent"})


class RemovalSchema(Schema):
    reason = PlainText(required=True, validate=validate.Length(min=1, max=2000))


class EntrySchema(ListRowSchema):
    period = fields.String()
    list = fields.String()
    removal_reason = fields.String(allow_none=True)
    removed_by = fields.String(allow_none=True)


def cached_period(period: str) -> tuple[dict, str]:
    """The period's publication, serialised and as JSON text, from the per-process cache."""
    def make():
        dumped = PublicationSchema().dump(lists.period_view(period))
        return dumped, current_app.json.dumps(dumped)

    return lists.published_cache.get_or_make(("json", period), make)


@blp.route("")
class Publications(MethodView):
    @kept_while_unchanged(by_caller=False)
    @blp.response(200, PublicationSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters):
        """Every published period's lists, newest first (public)."""
        views, total = lists.publication_summaries(pagination_parameters.page, pagination_parameters.page_size)
        pagination_parameters.item_count = total
        return views


@blp.route("/<period>")
class PublicationItem(MethodView):
    @blp.arguments(PeriodQuerySchema, location="query")
    @blp.response(200, PublicationSchema)
    @blp.alt_response(404, response="DEFAULT_ERROR", description="Not published (yet)")
    def get(self, query, period):
        """One period's red and black lists and supplements (public); ``q`` searches name or credit code
        within the cached period."""
        dumped, body = cached_period(period)
        if query.get("q", "").strip():
            body = current_app.json.dumps(lists.search_view(dumped, query["q"]))
        return current_app.response_class(body, mimetype="application/json")


@blp.route("/<period>.csv")
class PublicationCsv(MethodView):
    @blp.response(200, {"type": "string"}, content_type="text/csv")
    @blp.alt_response(404, response="DEFAULT_ERROR", description="Not published (yet)")
    def get(self, period):
        """The same rows as CSV, one line per entry with its list and supplement (public)."""
        # kept like the period's JSON and page: cleared by a write in this process, TTL elsewhere
        body = lists.published_cache.get_or_make(("csv", period), lambda: rows_csv(lists.period_view(period)).encode())
        return Response(body, mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="lists-{period}.csv"'})


@blp.route("/<period>/publish")
class Publish(MethodView):
    @roles_required(*SUPERVISOR)
    @blp.arguments(PublishSchema, required=False)
    @blp.response(201, PublishResultSchema)
    @blp.alt_response(200, schema=PublishResultSchema, description="Nothing new: the publication as it is")
    @blp.alt_response(409, response="DEFAULT_ERROR", description="The quarter has not ended")
    @blp.alt_response(422, response="DEFAULT_ERROR", description="Malformed, or before the first quarter with data")
    def post(self, body, period):
        """Publish the period's lists; later, a numbered supplement with what reached the period since
        (201), or the publication as it is when nothing did (200)."""
        publication, supplement, created = lists.publish_lists(
            period, actor_name(), calendar.now(), (body or {}).get("reason"))
        view = lists.publication_view(publication)
        supplement_view = next((s for s in view["supplements"] if supplement and s["no"] == supplement.no), None)
        return {**view, "supplement": supplement_view}, 201 if created else 200


@blp.route("/entries/<int:entry_id>/removal")
class Removal(MethodView):
    @roles_required(*SUPERVISOR)
    @blp.arguments(RemovalSchema)
    @blp.response(200, EntrySchema)
    @blp.alt_response(404, response="DEFAULT_ERROR", description="No such entry")
    @blp.alt_response(409, response="DEFAULT_ERROR", description="Already removed")
    def post(self, body, entry_id):
        """Remove an entry early (信用修复) with a recorded reason."""
        return lists.remove_entry(entry_id, body["reason"], actor_name(), calendar.now())


CSV_FIELDS = ("list", "supplement", *lists.ROW_FIELDS, "follow_up", "removed_at", "withdrawn_in")


def rows_csv(view: dict) -> str:
    """The red then the black rows, then each supplement's, as CSV text with a header line (UTF-8 BOM)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_FIELDS)
    parts = [(None, view), *((s["no"], s) for s in view["supplements"])]
    for number, part in parts:
        for list_name in ("red", "black"):
            for row in part[list_name]:
                values = {**row, "list": list_name, "supplement": number}
                writer.writerow([csv_cell(values.get(f)) for f in CSV_FIELDS])
    return "\ufeff" + out.getvalue()
