"""Samples (样品/抽样单): the life cycle from the sampling visit to the recheck."""

import click
from flask import current_app, request
from flask.cli import AppGroup
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import Schema, fields, validate

from auth import STAFF, SUPERVISOR, current_principal, roles_required
from blueprints.common import Blueprint, PlainText, SelectPage
from models.samples import STAGES, VERDICTS
from sampling import lifecycle as lc
from services import samples

blp = Blueprint("samples", __name__, url_prefix="/api/v1/samples",
                description="Samples and their life cycle")

CONFLICT = "The sample's state does not allow this move, or a deadline has passed."
LAB = ("lab",)
INSPECTOR = ("inspector",)
IDEMPOTENCY_DOC = {"parameters": [{
    "in": "header", "name": "Idempotency-Key", "required": False, "schema": {"type": "string"},
    "description": "A repeat with the same key and body returns the first answer; "
                   "the same key with another body is a 409.",
}]}


class Text(PlainText):
    """A string that also accepts a number (a quantity of 6, a measured value of 0.5)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        return super()._deserialize(value, attr, data, **kwargs)


def _text(max_length: int, **kwargs) -> PlainText:
    return PlainText(validate=validate.Length(max=max_length), **kwargs)


def _required_text(max_length: int) -> PlainText:
    return PlainText(required=True, validate=validate.Length(min=1, max=max_length))


def _event_time() -> fields.AwareDateTime:
    return fields.AwareDateTime(required=True, format="iso")


def _inspector_codes() -> fields.List:
    return fields.List(_text(32), required=True, validate=validate.Length(min=1, max=50))


# Bodies.

class SampleQuerySchema(Schema):
    plan_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))
    status = fields.String(validate=validate.OneOf(lc.STATES))
    lab = _text(32, metadata={"description": "lab code (first or retest lab)"})
    inspector = _text(32, metadata={"description": "inspector code on the team"})


class SamplingSchema(Schema):
    sampled_at = _event_time()
    stage = fields.String(required=True, validate=validate.OneOf(STAGES))
    product_name = _required_text(200)
    brand = _text(100)
    model = _text(100)
    batch_no = _text(100)
    production_date = fields.Date()
    quantity = Text(required=True, validate=validate.Length(min=1, max=50))
    reserve_quantity = Text(validate=validate.Length(max=50),
                            metadata={"description": "reserve sample (备样) kept for a retest"})
    inspector_codes = _inspector_codes()


class RefusalSchema(Schema):
    refused_at = _event_time()
    reason = _required_text(2000)
    inspector_codes = _inspector_codes()


class ReceiptSchema(Schema):
    received_at = _event_time()


class ItemSchema(Schema):
    name = _required_text(200)
    requirement = Text(required=True, validate=validate.Length(max=500))
    measured = Text(required=True, validate=validate.Length(max=200))
    unit = _text(50, allow_none=True)
    verdict = fields.String(required=True, validate=validate.OneOf(VERDICTS))
    critical = fields.Boolean(load_default=False)


class ResultSchema(Schema):
    report_no = _required_text(100)
    tested_at = _event_time()
    items = fields.List(fields.Nested(ItemSchema), required=True, validate=validate.Length(min=1, max=500))


class NotificationSchema(Schema):
    notified_at = _event_time()


class ObjectionSchema(Schema):
    filed_at = _event_time()
    reason = _required_text(2000)


class RectificationSchema(Schema):
    due_date = fields.Date(required=True)
    notes = _text(2000)


class RecheckSchema(Schema):
    rechecked_at = _event_time()
    verdict = fields.String(required=True, validate=validate.OneOf(VERDICTS))
    report_no = _required_text(100)


class CorrectionSchema(Schema):
    reason = _required_text(2000)
    report_no = PlainText(validate=validate.Length(min=1, max=100))
    items = fields.List(fields.Nested(ItemSchema), validate=validate.Length(min=1, max=500),
                        metadata={"description": "the corrected items (all of them); omitted: unchanged"})


# Answers.

def _code_of(attribute: str):
    def get(obj):
        value = getattr(obj, attribute)
        return value.code if value is not None else None
    return fields.Function(get, metadata={"type": "string", "nullable": True})


class ItemOutSchema(Schema):
    name = fields.String()
    requirement = fields.String()
    measured = fields.String()
    unit = fields.String(allow_none=True)
    verdict = fields.String()
    critical = fields.Boolean()


class ResultOutSchema(Schema):
    kind = fields.String(metadata={"description": "initial, retest or correction"})
    report_no = fields.String()
    tested_at = fields.DateTime()
    lab = _code_of("lab")
    lab_name = fields.String(allow_none=True)
    verdict = fields.String()
    critical_failed = fields.Boolean()
    failed_items = fields.Function(lambda r: [i.name for i in r.items if i.verdict == lc.FAIL],
                                   metadata={"type": "array", "items": {"type": "string"}})
    correction_reason = fields.String(allow_none=True)
    recorded_by = fields.String(allow_none=True)
    recorded_at = fields.DateTime(attribute="created_at")
    items = fields.List(fields.Nested(ItemOutSchema))


class EventOutSchema(Schema):
    action = fields.String()
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    occurred_at = fields.DateTime()
    recorded_at = fields.DateTime()
    actor = fields.String(allow_none=True)
    data = fields.Dict(allow_none=True)


class DeadlineOutSchema(Schema):
    name = fields.String()
    due = fields.Date()
    met_at = fields.DateTime(allow_none=True)
    overdue = fields.Boolean()


class SampleSummarySchema(Schema):
    sample_code = fields.String(attribute="code")
    plan_id = fields.Integer(allow_none=True)
    credit_code = fields.Function(lambda s: s.enterprise.credit_code, metadata={"type": "string"})
    enterprise_name = fields.Function(lambda s: s.enterprise.name, metadata={"type": "string"})
    category_code = fields.Function(lambda s: s.category.code, metadata={"type": "string"})
    period = fields.String()
    level = fields.String()
    kind = fields.String()
    source = fields.String()
    status = fields.String()
    verdict = fields.String(allow_none=True)
    critical_failed = fields.Boolean()
    stage = fields.String(allow_none=True)
    product_name = fields.String(allow_none=True)
    batch_no = fields.String(allow_none=True)
    lab = _code_of("lab")
    retest_lab = _code_of("retest_lab")
    inspectors = fields.Function(lambda s: [i.code for i in s.team],
                                 metadata={"type": "array", "items": {"type": "string"}})
    drawn_at = fields.DateTime(allow_none=True)
    last_event_at = fields.DateTime(allow_none=True)
    final_at = fields.DateTime(allow_none=True)


class SampleSchema(SampleSummarySchema):
    allowed_moves = fields.Function(lambda s: lc.allowed_moves(s.status, s.verdict),
                                    metadata={"type": "array", "items": {"type": "string"}})
    brand = fields.String(allow_none=True)
    model = fields.String(allow_none=True)
    production_date = fields.Date(allow_none=True)
    quantity = fields.String(allow_none=True)
    reserve_quantity = fields.String(allow_none=True)
    visit_inspectors = fields.List(fields.String(), attribute="visit_inspector_codes", allow_none=True)
    sampled_at = fields.DateTime(allow_none=True)
    refused_at = fields.DateTime(allow_none=True)
    refusal_reason = fields.String(allow_none=True)
    received_at = fields.DateTime(allow_none=True)
    tested_at = fields.DateTime(allow_none=True)
    notified_at = fields.DateTime(allow_none=True)
    objection_filed_at = fields.DateTime(allow_none=True)
    objection_reason = fields.String(allow_none=True)
    rectification_due = fields.Date(allow_none=True)
    rectification_notes = fields.String(allow_none=True)
    rectification_at = fields.DateTime(allow_none=True)
    rechecked_at = fields.DateTime(allow_none=True)
    recheck_verdict = fields.String(allow_none=True)
    recheck_report_no = fields.String(allow_none=True)
    failed_items = fields.Function(
        lambda s: [i.name for i in samples.result_of(s).items if i.verdict == lc.FAIL]
        if samples.result_of(s) else [],
        metadata={"type": "array", "items": {"type": "string"}},
    )
    result = fields.Function(
        lambda s: ResultOutSchema().dump(samples.result_of(s)) if samples.result_of(s) else None,
        metadata={"description": "the standing result (retest or correction supersede)",
                  "type": "object", "nullable": True},
    )
    results = fields.List(fields.Nested(ResultOutSchema),
                          metadata={"description": "every recorded result, oldest first"})
    deadlines = fields.Function(lambda s: DeadlineOutSchema(many=True).dump(samples.deadlines_of(s)),
                                metadata={"type": "array", "items": {"type": "object"}})
    overdue = fields.List(fields.Dict(), allow_none=True,
                          metadata={"description": "deadlines flagged overdue by the job"})
    history = fields.List(fields.Nested(EventOutSchema), attribute="events")


def _answer(outcome):
    """A move's sample, or a stored first answer replayed for a repeated Idempotency-Key."""
    if isinstance(outcome, dict):
        return current_app.json.response(outcome)  # already serialized when first answered
    return outcome


