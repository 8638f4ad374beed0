"""Samples (样品/抽样单): the life cycle from the sampling visit to the recheck."""

import io

from flask import request, send_file
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import Schema, ValidationError, fields, validate, validates

from auth import current_principal, roles_required
from blueprints.answer_cache import kept_while_unchanged
from blueprints.common import Blueprint, Instant, PlainText, SelectPage
from sampling import lifecycle as lc
from sampling.credit_code import problem as credit_code_problem
from sampling.enums import STAGES, VERDICTS
from services import calendar, samples

blp = Blueprint("samples", __name__, url_prefix="/api/v1/samples",
                description="Samples and their life cycle")

CONFLICT = "The sample's state does not allow this move, or a deadline has passed."
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


def _event_time() -> Instant:
    return Instant(required=True)


def _inspector_codes() -> fields.List:
    return fields.List(_text(32), required=True, validate=validate.Length(min=1, max=50))


# Bodies.

class SampleQuerySchema(Schema):
    plan_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))
    status = fields.String(validate=validate.OneOf(lc.STATES))
    lab = _text(32, metadata={"description": "lab code (first or retest lab)"})
    inspector = _text(32, metadata={"description": "inspector code on the team"})


class ProducerSchema(Schema):
    credit_code = PlainText(metadata={"description": "its unified social credit code; registered here or not"})
    name = _required_text(200)
    address = _text(300, metadata={"description": "required for a producer not registered here"})

    @validates("credit_code")
    def check_credit_code(self, value, **_):
        wrong = credit_code_problem(value)
        if wrong:
            raise ValidationError(wrong)


MAX_PRICE = 100_000_000  # yuan: a sample bought for more is a typing error


def _price(value) -> None:
    if not 0 <= value <= MAX_PRICE:
        raise ValidationError(f"must be between 0 and {MAX_PRICE}")


class PurchaseSchema(Schema):
    platform = _required_text(64)
    order_no = _required_text(100)
    price = fields.Decimal(required=True, places=2, as_string=False, validate=_price,
                           metadata={"description": "yuan (元), at most two decimals", "minimum": 0,
                                     "maximum": MAX_PRICE})
    received_on = fields.Date(required=True)


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
    producer = fields.Nested(ProducerSchema, metadata={
        "description": "the named producer (标称生产者) on the label; default: the sampled enterprise"})
    purchase = fields.Nested(PurchaseSchema, metadata={
        "description": "the purchase (买样); required for online and cross-border samples"})


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


class ReportFormSchema(Schema):
    submitted_at = _event_time()


class ReportFileSchema(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary",
                                               "description": "the report: PDF, PNG or JPEG (judged by content)"})


# Answers: a sample as the services give it (plain data, dates as ISO 8601 text).

def _instant(description: str | None = None) -> fields.String:
    """An instant as ISO 8601 text with its offset."""
    metadata = {"format": "date-time"} | ({"description": description} if description else {})
    return fields.String(allow_none=True, metadata=metadata)


def _day() -> fields.String:
    """A date as ``YYYY-MM-DD``."""
    return fields.String(allow_none=True, metadata={"format": "date"})


def _codes(**kwargs) -> fields.List:
    return fields.List(fields.String(), **kwargs)


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
    tested_at = _instant()
    lab = fields.String(allow_none=True)
    lab_name = fields.String(allow_none=True)
    verdict = fields.String()
    critical_failed = fields.Boolean()
    failed_items = _codes()
    correction_reason = fields.String(allow_none=True)
    recorded_by = fields.String(allow_none=True)
    recorded_at = _instant()
    items = fields.List(fields.Nested(ItemOutSchema))


class EventOutSchema(Schema):
    action = fields.String()
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    occurred_at = _instant()
    recorded_at = _instant()
    actor = fields.String(allow_none=True)
    data = fields.Dict(allow_none=True)


class DeadlineOutSchema(Schema):
    name = fields.String()
    due = _day()
    met_at = _instant()
    overdue = fields.Boolean()


