"""Red/black lists (红黑榜): publish a period once, read it (JSON, CSV), remove an entry early."""

import csv
import io

from flask import Response, current_app
from flask.views import MethodView
from marshmallow import Schema, fields, pre_dump, validate

from auth import SUPERVISOR, actor_name, roles_required
from blueprints.common import Blueprint, SelectPage
from jobs.scheduler import scheduler_command
from models.lists import Publication
from services import lists

blp = Blueprint("lists", __name__, url_prefix="/api/v1/lists", description="Red and black lists (红黑榜)")


class ListRowSchema(Schema):
    id = fields.Integer(metadata={"description": "entry id, for early removal"})
    credit_code = fields.String()
    enterprise_name = fields.String()
    region = fields.String()
    category_code = fields.String()
    product_name = fields.String(allow_none=True)
    batch_no = fields.String(allow_none=True)
    verdict = fields.String(metadata={"description": "pass, fail or refused"})
    failed_items = fields.List(fields.String())
    lab = fields.String(allow_none=True)
    report_no = fields.String(allow_none=True)
    reason = fields.String()
    severity = fields.String(allow_none=True, metadata={"description": "general or serious (black list)"})
    listed_at = fields.String(metadata={"format": "date"})
    expires_at = fields.String(metadata={"format": "date"})
    lapsed_at = fields.Date(allow_none=True)
    removed_at = fields.AwareDateTime(allow_none=True)


class PublicationSchema(Schema):
    period = fields.String()
    published_at = fields.AwareDateTime()
    published_by = fields.String(allow_none=True)
    red = fields.List(fields.Nested(ListRowSchema))
    black = fields.List(fields.Nested(ListRowSchema))

    @pre_dump
    def rows(self, obj, **_):
        return lists.publication_view(obj) if isinstance(obj, Publication) else obj


class PeriodQuerySchema(Schema):
    q = fields.String(metadata={"description": "part of an enterprise name or credit code"})


class RemovalSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class EntrySchema(ListRowSchema):
    period = fields.String()
    list = fields.String()
    removal_reason = fields.String(allow_none=True)
    removed_by = fields.String(allow_none=True)

    @pre_dump
    def row(self, entry, **_):
        return {**lists.entry_row(entry), "period": entry.period, "list": entry.list,
                "removal_reason": entry.removal_reason, "removed_by": entry.removed_by}


@blp.route("")
class Publications(MethodView):
    @blp.response(200, PublicationSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self):
        """Every published period's lists, newest first (public)."""
        return lists.list_publications()


@blp.route("/<period>")
class PublicationItem(MethodView):
    @blp.arguments(PeriodQuerySchema, location="query")
    @blp.response(200, PublicationSchema)
    @blp.alt_response(404, response="DEFAULT_ERROR", description="Not published (yet)")
    def get(self, query, period):
        """One period's red and black lists (public); ``q`` searches name or credit code."""
        body = lists.published_cache.get_or_make(("json", period, query.get("q")), lambda: current_app.json.dumps(
            PublicationSchema().dump(lists.publication_view(lists.publication_or_404(period), query.get("q")))
        ))
        return current_app.response_class(body, mimetype="application/json")


@blp.route("/<period>.csv")
class PublicationCsv(MethodView):
    @blp.response(200, {"type": "string"}, content_type="text/csv")
    @blp.alt_response(404, response="DEFAULT_ERROR", description="Not published (yet)")
    def get(self, period):
        """The same rows as CSV, one line per entry with its list (public)."""
        view = lists.publication_view(lists.publication_or_404(period))
        return Response(rows_csv(view), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="lists-{period}.csv"'})


@blp.route("/<period>/publish")
class Publish(MethodView):
    @roles_required(*SUPERVISOR)
    @blp.response(201, PublicationSchema)
    @blp.alt_response(200, schema=PublicationSchema, description="Already published: the same publication")
    @blp.alt_response(409, response="DEFAULT_ERROR", description="The quarter has not ended")
    def post(self, period):
        """Publish the period's lists; publishing again returns the same publication (200)."""
        publication, created = lists.publish_lists(period, actor_name())
        return publication, 201 if created else 200


@blp.route("/entries/<int:entry_id>/removal")
class Removal(MethodView):
    @roles_required(*SUPERVISOR)
    @blp.arguments(RemovalSchema)
    @blp.response(200, EntrySchema)
    @blp.alt_response(404, response="DEFAULT_ERROR", description="No such entry")
    @blp.alt_response(409, response="DEFAULT_ERROR", description="Already removed")
    def post(self, body, entry_id):
        """Remove an entry early (信用修复) with a recorded reason."""
        return lists.remove_entry(entry_id, body["reason"], actor_name())


CSV_FIELDS = ("list", *lists.ROW_FIELDS, "removed_at")


def csv_cell(value) -> str:
    """A cell: lists joined by ';', and text that a spreadsheet would run as a formula quoted."""
    if isinstance(value, list):
        value = ";".join(value)
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def rows_csv(view: dict) -> str:
    """The red then the black rows as CSV text with a header line (UTF-8 BOM for Excel)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_FIELDS)
    for list_name in ("red", "black"):
        for row in view[list_name]:
            writer.writerow([csv_cell(list_name if f == "list" else row.get(f)) for f in CSV_FIELDS])
    return "\ufeff" + out.getvalue()

# ``flask --app wsgi scheduler``: registered by the app factory with every blueprint's commands.
cli_commands = (scheduler_command,)