def _key() -> str | None:
    """The request's ``Idempotency-Key``: up to 200 printable characters."""
    key = request.headers.get("Idempotency-Key") or None
    if key is not None and (len(key) > 200 or not key.isprintable()):
        abort(422, message="Invalid Idempotency-Key (幂等键无效)",
              errors={"Idempotency-Key": ["must be at most 200 printable characters"]})
    return key


# Views.

@blp.route("")
class Samples(MethodView):
    @roles_required(*STAFF)
    @blp.arguments(SampleQuerySchema, location="query")
    @blp.response(200, SampleSummarySchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, query):
        """The samples the caller may see: all (supervisor), the team's (inspector), the lab's."""
        return samples.list_samples(current_principal(), query)


@blp.route("/<sample_code>")
class SampleItem(MethodView):
    @roles_required(*STAFF)
    @blp.response(200, SampleSchema)
    def get(self, sample_code):
        """One sample with its status, verdict, result, deadlines and history."""
        return samples.sample_for(sample_code, current_principal())


@blp.route("/<code>/sampling")
class Sampling(MethodView):
    @roles_required(*INSPECTOR)
    @blp.arguments(SamplingSchema)
    @blp.response(200, SampleSchema)
    @blp.alt_response(409, response="DEFAULT_ERROR", description=CONFLICT)
    def post(self, body, code):
        """Record the sampling visit (planned → sampled); two or more team inspectors named."""
        return samples.record_sampling(code, body, current_principal())