class ProducerOutSchema(Schema):
    credit_code = fields.String(allow_none=True, metadata={"description": "when registered here"})
    name = fields.String()
    address = fields.String(allow_none=True)
    registered = fields.Boolean(metadata={"description": "registered in this city's registry"})


class PurchaseOutSchema(Schema):
    platform = fields.String()
    order_no = fields.String()
    price = fields.Float(metadata={"description": "yuan (元)"})
    received_on = _day()


class ReportOutSchema(Schema):
    id = fields.Integer()
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    submitted_at = _instant()
    uploaded_by = fields.String()


class SampleSummarySchema(Schema):
    sample_code = fields.String()
    plan_id = fields.Integer(allow_none=True)
    credit_code = fields.String()
    enterprise_name = fields.String()
    category_code = fields.String()
    period = fields.String()
    level = fields.String()
    kind = fields.String()
    source = fields.String()
    status = fields.String()
    verdict = fields.String(allow_none=True)
    critical_failed = fields.Boolean()
    stage = fields.String(allow_none=True)
    producer = fields.Nested(ProducerOutSchema, allow_none=True,
                             metadata={"description": "the named producer (标称生产者); null before the visit"})
    product_name = fields.String(allow_none=True)
    batch_no = fields.String(allow_none=True)
    lab = fields.String(allow_none=True)
    retest_lab = fields.String(allow_none=True)
    inspectors = _codes()
    drawn_at = _instant()
    last_event_at = _instant()
    final_at = _instant("when the verdict became final (a refusal: when it was recorded)")


class SampleSchema(SampleSummarySchema):
    allowed_moves = _codes()
    brand = fields.String(allow_none=True)
    model = fields.String(allow_none=True)
    production_date = _day()
    quantity = fields.Raw(allow_none=True, metadata={
        "description": "as recorded: a number for a bare count (6), text with its unit (6件)"})
    reserve_quantity = fields.Raw(allow_none=True, metadata={"description": "like quantity"})
    purchase = fields.Nested(PurchaseOutSchema, allow_none=True,
                             metadata={"description": "the purchase of an online or cross-border sample"})
    visit_inspectors = _codes(allow_none=True)
    sampled_at = _instant()
    refused_at = _instant()
    refusal_reason = fields.String(allow_none=True)
    received_at = _instant()
    tested_at = _instant()
    notified_at = _instant()
    objection_filed_at = _instant()
    objection_reason = fields.String(allow_none=True)
    rectification_due = _day()
    rectification_notes = fields.String(allow_none=True)
    rectification_at = _instant()
    rectification_reports = fields.List(fields.Nested(ReportOutSchema), metadata={
        "description": "the enterprise's rectification reports, each with its SHA-256"})
    rechecked_at = _instant()
    recheck_verdict = fields.String(allow_none=True)
    recheck_report_no = fields.String(allow_none=True)
    failed_items = _codes()
    result = fields.Nested(ResultOutSchema, allow_none=True,
                           metadata={"description": "the standing result (retest or correction supersede)"})
    results = fields.List(fields.Nested(ResultOutSchema),
                          metadata={"description": "every recorded result, oldest first"})
    deadlines = fields.List(fields.Nested(DeadlineOutSchema))
    overdue = fields.List(fields.Dict(), allow_none=True,
                          metadata={"description": "deadlines flagged overdue by the job"})
    history = fields.List(fields.Nested(EventOutSchema))


class SamplePage(SelectPage):
    """A page of samples as their list summaries."""

    @property
    def items(self):
        return [samples.summary_record(sample) for sample in super().items]


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
    @roles_required(*samples.READER_ROLES)
    @kept_while_unchanged
    @blp.arguments(SampleQuerySchema, location="query")
    @blp.response(200, SampleSummarySchema(many=True))
    @blp.paginate(SamplePage)
    def get(self, query):
        """The samples the caller may see: all (supervisor), the team's (inspector), the lab's."""
        return samples.list_samples(current_principal(), query)


@blp.route("/<sample_code>")
class SampleItem(MethodView):
    @roles_required(*samples.READER_ROLES)
    @blp.response(200, SampleSchema)
    def get(self, sample_code):
        """One sample with its status, verdict, result, deadlines and history."""
        return samples.read_sample(sample_code, current_principal(), calendar.today())


