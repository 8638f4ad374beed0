"""The overdue report: samples past a life-cycle deadline, with the deadline that passed."""

from flask.views import MethodView
from flask_smorest import Page
from marshmallow import Schema, fields, validate

from auth import current_principal, roles_required
from blueprints.common import Blueprint
from sampling.enums import ACTION_KINDS
from sampling.lifecycle import DEADLINE_NAMES
from services import calendar, samples

blp = Blueprint("overdue", __name__, url_prefix="/api/v1/reports",
                description="Samples past a deadline")


class OverdueQuerySchema(Schema):
    as_of = fields.Date(metadata={"description": "the day to judge by (default: today)"})
    deadline = fields.String(validate=validate.OneOf(DEADLINE_NAMES + ACTION_KINDS))


class OverdueRowSchema(Schema):
    sample_code = fields.String()
    plan_id = fields.Integer(allow_none=True)
    credit_code = fields.String()
    enterprise_name = fields.String()
    status = fields.String()
    lab = fields.String(allow_none=True)
    retest_lab = fields.String(allow_none=True)
    deadline = fields.String(metadata={"description": "which deadline passed: " + ", ".join(DEADLINE_NAMES)
                                       + "; or a follow-up action's kind: " + ", ".join(ACTION_KINDS)})
    due = fields.Date()
    days_overdue = fields.Integer()
    action_id = fields.Integer(allow_none=True, metadata={"description": "the follow-up action past its due date"})


@blp.route("/overdue")
class Overdue(MethodView):
    @roles_required(*samples.READER_ROLES)
    @blp.arguments(OverdueQuerySchema, location="query")
    @blp.response(200, OverdueRowSchema(many=True))
    @blp.paginate(Page)
    def get(self, query):
        """Samples the caller may see with a deadline passed, one row per passed deadline."""
        return samples.overdue_rows(current_principal(), query.get("as_of") or calendar.today(),
                                    query.get("deadline"))
