"""An enterprise's credit standing: grade, list entries and history (质量信用)."""

from flask.views import MethodView
from marshmallow import Schema, fields

from auth import STAFF, current_principal, roles_required
from blueprints.common import Blueprint
from services import calendar, credit

blp = Blueprint("credit", __name__, url_prefix="/api/v1", description="Credit grades (质量信用等级)")


class CreditEntrySchema(Schema):
    id = fields.Integer()
    period = fields.String()
    list = fields.String()
    severity = fields.String(allow_none=True)
    reason = fields.String()
    listed_at = fields.Date()
    expires_at = fields.Date(allow_none=True)
    lapsed_at = fields.Date(allow_none=True)
    removed_at = fields.AwareDateTime(allow_none=True)
    removal_reason = fields.String(allow_none=True)
    state = fields.String(metadata={"description": "active, lapsed, removed or withdrawn"})


class CreditHistorySchema(Schema):
    sample_code = fields.String()
    period = fields.String()
    date = fields.Date(metadata={"description": "the day the verdict became final"})
    list_period = fields.String(metadata={"description": "the list period of that day"})
    level = fields.String()
    kind = fields.String()
    category_code = fields.String()
    verdict = fields.String(metadata={"description": "pass, fail or refused"})
    failed_items = fields.List(fields.String())
    critical_failed = fields.Boolean()
    report_no = fields.String(allow_none=True)
    recheck = fields.String(allow_none=True)
    source = fields.String(metadata={"description": "draw (recorded live) or import"})


class CreditSchema(Schema):
    credit_code = fields.String()
    name = fields.String()
    grade = fields.String()
    red_listed = fields.Boolean()
    black_listed = fields.Boolean()
    entries = fields.List(fields.Nested(CreditEntrySchema))
    history = fields.List(fields.Nested(CreditHistorySchema))


@blp.route("/enterprises/<credit_code>/credit")
class EnterpriseCredit(MethodView):
    @roles_required(*STAFF, "enterprise")
    @blp.response(200, CreditSchema)
    def get(self, credit_code):
        """The enterprise's grade, whether it is on the red or black list, its entries and history
        (an enterprise's token: its own only)."""
        return credit.credit_record_for(current_principal(), credit_code, calendar.today())