# The moves: one view per arrow of the life-cycle table, each with its body and its doc.

MOVE_BODIES = {
    "sampling": (SamplingSchema, "Record the sampling visit (planned → sampled); two or more team inspectors named."),
    "refusal": (RefusalSchema, "Record the enterprise's refusal (planned → refused) with reason and inspectors."),
    "receipt": (ReceiptSchema, "The assigned lab received the sample (sampled → testing)."),
    "result": (ResultSchema, "The assigned lab's item-level result (testing → tested); the verdict is derived."),
    "notification": (NotificationSchema, "Notify the enterprise: a pass becomes final, a fail opens the "
                                         "objection window."),
    "objection": (ObjectionSchema, "Record an objection within the window (notified → objection); a retest "
                                   "lab is drawn."),
    "retest-result": (ResultSchema, "The retest lab's result (objection → final); its verdict is the final one."),
    "finalize": (None, "Close a notified failing sample once its objection window has passed (→ final)."),
    "rectification": (RectificationSchema, "Order a finally failed enterprise to rectify by a due date "
                                           "(final → rectifying)."),
    "recheck": (RecheckSchema, "Record the recheck (复查) after rectification (rectifying → rechecked)."),
}


def _move_view(action: str) -> type[MethodView]:
    """The view of one move: parse its body, call ``samples.move``, answer the sample."""
    schema, summary = MOVE_BODIES[action]
    keyed = action in samples.KEYED_MOVES

    def post(self, *parsed, code):
        body = parsed[0] if parsed else {}
        return samples.move(code, action, body, current_principal(), calendar.now(), _key() if keyed else None)

    post.__doc__ = summary
    if keyed:
        post = blp.doc(**IDEMPOTENCY_DOC)(post)
    post = blp.alt_response(409, response="DEFAULT_ERROR", description=CONFLICT)(post)
    post = blp.response(200, SampleSchema)(post)
    if schema is not None:
        post = blp.arguments(schema)(post)
    post = roles_required(*samples.MOVE_ROLES[action])(post)
    name = "".join(part.title() for part in action.split("-")) + "Move"
    return type(name, (MethodView,), {"post": post, "__doc__": summary})


for _action in lc.ACTIONS:
    blp.route(f"/<code>/{_action}", endpoint=_action)(_move_view(_action))


@blp.route("/<code>/correction")
class Correction(MethodView):
    @roles_required(*samples.CORRECTION_ROLES)
    @blp.arguments(CorrectionSchema)
    @blp.response(200, SampleSchema)
    @blp.alt_response(409, response="DEFAULT_ERROR", description=CONFLICT)
    def post(self, body, code):
        """Correct the standing result by a new recorded result with a reason (verdict unchanged)."""
        return samples.correct_result(code, body, current_principal(), calendar.now())


@blp.route("/<code>/rectification-report")
class RectificationReport(MethodView):
    @roles_required(*samples.REPORT_ROLES)
    @blp.arguments(ReportFormSchema, location="form")
    @blp.arguments(ReportFileSchema, location="files")
    @blp.response(200, SampleSchema)
    @blp.alt_response(409, response="DEFAULT_ERROR", description=CONFLICT)
    def post(self, form, files, code):
        """The enterprise's rectification report (整改报告), kept with the rectification; the
        enterprise itself or a supervisor submits it."""
        upload = files["file"]
        content = upload.stream.read(samples.report_max_bytes() + 1)
        return samples.submit_rectification_report(code, upload.filename, content, form["submitted_at"],
                                                   current_principal(), calendar.now())


@blp.route("/<code>/rectification-reports/<int:report_id>")
class RectificationReportFile(MethodView):
    @roles_required(*samples.REPORT_ROLES)
    @blp.response(200, description="the file as it was submitted")
    def get(self, code, report_id):
        """One rectification report's file, for a supervisor or the sample's own enterprise."""
        report = samples.report_file(code, report_id, current_principal())
        return send_file(io.BytesIO(report.content), mimetype=report.content_type,
                         download_name=report.filename, as_attachment=True)
