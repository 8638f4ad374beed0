"""Follow-up actions (后处理) on a final failure or refusal: 约谈, 责令停止生产销售, 召回, 立案查处, 移送."""

from flask.views import MethodView
from flask_smorest import Page
from marshmallow import Schema, fields, validate

from auth import SUPERVISOR, actor_name, roles_required
from blueprints.answer_cache import kept_while_unchanged
from blueprints.common import Blueprint, Instant, PlainText
from sampling.enums import ACTION_BASES, ACTION_KINDS, ACTION_STATUSES
from services import actions
from services.calendar import now, today

blp = Blueprint("actions", __name__, url_prefix="/api/v1",
                description="Follow-up actions after a failure (后处理)")


def _text(max_length: int) -> PlainText:
    return PlainText(allow_none=True, validate=validate.Length(max=max_length))


def _time() -> Instant:
    return Instant(allow_none=True)


def _count() -> fields.Integer:
    return fields.Integer(allow_none=True, validate=validate.Range(min=0, max=2**31 - 1))


class ProgressSchema(Schema):
    """What is recorded of an action; which fields a kind takes: interview person, held_at;
    recall quantity_out, recovered_qty; case case_no, penalty; referral to_authority."""

    due_date = fields.Date(allow_none=True)
    held_at = _time()
    completed_at = _time()
    person = _text(100)
    quantity_out = _count()
    recovered_qty = _count()
    case_no = _text(64)
    penalty = _text(500)
    to_authority = _text(200)
    notes = _text(4000)


class ActionCreateSchema(ProgressSchema):
    kind = fields.String(required=True, validate=validate.OneOf(ACTION_KINDS))


class ActionQuerySchema(Schema):
    kind = fields.String(validate=validate.OneOf(ACTION_KINDS))
    status = fields.String(validate=validate.OneOf(ACTION_STATUSES))
    overdue = fields.Boolean(metadata={"description": "true: only open actions past their due date"})
    sample_code = PlainText(validate=validate.Length(max=40))
    credit_code = PlainText(validate=validate.Length(max=18))
    as_of = fields.Date(metadata={"description": "the day to judge overdue by (default: today)"})


class ActionSchema(Schema):
    id = fields.Integer()
    sample_code = fields.String()
    plan_id = fields.Integer(allow_none=True)
    credit_code = fields.String()
    enterprise_name = fields.String()
    kind = fields.String(metadata={"description": ", ".join(ACTION_KINDS)})
    kind_name = fields.String()
    status = fields.String(metadata={"description": ", ".join(ACTION_STATUSES)})
    basis = fields.String(allow_none=True, metadata={
        "description": "why the rules called for it: " + ", ".join(ACTION_BASES) + "; null if by choice"})
    due_date = fields.Date(allow_none=True)
    overdue = fields.Boolean()
    overdue_since = fields.Date(allow_none=True, metadata={"description": "flagged overdue by the job on"})
    held_at = fields.AwareDateTime(format="iso", allow_none=True)
    completed_at = fields.AwareDateTime(format="iso", allow_none=True)
    person = fields.String(allow_none=True)
    quantity_out = fields.Integer(allow_none=True)
    recovered_qty = fields.Integer(allow_none=True)
    case_no = fields.String(allow_none=True)
    penalty = fields.String(allow_none=True)
    to_authority = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    created_by = fields.String()
    created_at = fields.AwareDateTime(format="iso")
    updated_at = fields.AwareDateTime(format="iso")


@blp.route("/samples/<code>/actions")
class SampleActions(MethodView):
    @roles_required(*SUPERVISOR)
    @blp.arguments(ActionCreateSchema)
    @blp.response(201, ActionSchema)
    def post(self, body, code):
        """Record a follow-up action on a final failure or refusal (409 otherwise)."""
        return actions.create_action(code, body, actor=actor_name(), now=now())


@blp.route("/actions")
class Actions(MethodView):
    @roles_required(*SUPERVISOR)
    @kept_while_unchanged
    @blp.arguments(ActionQuerySchema, location="query")
    @blp.response(200, ActionSchema(many=True))
    @blp.paginate(Page)
    def get(self, query):
        """Follow-up actions, by kind, status, sample, enterprise, and overdue or not."""
        return actions.list_actions(query, query.get("as_of") or today())


@blp.route("/actions/<int:action_id>")
class ActionItem(MethodView):
    @roles_required(*SUPERVISOR)
    @blp.response(200, ActionSchema)
    def get(self, action_id):
        """One follow-up action."""
        return actions.action_detail(action_id, today())

    @roles_required(*SUPERVISOR)
    @blp.arguments(ProgressSchema)
    @blp.response(200, ActionSchema)
    def patch(self, body, action_id):
        """Record progress: held, completed, recovered quantity, case number, penalty, referral."""
        return actions.update_action(action_id, body, actor=actor_name(), now=now())
