"""Spot-check plans (抽查计划) and their one 双随机 draw: create, draw, read, verify, export, publish.

A plan's ``seed_commitment`` is public from the start. The draw itself (who was drawn, the
server seed, the export and the verification) is for supervisors until it is public: once no
sample of the plan is still ``planned``, or when a supervisor publishes it.
"""

from flask import Response, current_app
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from auth import SUPERVISOR, actor_name, current_principal, roles_required
from blueprints.answer_cache import kept_once_public, kept_while_unchanged
from blueprints.common import Blueprint, PlainText, SelectPage, period_field
from blueprints.tasks import LOCATION_HEADER, PREFER_ASYNC_DOC, TaskSchema, accepted, prefers_async
from sampling.enums import GRADES, PLAN_KINDS, PLAN_LEVELS, STAGES
from services import calendar, draws, plans, tasks

blp = Blueprint("plans", __name__, url_prefix="/api/v1/plans", description="Spot-check plans and the draw")

SIZE_FIELDS = ("sample_size", "sampling_ratio", "grade_ratios")
OPTIONAL_AUTH_DOC = {
    "security": [{}, {"bearerAuth": []}],
    "description": "Public once the draw is published or no sample of the plan is still planned; "
                   "before that, supervisors only (401 without a token, 403 for other roles).",
    "responses": {"401": {"$ref": "#/components/responses/DEFAULT_ERROR"},
                  "403": {"$ref": "#/components/responses/DEFAULT_ERROR"},
                  "404": {"$ref": "#/components/responses/DEFAULT_ERROR"}},
}


class PlanSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = PlainText(required=True, validate=validate.Length(min=1, max=200))
    level = fields.String(required=True, validate=validate.OneOf(PLAN_LEVELS))
    kind = fields.String(required=True, validate=validate.OneOf(PLAN_KINDS))
    period = period_field(required=True)
    category_codes = fields.List(fields.String(validate=validate.Length(min=1, max=32)), required=True,
                                 validate=validate.Length(min=1, max=500))
    regions = fields.List(PlainText(validate=validate.Length(min=1, max=64)),
                          load_default=list, validate=validate.Length(max=500),
                          metadata={"description": "empty: every region"})
    sample_size = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=10_000_000))
    sampling_ratio = fields.Float(allow_none=True, validate=validate.Range(min=0, max=1, min_inclusive=False))
    grade_ratios = fields.Dict(keys=fields.String(validate=validate.OneOf(GRADES)),
                               values=fields.Float(validate=validate.Range(min=0, max=1)), allow_none=True,
                               metadata={"example": {"A": 0.03, "B": 0.1, "C": 0.3, "D": 1.0}})
    risk_weighting = fields.Boolean(metadata={"description": "default false"})
    team_size = fields.Integer(validate=validate.Range(min=2, max=20), metadata={"description": "default 2"})
    avoid_same_region = fields.Boolean(metadata={"description": "default true"})
    exclusion_days = fields.Integer(validate=validate.Range(min=0, max=3650),
                                    metadata={"description": "default 180 (the six-month rule)"})
    stage = fields.String(validate=validate.OneOf(STAGES),
                          metadata={"description": "which kind of enterprise is drawn: production (producers), "
                                                   "distribution (sellers), online (online shops), cross_border "
                                                   "(importers); default production"})
    window_start = fields.Date(allow_none=True, metadata={"description": "first day of the sampling window"})
    window_end = fields.Date(allow_none=True, metadata={"description": "last day of the sampling window"})
    uncovered_only = fields.Boolean(metadata={"description": "only producers of key categories not sampled "
                                                             "within the coverage window; default false"})
    seed_commitment = fields.String(dump_only=True, metadata={"description": "sha256 of the server seed"})
    created_at = fields.AwareDateTime(dump_only=True)
    drawn = fields.Function(lambda plan: plan.draw is not None, dump_only=True)

    @validates_schema
    def exactly_one_size(self, data, **_):
        given = [name for name in SIZE_FIELDS if data.get(name) is not None]
        if len(given) != 1:
            message = "give exactly one of sample_size, sampling_ratio, grade_ratios"
            raise ValidationError({name: [message] for name in (given or SIZE_FIELDS)})
        ratios = data.get("grade_ratios")
        if ratios is not None and not any(ratios.values()):
            raise ValidationError({"grade_ratios": ["at least one grade needs a ratio above 0"]})


class DrawRequestSchema(Schema):
    public_entropy = PlainText(load_default="", validate=validate.Length(max=500),
                                   metadata={"description": "e.g. a lottery result read out at a public session"})


class SelectionSchema(Schema):
    credit_code = fields.String()
    stratum = fields.String(metadata={"description": "region|category (|grade under grade ratios)"})
    ticket = fields.Float()
    inspectors = fields.List(fields.String())
    lab = fields.String()
    sample_code = fields.String()
    category_code = fields.String()


