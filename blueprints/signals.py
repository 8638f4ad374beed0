"""Risk signals (风险信号): complaints, injury reports and outside failing results (supervisor)."""

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from auth import SUPERVISOR, actor_name, roles_required
from blueprints.common import Blueprint, PlainText, SelectPage
from sampling.enums import SIGNAL_SOURCES
from services import signals
from services.calendar import today
from services.uploads import open_csv

blp = Blueprint("signals", __name__, url_prefix="/api/v1/signals", description="Risk signals (风险信号)")


class MatchedEnterpriseSchema(Schema):
    credit_code = fields.String()
    name = fields.String()


class SignalSchema(Schema):
    id = fields.Integer(dump_only=True)
    date = fields.Date(required=True, attribute="signal_date")
    credit_code = PlainText(allow_none=True, validate=validate.Length(max=18),
                            metadata={"description": "as the source gave it; matched first"})
    name = PlainText(allow_none=True, validate=validate.Length(max=200),
                     metadata={"description": "as the source gave it; matched exactly when no credit code"})
    category_code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    source = fields.String(required=True, validate=validate.OneOf(SIGNAL_SOURCES))
    summary = PlainText(allow_none=True, validate=validate.Length(max=2000))
    enterprise = fields.Nested(MatchedEnterpriseSchema, dump_only=True,
                               metadata={"description": "the registered enterprise the signal was matched to"})


class SignalQuerySchema(Schema):
    credit_code = fields.String(metadata={"description": "the matched enterprise's credit code"})
    category = fields.String(metadata={"description": "category code"})
    source = fields.String(validate=validate.OneOf(SIGNAL_SOURCES))
    since = fields.Date()
    until = fields.Date()


class SignalFileSchema(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary", "description": (
        "CSV with header " + ",".join(signals.SIGNAL_HEADER))})


class SignalImportResultSchema(Schema):
    imported = fields.Integer()


@blp.route("")
class Signals(MethodView):
    @roles_required(*SUPERVISOR)
    @blp.arguments(SignalQuerySchema, location="query")
    @blp.response(200, SignalSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, query):
        """List risk signals, newest first."""
        return signals.list_signals(query)

    @roles_required(*SUPERVISOR)
    @blp.arguments(SignalSchema)
    @blp.response(201, SignalSchema)
    def post(self, data):
        """Record one signal naming an enterprise by credit code or exact name."""
        data["date"] = data.pop("signal_date")
        return signals.create_signal(data, actor=actor_name(), today=today())


@blp.route("/import")
class SignalImport(MethodView):
    @roles_required(*SUPERVISOR)
    @blp.arguments(SignalFileSchema, location="files")
    @blp.response(200, SignalImportResultSchema)
    def post(self, files):
        """Import signals from CSV, all or nothing; a row naming no known enterprise is a 422 on it."""
        return signals.import_signals(open_csv(files["file"].stream), actor=actor_name(), today=today())