@blp.route("/<code>/refusal")
class Refusal(MethodView):
    @roles_required(*INSPECTOR)
    @blp.arguments(RefusalSchema)
    @blp.response(200, SampleSchema)
    @blp.alt_response(409, response="DEFAULT_ERROR", description=CONFLICT)
    def post(self, body, code):
        """Record the enterprise's refusal (planned → refused) with reason and inspectors."""
        return samples.record_refusal(code, body, current_principal())


@blp.route("/<code>/receipt")
class Receipt(MethodView):
    @roles_required(*LAB)
    @blp.arguments(ReceiptSchema)
    @blp.response(200, SampleSchema)
    @blp.alt_response(409, response="DEFAULT_ERROR", description=CONFLICT)
    def post(self, body, code):
        """The assigned lab received the sample (sampled → testing)."""
        return samples.record_receipt(code, body, current_principal())


@blp.route("/<code>/result")
class ResultView(MethodView):
    @roles_required(*LAB)
    @blp.arguments(ResultSchema)
    @blp.response(200, SampleSchema)
    @blp.doc(**IDEMPOTENCY_DOC)
    def post(self, body, code):
        """The assigned lab's item-level result (testing → tested); the verdict is derived."""
        outcome = samples.record_result(code, body, current_principal(), _key(), SampleSchema().dump)
        return _answer(outcome)