class DrawSchema(Schema):
    plan_id = fields.Integer()
    seed_commitment = fields.String()
    server_seed = fields.String()
    public_entropy = fields.String()
    seed = fields.String()
    registry_hash = fields.String()
    algorithm = fields.String()
    drawn_at = fields.AwareDateTime()
    published_at = fields.AwareDateTime(allow_none=True)
    public = fields.Boolean()
    allocation = fields.Dict(keys=fields.String(), values=fields.Integer())
    selections = fields.List(fields.Nested(SelectionSchema))


class VerificationSchema(Schema):
    verified = fields.Boolean()
    mismatches = fields.List(fields.String())


@blp.route("")
class Plans(MethodView):
    @kept_while_unchanged(by_caller=False)
    @blp.response(200, PlanSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self):
        """List plans with their seed commitments (public)."""
        return plans.list_plans()

    @roles_required(*SUPERVISOR)
    @blp.arguments(PlanSchema)
    @blp.response(201, PlanSchema)
    def post(self, data):
        """Create a plan; its server seed stays secret, its commitment is returned."""
        return plans.create_plan(data, actor=actor_name(), now=calendar.now())


@blp.route("/<int:plan_id>")
class PlanItem(MethodView):
    @kept_while_unchanged(by_caller=False)
    @blp.response(200, PlanSchema)
    def get(self, plan_id):
        """One plan with its seed commitment (public)."""
        return plans.get_plan(plan_id)


@blp.route("/<int:plan_id>/draw")
class PlanDraw(MethodView):
    @roles_required(*SUPERVISOR)
    @blp.arguments(DrawRequestSchema)
    @blp.doc(**PREFER_ASYNC_DOC)
    @blp.response(201, DrawSchema)
    @blp.alt_response(202, schema=TaskSchema, headers=LOCATION_HEADER, success=True,
                      description="Queued as a task (Prefer: respond-async, or more candidates than "
                                  "DRAW_SYNC_MAX_CANDIDATES): follow GET /api/v1/tasks/{id}")
    @blp.alt_response(409, description="Already drawn (or being drawn), or a rule of the draw cannot be met")
    def post(self, body, plan_id):
        """Run the plan's one draw; a second draw, or rules that cannot be met, is a 409. A large
        draw, or one asked with ``Prefer: respond-async``, runs as a task: 202 and its Location."""
        outcome = tasks.request_draw(plan_id, body["public_entropy"], actor=actor_name(), now=calendar.now(),
                                     respond_async=prefers_async(),
                                     sync_max_candidates=current_app.config["DRAW_SYNC_MAX_CANDIDATES"])
        if isinstance(outcome, dict):
            return draw_response(outcome, 201)
        response = accepted(outcome)
        tasks.start(outcome.id)
        return response

    @kept_once_public(final=lambda answer: answer.get_json()["published_at"] is not None)
    @kept_while_unchanged
    @blp.doc(**OPTIONAL_AUTH_DOC)
    @blp.response(200, DrawSchema)
    def get(self, plan_id):
        """The draw: seeds, registry hash and every selection with its team and lab."""
        return draw_response(draws.draw_view(plan_id, current_principal()), 200)


def draw_response(view: dict, status: int) -> Response:
    """A draw as ``DrawSchema`` gives it, made faster: a province's draw has 50,000 selections,
    which marshmallow would take a second or two to copy one field at a time. The head goes
    through the schema; the selections, already plain dicts with exactly ``SelectionSchema``'s
    fields, are written as they are."""
    head = DRAW_HEAD.dump(view)
    head["selections"] = view["selections"]
    return current_app.response_class(current_app.json.dumps(head), status=status, mimetype="application/json")


DRAW_HEAD = DrawSchema(exclude=("selections",))


@blp.route("/<int:plan_id>/draw/verify")
class PlanDrawVerify(MethodView):
    @kept_once_public
    @blp.doc(**OPTIONAL_AUTH_DOC)
    @blp.response(200, VerificationSchema)
    def get(self, plan_id):
        """Recompute the draw from the stored snapshot and the revealed seed."""
        return draws.verify_plan_draw(plan_id, current_principal())


@blp.route("/<int:plan_id>/draw/export")
class PlanDrawExport(MethodView):
    @kept_once_public
    @blp.doc(**OPTIONAL_AUTH_DOC)
    @blp.response(200, description="The draw file that scripts/verify_draw.py checks")
    def get(self, plan_id):
        """The published draw file (JSON), for ``python3 scripts/verify_draw.py FILE``."""
        disposition = f'attachment; filename="draw-plan-{plan_id}.json"'
        return Response(draws.export_file(plan_id, current_principal()), mimetype="application/json",
                        headers={"Content-Disposition": disposition})


@blp.route("/<int:plan_id>/draw/publish")
class PlanDrawPublish(MethodView):
    @roles_required(*SUPERVISOR)
    @blp.response(200, DrawSchema)
    def post(self, plan_id):
        """Make the draw public now (publishing again changes nothing)."""
        return draws.publish_draw(plan_id, actor=actor_name(), now=calendar.now())
