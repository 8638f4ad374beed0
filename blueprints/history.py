"""Import of past spot-check results (历史抽查数据) over HTTP; the CLI is ``cli/history.py``."""

from flask.views import MethodView
from marshmallow import Schema, fields

from auth import SUPERVISOR, actor_name, roles_required
from blueprints.common import Blueprint
from services import calendar, history
from services.uploads import decode_upload

blp = Blueprint("history", __name__, url_prefix="/api/v1/history", description="Past results (历史数据)")


class HistoryFileSchema(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary", "description": (
        "CSV with header " + ",".join(history.HISTORY_HEADER))})


class HistoryResultSchema(Schema):
    imported = fields.Integer()


@blp.route("/import")
class HistoryImport(MethodView):
    @roles_required(*SUPERVISOR)
    @blp.arguments(HistoryFileSchema, location="files")
    @blp.response(200, HistoryResultSchema)
    def post(self, files):
        """Import past final results and refusals, all or nothing; errors keyed by row number.

        A row joins the list period of its sampling date; one that reaches an already
        published period is published with that period's next supplement."""
        return history.import_history(decode_upload(files["file"].read()), actor_name(), calendar.today())