@blp.route("/<code>/notification")
class Notification(MethodView):
    @roles_required(*SUPERVISOR)
    @blp.arguments(NotificationSchema)
    @blp.response(200, SampleSchema)
    @blp.alt_response(409, response="DEFAULT_ERROR", description=CONFLICT)
    def post(self, body, code):
        """Notify the enterprise: a pass becomes final, a fail opens the objection window."""
        return samples.record_notification(code, body)


@blp.route("/<code>/objection")
class Objection(MethodView):
    @roles_required(*SUPERVISOR)
    @blp.arguments(ObjectionSchema)
    @blp.response(200, SampleSchema)
    @blp.alt_response(409, response="DEFAULT_ERROR", description=CONFLICT)
    def post(self, body, code):
        """Record an objection within the window (notified → objection); a retest lab is drawn."""
        return samples.record_objection(code, body)


@blp.route("/<code>/retest-result")
class RetestResult(MethodView):
    @roles_required(*LAB)
    @blp.arguments(ResultSchema)
    @blp.response(200, SampleSchema)
    @blp.doc(**IDEMPOTENCY_DOC)
    def post(self, body, code):
        """The retest lab's result (objection → final); its verdict is the final one."""
        outcome = samples.record_retest_result(code, body, current_principal(), _key(),
                                               SampleSchema().dump)
        return _answer(outcome)


@blp.route("/<code>/finalize")
class Finalize(MethodView):
    @roles_required(*SUPERVISOR)
    @blp.response(200, SampleSchema)
    @blp.alt_response(409, response="DEFAULT_ERROR", description=CONFLICT)
    def post(self, code):
        """Close a notified failing sample once its objection window has passed (→ final)."""
        return samples.finalize(code)


@blp.route("/<code>/rectification")
class Rectification(MethodView):
    @roles_required(*SUPERVISOR)
    @blp.arguments(RectificationSchema)
    @blp.response(200, SampleSchema)
    @blp.alt_response(409, response="DEFAULT_ERROR", description=CONFLICT)
    def post(self, body, code):
        """Order a finally failed enterprise to rectify by a due date (final → rectifying)."""
        return samples.order_rectification(code, body)


@blp.route("/<code>/recheck")
class Recheck(MethodView):
    @roles_required(*SUPERVISOR)
    @blp.arguments(RecheckSchema)
    @blp.response(200, SampleSchema)
    @blp.alt_response(409, response="DEFAULT_ERROR", description=CONFLICT)
    def post(self, body, code):
        """Record the recheck (复查) after rectification (rectifying → rechecked)."""
        return samples.record_recheck(code, body)


@blp.route("/<code>/correction")
class Correction(MethodView):
    @roles_required("supervisor", "lab")
    @blp.arguments(CorrectionSchema)
    @blp.response(200, SampleSchema)
    @blp.alt_response(409, response="DEFAULT_ERROR", description=CONFLICT)
    def post(self, body, code):
        """Correct the standing result by a new recorded result with a reason (verdict unchanged)."""
        return samples.record_correction(code, body, current_principal())



# Commands: the same jobs the scheduler runs, by hand.

samples_cli = AppGroup("samples", help="The sample life cycle.")
_DAY = click.DateTime(formats=["%Y-%m-%d"])


@samples_cli.command("flag-overdue")
@click.option("--on", "on", type=_DAY, help="the day to judge by (default: today)")
def flag_overdue_command(on):
    """Flag the samples past a deadline (each deadline once)."""
    click.echo(f"{samples.flag_overdue(on.date() if on else None)} new overdue flag(s)")


@samples_cli.command("finalize-expired")
@click.option("--on", "on", type=_DAY, help="the day to judge by (default: today)")
def finalize_expired_command(on):
    """Make final the failing results whose objection window passed with no objection."""
    closed = samples.finalize_expired(on.date() if on else None)
    click.echo(f"{len(closed)} sample(s) made final" + (f": {', '.join(closed)}" if closed else ""))


cli_commands = (samples_cli,)
